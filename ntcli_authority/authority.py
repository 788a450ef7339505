"""The token authority: workspaces, and the tokens that open them.

One :class:`Authority` serves both the CLI's embedded endpoint and
``ntcli-server``. It holds no SQL: state lives behind
:class:`ntcli_authority.storage.store.TokenStore`, and every state change
is one store call, hence one transaction.

Every operation takes its caller, a :class:`ntcli_authority.access.Principal`,
as its first argument and is authorized here, by the rules of
:data:`ntcli_authority.access.RULES`, before it reads or changes anything:
the embedded endpoint, the HTTP server and the admin CLI only say who calls
(the local owner is ``Principal.local()``). Only :meth:`Authority.validate`
and :meth:`Authority.authenticate`, which take a credential rather than a
caller, and :meth:`Authority.record_refusal` (the refusal of one) have no
principal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import typing

from ntcli_authority import access, errors, models, signing
from ntcli_authority import jws as jws_impl
from ntcli_authority.access import Action, Principal
from ntcli_authority.models import (
    AuditEvent,
    EventPage,
    Exchange,
    IssuedToken,
    NewUser,
    Origin,
    Revocation,
    SigningKey,
    TokenInfo,
    TokenPage,
    TokenRecord,
    TrustPolicy,
    User,
    ValidatedToken,
    Workspace,
    held_scopes,
)
from ntcli_authority.storage import open_store
from ntcli_authority.storage.queries import PrimaryKeyChanged
from ntcli_authority.storage.store import TokenStore
from ntcli_authority.storage.workspaces import ALL_OWNERS
from ntcli_core import clock, scopes
from ntcli_core.lifetimes import MAX_GRACE, MAX_LIFETIME
from ntcli_core.names import NAME_RULE, is_valid_name
from ntcli_core.tokens import (
    JTI_PREFIX,
    SESSION_PREFIX,
    TOKEN_PREFIX,
    USER_CREDENTIAL_PREFIX,
)

if typing.TYPE_CHECKING:
    from ntcli_authority.oidc import IssuerCache, VerifiedToken

# uuid (which imports platform) is imported where it is used: the CLI's
# embedded endpoint opens an authority on every 'token show' and needs it
# not there (about 2.5 ms of its start-up).

Clock = typing.Callable[[], int]
JWS = jws_impl.PyJWT | jws_impl.Ed25519

MAX_DESCRIPTION = 256
MAX_IDEMPOTENCY_KEY = 128
MAX_PAGE = 1000
IDEMPOTENCY_WINDOW = 24 * 3600       # how long an idempotency key replays
LOCAL = Origin()                     # whoever holds the database
#: How long a session opened by a sign-in lasts unless the operator says:
#: a working day.
DEFAULT_SESSION_LIFETIME = 8 * 3600
#: The longest session an operator may set: a week.
MAX_SESSION_LIFETIME = 7 * 24 * 3600
SESSION_ID_PREFIX = 'ses_'
MAX_EMAIL = 320


def _system_clock() -> int:
    return clock.now()


def _is_int(value: object) -> typing.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_utf8(text: str) -> bool:
    """False for a string with a lone surrogate (no database stores it)."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def _check_name(kind: str, name: object) -> str:
    if not is_valid_name(name):
        raise errors.InvalidRequest(f'Invalid {kind} name: use {NAME_RULE}',
                                    {'field': 'name'})
    return name


def _hash_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode('utf-8')).hexdigest()


def _identity_detail(issuer: str | None, subject: str | None,
                     email: str | None) -> str:
    """The audit detail naming a person: issuer, subject and e-mail."""
    return f'{issuer or "-"} {subject or "-"} {email or "-"}'


