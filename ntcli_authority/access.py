"""Who is calling (Principal) and what each kind of caller may do.

Every authorization decision of ntcli is made here, from one table,
:data:`RULES`: for each operation of the authority, what the local owner,
a user credential and a workspace token (with which scope) may do. The
authority (ntcli_authority.authority) applies it to the principal every
operation takes; no endpoint, route or command asks on its own.

Three kinds of principal exist:

* ``local``: the embedded endpoint's user or the server's admin CLI, who
  already hold the database file and may therefore do everything;
* ``user``: a user credential; it acts on the workspaces it owns, and
  creates and lists (its own) workspaces;
* ``workspace``: a workspace token; it acts on its own workspace only,
  as the table says. The tokens it issues must expire
  (:func:`check_expiry`) and carry only scopes it holds itself
  (:func:`check_grant`), so that no token can mint a stronger or an
  everlasting one.

:func:`check` rules on who may act on what, before the request is read;
:func:`check_expiry` and :func:`check_grant` on the lifetime and scopes an
issue asks for, once it is; :func:`check_request` on a request an ingress
asks about (``/v1/token_auth``). Every token's lifetime is capped at ten
years whoever asks (the authority's own argument check).
"""

from __future__ import annotations

import enum

from ntcli_authority import errors
from ntcli_authority.models import LOCAL_ACTOR, Workspace
from ntcli_core import scopes
from ntcli_core.records import Record


class Action(str, enum.Enum):
    """The operations of the authority, each subject to :data:`RULES`."""

    CREATE_WORKSPACE = 'workspace:create'
    LIST_WORKSPACES = 'workspace:list'
    GET_WORKSPACE = 'workspace:get'
    DELETE_WORKSPACE = 'workspace:delete'
    ISSUE_TOKEN = 'token:issue'
    LIST_TOKENS = 'token:list'
    GET_TOKEN = 'token:get'
    REVOKE_TOKEN = 'token:revoke'
    READ_EVENTS = 'workspace:events'     # one workspace's audit trail
    MANAGE_TRUST = 'trust:manage'        # create and delete trust policies
    LIST_TRUST = 'trust:list'
    READ_ALL_EVENTS = 'events:all'       # the whole audit trail
    LIST_ALL_TRUST = 'trust:all'         # every workspace's trust policies
    WATCH_EXPIRY = 'tokens:expiring'     # the expiring tokens of all
    END_SESSION = 'session:end'          # the caller's own sign-in
    MANAGE_USERS = 'user:manage'
    MANAGE_KEYS = 'key:manage'           # the signing keys
    PURGE = 'maintenance:purge'          # old events, old idempotency keys


PRINCIPAL_LOCAL = 'local'
PRINCIPAL_USER = 'user'
PRINCIPAL_WORKSPACE = 'workspace'

# Who a rule lets act (the values of Rule.user and Rule.token).
ANYONE = 'anyone'            # a user: any; a token: sees only its own
OWNER = 'owner'              # the user who owns the workspace
OWN_WORKSPACE = 'own workspace'   # a token of the workspace
ITSELF = 'itself'            # a token of the workspace, naming itself


class Rule(Record):
    """What each kind of principal may do of one operation."""

    local: bool              # the local owner (embedded endpoint, admin CLI)
    user: str | None         # ANYONE, OWNER or None: no user credential
    token: str | None        # ANYONE, OWN_WORKSPACE, ITSELF or None
    scope: str | None = None  # the scope a token needs besides
    what: str = ''           # the operation in words, for a refusal


