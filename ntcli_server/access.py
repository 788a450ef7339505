"""Who is calling (Principal) and what each kind of caller may do.

Three kinds of principal exist:

* ``local``: the embedded endpoint's user or the server's admin CLI, who
  already hold the database file and may therefore do everything;
* ``user``: a user credential; it may do everything on the workspaces it
  owns and may create and list (its own) workspaces;
* ``workspace``: a workspace token; it may issue and list tokens of its own
  workspace and revoke itself (the last step of a refresh), nothing else.
  The tokens it issues must expire (:func:`check_expiry`), so that a thief
  of a workspace token cannot mint one that lives for good.

:func:`check` rules on who may act on what, before the request is read;
:func:`check_expiry` on the lifetime an issue asks for, once it is.
Every token's lifetime is capped at ten years whoever asks (the
authority's own argument check).
"""

from __future__ import annotations

import dataclasses
import enum

from ntcli_server import errors
from ntcli_server.models import Workspace


class Action(str, enum.Enum):
    """Operations subject to authorization."""

    CREATE_WORKSPACE = 'workspace:create'
    LIST_WORKSPACES = 'workspace:list'
    GET_WORKSPACE = 'workspace:get'
    DELETE_WORKSPACE = 'workspace:delete'
    ISSUE_TOKEN = 'token:issue'
    LIST_TOKENS = 'token:list'
    REVOKE_TOKEN = 'token:revoke'
    READ_EVENTS = 'workspace:events'      # its audit trail: owners only


PRINCIPAL_LOCAL = 'local'
PRINCIPAL_USER = 'user'
PRINCIPAL_WORKSPACE = 'workspace'


@dataclasses.dataclass(frozen=True)
class Principal:
    """The authenticated caller of an operation."""

    kind: str
    user_id: str | None = None
    user_name: str | None = None
    workspace_id: str | None = None
    jti: str | None = None

    @classmethod
    def local(cls) -> 'Principal':
        return cls(PRINCIPAL_LOCAL)


# Actions a workspace token may take on its own workspace.
_WORKSPACE_TOKEN_ACTIONS = frozenset({
    Action.GET_WORKSPACE, Action.ISSUE_TOKEN, Action.LIST_TOKENS,
    Action.REVOKE_TOKEN,
})
# Actions that name no existing workspace.
_GLOBAL_ACTIONS = frozenset({Action.CREATE_WORKSPACE, Action.LIST_WORKSPACES})


def check(principal: Principal, action: Action,
          workspace: Workspace | None = None, *,
          jti: str | None = None) -> None:
    """Raise Forbidden unless ``principal`` may take ``action``.

    ``workspace`` is the (existing) workspace the action touches, None for
    the global actions; ``jti`` is the token a revoke names.
    """
    action = Action(action)
    if principal.kind == PRINCIPAL_LOCAL:
        return
    if action not in _GLOBAL_ACTIONS and workspace is None:
        raise errors.InvalidRequest(f'{action.value} needs a workspace')
    if principal.kind == PRINCIPAL_USER:
        if action in _GLOBAL_ACTIONS:
            return
        assert workspace is not None        # checked above
        if principal.user_id and workspace.owner == principal.user_id:
            return
        raise errors.Forbidden('This workspace belongs to another owner')
    if principal.kind == PRINCIPAL_WORKSPACE:
        if action not in _WORKSPACE_TOKEN_ACTIONS:
            raise errors.Forbidden(
                'A workspace token cannot manage workspaces; '
                'use a user credential')
        assert workspace is not None        # none of them is global
        if workspace.id != principal.workspace_id:
            raise errors.Forbidden(
                'The token belongs to another workspace')
        if action == Action.REVOKE_TOKEN and jti != principal.jti:
            raise errors.Forbidden(
                'A workspace token may revoke only itself; '
                'use a user credential')
        return
    raise errors.Forbidden('Unknown kind of caller')


def check_expiry(principal: Principal, expires: bool) -> None:
    """Raise Forbidden unless ``principal`` may issue a token that expires
    (``expires``) or one that never does: only a workspace token may not.
    """
    if principal.kind == PRINCIPAL_WORKSPACE and not expires:
        raise errors.Forbidden(
            'A workspace token cannot issue a token that never expires: '
            'that needs a user credential. Ask for a token that expires '
            '(within ten years) instead.')
