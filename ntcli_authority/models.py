"""The records the authority keeps and the results it returns.

Times are integer Unix seconds (UTC); ``None`` means "never" for an expiry
and "not yet" for a revocation. Fields holding secrets are left out of
``repr`` so that a record printed in a log or a traceback leaks nothing.
"""

from __future__ import annotations

import functools
from typing import Any

from ntcli_core import scopes
from ntcli_core.records import Record, field

STATUS_ACTIVE = 'active'
STATUS_EXPIRED = 'expired'
STATUS_REVOKED = 'revoked'



# On every validation, for the few scope values tokens carry: parsing one
# was a measurable part of a validation in a server worker (cProfile,
# benchmarks/RESULTS.md).
@functools.lru_cache(maxsize=256)
def held_scopes(stored: str) -> scopes.Scopes:
    """The scopes a stored ``scope`` value grants; a value that cannot be
    read grants nothing (fail closed)."""
    try:
        return scopes.from_claim(stored)
    except scopes.ScopeError:
        return ()


class Workspace(Record):
    """A workspace; ``owner`` is a user id, or None for the local owner."""

    id: str
    name: str
    created_at: int
    description: str | None = None
    owner: str | None = None


class TokenRow(Record):
    """A row of the tokens table: what the store keeps of a token, its
    claims, state and keyed digest, not its value (what the CLI shows of a
    token is ntcli.endpoints.TokenRecord)."""

    jti: str
    workspace_id: str
    created_at: int                  # the token's iat
    expires_at: int | None           # the token's exp
    kid: str                         # the key that signed it
    # the scope claim: space-separated (see ntcli_core.scopes), or the legacy
    # 'workspace' of tokens issued before scopes, which holds them all
    scope: str = scopes.LEGACY
    description: str | None = None
    revoked_at: int | None = None    # when it was revoked
    retires_at: int | None = None    # when its grace period ends (rotation)
    # HMAC of the token under a key derived from its signing key (see
    # ntcli_authority.signing); None for tokens issued before digests
    digest: str | None = field(default=None, repr=False)

    @property
    def revocation(self) -> int | None:
        """When it stops (or stopped) being valid by revocation: when it
        was revoked, else when its grace period ends; None: never."""
        return self.revoked_at if self.revoked_at is not None \
            else self.retires_at

    def revoked_by(self, now: int) -> bool:
        """Whether it is revoked at ``now``: it was revoked, or its grace
        period has ended."""
        return self.revoked_at is not None or (
            self.retires_at is not None and self.retires_at <= now)

    def status_at(self, now: int) -> str:
        """active, expired or revoked; a revocation outranks an expiry. A
        token within its grace period (retiring) is active."""
        if self.revoked_by(now):
            return STATUS_REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return STATUS_EXPIRED
        return STATUS_ACTIVE


class TokenInfo(Record):
    """A token's metadata as the authority reports it, with its status;
    ``revoked_at`` later than now: retiring, valid until then."""

    jti: str
    workspace_id: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    status: str
    scope: scopes.Scopes
    description: str | None = None

    @classmethod
    def from_record(cls, record: TokenRow, now: int) -> TokenInfo:
        return cls(jti=record.jti, workspace_id=record.workspace_id,
                   created_at=record.created_at,
                   expires_at=record.expires_at,
                   revoked_at=record.revocation,
                   status=record.status_at(now),
                   scope=held_scopes(record.scope),
                   description=record.description)


class IssuedToken(Record):
    """A token just issued (or replayed): the only time its value exists."""

    token: str = field(repr=False)
    jti: str
    workspace_id: str
    created_at: int
    expires_at: int | None
    scope: scopes.Scopes
    kid: str
    replayed: bool = False           # True when an idempotency key matched


class ValidatedToken(Record):
    """A token the authority accepted; ``retires_at``: the end of its grace
    period, when it is retiring."""

    jti: str
    workspace_id: str
    issued_at: int
    expires_at: int | None
    scope: scopes.Scopes
    kid: str
    retires_at: int | None = None


class TokenPage(Record):
    """One page of a token listing and the cursor of the next (or None)."""

    tokens: list[TokenInfo]
    next_cursor: str | None


class Revocation(Record):
    """The outcome of a revoke; ``already_revoked``: nothing changed (it
    was revoked, or retires at that time or sooner); ``retiring``: it is
    valid until ``revoked_at``, the end of its grace period."""

    token: TokenInfo
    already_revoked: bool
    retiring: bool = False

    @property
    def revoked_at(self) -> int:
        return self.token.revoked_at  # type: ignore[return-value]


class SigningKey(Record):
    """A signing key pair; the private key is sealed (see signing.seal)."""

    kid: str
    public_key: str                  # PEM (SubjectPublicKeyInfo)
    created_at: int
    private_key: str | None = field(default=None, repr=False)
    is_primary: bool = False
    retired_at: int | None = None    # private key destroyed; verify only


class User(Record):
    """A user of the token API; only a hash of its credential is kept."""

    id: str
    name: str
    created_at: int
    credential_hash: str = field(default='', repr=False)


class TrustPolicy(Record):
    """Which external issuer's tokens may be exchanged for tokens of a
    workspace, on which conditions on their claims (see
    ntcli_authority.trust); ``created_by`` is the actor who made it (a
    user id, a token's JTI, or ``local``)."""

    id: str
    workspace_id: str
    name: str
    issuer: str
    conditions: tuple[tuple[str, str], ...]
    scope: str                       # space-separated, as a token's claim
    max_lifetime: int                # seconds
    created_at: int
    created_by: str | None = None
    description: str | None = None

    @property
    def granted(self) -> scopes.Scopes:
        """The scopes a token from this policy holds."""
        return held_scopes(self.scope)