def encode_cursor(record: TokenRecord) -> str:
    """An opaque cursor for the position just after ``record``."""
    raw = json.dumps([record.created_at, record.jti], separators=(',', ':'))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip('=')


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor of :func:`encode_cursor` stands for."""
    try:
        padded = cursor + '=' * (-len(cursor) % 4)
        created_at, jti = json.loads(base64.urlsafe_b64decode(padded))
        # What the database can compare: a 64-bit time, UTF-8 text.
        if (_is_int(created_at) and -2 ** 63 <= created_at < 2 ** 63
                and isinstance(jti, str) and _is_utf8(jti)):
            return created_at, jti
    except (ValueError, TypeError, RecursionError):
        pass
    raise errors.InvalidRequest('Invalid pagination cursor',
                                {'field': 'cursor'})


def _keys_in_flux() -> errors.StorageUnavailable:
    """The primary signing key changed twice during one issue."""
    return errors.StorageUnavailable(
        'The signing keys changed while this token was being issued; '
        'try again')


class SignInPolicy(typing.NamedTuple):
    """How people sign in, as the server's operator set it.

    ``auto_create``: a person the provider vouches for who is linked to no
    user gets a new user on first sign-in (off: the operator links each
    one). ``require_provider``: user credentials (``ntu_``) are refused;
    people sign in through the provider only (the admin commands on the
    server's machine, which hold the database, are not affected).
    ``session_lifetime``: seconds a sign-in's session lasts.
    """

    auto_create: bool = False
    require_provider: bool = False
    session_lifetime: int = DEFAULT_SESSION_LIFETIME


def name_for(claims: typing.Mapping[str, object]) -> str:
    """A user name made from a provider's claims (preferred_username,
    the e-mail's local part, or the subject), folded to the name rule."""
    import re
    for claim in ('preferred_username', 'email', 'name', 'sub'):
        value = claims.get(claim)
        if not isinstance(value, str):
            continue
        value = value.split('@')[0].lower()
        name = re.sub(r'[^a-z0-9]+', '-', value).strip('-')
        name = re.sub(r'^[^a-z]+', '', name)[:32].rstrip('-')
        if len(name) >= 3:
            return name
    return 'user'


class Authority:
    """Issues, validates, lists and revokes workspace tokens."""

    def __init__(self, store: TokenStore, *, clock: Clock | None = None,
                 jws: JWS = jws_impl.ED25519,
                 sign_in: SignInPolicy | None = None) -> None:
        self.store = store
        self.sign_in_policy = sign_in or SignInPolicy()
        self.clock = clock or _system_clock
        self.keys = signing.KeyRing(store, self.now)
        # how tokens are signed and verified (see ntcli_authority.jws)
        self.jws = jws

    @classmethod
    def open(cls, target: str, *, clock: Clock | None = None,
             jws: JWS = jws_impl.ED25519,
             create: bool = True,
             wait: float | None = None) -> Authority:
        """An authority on the store at ``target`` (SQLite path or DSN);
        ``create=False`` refuses a missing SQLite database
        (:class:`ntcli_authority.errors.DatabaseMissing`); ``wait``
        bounds each database call (see
        :func:`ntcli_authority.storage.open_store`)."""
        return cls(open_store(target, create=create, wait=wait),
                   clock=clock, jws=jws)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> int:
        """The current time, integer Unix seconds."""
        return int(self.clock())

    # -- signing keys -----------------------------------------------------
    def _event(self, principal: Principal | None, origin: Origin | None,
               action: str, **fields: typing.Any) -> AuditEvent:
        """The audit event of ``action`` asked for now by ``principal``
        (its actor) from ``origin`` (where the request came from)."""
        origin = origin or LOCAL
        if principal is not None:
            origin = origin.but(actor=principal.actor)
        return AuditEvent.of(origin, self.now(), action, **fields)

    def _authorize(self, principal: Principal, action: Action,
                   workspace_id: str | None = None, *,
                   jti: str | None = None) -> Workspace | None:
        """Raise Forbidden (or WorkspaceNotFound) unless ``principal`` may
        take ``action`` on ``workspace_id``; return that workspace."""
        workspace = None
        if workspace_id is not None:
            workspace = (self.store.get_workspace(workspace_id)
                         if isinstance(workspace_id, str) else None)
            if workspace is None:
                # A workspace token learns nothing about other workspaces.
                if (principal.kind == access.PRINCIPAL_WORKSPACE
                        and principal.workspace_id != workspace_id):
                    raise errors.Forbidden(
                        'The token belongs to another workspace')
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
        access.check(principal, action, workspace, jti=jti)
        return workspace

    def rotate_signing_key(self, principal: Principal, *,
                           origin: Origin | None = None) -> str:
        """Make a new primary signing key; return its kid.

        Tokens signed by the older keys stay valid until they expire or
        are revoked.
        """
        self._authorize(principal, Action.MANAGE_KEYS)
        return self.keys.rotate(self._event(
            principal, origin, models.AUDIT_KEY_ROTATE)).kid

    def retire_signing_keys(self, principal: Principal, *,
                            origin: Origin | None = None) -> list[str]:
        """Destroy the private keys no live token needs; return their kids."""
        self._authorize(principal, Action.MANAGE_KEYS)
        return self.store.retire_unused_signing_keys(
            self.now(), self._event(principal, origin,
                                    models.AUDIT_KEY_RETIRE))

    def list_signing_keys(self, principal: Principal) -> list[SigningKey]:
        """Every signing key, without its private part."""
        self._authorize(principal, Action.MANAGE_KEYS)
        return [SigningKey(kid=k.kid, public_key=k.public_key,
                           created_at=k.created_at, is_primary=k.is_primary,
                           retired_at=k.retired_at)
                for k in self.store.list_signing_keys()]

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, principal: Principal, name: str,
                         description: str | None = None,
                         owner: str | None = None, *,
                         origin: Origin | None = None) -> Workspace:
        """Create a workspace. A user's is its own; the local owner gives
        ``owner`` (a user id), or None for a workspace of its own."""
        self._authorize(principal, Action.CREATE_WORKSPACE)
        if principal.kind != access.PRINCIPAL_LOCAL:
            if owner not in (None, principal.user_id):
                raise errors.Forbidden(
                    'A user creates workspaces for itself only')
            owner = principal.user_id
        _check_name('workspace', name)
        self._check_description(description)
        import uuid
        workspace = Workspace(id=str(uuid.uuid4()), name=name,
                              created_at=self.now(),
                              description=description, owner=owner)
        self.store.create_workspace(workspace, self._event(
            principal, origin, models.AUDIT_WORKSPACE_CREATE,
            workspace_id=workspace.id, detail=name))
        return workspace

    def list_workspaces(self, principal: Principal,
                        owner: object = ALL_OWNERS) -> list[Workspace]:
        """The workspaces ``principal`` may see, by name: a user its own, a
        workspace token its workspace, the local owner all (or those of
        ``owner``; None: its own)."""
        self._authorize(principal, Action.LIST_WORKSPACES)
        if principal.kind == access.PRINCIPAL_WORKSPACE:
            workspace = self.store.get_workspace(principal.workspace_id or '')
            return [workspace] if workspace is not None else []
        if principal.kind == access.PRINCIPAL_USER:
            owner = principal.user_id
        return self.store.list_workspaces(owner)

    def get_workspace(self, principal: Principal, ref: str) -> Workspace:
        """The workspace with this id or name."""
        workspace = self._lookup_workspace(ref)
        if workspace is None:
            if (principal.kind == access.PRINCIPAL_WORKSPACE
                    and principal.workspace_id != ref):
                raise errors.Forbidden(
                    'The token belongs to another workspace')
            raise errors.WorkspaceNotFound(
                f"Workspace '{ref}' not found", {'workspace': ref})
        access.check(principal, Action.GET_WORKSPACE, workspace)
        return workspace

    def delete_workspace(self, principal: Principal, workspace_id: str, *,
                         origin: Origin | None = None) -> int:
        """Revoke every token of the workspace and delete it, atomically;
        return the number of tokens revoked."""
        self._authorize(principal, Action.DELETE_WORKSPACE, workspace_id)
        return self.store.delete_workspace(
            workspace_id, self.now(), self._event(
                principal, origin, models.AUDIT_WORKSPACE_DELETE,
                workspace_id=workspace_id))

    # -- tokens -----------------------------------------------------------
    def issue(self, principal: Principal, workspace_id: str, *,
              expires_in: int | None = None,
              expires_at: int | None = None,
              description: str | None = None, scope: object = None,
              idempotency_key: str | None = None,
              origin: Origin | None = None) -> IssuedToken:
        """Issue a token; no expiry given means a non-expiring token.

        Besides the rule of :data:`~ntcli_authority.access.RULES`, a
        workspace token may issue only tokens that expire, with scopes it
        holds (:func:`~ntcli_authority.access.check_expiry`,
        :func:`~ntcli_authority.access.check_grant`).

        ``scope`` is a list of scopes or one space-separated string (see
        ntcli_core.scopes); None gives the default, ``workspace:read
        servers:read``.

        A retry with the same ``idempotency_key`` for the same workspace
        within 24 hours returns the same token, re-signed from its stored
        claims (Ed25519 is deterministic, so the value is identical): a
        replay. A key is bound to the principal that first sent it (another
        one gets IdempotencyKeyConflict); a replay is authorized as the
        first request was, and then hands out nothing when the token is no
        longer valid (ReplayedTokenGone). The audit trail records each
        replay as it ended, a refusal as a refusal.
        """
        self._authorize(principal, Action.ISSUE_TOKEN, workspace_id)
        access.check_expiry(principal, expires_in is not None
                            or expires_at is not None)
        granted = self._scopes(scope)
        access.check_grant(principal, granted)
        now = self.now()
        expiry = self._expiry(now, expires_in, expires_at)
        self._check_description(description)
        if idempotency_key is not None and (
                not isinstance(idempotency_key, str) or not idempotency_key
                or len(idempotency_key) > MAX_IDEMPOTENCY_KEY):
            raise errors.InvalidRequest('Invalid idempotency key',
                                        {'field': 'idempotency_key'})
        for reload in (False, True):
            key, private_key = self.keys.primary(
                self._event(principal, origin, models.AUDIT_KEY_ROTATE),
                reload=reload)
            record = TokenRecord(
                jti=JTI_PREFIX + secrets.token_hex(16),
                workspace_id=workspace_id, created_at=now, expires_at=expiry,
                kid=key.kid, scope=scopes.to_claim(granted),
                description=description)
            try:
                stored, replayed = self.store.add_token(
                    record, idempotency_key,
                    idempotency_since=now - IDEMPOTENCY_WINDOW,
                    caller=principal.identity,
                    audit=self._event(principal, origin,
                                      models.AUDIT_TOKEN_ISSUE,
                                      workspace_id=workspace_id,
                                      target_jti=record.jti))
                break
            except PrimaryKeyChanged:
                if reload:
                    raise _keys_in_flux() from None
            except errors.IdempotencyKeyConflict as exc:
                self._record_replay(principal, origin, workspace_id, None,
                                    exc)
                raise
        if replayed:
            private_key = self._replayable(principal, origin, stored)
        return IssuedToken(
            token=signing.encode_token(stored, private_key, self.jws),
            jti=stored.jti,
            workspace_id=stored.workspace_id, created_at=stored.created_at,
            expires_at=stored.expires_at, scope=held_scopes(stored.scope),
            kid=stored.kid, replayed=replayed)

    def validate(self, token: str,
                 workspace_id: str | None = None) -> ValidatedToken:
        """Accept a token or raise TokenInvalid / TokenRevoked /
        TokenExpired, or Forbidden when it is not for ``workspace_id``."""
        kid, claims = signing.decode_token(token, self.keys.public_key,
                                           self.jws)
        record = self.store.get_token(claims['jti'])
        # A genuine signature over claims the store does not hold as
        # issued means a database reset or a key leak: not valid either.
        if (record is None or record.workspace_id != claims['sub']
                or record.kid != kid
                or record.created_at != claims['iat']
                or record.expires_at != claims.get('exp')
                or record.scope != claims['scope']):
            raise errors.TokenInvalid('The token is not known to this '
                                      'authority')
        now = self.now()
        # A revocation time still to come is a grace period (a rotated
        # token retiring): valid until then, refused from then on, with
        # nothing to run when the time comes.
        if record.revoked_by(now):
            raise errors.TokenRevoked(details={'jti': record.jti})
        if record.expires_at is not None and record.expires_at <= now:
            raise errors.TokenExpired(details={'jti': record.jti})
        if workspace_id is not None and record.workspace_id != workspace_id:
            raise errors.Forbidden('The token belongs to another workspace')
        return ValidatedToken(jti=record.jti,
                              workspace_id=record.workspace_id,
                              issued_at=record.created_at,
                              expires_at=record.expires_at,
                              scope=held_scopes(record.scope),
                              kid=record.kid, retires_at=record.retires_at)

    def list_tokens(self, principal: Principal, workspace_id: str, *,
                    include_expired: bool = False,
                    include_revoked: bool = False, limit: int | None = 100,
                    cursor: str | None = None) -> TokenPage:
        """One page of the workspace's tokens, oldest first; ``limit``
        None: every token from ``cursor`` on, in one page."""
        self._authorize(principal, Action.LIST_TOKENS, workspace_id)
        if limit is None:
            tokens: list[TokenInfo] = []
            while True:
                page = self._list_tokens(
                    workspace_id, include_expired=include_expired,
                    include_revoked=include_revoked, limit=MAX_PAGE,
                    cursor=cursor)
                tokens.extend(page.tokens)
                if page.next_cursor is None:
                    return TokenPage(tokens=tokens, next_cursor=None)
                cursor = page.next_cursor
        return self._list_tokens(workspace_id, include_expired=include_expired,
                                 include_revoked=include_revoked,
                                 limit=limit, cursor=cursor)

    def _list_tokens(self, workspace_id: str, *, include_expired: bool,
                     include_revoked: bool, limit: int,
                     cursor: str | None) -> TokenPage:
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
            raise errors.InvalidRequest(
                f'limit must be between 1 and {MAX_PAGE}', {'field': 'limit'})
        after = decode_cursor(cursor) if cursor else None
        if self.store.get_workspace(workspace_id) is None:
            raise errors.WorkspaceNotFound(
                details={'workspace_id': workspace_id})
        now = self.now()
        # One row more than asked tells whether another page exists.
        records = self.store.list_tokens(
            workspace_id, now=now, include_expired=include_expired,
            include_revoked=include_revoked, after=after, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        return TokenPage(
            tokens=[TokenInfo.from_record(r, now) for r in records],
            next_cursor=encode_cursor(records[-1]) if more else None)

    def _replayable(self, principal: Principal, origin: Origin | None,
                    stored: TokenRecord) -> object:
        """The key to re-sign ``stored``, the token a replay returns; raise
        (and record the refusal) when it must not be handed out."""
        refusal: errors.AuthorityError | None = None
        private_key = None
        status = stored.status_at(self.now())
        if status != models.STATUS_ACTIVE:
            what = ('been revoked' if status == models.STATUS_REVOKED
                    else 'expired')
            refusal = errors.ReplayedTokenGone(
                f'The token this idempotency key issued ({stored.jti}) has '
                f'{what}; ask again with a new key',
                {'jti': stored.jti, 'status': status})
        else:
            try:
                # The token first issued under this key, whatever this
                # request asked for: it must pass as a fresh issue would.
                access.check_expiry(principal, stored.expires_at is not None)
                access.check_grant(principal, held_scopes(stored.scope))
            except errors.Forbidden as exc:
                refusal = exc
            else:
                private_key = self.keys.private_key(stored.kid)
                if private_key is None:
                    refusal = errors.InvalidRequest(
                        'This idempotency key can no longer be replayed',
                        {'field': 'idempotency_key'})
        self._record_replay(principal, origin, stored.workspace_id,
                            stored.jti, refusal)
        if refusal is not None:
            raise refusal
        assert private_key is not None
        return private_key

    def _record_replay(self, principal: Principal, origin: Origin | None,
                       workspace_id: str, jti: str | None,
                       refusal: errors.AuthorityError | None) -> None:
        """The audit event of a replay, as it ended."""
        self.store.record_event(self._event(
            principal, origin, models.AUDIT_TOKEN_REPLAY,
            outcome=(models.OUTCOME_SUCCESS if refusal is None
                     else models.OUTCOME_REFUSED),
            workspace_id=workspace_id, target_jti=jti,
            detail=None if refusal is None else refusal.code))

    def get_token(self, principal: Principal, workspace_id: str,
                  jti: str) -> TokenInfo:
        """The metadata of one token of the workspace."""
        self._authorize(principal, Action.GET_TOKEN, workspace_id)
        record = self.store.get_token(jti)
        if record is None or record.workspace_id != workspace_id:
            raise errors.TokenNotFound(f"Token with JTI '{jti}' not found",
                                       {'jti': jti})
        return TokenInfo.from_record(record, self.now())

    def revoke(self, principal: Principal, workspace_id: str, jti: str, *,
               grace: int | None = None,
               origin: Origin | None = None) -> Revocation:
        """Revoke a token now, or with ``grace`` (seconds, at most
        MAX_GRACE) when that grace ends: until then it stays valid, then
        validation refuses it. A revocation is never postponed: revoking
        again keeps the earlier time, and revoking a retiring token
        without grace revokes it at once."""
        self._authorize(principal, Action.REVOKE_TOKEN, workspace_id,
                        jti=jti)
        if grace is not None and (not _is_int(grace)
                                  or not 0 <= grace <= MAX_GRACE):
            raise errors.InvalidRequest(
                'Invalid grace period: a whole number of seconds from 0 to '
                f'{MAX_GRACE} ({MAX_GRACE // 86400} days)', {'field': 'grace'})
        now = self.now()
        at = now + (grace or 0)
        if at > now:
            from ntcli_core import timefmt
            audit = self._event(
                principal, origin, models.AUDIT_TOKEN_RETIRE,
                workspace_id=workspace_id, target_jti=jti,
                detail=f'revoked_at={timefmt.iso(at)}')
        else:
            audit = self._event(
                principal, origin, models.AUDIT_TOKEN_REVOKE,
                workspace_id=workspace_id, target_jti=jti)
        record, already = self.store.revoke_token(workspace_id, jti, now,
                                                  audit, at=at)
        return Revocation(token=TokenInfo.from_record(record, now),
                          already_revoked=already,
                          retiring=not record.revoked_by(now))

    def list_expiring(self, principal: Principal, within: int, *,
                      limit: int = MAX_PAGE) -> list[TokenRecord]:
        """Up to ``limit`` valid tokens of every workspace that expire
        within ``within`` seconds from now, soonest first."""
        self._authorize(principal, Action.WATCH_EXPIRY)
        if not _is_int(within) or not 0 < within <= MAX_LIFETIME:
            raise errors.InvalidRequest(
                'The window must be a whole number of seconds, at most ten '
                'years', {'field': 'within'})
        now = self.now()
        return self.store.list_expiring_tokens(now, now + within, limit)

    def count_expiring(self, principal: Principal,
                       windows: typing.Sequence[int]
                       ) -> tuple[dict[int, int], int]:
        """How many valid tokens expire within each window (seconds), and
        how many are retiring (revoked at a time still to come)."""
        self._authorize(principal, Action.WATCH_EXPIRY)
        return self.store.count_expiring_tokens(self.now(), windows)

    def purge_idempotency_keys(self, principal: Principal) -> int:
        """Forget idempotency keys too old to replay."""
        self._authorize(principal, Action.PURGE)
        return self.store.purge_idempotency_keys(
            self.now() - IDEMPOTENCY_WINDOW)

    # -- trust policies and the token exchange ----------------------------
    def create_trust_policy(self, principal: Principal, workspace_id: str,
                            name: str, *, issuer: str, conditions: object,
                            scope: object = None,
                            max_lifetime: int | None = None,
                            description: str | None = None,
                            origin: Origin | None = None) -> TrustPolicy:
        """Let tokens of ``issuer`` whose claims meet ``conditions`` be
        exchanged for tokens of the workspace holding ``scope`` (default
        ``workspace:read servers:read``) that live ``max_lifetime`` seconds
        (default one hour); see ntcli_authority.trust. A workspace token
        may create one only with scopes it holds, and the policy then
        lives only as long as that token."""
        from ntcli_authority import trust
        self._authorize(principal, Action.MANAGE_TRUST, workspace_id)
        _check_name('trust policy', name)
        issuer = trust.check_issuer(issuer)
        checked = trust.check_conditions(conditions)
        granted = trust.check_scope(scope)
        lifetime = trust.check_max_lifetime(max_lifetime)
        trust.check_description(description)
        access.check_grant(principal, granted)
        policy = TrustPolicy(
            id='tp_' + secrets.token_hex(8), workspace_id=workspace_id,
            name=name, issuer=issuer, conditions=checked,
            scope=scopes.to_claim(granted), max_lifetime=lifetime,
            created_at=self.now(), created_by=principal.actor,
            description=description)
        self.store.add_trust_policy(policy, self._event(
            principal, origin, models.AUDIT_TRUST_CREATE,
            workspace_id=workspace_id,
            detail=json.dumps({
                'policy': policy.id, 'name': name, 'issuer': issuer,
                'conditions': dict(checked), 'scope': list(granted),
                'max_lifetime': lifetime}, separators=(',', ':'),
                ensure_ascii=False)))
        return policy

    def list_trust_policies(self, principal: Principal,
                            workspace_id: str | None = None
                            ) -> list[TrustPolicy]:
        """The trust policies of a workspace (every workspace's for the
        local operator, with ``workspace_id`` None), by name."""
        if workspace_id is None:
            self._authorize(principal, Action.LIST_ALL_TRUST)
        else:
            self._authorize(principal, Action.LIST_TRUST, workspace_id)
        return self.store.list_trust_policies(workspace_id=workspace_id)

    def get_trust_policy(self, principal: Principal, workspace_id: str,
                         ref: str) -> TrustPolicy:
        """The policy of the workspace with this id or name."""
        for policy in self.list_trust_policies(principal, workspace_id):
            if ref in (policy.id, policy.name):
                return policy
        raise errors.TrustPolicyNotFound(
            f"Trust policy '{ref}' not found", {'policy': ref})

    def delete_trust_policy(self, principal: Principal, workspace_id: str,
                            ref: str, *,
                            origin: Origin | None = None) -> TrustPolicy:
        """Delete the policy of the workspace with this id or name: from
        now on it allows no exchange."""
        self._authorize(principal, Action.MANAGE_TRUST, workspace_id)
        policy = self.get_trust_policy(principal, workspace_id, ref)
        return self.store.delete_trust_policy(
            workspace_id, policy.id, self._event(
                principal, origin, models.AUDIT_TRUST_DELETE,
                workspace_id=workspace_id,
                detail=json.dumps({'policy': policy.id,
                                   'name': policy.name},
                                  separators=(',', ':'))))

    def exchange(self, subject_token: str, *, issuers: IssuerCache,
                 audience: str, workspace: str | None = None,
                 scope: object = None,
                 origin: Origin | None = None) -> Exchange:
        """A workspace token for an external issuer's JWT (RFC 8693).

        The token's issuer must be one a trust policy names (it is read
        before anything is fetched); that issuer, from ``issuers``, checks
        its signature, ``audience`` (this server), expiry and issue time.
        Then the policies of that issuer (of ``workspace``, an id or name,
        when given) are matched; the first, by name, whose conditions all
        hold and that grants ``scope`` (default: all it grants) issues a
        token that lives its ``max_lifetime``. Each subject token is
        accepted once while it is valid. Raises SubjectTokenRejected or
        oidc.TokenRejected (the token itself is not acceptable),
        oidc.ProviderUnavailable, or NoMatchingPolicy (saying which
        condition failed); every refusal of a verified token is audited,
        as is every exchange, with the issuer, the subject and the claims
        matched.
        """
        from ntcli_authority import trust
        issuer = trust.unverified_issuer(subject_token)
        wanted = None if scope is None else self._scopes(scope)
        candidates = self.store.list_trust_policies(issuer=issuer)
        named = None
        if workspace is not None:
            named = self._find_workspace(workspace)
            candidates = [p for p in candidates
                          if named is not None and p.workspace_id == named]
        if not candidates:
            raise errors.SubjectTokenRejected(
                'No trust policy trusts the issuer of this token'
                + (f" in workspace '{workspace}'" if workspace else ''),
                {'reason': 'untrusted_issuer'})
        verifier = issuers.get(issuer)
        verified = verifier.verify(subject_token, audience=audience)
        claims, subject = dict(verified.claims), verified.subject
        reasons, matched = [], []
        for policy in candidates:
            why = trust.first_mismatch(policy.conditions, claims)
            if why is None and wanted is not None:
                lacking = scopes.missing(policy.granted, wanted)
                if lacking:
                    why = f"it does not grant {' '.join(lacking)}"
            if why is None:
                why = self._creator_gone(policy)
            if why is None:
                matched.append(policy)
            else:
                reasons.append(f"trust policy '{policy.name}': {why}")
        if len({p.workspace_id for p in matched}) > 1:
            raise errors.InvalidRequest(
                'Trust policies of several workspaces accept this token: '
                'name the workspace', {'field': 'workspace'})
        if not matched:
            message = 'No trust policy accepts this token: ' + '; '.join(
                reasons)
            self._audit_exchange(origin, None, issuer, subject, claims,
                                 refused=message,
                                 workspace_id=candidates[0].workspace_id
                                 if len({p.workspace_id for p in candidates})
                                 == 1 else None)
            raise errors.NoMatchingPolicy(message)
        policy = matched[0]
        granted = policy.granted if wanted is None else wanted
        now = self.now()
        # remembered as long as the verifier would accept it
        expires = verified.expires_at + verifier.leeway
        kept = trust.audited_claims(policy.conditions, claims)
        try:
            for reload in (False, True):
                key, private_key = self.keys.primary(
                    self._event(None, origin, models.AUDIT_KEY_ROTATE),
                    reload=reload)
                record = TokenRecord(
                    jti=JTI_PREFIX + secrets.token_hex(16),
                    workspace_id=policy.workspace_id, created_at=now,
                    expires_at=now + policy.max_lifetime, kid=key.kid,
                    scope=scopes.to_claim(granted),
                    description=(f'trust policy {policy.name}: ' + ''.join(
                        c for c in subject if c.isprintable())
                    )[:MAX_DESCRIPTION])
                try:
                    self.store.add_exchanged_token(
                        record, policy.id,
                        trust.subject_digest(issuer, claims), expires, now,
                        self._audit_exchange(
                            origin, policy, issuer, subject, claims,
                            target_jti=record.jti, make_only=True))
                    break
                except PrimaryKeyChanged:
                    if reload:
                        raise _keys_in_flux() from None
        except (errors.SubjectTokenRejected, errors.NoMatchingPolicy) as exc:
            self._audit_exchange(origin, policy, issuer, subject, claims,
                                 refused=exc.message)
            raise
        issued = IssuedToken(
            token=signing.encode_token(record, private_key, self.jws),
            jti=record.jti, workspace_id=record.workspace_id,
            created_at=now, expires_at=record.expires_at, scope=granted,
            kid=key.kid)
        return Exchange(issued=issued, policy=policy, issuer=issuer,
                        subject=subject, claims=kept)

    def _find_workspace(self, ref: str) -> str | None:
        """The id of the workspace with this id or name, or None (for the
        exchange, whose trust policies are its authorization)."""
        workspace = self._lookup_workspace(ref)
        return None if workspace is None else workspace.id

    def _lookup_workspace(self, ref: object) -> Workspace | None:
        """The workspace with this id or name, or None."""
        workspace = None
        if isinstance(ref, str):
            workspace = self.store.get_workspace(ref)
            if workspace is None and is_valid_name(ref):
                workspace = self.store.get_workspace_by_name(ref)
        return workspace

    def _creator_gone(self, policy: TrustPolicy) -> str | None:
        """Why a policy created by a workspace token no longer allows
        anything (that token revoked or expired), or None."""
        creator = policy.created_by or ''
        if not creator.startswith(JTI_PREFIX):
            return None
        record = self.store.get_token(creator)
        if record is None or record.status_at(self.now()) != \
                models.STATUS_ACTIVE:
            return 'the token that created it is no longer valid'
        if scopes.missing(held_scopes(record.scope), policy.granted):
            return 'the token that created it no longer holds its scopes'
        return None

    def _audit_exchange(self, origin: Origin | None,
                        policy: TrustPolicy | None, issuer: str,
                        subject: str, claims: dict, *,
                        refused: str | None = None,
                        target_jti: str | None = None,
                        workspace_id: str | None = None,
                        make_only: bool = False) -> AuditEvent:
        """The audit event of an exchange (recorded now when refused; made
        for the store's transaction otherwise): the issuer, the subject,
        the policy and the claims it matched, never the token."""
        from ntcli_authority import trust
        detail: dict[str, object] = {'issuer': issuer,
                                     'subject': subject[:256]}
        if policy is not None:
            detail['policy'] = policy.id
            detail['policy_name'] = policy.name
            workspace_id = policy.workspace_id
        detail['claims'] = trust.audited_claims(
            policy.conditions if policy else (), claims)
        if refused is not None:
            detail['reason'] = refused[:1024]
        event = self._event(
            None, origin, models.AUDIT_TOKEN_EXCHANGE,
            outcome=models.OUTCOME_REFUSED if refused else
            models.OUTCOME_SUCCESS, workspace_id=workspace_id,
            target_jti=target_jti,
            # ASCII: the claims are the external issuer's text
            detail=json.dumps(detail, separators=(',', ':')))
        if not make_only:
            self.store.record_event(event)
        return event

    # -- users and access -------------------------------------------------
    def create_user(self, principal: Principal, name: str, *,
                    credential: bool = True,
                    origin: Origin | None = None) -> NewUser:
        """Create a user; its credential is returned now and never again.

        ``credential=False`` creates a user without one, who signs in
        through the identity provider only (link an identity to it).
        """
        self._authorize(principal, Action.MANAGE_USERS)
        _check_name('user', name)
        user = self._new_user(name, credential)
        self.store.create_user(user.user, self._event(
            principal, origin, models.AUDIT_USER_CREATE,
            detail=f'{user.user.id} {name}'))
        return user

    def _new_user(self, name: str, credential: bool) -> NewUser:
        import uuid
        secret = USER_CREDENTIAL_PREFIX + secrets.token_urlsafe(32) \
            if credential else None
        user = User(id=str(uuid.uuid4()), name=name, created_at=self.now(),
                    credential_hash=_hash_credential(secret) if secret
                    else models.NO_CREDENTIAL + secrets.token_hex(16))
        return NewUser(user=user, credential=secret)

    # -- identities and sessions (sign-in through a provider) -------------
    @staticmethod
    def _check_identity(issuer: object, subject: object) -> None:
        for field, value, limit in (('issuer', issuer, 2048),
                                    ('subject', subject, 255)):
            if (not isinstance(value, str) or not value or len(value) > limit
                    or not _is_utf8(value)
                    or any(ord(c) < 0x20 or ord(c) == 0x7f for c in value)):
                raise errors.InvalidRequest(f'Invalid {field}',
                                            {'field': field})

    def link_identity(self, principal: Principal, user_ref: str,
                      issuer: str, subject: str, *,
                      origin: Origin | None = None) -> models.Identity:
        """Link the person (issuer, subject) to an existing user."""
        self._authorize(principal, Action.MANAGE_USERS)
        self._check_identity(issuer, subject)
        user = self.get_user(principal, user_ref)
        identity = models.Identity(issuer=issuer, subject=subject,
                                   user_id=user.id, created_at=self.now())
        self.store.add_identity(identity, self._event(
            principal, origin, models.AUDIT_IDENTITY_LINK,
            detail=f'{user.id} {issuer} {subject}'))
        return identity

    def unlink_identity(self, principal: Principal, issuer: str,
                        subject: str, *,
                        origin: Origin | None = None) -> bool:
        """Unlink (issuer, subject) and end the sessions its user opened
        through it; False when it was not linked."""
        self._authorize(principal, Action.MANAGE_USERS)
        self._check_identity(issuer, subject)
        identity = self.store.get_identity(issuer, subject)
        removed = self.store.remove_identity(issuer, subject, self._event(
            principal, origin, models.AUDIT_IDENTITY_UNLINK,
            detail=f'{identity.user_id if identity else "-"} {issuer} '
                   f'{subject}'))
        if removed and identity is not None:
            self.store.revoke_user_sessions(identity.user_id, self.now())
        return removed

    def list_identities(self, principal: Principal,
                        user_ref: str | None = None
                        ) -> list[models.Identity]:
        """The identities linked to one user, or to any."""
        self._authorize(principal, Action.MANAGE_USERS)
        user_id = self.get_user(principal, user_ref).id \
            if user_ref is not None else None
        return self.store.list_identities(user_id)

    def sign_in(self, verified: VerifiedToken, *,
                origin: Origin | None = None) -> models.NewSession:
        """Open a session for the person a provider vouches for (an ID
        token :mod:`ntcli_authority.oidc` verified).

        The person's user is the one linked to (issuer, subject); with
        :attr:`SignInPolicy.auto_create` a person linked to none gets a
        new user (without a user credential), otherwise IdentityNotLinked.
        Every sign-in and refusal is recorded with issuer, subject and
        e-mail (no token, no hash of one).
        """
        policy = self.sign_in_policy
        issuer, subject = verified.issuer, verified.subject
        email = verified.email
        if email is not None and (len(email) > MAX_EMAIL
                                  or not _is_utf8(email)):
            email = None
        self._check_identity(issuer, subject)
        identity = self.store.get_identity(issuer, subject)
        created = False
        if identity is not None:
            user = self.store.get_user(identity.user_id)
        else:
            user = None
        if user is None:
            if not policy.auto_create:
                error = errors.IdentityNotLinked(details={
                    'issuer': issuer, 'subject': subject})
                self.record_sign_in_refusal(issuer, subject, email,
                                            error.code, origin=origin)
                raise error
            user, created = self._create_signed_in_user(verified, origin), \
                True
        now = self.now()
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        session = models.Session(
            id=SESSION_ID_PREFIX + secrets.token_hex(12), user_id=user.id,
            issuer=issuer, subject=subject, created_at=now,
            expires_at=now + policy.session_lifetime,
            secret_hash=_hash_credential(token))
        self.store.add_session(session, email, self._event(
            None, (origin or LOCAL).but(actor=user.id), models.AUDIT_SIGN_IN,
            detail=_identity_detail(issuer, subject, email)))
        return models.NewSession(session=session, user=user, token=token,
                                 created_user=created)

    def _create_signed_in_user(self, verified: VerifiedToken,
                               origin: Origin | None) -> User:
        """A new user for a person signing in for the first time."""
        base = name_for(verified.claims)
        for attempt in range(20):
            name = base if attempt == 0 else \
                f'{base[:27]}-{secrets.token_hex(2)}'
            if not is_valid_name(name):
                name = f'user-{secrets.token_hex(4)}'
            new = self._new_user(name, credential=False)
            identity = models.Identity(
                issuer=verified.issuer, subject=verified.subject,
                user_id=new.user.id, created_at=self.now())
            try:
                self.store.create_user_with_identity(
                    new.user, identity,
                    self._event(None, origin, models.AUDIT_USER_CREATE,
                                detail=f'{new.user.id} {name}'),
                    self._event(None, origin, models.AUDIT_IDENTITY_LINK,
                                detail=f'{new.user.id} {verified.issuer} '
                                       f'{verified.subject}'))
            except errors.UserExists:
                linked = self.store.get_identity(verified.issuer,
                                                 verified.subject)
                if linked is not None:      # a concurrent first sign-in
                    user = self.store.get_user(linked.user_id)
                    if user is not None:
                        return user
                continue
            return new.user
        raise errors.UserExists('No free user name for this person')

    def record_sign_in_refusal(self, issuer: str | None,
                               subject: str | None, email: str | None,
                               reason: str, *,
                               origin: Origin | None = None) -> None:
        """Record a refused sign-in: who the token named, if anyone
        could tell, and why (never the token)."""
        self.store.record_event(self._event(
            None, (origin or LOCAL).but(actor=None), models.AUDIT_SIGN_IN,
            outcome=models.OUTCOME_REFUSED,
            detail=f'{reason} ' + _identity_detail(issuer, subject, email)))

    def end_session(self, principal: Principal, *,
                    origin: Origin | None = None) -> bool:
        """Revoke the session the caller signed in with (logout); False
        when it was revoked already."""
        self._authorize(principal, Action.END_SESSION)
        if principal.session_id is None:
            raise errors.InvalidRequest(
                'Only a session opened by signing in can be ended')
        return self.store.revoke_session(
            principal.session_id, self.now(), self._event(
                principal, origin, models.AUDIT_SESSION_REVOKE,
                detail=principal.session_id))

    def purge_sessions(self, principal: Principal) -> int:
        """Forget the sessions that expired over a day ago."""
        self._authorize(principal, Action.PURGE)
        return self.store.purge_sessions(self.now() - 86400)

    def get_user(self, principal: Principal, ref: str) -> User:
        """The user with this id or name."""
        self._authorize(principal, Action.MANAGE_USERS)
        user = self.store.get_user(ref) or self.store.get_user_by_name(ref)
        if user is None:
            raise errors.UserNotFound(f"User '{ref}' not found",
                                      {'user': ref})
        return user

    def list_users(self, principal: Principal) -> list[User]:
        """Every user, by name."""
        self._authorize(principal, Action.MANAGE_USERS)
        return self.store.list_users()

    def authenticate(self, bearer: str | None) -> Principal:
        """The principal a bearer credential stands for.

        A user credential gives a ``user`` principal, a valid workspace
        token a ``workspace`` one; a bad workspace token raises its token
        error, anything else AuthenticationRequired.
        """
        if not isinstance(bearer, str) or not bearer:
            raise errors.AuthenticationRequired()
        if bearer.startswith(TOKEN_PREFIX):
            valid = self.validate(bearer)
            return access.Principal(access.PRINCIPAL_WORKSPACE,
                                    workspace_id=valid.workspace_id,
                                    jti=valid.jti, scope=valid.scope)
        if bearer.startswith(USER_CREDENTIAL_PREFIX):
            if self.sign_in_policy.require_provider:
                raise errors.ProviderRequired()
            user = self.store.get_user_by_credential_hash(
                _hash_credential(bearer))
            if user is not None:
                return access.Principal(access.PRINCIPAL_USER,
                                        user_id=user.id, user_name=user.name)
        if bearer.startswith(SESSION_PREFIX):
            session = self.store.get_session_by_hash(_hash_credential(bearer))
            if session is not None:
                if session.revoked_at is not None:
                    raise errors.AuthenticationRequired(
                        'The session has ended: sign in again')
                if session.expires_at <= self.now():
                    raise errors.SessionExpired()
                user = self.store.get_user(session.user_id)
                if user is not None:
                    return access.Principal(
                        access.PRINCIPAL_USER, user_id=user.id,
                        user_name=user.name, session_id=session.id)
        raise errors.AuthenticationRequired('Unknown credential')

    # -- the audit trail -------------------------------------------------
    def record_refusal(self, error: errors.AuthorityError, *,
                       origin: Origin | None = None,
                       workspace_id: str | None = None,
                       left_out: int = 0) -> None:
        """Record a refused credential: its error code and, for a genuine
        token, its JTI as the actor (never the credential itself);
        ``left_out``: refusals from the same client not recorded since its
        last event (see ntcli_server.refusals)."""
        jti = (error.details or {}).get('jti')
        detail = error.code
        if left_out:
            detail += f' (+{left_out} not recorded)'
        self.store.record_event(self._event(
            None, (origin or LOCAL).but(actor=jti if isinstance(jti, str)
                                  else None),
            models.AUDIT_AUTH_REFUSED, outcome=models.OUTCOME_REFUSED,
            workspace_id=workspace_id, detail=detail))

    def list_events(self, principal: Principal,
                    workspace_id: str | None = None, *,
                    since: int | None = None,
                    actions: typing.Collection[str] = (),
                    limit: int = 100, cursor: str | None = None
                    ) -> EventPage:
        """One page of the audit trail, oldest first: of one workspace (it
        must exist) or all, at or after ``since``, of some actions."""
        if workspace_id is None:
            self._authorize(principal, Action.READ_ALL_EVENTS)
        else:
            self._authorize(principal, Action.READ_EVENTS, workspace_id)
        if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
            raise errors.InvalidRequest(
                f'limit must be between 1 and {MAX_PAGE}', {'field': 'limit'})
        unknown = sorted(set(actions) - set(models.AUDIT_ACTIONS))
        if unknown:
            raise errors.InvalidRequest(
                f"Unknown action(s): {', '.join(unknown)} (known: "
                f"{', '.join(models.AUDIT_ACTIONS)})", {'field': 'action'})
        after = None
        if cursor:
            # ASCII digits only (str.isdigit takes '²' and '١'), and a
            # number the database's 64-bit ids can be compared with.
            if (not re.fullmatch('[0-9]{1,19}', cursor)
                    or int(cursor) >= 2 ** 63):
                raise errors.InvalidRequest('Invalid pagination cursor',
                                            {'field': 'cursor'})
            after = int(cursor)
        events = self.store.list_events(
            workspace_id=workspace_id, since=since, actions=actions,
            after_id=after, limit=limit + 1)
        more = len(events) > limit
        events = events[:limit]
        return EventPage(events=events,
                         next_cursor=str(events[-1].id) if more else None)

    def purge_events(self, principal: Principal, older_than_days: int, *,
                     batch: int = 1000) -> int:
        """Delete the events older than ``older_than_days``, a batch per
        transaction so that requests wait for no long lock; return how
        many."""
        self._authorize(principal, Action.PURGE)
        before = self.now() - older_than_days * 86400
        total = 0
        while True:
            deleted = self.store.purge_events(before, batch)
            total += deleted
            if deleted < batch:
                return total

    # -- argument checks --------------------------------------------------
    def _expiry(self, now: int, expires_in: object,
                expires_at: object) -> int | None:
        if expires_in is not None and expires_at is not None:
            raise errors.InvalidRequest(
                'Give expires_in or expires_at, not both',
                {'field': 'expires_in'})
        if expires_in is not None:
            if not _is_int(expires_in) or not 0 < expires_in <= MAX_LIFETIME:
                raise errors.InvalidRequest(
                    'Invalid expiration time: expires_in must be a whole '
                    'number of seconds, at most ten years',
                    {'field': 'expires_in'})
            return now + expires_in
        if expires_at is not None:
            if (not _is_int(expires_at) or expires_at <= now
                    or expires_at - now > MAX_LIFETIME):
                raise errors.InvalidRequest(
                    'Invalid expiration time: expires_at must be in the '
                    'future, at most ten years away',
                    {'field': 'expires_at'})
            return expires_at
        return None

    @staticmethod
    def _scopes(scope: object) -> scopes.Scopes:
        if scope is None:
            return scopes.DEFAULT
        try:
            return scopes.parse(scope)
        except scopes.ScopeError as exc:
            raise errors.ValidationError(f'Invalid scope: {exc.message}',
                                         {'field': 'scope'}) from None

    @staticmethod
    def _check_description(description: object) -> None:
        if description is not None and (
                not isinstance(description, str)
                or len(description) > MAX_DESCRIPTION
                or not _is_utf8(description)):
            raise errors.InvalidRequest(
                f'description must be UTF-8 text of at most {MAX_DESCRIPTION} '
                'characters', {'field': 'description'})
        from ntcli_core import redact
        if description is not None and redact.holds_secret(description):
            raise errors.InvalidRequest(
                'description must not hold a token, credential or key: '
                'every token of the workspace can read it',
                {'field': 'description'})
