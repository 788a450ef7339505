"""Where the Fernet key of the credentials file comes from.

In order: the ``NTCLI_KEY`` environment variable (one key, or several
separated by commas, primary first); the OS keyring when a real backend is
available; a key file ``credentials.key`` (0600) in the config directory,
created on first use. Like Keystone's key repository, several keys may be
held at once: the first (primary) encrypts, all of them decrypt, so a key
rotation never leaves data that no key can read.

``keyring`` and ``cryptography`` are imported only when a key is needed.
On Linux the Secret Service is asked directly when keyring would pick it
(see :mod:`ntcli.secretservice`), which spares keyring's import and backend
discovery.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ntcli import fileio
from ntcli.errors import CredentialStoreError, KeyUnavailable
from ntcli.paths import CREDENTIALS_FILE
from ntcli_core.fernet import generate_key, multi_fernet, parse_keys

__all__ = ['ENV_VAR']

LOG = logging.getLogger(__name__)

ENV_VAR = 'NTCLI_KEY'
KEY_FILE = 'credentials.key'
KEYRING_SERVICE = 'ntcli'
# A hung Secret Service must not hang the CLI.
KEYRING_TIMEOUT = 3.0

GENERATE_HINT = ("Generate one with: python -c 'from cryptography.fernet "
                 "import Fernet; print(Fernet.generate_key().decode())'")

T = TypeVar('T')


def _call_with_timeout(func: Callable[[], T], timeout: float) -> T:
    """Run ``func`` in a daemon thread; TimeoutError if it takes too long."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome['value'] = func()
        except BaseException as exc:  # handed to the caller below
            outcome['error'] = exc

    worker = threading.Thread(target=run, name='ntcli-keyring', daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f'no answer within {timeout:.0f} s')
    if 'error' in outcome:
        raise outcome['error']
    return outcome['value']


def _backend_usable(backend: Any) -> bool:
    """True for a backend that really keeps secrets in an OS keyring."""
    module = type(backend).__module__
    if module == 'keyring.backends.chainer':
        return any(_backend_usable(b) for b in backend.backends)
    if module in ('keyring.backends.fail', 'keyring.backends.null'):
        return False
    # keyrings.alt's file backends keep the secret in a file (plaintext,
    # or behind a password prompt nobody sees): no better than our key file.
    if module.startswith('keyrings.alt') or 'plaintext' in (
            type(backend).__name__.lower()):
        return False
    try:
        return backend.priority > 0
    except Exception:
        return False


def _keyring_problem(exc: BaseException) -> str:
    """Why the keyring failed, in words (never with key material)."""
    name = type(exc).__name__
    if name == 'KeyringLocked' or 'locked' in name.lower():
        return 'it is locked'
    if type(exc).__module__.startswith(('jeepney', 'secretstorage')) or \
            name in ('InitError', 'ConnectionRefusedError',
                     'FileNotFoundError'):
        return f'its service is not running or not reachable ({name})'
    return f'it failed ({name})'


def _backend_name(backend: Any) -> str:
    if type(backend).__module__ == 'ntcli.secretservice':
        return str(backend.name)
    if type(backend).__module__ == 'keyring.backends.chainer':
        for inner in backend.backends:
            if _backend_usable(inner):
                return _backend_name(inner)
    return type(backend).__module__.rsplit('.', 1)[-1]


