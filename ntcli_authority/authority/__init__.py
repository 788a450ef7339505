"""The token authority: workspaces, and the tokens that open them.

One :class:`Authority` serves both the CLI's embedded endpoint and
``ntcli-server``. It holds no SQL: state lives behind
:class:`ntcli_authority.storage.store.TokenStore`, and every state change
is one store call, hence one transaction.

Every operation takes its caller, a :class:`ntcli_authority.access.Principal`,
as its first argument and is authorized here, by the rules of
:data:`ntcli_authority.access.RULES`, before it reads or changes anything
(:meth:`~ntcli_authority.authority.base.Operations._authorize`): the
embedded endpoint, the HTTP server and the admin CLI only say who calls
(the local owner is ``Principal.local()``). Only :meth:`Authority.validate`
and :meth:`Authority.authenticate`, which take a credential rather than a
caller, :meth:`Authority.exchange` and :meth:`Authority.sign_in` (an
external issuer vouches for the caller), and the ``record_*`` methods (the
refusal of one) have no principal.

The operations are written in one module per kind of thing they act on
(keys, workspaces, tokens, exchange, users, audit), on the base of
:mod:`ntcli_authority.authority.base`; :mod:`~ntcli_authority.authority.checks`
checks what callers give. :class:`Authority` is all of them on one store.
"""

from __future__ import annotations

from ntcli_authority import access, errors, signing
from ntcli_authority.access import Principal
from ntcli_authority.authority.audit import AuditTrail
from ntcli_authority.authority.base import Clock
from ntcli_authority.authority.checks import (
    MAX_DESCRIPTION,
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
)
from ntcli_authority.authority.exchange import TrustExchange
from ntcli_authority.authority.keys import SigningKeys
from ntcli_authority.authority.tokens import Tokens
from ntcli_authority.authority.users import (
    DEFAULT_SESSION_LIFETIME,
    MAX_SESSION_LIFETIME,
    SignInPolicy,
    Users,
    hash_credential,
)
from ntcli_authority.authority.workspaces import Workspaces
from ntcli_authority.storage import open_store
from ntcli_authority.storage.store import TokenStore
from ntcli_authority.storage.workspaces import ALL_OWNERS
from ntcli_authority.token_cache import TokenCache
from ntcli_core import clock
from ntcli_core.tokens import (
    SESSION_PREFIX,
    TOKEN_PREFIX,
    USER_CREDENTIAL_PREFIX,
)

#: What callers of the authority use besides it: the limits of what it
#: accepts, its sign-in settings, and the owner filter meaning "every
#: owner".
__all__ = ['ALL_OWNERS', 'Authority', 'DEFAULT_SESSION_LIFETIME',
           'MAX_DESCRIPTION', 'MAX_IDEMPOTENCY_KEY', 'MAX_PAGE',
           'MAX_SESSION_LIFETIME', 'SignInPolicy']


def _system_clock() -> int:
    return clock.now()


class Authority(SigningKeys, Workspaces, Tokens, TrustExchange, Users,
                AuditTrail):
    """Issues, validates, lists and revokes workspace tokens."""

    def __init__(self, store: TokenStore, *, clock: Clock | None = None,
                 sign_in: SignInPolicy | None = None,
                 keep_tokens: bool = False) -> None:
        """``keep_tokens``: keep the token rows validation reads in this
        process, read again once the database signals a change (see
        :mod:`ntcli_authority.token_cache`); for a long-lived server
        worker."""
        self.store = store
        self.token_cache = (TokenCache(store, store.token_changes())
                            if keep_tokens else None)
        self.sign_in_policy = sign_in or SignInPolicy()
        self.clock = clock or _system_clock
        self.keys = signing.KeyRing(store, self.now)

    @classmethod
    def open(cls, target: str, *, clock: Clock | None = None,
             create: bool = True,
             wait: float | None = None,
             keep_tokens: bool = False) -> Authority:
        """An authority on the store at ``target`` (SQLite path or DSN);
        ``create=False`` refuses a missing SQLite database
        (:class:`ntcli_authority.errors.DatabaseMissing`); ``wait``
        bounds each database call (see
        :func:`ntcli_authority.storage.open_store`); ``keep_tokens``: see
        the constructor."""
        return cls(open_store(target, create=create, wait=wait),
                   clock=clock, keep_tokens=keep_tokens)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
                hash_credential(bearer))
            if user is not None:
                return access.Principal(access.PRINCIPAL_USER,
                                        user_id=user.id, user_name=user.name)
        if bearer.startswith(SESSION_PREFIX):
            session = self.store.get_session_by_hash(hash_credential(bearer))
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
