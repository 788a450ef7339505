"""The freedesktop Secret Service (GNOME Keyring, KeePassXC...), directly.

On Linux, ``keyring`` keeps secrets in the Secret Service through
``secretstorage``. Importing ``keyring`` and letting it rank its backends
cost about 150 ms on every command that reads the key (import 60-120 ms,
backend discovery about 90 ms, measured on a 2-core machine), against about
25 ms for ``secretstorage`` and ``jeepney``. This module does what keyring's
SecretService backend does, with the same item attributes and label, so an
entry written by one is found by the other.

It is used only where keyring would pick the Secret Service itself: keyring
is installed (it remains the opt-in), nothing configures another keyring
backend (``PYTHON_KEYRING_BACKEND`` or keyring's ``keyringrc.cfg``), and a
Secret Service answers on the session bus. Anywhere else ntcli asks keyring.

``secretstorage`` (with ``jeepney`` and ``cryptography``) is imported by the
methods that talk to the Secret Service, not with this module: the key
store imports it to ask :func:`applies`, which is often False, and
secretstorage is optional (it comes with the ``keyring`` extra); it cost
76 ms here (``python -X importtime``, on a loaded machine).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

#: keyring's own value of the ``application`` attribute and label format,
#: so that keyring finds (and replaces) what this module writes.
KEYRING_APPLICATION = 'Python keyring library'
LABEL = "Password for '{username}' on '{service}'"


class KeyringLocked(Exception):
    """The collection or the item stayed locked (a dismissed prompt)."""


def keyring_configured(environ: Any) -> bool:
    """True when the user chose a keyring backend: keyring decides then."""
    if environ.get('PYTHON_KEYRING_BACKEND'):
        return True
    root = environ.get('XDG_CONFIG_HOME') or os.path.join(
        os.path.expanduser('~'), '.config')
    return os.path.exists(os.path.join(root, 'python_keyring',
                                       'keyringrc.cfg'))


def applies(environ: Any) -> bool:
    """Whether to try the Secret Service before (and instead of) keyring."""
    return (sys.platform.startswith(('linux', 'freebsd', 'openbsd',
                                     'netbsd'))
            and bool(environ.get('DBUS_SESSION_BUS_ADDRESS'))
            and not keyring_configured(environ)
            and importlib.util.find_spec('keyring') is not None)


class SecretService:
    """A keyring-like backend (get_password, set_password) over D-Bus."""

    name = 'SecretService'
    priority = 5

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._default: str | None = None   # the default collection's path
        self._session: Any = None          # one encrypted session, reused

    @classmethod
    def connect(cls) -> SecretService | None:
        """The Secret Service of the session bus, or None if there is none
        (or secretstorage is not installed): keyring is asked then, as it
        may know another backend (KWallet)."""
        try:
            import secretstorage
        except ImportError:
            return None
        try:
            connection = secretstorage.dbus_init()
        except (secretstorage.SecretServiceNotAvailableException, OSError):
            return None   # no bus at that address (a stale variable)
        service = cls(connection)
        try:
            # the first call starts an activatable service, as keyring's
            # would; no service at all answers ServiceUnknown
            service._default_path()
        except secretstorage.SecretServiceNotAvailableException:
            connection.close()
            return None
        return service

    def _proxy(self, path: str, interface: str) -> Any:
        """The Secret Service object at ``path``, its ``interface``."""
        from secretstorage.defines import SS_PREFIX
        from secretstorage.util import DBusAddressWrapper
        return DBusAddressWrapper(path, SS_PREFIX + interface,
                                  self._connection)

    def _service(self) -> Any:
        from secretstorage.defines import SS_PATH
        return self._proxy(SS_PATH, 'Service')

    def _default_path(self) -> str:
        """The object path of the default collection ('/' for none)."""
        if self._default is None:
            path, = self._service().call('ReadAlias', 's', 'default')
            self._default = str(path)
        return self._default

    def _read_unlocked(self, attributes: dict[str, str]) -> bytes | None:
        """The secret of our item when it is in the default collection and
        unlocked, in two calls (SearchItems, GetSecret) on one session; None
        when the thorough path below must decide (locked, absent, no
        default collection). keyring's way (its Collection and Item objects
        read labels and lock states first) takes nine calls per read."""
        prefix = self._default_path().rstrip('/') + '/'
        if prefix == '/':
            return None
        unlocked, locked = self._service().call('SearchItems', 'a{ss}',
                                                attributes)
        if any(path.startswith(prefix) for path in locked):
            return None    # the thorough path unlocks, or says it cannot
        mine = [path for path in unlocked if path.startswith(prefix)]
        if not mine:
            return None    # maybe the collection itself is locked
        from secretstorage.util import open_session
        if self._session is None:
            self._session = open_session(self._connection)
        (_, parameters, value, _), = self._proxy(mine[0], 'Item').call(
            'GetSecret', 'o', self._session.object_path)
        if not self._session.encrypted:
            return bytes(value)
        # secretstorage's Item.get_secret decrypts the same way, but first
        # imports cryptography's OpenSSL backend module to pass it
        # (benchmarks/RESULTS.md)
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import (
            Cipher,
            algorithms,
            modes,
        )
        decryptor = Cipher(algorithms.AES(self._session.aes_key),
                           modes.CBC(bytes(parameters))).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        padded = decryptor.update(bytes(value)) + decryptor.finalize()
        return unpadder.update(padded) + unpadder.finalize()

    def _collection(self) -> Any:
        import secretstorage
        collection = secretstorage.get_default_collection(self._connection)
        if collection.is_locked():
            collection.unlock()
            if collection.is_locked():  # the prompt was dismissed
                raise KeyringLocked('Failed to unlock the collection!')
        return collection

    def get_password(self, service: str, username: str) -> str | None:
        attributes = {'username': username, 'service': service}
        from jeepney.wrappers import DBusErrorResponse
        from secretstorage.exceptions import ItemNotFoundException
        try:
            direct = self._read_unlocked(attributes)
        except (DBusErrorResponse, ItemNotFoundException):
            # the item was locked or deleted between the search and the
            # read: the thorough path unlocks it, finds none, or fails alike
            direct = None
        if direct is not None:
            return direct.decode('utf-8')
        collection = self._collection()
        for item in collection.search_items(attributes):
            if item.is_locked():
                item.unlock()
                if item.is_locked():
                    raise KeyringLocked('Failed to unlock the item!')
            secret: bytes = item.get_secret()
            return secret.decode('utf-8')
        return None

    def set_password(self, service: str, username: str,
                     password: str) -> None:
        attributes = {'username': username, 'service': service,
                      'application': KEYRING_APPLICATION}
        self._collection().create_item(
            LABEL.format(username=username, service=service), attributes,
            password, replace=True)