class KeyChain:
    """The Fernet keys protecting the credentials file, and where they live.

    ``source`` is ``'env'``, ``'keyring'`` or ``'file'``. Keys are read
    afresh on every :meth:`fernet` call, so a process that waited for the
    credentials lock sees a rotation made meanwhile.
    """

    def __init__(self, config_dir: str,
                 environ: dict[str, str] | None = None) -> None:
        self.config_dir = config_dir
        self.key_file = os.path.join(config_dir, KEY_FILE)
        self._environ = os.environ if environ is None else environ
        self._source: str | None = None
        self._backend: Any = None
        # why the OS keyring could not be used, when it failed
        self._unreachable: str | None = None
        # what the probe read from the keyring, for the read right after it
        # in the same keys() call
        self._probed: tuple[str | None] | None = None

    # -- where the keys are ------------------------------------------------

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = self._resolve()
        return self._source

    @property
    def keyring_username(self) -> str:
        # One entry per config directory: --config-dir isolates keys too.
        return 'credentials-key:' + os.path.abspath(self.config_dir)

    def _resolve(self) -> str:
        if self._environ.get(ENV_VAR, '').strip():
            return 'env'
        probe = self._probe_keyring()
        if probe is not None:
            backend, stored = probe
            # A key file made while no keyring was around keeps being used:
            # switching would strand the data it encrypted.
            if stored is not None or not os.path.lexists(self.key_file):
                self._backend = backend
                return 'keyring'
            return 'file'
        if self._unreachable is not None and self._sealed_elsewhere():
            # The credentials exist and no key file does: their key can
            # only be in the keyring (or NTCLI_KEY). A new key file would
            # strand them; say what to do instead.
            return 'keyring'
        if self._unreachable is not None:
            LOG.warning('The OS keyring is not usable (%s); using the key '
                        'file instead.', self._unreachable)
        return 'file'

    def _sealed_elsewhere(self) -> bool:
        return (os.path.lexists(os.path.join(self.config_dir,
                                             CREDENTIALS_FILE))
                and not os.path.lexists(self.key_file))

    def _probe_keyring(self) -> tuple[Any, str | None] | None:
        """The usable keyring backend and our entry in it, or None (with
        ``_unreachable`` saying why when a keyring exists but failed)."""
        if (sys.platform.startswith('linux')
                and not self._environ.get('DBUS_SESSION_BUS_ADDRESS')):
            return None  # no session bus: Secret Service would fail or hang

        def probe() -> tuple[Any, str | None] | None:
            from ntcli import secretservice
            backend: Any = None
            if secretservice.applies(self._environ):
                backend = secretservice.SecretService.connect()
            if backend is None:
                try:
                    import keyring
                except ImportError:
                    return None
                backend = keyring.get_keyring()
            if not _backend_usable(backend):
                return None
            self._backend = backend
            stored = backend.get_password(KEYRING_SERVICE,
                                          self.keyring_username)
            self._probed = (stored,)
            return backend, stored

        try:
            return _call_with_timeout(probe, KEYRING_TIMEOUT)
        except TimeoutError:
            self._unreachable = ('it did not answer within '
                                 f'{KEYRING_TIMEOUT:.0f} s')
        except Exception as exc:
            self._unreachable = _keyring_problem(exc)
        return None

    def describe(self) -> str:
        """Where the keys live, in words for ``ntcli auth status``."""
        source = self.source
        if source == 'env':
            return 'NTCLI_KEY environment variable'
        if source == 'keyring':
            name = 'OS keyring' if self._backend is None else \
                f'OS keyring ({_backend_name(self._backend)})'
            if self._unreachable is not None:
                return f'{name}, not usable now: {self._unreachable}'
            return name
        mode = fileio.file_mode(self.key_file)
        if mode is None:
            return f'key file {self.key_file} (not created yet)'
        return f'key file {self.key_file} ({mode:04o})'

    # -- reading and writing keys ------------------------------------------

    def keys(self, create: bool = False) -> list[bytes]:
        """The keys, primary first; empty if none exists and not ``create``."""
        resolving = self._source is None
        source = self.source
        if source == 'env':
            try:
                return parse_keys(self._environ[ENV_VAR], ',')
            except ValueError as exc:
                raise CredentialStoreError(
                    f'NTCLI_KEY is not valid: {exc}',
                    'Set NTCLI_KEY to one or more Fernet keys separated by '
                    'commas, primary first, or unset it. ' + GENERATE_HINT
                ) from None
        # the probe that has just chosen the keyring read the entry: this
        # read uses that, instead of a D-Bus round of its own; any other
        # read asks afresh (a rotation may have happened meanwhile)
        probed, self._probed = self._probed, None
        keys = self._load_stored(probed if resolving else None)
        if keys is None:
            if not create:
                return []
            keys = self._create_first_key()
        return keys

    def _load_stored(self, probed: tuple[str | None] | None = None
                     ) -> list[bytes] | None:
        if self.source == 'keyring' and self._unreachable is not None:
            raise self._keyring_unusable(self._unreachable)
        if self.source == 'keyring':
            text = probed[0] if probed is not None else self._keyring_call(
                lambda: self._backend.get_password(KEYRING_SERVICE,
                                                   self.keyring_username))
            if text is None:
                return None
            try:
                return parse_keys(text, ',')
            except ValueError as exc:
                raise CredentialStoreError(
                    'The ntcli key in the OS keyring '
                    f'({_backend_name(self._backend)}) is not valid: {exc}',
                    'Restore the keyring entry '
                    f'{self.keyring_username!r} of service '
                    f'{KEYRING_SERVICE!r}, or set NTCLI_KEY to the key that '
                    'encrypted the credentials.') from None
        return self._read_key_file()

    def _read_key_file(self) -> list[bytes] | None:
        try:
            raw = fileio.read_private(self.key_file)
        except OSError as exc:
            raise CredentialStoreError(
                f'Cannot read the key file {self.key_file}: '
                f'{exc.strerror or exc}',
                'Check its owner and permissions (it should be yours, '
                'mode 0600).') from None
        if raw is None:
            return None
        try:
            return parse_keys(raw.decode('ascii'), None)
        except (UnicodeDecodeError, ValueError) as exc:
            reason = ('it is not text' if isinstance(exc, UnicodeDecodeError)
                      else str(exc))
            raise CredentialStoreError(
                f'The key file {self.key_file} is not valid: {reason}',
                'Restore it from a backup, or set NTCLI_KEY to the key that '
                'encrypted the credentials. Without the key the credentials '
                'cannot be decrypted; ntcli auth logout moves them aside so '
                'you can start over.') from None

    def _create_first_key(self) -> list[bytes]:
        key = generate_key()
        if self.source == 'keyring':
            self._save_keys([key])
            return [key]
        fileio.ensure_config_dir(self.config_dir)
        if fileio.atomic_create(self.key_file, self._key_file_bytes([key])):
            LOG.info('Created the key file %s', self.key_file)
            return [key]
        # Another process created it first: use theirs.
        return self._read_key_file() or []

    @staticmethod
    def _key_file_bytes(keys: list[bytes]) -> bytes:
        return b''.join(key + b'\n' for key in keys)

    def _save_keys(self, keys: list[bytes]) -> None:
        if self.source == 'keyring':
            text = ','.join(key.decode('ascii') for key in keys)
            self._keyring_call(
                lambda: self._backend.set_password(
                    KEYRING_SERVICE, self.keyring_username, text))
            return
        fileio.ensure_config_dir(self.config_dir)
        try:
            fileio.atomic_write(self.key_file, self._key_file_bytes(keys))
        except OSError as exc:
            raise CredentialStoreError(
                f'Cannot write the key file {self.key_file}: '
                f'{exc.strerror or exc}',
                'Check the free space and permissions of '
                f'{self.config_dir}.') from None

    def _keyring_call(self, func: Callable[[], T]) -> T:
        try:
            return _call_with_timeout(func, KEYRING_TIMEOUT)
        except TimeoutError:
            raise self._keyring_unusable(
                f'it did not answer within {KEYRING_TIMEOUT:.0f} s') from None
        except Exception as exc:
            raise self._keyring_unusable(_keyring_problem(exc)) from None

    def _keyring_unusable(self, problem: str) -> CredentialStoreError:
        """The error for a keyring that holds (or must hold) the key but
        cannot be used now: nothing is wrong with the credentials."""
        return KeyUnavailable(
            'The credentials are sealed with a key kept in the OS keyring, '
            f'which cannot be used now: {problem}',
            'Unlock the keyring (log in to your desktop session, or unlock '
            "the 'login' keyring with your password, e.g. in Seahorse or "
            "with 'gnome-keyring-daemon --replace --unlock'), then run the "
            'command again; or set NTCLI_KEY to that key. The credentials '
            "are intact: do not run 'ntcli auth logout'.")


    def fernet(self, create: bool = False) -> Any:
        """A ``cryptography.fernet.MultiFernet`` over the keys.

        With ``create``, a first key is made when none exists; without it,
        CredentialStoreError says that no key was found.
        """
        keys = self.keys(create=create)
        if not keys:
            raise CredentialStoreError(
                'No key found to decrypt the credentials (looked in: '
                f'{self.describe()})',
                'Restore the key, or set NTCLI_KEY to the key that encrypted '
                'the credentials; ntcli auth logout moves the credentials '
                'aside so you can start over.')
        return multi_fernet(keys)

    # -- rotation ----------------------------------------------------------

    def rotate(self) -> None:
        """Put a new primary key in front, keeping the old ones to decrypt.

        With NTCLI_KEY the user manages the keys: nothing is written, and
        the first listed key must be a new one.
        """
        if self.source == 'env':
            if len(self.keys()) < 2:
                raise CredentialStoreError(
                    'NTCLI_KEY holds a single key: there is no new key to '
                    'rotate to',
                    'Prepend a new key to NTCLI_KEY (NTCLI_KEY=NEW,OLD), '
                    'run the rotation again, then drop OLD. ' + GENERATE_HINT)
            return
        current = self.keys()
        self._save_keys([generate_key()] + current)

    def retire_old_keys(self) -> int:
        """Keep only the primary key; call once everything is re-encrypted.

        Returns how many keys were dropped (always 0 with NTCLI_KEY).
        """
        if self.source == 'env':
            return 0
        current = self.keys()
        if len(current) > 1:
            self._save_keys(current[:1])
        return max(len(current) - 1, 0)