class Exchange(Record):
    """A token issued for an external issuer's token (see
    Authority.exchange): the token, the policy that allowed it and what the
    audit trail kept of the subject token's claims."""

    issued: IssuedToken
    policy: TrustPolicy
    issuer: str
    subject: str
    claims: dict[str, str]


class NewUser(Record):
    """A user just created, with the credential shown to it once (None for
    a user who signs in only through an identity provider)."""

    user: User
    credential: str | None = field(repr=False)


#: The credential_hash of a user without a user credential (who signs in
#: through the identity provider): no SHA-256 hex digest starts with '!'.
NO_CREDENTIAL = '!'


class Identity(Record):
    """A person at an identity provider, (issuer, subject), and the user
    they sign in as."""

    issuer: str
    subject: str
    user_id: str
    created_at: int
    email: str | None = None         # as the provider last said
    last_sign_in_at: int | None = None


class Session(Record):
    """A user session opened by a sign-in through an identity provider;
    only a hash of its secret is kept."""

    id: str
    user_id: str
    issuer: str
    subject: str
    created_at: int
    expires_at: int
    revoked_at: int | None = None
    secret_hash: str = field(default='', repr=False)


class NewSession(Record):
    """A session just opened: the only time its secret exists."""

    session: Session
    user: User
    token: str = field(repr=False)
    created_user: bool = False       # the user was created by this sign-in


# -- the audit trail --------------------------------------------------------
#: What an audit event records (``action``).
AUDIT_WORKSPACE_CREATE = 'workspace.create'
AUDIT_WORKSPACE_DELETE = 'workspace.delete'
AUDIT_TOKEN_ISSUE = 'token.issue'
AUDIT_TOKEN_REPLAY = 'token.replay'
AUDIT_TOKEN_REVOKE = 'token.revoke'
AUDIT_TOKEN_RETIRE = 'token.retire'      # a revocation after a grace period
AUDIT_KEY_ROTATE = 'signing_key.rotate'
AUDIT_KEY_RETIRE = 'signing_key.retire'
AUDIT_USER_CREATE = 'user.create'
AUDIT_AUTH_REFUSED = 'auth.refused'
AUDIT_TRUST_CREATE = 'trust_policy.create'
AUDIT_TRUST_DELETE = 'trust_policy.delete'
AUDIT_TOKEN_EXCHANGE = 'token.exchange'
AUDIT_SIGN_IN = 'user.sign_in'
AUDIT_SESSION_REVOKE = 'session.revoke'
AUDIT_IDENTITY_LINK = 'identity.link'
AUDIT_IDENTITY_UNLINK = 'identity.unlink'
AUDIT_ACTIONS = (AUDIT_WORKSPACE_CREATE, AUDIT_WORKSPACE_DELETE,
                 AUDIT_TOKEN_ISSUE, AUDIT_TOKEN_REPLAY, AUDIT_TOKEN_REVOKE,
                 AUDIT_TOKEN_RETIRE,
                 AUDIT_KEY_ROTATE, AUDIT_KEY_RETIRE, AUDIT_USER_CREATE,
                 AUDIT_AUTH_REFUSED, AUDIT_TRUST_CREATE, AUDIT_TRUST_DELETE,
                 AUDIT_TOKEN_EXCHANGE, AUDIT_SIGN_IN, AUDIT_SESSION_REVOKE,
                 AUDIT_IDENTITY_LINK, AUDIT_IDENTITY_UNLINK)
#: How it ended (``outcome``): done, nothing to do (a repeated revoke), or
#: a credential refused.
OUTCOME_SUCCESS = 'success'
OUTCOME_UNCHANGED = 'unchanged'
OUTCOME_REFUSED = 'refused'
#: The actor of changes made by whoever holds the database: the embedded
#: endpoint's user, the server's admin commands.
LOCAL_ACTOR = 'local'


class Origin(Record):
    """Who asks for a change, and from where: what an audit event keeps of
    the request. ``actor`` is a user id or a token's JTI, never a
    credential."""

    actor: str | None = LOCAL_ACTOR
    client: str | None = None        # the peer's address
    request_id: str | None = None
    user_agent: str | None = None


class AuditEvent(Record):
    """One entry of the server's audit trail. No field ever holds a token,
    a credential or a key: only ids (workspace, JTI, kid, user id)."""

    at: int
    action: str
    outcome: str
    actor: str | None
    workspace_id: str | None = None
    target_jti: str | None = None
    client: str | None = None
    request_id: str | None = None
    user_agent: str | None = None
    detail: str | None = None        # a kid, an error code, a count...
    id: int | None = None            # given by the store, in order

    @classmethod
    def of(cls, origin: Origin, at: int, action: str, *,
           outcome: str = OUTCOME_SUCCESS, **fields: Any) -> AuditEvent:
        """The event of ``action`` asked for by ``origin``."""
        return cls(at=at, action=action, outcome=outcome,
                   actor=origin.actor, client=origin.client,
                   request_id=origin.request_id,
                   user_agent=origin.user_agent, **fields)


class EventPage(Record):
    """One page of audit events, oldest first, and where the next starts."""

    events: list[AuditEvent]
    next_cursor: str | None = None
