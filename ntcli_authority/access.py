"""Who is calling (Principal) and what each kind of caller may do.

Three kinds of principal exist:

* ``local``: the embedded endpoint's user or the server's admin CLI, who
  already hold the database file and may therefore do everything;
* ``user``: a user credential; it may do everything on the workspaces it
  owns and may create and list (its own) workspaces;
* ``workspace``: a workspace token; it may list the tokens of its own
  workspace and revoke itself (the last step of a refresh), whatever its
  scopes; it may issue tokens of its workspace only if it holds
  ``tokens:write``, and only with scopes it holds itself
  (:func:`check_grant`), so that no token can mint a stronger one. The
  tokens it issues must expire (:func:`check_expiry`), so that a thief of
  a workspace token cannot mint one that lives for good.

:func:`check` rules on who may act on what, before the request is read;
:func:`check_expiry` and :func:`check_grant` on the lifetime and scopes an
issue asks for, once it is; :func:`check_request` on a request an ingress
asks about (``/v1/token_auth``). Every token's lifetime is capped at ten
years whoever asks (the authority's own argument check).
"""

from __future__ import annotations

import dataclasses
import enum

from ntcli_authority import errors
from ntcli_authority.models import Workspace
from ntcli_core import scopes


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
    MANAGE_TRUST = 'trust:manage'         # create and delete trust policies
    LIST_TRUST = 'trust:list'


PRINCIPAL_LOCAL = 'local'
PRINCIPAL_USER = 'user'
PRINCIPAL_WORKSPACE = 'workspace'


@dataclasses.dataclass(frozen=True)
class Target:
    """A request a token wants to make behind an ingress (read from the
    ingress's headers by ntcli_server.ingress)."""

    workspace_id: str | None        # as written in the URL, folded
    resource: str                   # folded; may be outside the vocabulary
    action: str                     # scopes.READ or scopes.WRITE


@dataclasses.dataclass(frozen=True)
class Principal:
    """The authenticated caller of an operation."""

    kind: str
    user_id: str | None = None
    user_name: str | None = None
    workspace_id: str | None = None
    jti: str | None = None
    scope: scopes.Scopes = ()        # a workspace token's scopes
    session_id: str | None = None    # a user's session from a sign-in

    @classmethod
    def local(cls) -> Principal:
        return cls(PRINCIPAL_LOCAL)


# Actions a workspace token may take on its own workspace.
_WORKSPACE_TOKEN_ACTIONS = frozenset({
    Action.GET_WORKSPACE, Action.ISSUE_TOKEN, Action.LIST_TOKENS,
    Action.REVOKE_TOKEN, Action.MANAGE_TRUST, Action.LIST_TRUST,
})
# Actions of a workspace token that need tokens:write: a trust policy is a
# standing issue of tokens (and grants only scopes its creator holds).
_ISSUING_ACTIONS = frozenset({Action.ISSUE_TOKEN, Action.MANAGE_TRUST,
                              Action.LIST_TRUST})
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
        if action in _ISSUING_ACTIONS and not scopes.allows(
                principal.scope, 'tokens', scopes.WRITE):
            what = ('Issuing a token' if action == Action.ISSUE_TOKEN
                    else 'Managing trust policies')
            raise errors.InsufficientScope(
                f'{what} needs the scope tokens:write, which this '
                'token does not hold; use a user credential',
                {'required': ['tokens:write']})
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


def check_grant(principal: Principal, wanted: scopes.Scopes) -> None:
    """Raise InsufficientScope unless ``principal`` may grant ``wanted``:
    a workspace token grants only scopes it holds itself."""
    if principal.kind != PRINCIPAL_WORKSPACE:
        return
    lacking = scopes.missing(principal.scope, wanted)
    if lacking:
        raise errors.InsufficientScope(
            'A token can grant only scopes it holds; this one lacks '
            f"{' '.join(lacking)}. Use a user credential to grant them.",
            {'missing': list(lacking)})


def check_request(held: scopes.Scopes, workspace_id: str,
                  target: Target) -> None:
    """Raise Forbidden unless a token of ``workspace_id`` holding ``held``
    may make the request ``target`` describes."""
    if target.workspace_id is not None and \
            target.workspace_id != workspace_id.lower():
        raise errors.Forbidden('The token belongs to another workspace')
    if target.resource not in scopes.RESOURCES:
        # unknown to the vocabulary: no scope grants it
        raise errors.InsufficientScope(
            'No scope grants access to this resource')
    if not scopes.allows(held, target.resource, target.action):
        needed = scopes.scope(target.resource, target.action)
        raise errors.InsufficientScope(
            f'This request needs the scope {needed}, which the token does '
            'not hold', {'required': [needed]})
