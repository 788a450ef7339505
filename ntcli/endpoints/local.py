"""The embedded endpoint: a token authority inside the CLI process.

It keeps its state in ``<data_dir>/authority.db`` and trusts the local
user, so it needs no server and no login: a call without a credential is
the local owner's. A call with a credential is that credential's. Either
way the endpoint only says who calls: the authority decides what the caller
may do, by the same rules as on ``ntcli-server``
(ntcli_authority.access.RULES). The authority is imported on
first use, not when this module is, to keep the CLI's start-up fast.
"""

from __future__ import annotations

import functools
import os
import typing

from ntcli import errors
from ntcli.endpoints import (
    Endpoint,
    EndpointOptions,
    Event,
    IssuedToken,
    Revocation,
    TokenRecord,
    Validation,
    Workspace,
)

if typing.TYPE_CHECKING:
    from ntcli_authority.access import Principal
    from ntcli_authority.authority import Authority
    from ntcli_authority.models import AuditEvent

DATABASE_NAME = 'authority.db'
DEFAULT_WORKSPACE = 'default'

_T = typing.TypeVar('_T')


def _translated(method: typing.Callable[..., _T]) -> typing.Callable[..., _T]:
    """Raise the authority's errors as the ntcli.errors classes."""
    @functools.wraps(method)
    def wrapper(*args: typing.Any, **kwargs: typing.Any) -> _T:
        from ntcli_authority.errors import AuthorityError
        try:
            return method(*args, **kwargs)
        except AuthorityError as exc:
            raise errors.from_api_error(exc.code, exc.message,
                                        exc.details) from exc
    return wrapper


def _workspace(ws: typing.Any) -> Workspace:
    return Workspace(id=ws.id, name=ws.name, created_at=ws.created_at)


def _event(event: AuditEvent) -> Event:
    assert event.id is not None, 'the store numbers the events it lists'
    return Event(id=event.id, time=event.at, action=event.action,
                 outcome=event.outcome, actor=event.actor,
                 target_jti=event.target_jti, client=event.client,
                 request_id=event.request_id, user_agent=event.user_agent,
                 detail=event.detail)


