"""What the credentials file holds, once decrypted.

One JSON document: the stored workspace tokens, user credentials and
sign-in sessions, pending revocations and pending issues (ntcli.issues) of
every endpoint, as :class:`Credentials` and its records. The encrypted file
itself, its key and its lock are :mod:`ntcli.credential_store`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ntcli_core import scopes
from ntcli_core.records import Record, field

__all__ = ['Credentials', 'PendingIssue', 'PendingRevocation', 'SignIn',
           'StoredToken']

VERSION = 1


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


class PendingIssue(Record, frozen=False):
    """An issue request written down before it is sent (ntcli.issues): its
    idempotency key, what it is for and who asked."""

    endpoint: str
    workspace_id: str
    key: str                         # the request's Idempotency-Key
    purpose: str                     # refresh or create
    since: int
    request: dict[str, Any]          # expires_in, expires_at, scope...
    bearer: str                      # local, user, env or token
    bearer_jti: str | None = None    # NTCLI_TOKEN's JTI (never the token)
    # the stored workspace token that asked, when one did (as a pending
    # revocation keeps its token)
    token: str | None = field(default=None, repr=False)
    attempts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingIssue:
        request = data.get('request')
        return cls(endpoint=data['endpoint'],
                   workspace_id=data.get('workspace_id') or '',
                   key=data['key'], purpose=data.get('purpose') or 'issue',
                   since=int(data.get('since') or 0),
                   request=request if isinstance(request, dict) else {},
                   bearer=data.get('bearer') or 'token',
                   bearer_jti=data.get('bearer_jti'),
                   token=data.get('token'),
                   attempts=int(data.get('attempts') or 0),
                   last_error=data.get('last_error'))


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
            issues = entry.get('pending_issues', [])
            if not isinstance(issues, list) or not all(
                    isinstance(p, dict) and isinstance(p.get('key'), str)
                    for p in issues):
                raise ValueError('bad pending issues')
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

    # -- pending issues ------------------------------------------------------

    def pending_issues(self, endpoint_key: str) -> list[PendingIssue]:
        return [PendingIssue.from_dict(dict(data, endpoint=endpoint_key))
                for data in self._endpoint(endpoint_key).get(
                    'pending_issues', [])]

    def add_pending_issue(self, pending: PendingIssue) -> None:
        """Remember an issue request before it is sent."""
        self.update_pending_issue(pending)

    def update_pending_issue(self, pending: PendingIssue) -> None:
        entries = self._endpoint(pending.endpoint, create=True).setdefault(
            'pending_issues', [])
        for index, data in enumerate(entries):
            if data.get('key') == pending.key:
                entries[index] = pending.to_dict()
                return
        entries.append(pending.to_dict())

    def remove_pending_issue(self, endpoint_key: str, key: str) -> None:
        entry = self._endpoint(endpoint_key)
        if 'pending_issues' in entry:
            entry['pending_issues'] = [
                data for data in entry['pending_issues']
                if data.get('key') != key]
        self._drop_if_empty(endpoint_key)

    def forget_endpoint(self, endpoint_key: str, *,
                        keep_pending_revocations: bool = False) -> None:
        """Drop every secret kept for ``endpoint_key``; with
        ``keep_pending_revocations``, what is still to be revoked stays
        (pending revocations and issues)."""
        endpoints = self._doc.get('endpoints', {})
        entry = endpoints.pop(endpoint_key, None)
        kept = {name: entry[name] for name in ('pending_revocations',
                                                'pending_issues')
                if entry and keep_pending_revocations and entry.get(name)}
        if kept:
            endpoints[endpoint_key] = kept

    # -- transactions --------------------------------------------------------

    def commit(self) -> None:
        """Write now, while the transaction still holds the lock."""
        if self._committer is None:
            raise RuntimeError('commit() works only inside '
                               'CredentialStore.transaction()')
        self._committer()
