"""The encrypted local credential store.

``<config_dir>/credentials.enc`` holds one Fernet token whose plaintext is
the JSON document of :mod:`ntcli.credentials`. Writes are atomic renames
under the lock file ``credentials.lock``, so readers never see a torn file
and a read-modify-write never loses a concurrent update. Plaintext exists
only in memory; a file that cannot be decrypted is reported, never
replaced. The keys are :class:`ntcli.keychain.KeyChain`'s.

``cryptography`` is imported only where a key is used, as
:mod:`ntcli_core.fernet` does: it is a few milliseconds of every command
that reads no credentials (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

from ntcli import fileio
from ntcli.credentials import Credentials
from ntcli.errors import CredentialStoreError
from ntcli.keychain import KeyChain
from ntcli.paths import CREDENTIALS_FILE
from ntcli_core.fernet import multi_fernet
from ntcli_core.records import Record

__all__ = ['CredentialStore', 'KeyRotation']

LOG = logging.getLogger(__name__)

LOCK_FILE = 'credentials.lock'

# Every Fernet token starts with version byte 0x80 and a 64-bit timestamp
# whose high bytes are zero: in base64 that is always this prefix.
_FERNET_PREFIX = b'gAAAAA'

RECOVERY_HINT = ("Restore it from a backup, set NTCLI_KEY to the key that "
                 "encrypted it, or run 'ntcli auth logout' to move it aside "
                 "and start over.")


class KeyRotation(Record, frozen=False):
    """What :meth:`CredentialStore.rotate_key` did."""

    key_source: str
    key_description: str
    reencrypted: bool
    retired_keys: int
    advice: str | None = None


class _Undecryptable(CredentialStoreError):
    """The file is Fernet-shaped but no key opens it (worth one re-read)."""


class CredentialStore:
    """The Fernet-encrypted credentials file of a config directory."""

    def __init__(self, config_dir: str,
                 key_chain: KeyChain | None = None) -> None:
        self.config_dir = config_dir
        self.path = os.path.join(config_dir, CREDENTIALS_FILE)
        self.lock_path = os.path.join(config_dir, LOCK_FILE)
        self.key_chain = key_chain or KeyChain(config_dir)

    @property
    def key_source(self) -> str:
        return self.key_chain.source

    def describe_key(self) -> str:
        return self.key_chain.describe()

    def exists(self) -> bool:
        return os.path.lexists(self.path)

    # -- reading -------------------------------------------------------------

    def read(self) -> Credentials:
        """The current credentials, without taking the lock."""
        raw = self._read_raw()
        if raw is None:
            return Credentials()
        try:
            return self._decode(raw)
        except _Undecryptable:
            # A key rotation may have finished between our reading the file
            # and reading the keys: one fresh look settles it.
            raw = self._read_raw()
            return Credentials() if raw is None else self._decode(raw)

    def _read_raw(self) -> bytes | None:
        try:
            return fileio.read_private(self.path)
        except OSError as exc:
            raise CredentialStoreError(
                f'Cannot read the credentials file {self.path}: '
                f'{exc.strerror or exc}',
                'Check its owner and permissions (it should be yours, '
                'mode 0600).', details={'path': self.path}) from None

    def _broken(self, what: str,
                cls: type[CredentialStoreError] = CredentialStoreError
                ) -> CredentialStoreError:
        return cls(f'The credentials file {self.path} {what}',
                   RECOVERY_HINT, details={'path': self.path})

    def _decode(self, raw: bytes) -> Credentials:
        token = raw.strip()
        if not token:
            raise self._broken('is empty')
        if not token.startswith(_FERNET_PREFIX):
            raise self._broken('is not an encrypted ntcli credentials file')
        keys = self.key_chain.keys()
        if not keys:
            raise self._broken('exists but no key to decrypt it was found '
                               f'(looked in: {self.key_chain.describe()})')
        from cryptography.fernet import InvalidToken
        try:
            plaintext = multi_fernet(keys).decrypt(token)
        except InvalidToken:
            raise self._broken(
                'cannot be decrypted with the key from '
                f'{self.key_chain.describe()}: it is damaged or truncated, '
                'or was encrypted with another key',
                _Undecryptable) from None
        try:
            return Credentials.from_bytes(plaintext)
        except (ValueError, UnicodeDecodeError):
            raise self._broken('was decrypted but its content is not a '
                               'credentials document') from None

    # -- writing -------------------------------------------------------------


    def _write(self, credentials: Credentials) -> None:
        fernet = multi_fernet(self.key_chain.keys(create=True))
        self._write_token(fernet.encrypt(credentials.to_bytes()))

    def _write_token(self, token: bytes) -> None:
        try:
            fileio.atomic_write(self.path, token, 0o600)
        except OSError as exc:
            raise CredentialStoreError(
                f'Cannot write the credentials file {self.path}: '
                f'{exc.strerror or exc}',
                'Check the free space and permissions of '
                f'{self.config_dir}; the previous credentials are '
                'unchanged.',
                details={'path': self.path}) from None

    def _lock(self, timeout: float | None) -> fileio.FileLock:
        fileio.ensure_config_dir(self.config_dir)
        return fileio.FileLock(self.lock_path, timeout, 'the credentials')

    @contextlib.contextmanager
    def transaction(self, timeout: float | None = 30
                    ) -> Iterator[Credentials]:
        """Lock, read, and yield the credentials for a read-modify-write.

        ``credentials.commit()`` writes at once, lock still held; changes
        left uncommitted are written on normal exit, none on an exception.
        """
        with self._lock(timeout):
            raw = self._read_raw()
            credentials = Credentials() if raw is None else self._decode(raw)
            written = [credentials.to_bytes()]

            def commit() -> None:
                self._write(credentials)
                written[0] = credentials.to_bytes()

            credentials._committer = commit
            try:
                yield credentials
                if credentials.to_bytes() != written[0]:
                    commit()
            finally:
                credentials._committer = None

    # -- maintenance ---------------------------------------------------------

    def rotate_key(self, timeout: float | None = 30) -> KeyRotation:
        """Re-encrypt the credentials under a new primary key.

        Order: add the new key (old ones still decrypt), rewrite the file
        under it, then retire the old keys. Stopped at any point, every key
        the file may be encrypted with is still kept.
        """
        with self._lock(timeout):
            raw = self._read_raw()
            if raw is not None:
                self._decode(raw)  # refuse to rotate what we cannot read
            self.key_chain.rotate()
            if raw is not None:
                fernet = multi_fernet(self.key_chain.keys())
                self._write_token(fernet.rotate(raw.strip()))
            retired = self.key_chain.retire_old_keys()
        advice = None
        if self.key_chain.source == 'env':
            advice = ('The credentials are now encrypted with the first key '
                      'of NTCLI_KEY; the other keys can be removed from it.')
        return KeyRotation(self.key_chain.source, self.describe_key(),
                           raw is not None, retired, advice)

    def quarantine(self, timeout: float | None = 30) -> str | None:
        """Move the credentials file aside (never delete it) and return its
        new path; None when there is no file."""
        with self._lock(timeout):
            if not os.path.lexists(self.path):
                return None
            stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
            target = f'{self.path}.bad-{stamp}'
            counter = 1
            while os.path.exists(target):
                target = f'{self.path}.bad-{stamp}-{counter}'
                counter += 1
            try:
                os.replace(self.path, target)
            except OSError as exc:
                raise CredentialStoreError(
                    f'Cannot move the credentials file {self.path} aside: '
                    f'{exc.strerror or exc}',
                    'Move or remove it by hand.',
                    details={'path': self.path}) from None
        LOG.debug('Moved the credentials file aside to %s', target)
        return target