class LocalEndpoint(Endpoint):
    """The embedded token authority on a SQLite database."""

    embedded = True

    def __init__(self, url: str, options: EndpointOptions) -> None:
        super().__init__(url, options)
        self._authority: Authority | None = None

    @property
    def key(self) -> str:
        return 'local'

    @property
    def database_path(self) -> str:
        """Where the authority database lives."""
        from ntcli import paths
        directory = self.options.data_dir or paths.data_dir()
        return os.path.join(directory, DATABASE_NAME)

    @property
    def authority(self) -> Authority:
        """The authority, opened (and its database created) on first use."""
        if self._authority is None:
            self._authority = self._open()
        return self._authority

    @_translated
    def _open(self) -> Authority:
        from ntcli import fileio
        from ntcli_authority.authority import Authority
        path = self.database_path
        directory = os.path.dirname(path)
        try:
            fileio.ensure_private_dir(directory)
        except OSError as exc:
            raise errors.EndpointError(
                f'Cannot create the data directory {directory}: '
                f'{exc.strerror}',
                'Check its permissions, or set NTCLI_DATA_DIR.') from exc
        # the database holds the signing keys: never reached through a link
        fileio.refuse_symlink(path)
        return Authority.open(path)

    def _caller(self, credential: str | None) -> Principal:
        """Who calls: the local owner without a credential, else the
        principal the credential stands for."""
        from ntcli_authority.access import Principal
        if credential is None:
            return Principal.local()
        return self.authority.authenticate(credential)

    # -- workspaces -------------------------------------------------------
    @_translated
    def create_workspace(self, credential: str | None, name: str,
                         description: str | None = None) -> Workspace:
        return _workspace(self.authority.create_workspace(
            self._caller(credential), name, description))

    @_translated
    def list_workspaces(self, credential: str | None) -> list[Workspace]:
        return [_workspace(ws) for ws in self.authority.list_workspaces(
            self._caller(credential))]

    @_translated
    def delete_workspace(self, credential: str | None,
                         workspace_id: str) -> None:
        self.authority.delete_workspace(self._caller(credential),
                                        workspace_id)

    @_translated
    def default_workspace(self) -> Workspace | None:
        """The local owner's ``default`` workspace, created on first use."""
        from ntcli_authority.errors import WorkspaceExists, WorkspaceNotFound
        owner = self._caller(None)
        try:
            return _workspace(self.authority.get_workspace(
                owner, DEFAULT_WORKSPACE))
        except WorkspaceNotFound:
            pass
        try:
            return _workspace(
                self.authority.create_workspace(owner, DEFAULT_WORKSPACE))
        except WorkspaceExists:
            # Another process created it between our two calls.
            return _workspace(self.authority.get_workspace(
                owner, DEFAULT_WORKSPACE))

    # -- tokens -----------------------------------------------------------
    @_translated
    def issue_token(self, credential: str | None, workspace_id: str, *,
                    expires_in: int | None = None,
                    expires_at: int | None = None,
                    description: str | None = None,
                    idempotency_key: str | None = None,
                    scope: typing.Sequence[str] | None = None
                    ) -> IssuedToken:
        arguments: dict[str, typing.Any] = dict(
            expires_in=expires_in, expires_at=expires_at,
            description=description,
            scope=None if scope is None else list(scope),
            idempotency_key=idempotency_key)
        issued = self.authority.issue(self._caller(credential), workspace_id,
                                      **arguments)
        return IssuedToken(token=issued.token, jti=issued.jti,
                           workspace_id=issued.workspace_id,
                           expires_at=issued.expires_at,
                           created_at=issued.created_at, scope=issued.scope,
                           replayed=issued.replayed)

    @_translated
    def list_tokens_page(self, credential: str | None, workspace_id: str, *,
                         include_expired: bool = False,
                         include_revoked: bool = False,
                         limit: int = 100,
                         cursor: str | None = None,
                         ) -> tuple[list[TokenRecord], str | None]:
        page = self.authority.list_tokens(
            self._caller(credential), workspace_id,
            include_expired=include_expired, include_revoked=include_revoked,
            limit=limit, cursor=cursor)
        records = [TokenRecord(jti=t.jti, created_at=t.created_at,
                               expires_at=t.expires_at, status=t.status,
                               description=t.description,
                               revoked_at=t.revoked_at, scope=t.scope)
                   for t in page.tokens]
        return records, page.next_cursor

    @_translated
    def revoke_token(self, credential: str | None, workspace_id: str,
                     jti: str, *, grace: int | None = None) -> Revocation:
        result = self.authority.revoke(self._caller(credential),
                                       workspace_id, jti, grace=grace)
        return Revocation(jti=result.token.jti,
                          workspace_id=result.token.workspace_id,
                          revoked_at=result.revoked_at,
                          already_revoked=result.already_revoked,
                          retiring=result.retiring)

    @_translated
    def validate_token(self, token: str) -> Validation:
        valid = self.authority.validate(token)
        return Validation(jti=valid.jti, workspace_id=valid.workspace_id,
                          expires_at=valid.expires_at,
                          revoked_at=valid.retires_at)

    @_translated
    def list_events_page(self, credential: str | None, workspace_id: str, *,
                         since: int | None = None,
                         actions: typing.Sequence[str] = (),
                         limit: int = 100, cursor: str | None = None,
                         ) -> tuple[list[Event], str | None]:
        page = self.authority.list_events(self._caller(credential),
                                          workspace_id, since=since,
                                          actions=actions, limit=limit,
                                          cursor=cursor)
        return [_event(e) for e in page.events], page.next_cursor

    @_translated
    def whoami(self, credential: str | None) -> str:
        if credential is not None:
            principal = self._caller(credential)
            if principal.kind == 'user':
                return f'user {principal.user_name}'
            return (f'workspace token {principal.jti} of workspace '
                    f'{principal.workspace_id}')
        import getpass
        try:
            return f'local user {getpass.getuser()}'
        except Exception:  # no user name in this environment
            return 'local user'

    def close(self) -> None:
        if self._authority is not None:
            self._authority.close()
            self._authority = None
