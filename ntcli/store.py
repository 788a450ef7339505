"""The encrypted local credential store.

``<config_dir>/credentials.enc`` holds one Fernet token whose plaintext is a
JSON document: the stored workspace tokens, user credentials and pending
revocations of every endpoint. Writes are atomic renames under the lock file
``credentials.lock``, so readers never see a torn file and a
read-modify-write never loses a concurrent update. Plaintext exists only in
memory; a file that cannot be decrypted is reported, never replaced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from ntcli import fileio
from ntcli.errors import CredentialStoreError
from ntcli.keys import KeyChain
from ntcli_core.fernet import multi_fernet
from ntcli_core.records import Record, field

LOG = logging.getLogger(__name__)

CREDENTIALS_FILE = 'credentials.enc'
LOCK_FILE = 'credentials.lock'
VERSION = 1

# Every Fernet token starts with version byte 0x80 and a 64-bit timestamp
# whose high bytes are zero: in base64 that is always this prefix.
_FERNET_PREFIX = b'gAAAAA'

RECOVERY_HINT = ("Restore it from a backup, set NTCLI_KEY to the key that "
                 "encrypted it, or run 'ntcli auth logout' to move it aside "
                 "and start over.")


class StoredToken(Record, frozen=False):
    """A workspace token kept in the store; its repr hides the value."""

    token: str = field(repr=False)
    jti: str
    workspace_id: str
    created_at: int | None
    expires_at: int | None
    # the scopes the endpoint said it granted; None for tokens stored
    # before ntcli kept them (their claims say)
    scope: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return (f'StoredToken(token=<redacted>, jti={self.jti!r}, '
                f'workspace_id={self.workspace_id!r}, '
                f'created_at={self.created_at!r}, '
                f'expires_at={self.expires_at!r}, scope={self.scope!r})')

    def to_dict(self) -> dict[str, Any]:
        data = self.as_dict()
        data['scope'] = None if self.scope is None else list(self.scope)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any],
                  workspace_id: str) -> StoredToken:
        from ntcli_core import scopes
        return cls(token=data['token'], jti=data.get('jti') or '',
                   workspace_id=data.get('workspace_id') or workspace_id,
                   created_at=data.get('created_at'),
                   expires_at=data.get('expires_at'),
                   scope=scopes.reported(data.get('scope')))


class SignIn(Record, frozen=False):
    """A sign-in through an identity provider: the session it opened (the
    session's secret is the endpoint's user credential) and what renews
    it. Its repr hides the provider's refresh token."""

    issuer: str
    client_id: str
    subject: str
    user_name: str
    session_id: str
    expires_at: int
    email: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f'SignIn(issuer={self.issuer!r}, subject={self.subject!r}, '
                f'user_name={self.user_name!r}, '
                f'session_id={self.session_id!r}, '
                f'expires_at={self.expires_at!r}, refresh_token='
                f'{"<redacted>" if self.refresh_token else None})')

    def to_dict(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignIn:
        return cls(issuer=str(data['issuer']),
                   client_id=str(data['client_id']),
                   subject=str(data['subject']),
                   user_name=str(data.get('user_name') or ''),
                   session_id=str(data.get('session_id') or ''),
                   expires_at=int(data.get('expires_at') or 0),
                   email=data.get('email'),
                   refresh_token=data.get('refresh_token'))


class PendingRevocation(Record, frozen=False):
    """A revocation that failed and must be retried at ``endpoint``."""

    endpoint: str
    workspace_id: str
    jti: str
    since: int
    attempts: int = 0
    last_error: str | None = None
    # the revoked token itself: a workspace token may revoke itself on a
    # remote endpoint when no user credential is stored
    token: str | None = field(default=None, repr=False)
    # when the revocation takes effect: the end of a grace period (token
    # refresh --grace); None: at once
    revoke_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingRevocation:
        revoke_at = data.get('revoke_at')
        return cls(endpoint=data['endpoint'],
                   workspace_id=data.get('workspace_id') or '',
                   jti=data['jti'], since=int(data.get('since') or 0),
                   attempts=int(data.get('attempts') or 0),
                   last_error=data.get('last_error'),
                   token=data.get('token'),
                   revoke_at=revoke_at if isinstance(revoke_at, int)
                   and not isinstance(revoke_at, bool) else None)


class Credentials:
    """The decrypted credentials document.

    Keys this version does not know are kept as they are, so an older ntcli
    rewriting the file does not drop what a newer one stored.
    """

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self._doc: dict[str, Any] = document if document is not None else {}
        self._doc.setdefault('version', VERSION)
        self._committer: Callable[[], None] | None = None

    # -- document plumbing -------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> Credentials:
        """Parse and check the shape; ValueError when it is not ours."""
        doc = json.loads(data.decode('utf-8'))
        if not isinstance(doc, dict):
            raise ValueError('not a JSON object')
        if not isinstance(doc.get('version', VERSION), int):
            raise ValueError('bad version')
        endpoints = doc.get('endpoints', {})
        if not isinstance(endpoints, dict) or not all(
                isinstance(entry, dict) for entry in endpoints.values()):
            raise ValueError('bad endpoints')
        for entry in endpoints.values():
            tokens = entry.get('tokens', {})
            if not isinstance(tokens, dict) or not all(
                    isinstance(t, dict) and isinstance(t.get('token'), str)
                    for t in tokens.values()):
                raise ValueError('bad tokens')
            pending = entry.get('pending_revocations', [])
            if not isinstance(pending, list) or not all(
                    isinstance(p, dict) and 'jti' in p for p in pending):
                raise ValueError('bad pending revocations')
        return cls(doc)

    def to_bytes(self) -> bytes:
        return json.dumps(self._doc, sort_keys=True,
                          separators=(',', ':')).encode('utf-8')

    @property
    def version(self) -> int:
        return self._doc['version']

    def _endpoint(self, endpoint_key: str,
                  create: bool = False) -> dict[str, Any]:
        endpoints = self._doc.setdefault('endpoints', {}) if create else (
            self._doc.get('endpoints', {}))
        entry = endpoints.get(endpoint_key)
        if entry is None:
            entry = {}
            if create:
                endpoints[endpoint_key] = entry
        return entry

    def _drop_if_empty(self, endpoint_key: str) -> None:
        endpoints = self._doc.get('endpoints', {})
        entry = endpoints.get(endpoint_key)
        if entry is not None and not any(entry.values()):
            del endpoints[endpoint_key]

    def endpoint_keys(self) -> list[str]:
        """The endpoints that have anything stored."""
        return sorted(self._doc.get('endpoints', {}))

    # -- workspace tokens ----------------------------------------------------

    def get_token(self, endpoint_key: str,
                  workspace_id: str) -> StoredToken | None:
        data = self._endpoint(endpoint_key).get('tokens', {}).get(
            workspace_id)
        return None if data is None else StoredToken.from_dict(
            data, workspace_id)

    def set_token(self, endpoint_key: str, workspace_id: str,
                  token: StoredToken) -> None:
        tokens = self._endpoint(endpoint_key, create=True).setdefault(
            'tokens', {})
        tokens[workspace_id] = token.to_dict()

    def remove_token(self, endpoint_key: str, workspace_id: str) -> None:
        self._endpoint(endpoint_key).get('tokens', {}).pop(workspace_id,
                                                            None)
        self._drop_if_empty(endpoint_key)

    def tokens(self, endpoint_key: str) -> dict[str, StoredToken]:
        return {ws: StoredToken.from_dict(data, ws) for ws, data in
                self._endpoint(endpoint_key).get('tokens', {}).items()}

    # -- user credential -----------------------------------------------------

    def get_user_credential(self, endpoint_key: str) -> str | None:
        return self._endpoint(endpoint_key).get('user_credential')

    def set_user_credential(self, endpoint_key: str, value: str) -> None:
        """Store a user credential; it replaces any sign-in."""
        entry = self._endpoint(endpoint_key, create=True)
        entry['user_credential'] = value
        entry.pop('sign_in', None)

    def remove_user_credential(self, endpoint_key: str) -> None:
        self._endpoint(endpoint_key).pop('user_credential', None)
        self._endpoint(endpoint_key).pop('sign_in', None)
        self._drop_if_empty(endpoint_key)

    # -- sign-in through an identity provider ---------------------------------

    def get_sign_in(self, endpoint_key: str) -> SignIn | None:
        data = self._endpoint(endpoint_key).get('sign_in')
        if not isinstance(data, dict):
            return None
        try:
            return SignIn.from_dict(data)
        except (KeyError, TypeError, ValueError):
            return None

    def set_sign_in(self, endpoint_key: str, session_token: str,
                    sign_in: SignIn) -> None:
        """Store a session (as the user credential) and its sign-in."""
        entry = self._endpoint(endpoint_key, create=True)
        entry['user_credential'] = session_token
        entry['sign_in'] = sign_in.to_dict()

    # -- pending revocations -------------------------------------------------

    def pending_revocations(
            self, endpoint_key: str | None = None) -> list[PendingRevocation]:
        keys = ([endpoint_key] if endpoint_key is not None
                else self.endpoint_keys())
        result = []
        for key in keys:
            for data in self._endpoint(key).get('pending_revocations', []):
                data = dict(data, endpoint=key)
                result.append(PendingRevocation.from_dict(data))
        return result

    def add_pending_revocation(self, pending: PendingRevocation) -> None:
        """Remember a revocation to retry; replaces one for the same JTI."""
        self.update_pending_revocation(pending)

    def update_pending_revocation(self, pending: PendingRevocation) -> None:
        entries = self._endpoint(pending.endpoint, create=True).setdefault(
            'pending_revocations', [])
        for index, data in enumerate(entries):
            if data.get('jti') == pending.jti:
                entries[index] = pending.to_dict()
                return
        entries.append(pending.to_dict())

    def remove_pending_revocation(self, endpoint_key: str, jti: str) -> None:
        entry = self._endpoint(endpoint_key)
        if 'pending_revocations' in entry:
            entry['pending_revocations'] = [
                data for data in entry['pending_revocations']
                if data.get('jti') != jti]
        self._drop_if_empty(endpoint_key)

    def forget_endpoint(self, endpoint_key: str, *,
                        keep_pending_revocations: bool = False) -> None:
        """Drop every secret kept for ``endpoint_key``."""
        endpoints = self._doc.get('endpoints', {})
        entry = endpoints.pop(endpoint_key, None)
        if entry and keep_pending_revocations and entry.get(
                'pending_revocations'):
            endpoints[endpoint_key] = {
                'pending_revocations': entry['pending_revocations']}

    # -- transactions --------------------------------------------------------

    def commit(self) -> None:
        """Write now, while the transaction still holds the lock."""
        if self._committer is None:
            raise RuntimeError('commit() works only inside '
                               'CredentialStore.transaction()')
        self._committer()


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