#: The one table of authorization rules (docs/architecture/index.md shows it).
RULES: dict[Action, Rule] = {
    Action.CREATE_WORKSPACE: Rule(True, ANYONE, None,
                                  what='create workspaces'),
    Action.LIST_WORKSPACES: Rule(True, ANYONE, ANYONE),
    Action.GET_WORKSPACE: Rule(True, OWNER, OWN_WORKSPACE),
    Action.DELETE_WORKSPACE: Rule(True, OWNER, None,
                                  what='delete workspaces'),
    Action.ISSUE_TOKEN: Rule(True, OWNER, OWN_WORKSPACE, 'tokens:write'),
    Action.LIST_TOKENS: Rule(True, OWNER, OWN_WORKSPACE),
    Action.GET_TOKEN: Rule(True, OWNER, OWN_WORKSPACE),
    Action.REVOKE_TOKEN: Rule(True, OWNER, ITSELF),
    Action.READ_EVENTS: Rule(True, OWNER, None,
                             what='read the audit trail'),
    # a trust policy is a standing issue of tokens (and grants only scopes
    # its creator holds)
    Action.MANAGE_TRUST: Rule(True, OWNER, OWN_WORKSPACE, 'tokens:write'),
    Action.LIST_TRUST: Rule(True, OWNER, OWN_WORKSPACE, 'tokens:write'),
    Action.READ_ALL_EVENTS: Rule(True, None, None,
                                 what='read the whole audit trail'),
    # a user ends the session it signed in with (no other)
    Action.END_SESSION: Rule(True, ANYONE, None, what='end a session'),
    Action.LIST_ALL_TRUST: Rule(True, None, None,
                                what="list every workspace's trust policies"),
    Action.WATCH_EXPIRY: Rule(True, None, None,
                              what='list the tokens of every workspace'),
    Action.MANAGE_USERS: Rule(True, None, None, what='manage users'),
    Action.MANAGE_KEYS: Rule(True, None, None,
                             what='manage the signing keys'),
    Action.PURGE: Rule(True, None, None, what='purge old records'),
}


class Target(Record):
    """A request a token wants to make behind an ingress (read from the
    ingress's headers by ntcli_server.ingress)."""

    workspace_id: str | None        # as written in the URL, folded
    resource: str                   # folded; may be outside the vocabulary
    action: str                     # scopes.READ or scopes.WRITE


class Principal(Record):
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

    @property
    def actor(self) -> str:
        """Who the audit trail says acted: a user id, a token's JTI, or
        ``local``; never a credential."""
        return self.user_id or self.jti or LOCAL_ACTOR

    @property
    def identity(self) -> str:
        """The principal in one string, stable across its requests (what
        an idempotency key is bound to)."""
        return f'{self.kind}:{self.actor}'


def is_global(action: Action) -> bool:
    """True for an operation that names no workspace."""
    rule = RULES[action]
    return rule.user in (ANYONE, None) and rule.token in (ANYONE, None)


def check(principal: Principal, action: Action,
          workspace: Workspace | None = None, *,
          jti: str | None = None) -> None:
    """Raise Forbidden (or InsufficientScope) unless ``principal`` may take
    ``action``, as :data:`RULES` says.

    ``workspace`` is the (existing) workspace the action touches, None for
    a global action; ``jti`` is the token a revoke names.
    """
    action = Action(action)
    rule = RULES[action]
    if principal.kind == PRINCIPAL_LOCAL:
        if rule.local:
            return
        raise errors.Forbidden(f'The local owner may not {rule.what}')
    if principal.kind == PRINCIPAL_USER:
        allowed, who = rule.user, 'A user credential'
    elif principal.kind == PRINCIPAL_WORKSPACE:
        allowed, who = rule.token, 'A workspace token'
    else:
        raise errors.Forbidden('Unknown kind of caller')
    if allowed is None:
        hint = ('use a user credential' if rule.user is not None
                else "that is the server administrator's (ntcli-server)")
        raise errors.Forbidden(f'{who} cannot {rule.what}; {hint}')
    if allowed == ANYONE:
        return
    if workspace is None:
        raise errors.InvalidRequest(f'{action.value} needs a workspace')
    if allowed == OWNER:
        if principal.user_id and workspace.owner == principal.user_id:
            return
        raise errors.Forbidden('This workspace belongs to another owner')
    if workspace.id != principal.workspace_id:
        raise errors.Forbidden('The token belongs to another workspace')
    if allowed == ITSELF and jti != principal.jti:
        raise errors.Forbidden('A workspace token may revoke only itself; '
                               'use a user credential')
    if rule.scope is not None:
        resource, _, verb = rule.scope.partition(':')
        if not scopes.allows(principal.scope, resource, verb):
            raise errors.InsufficientScope(
                f'This needs the scope {rule.scope}, which this token does '
                'not hold; use a user credential',
                {'required': [rule.scope]})


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
