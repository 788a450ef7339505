"""The authority's tokens: issued (idempotently), validated, listed,
revoked, and watched for expiry.

A token is ``wst_`` and a JWT the primary signing key signs; the store
keeps its claims and its keyed digest, never the token. A retry of an
issue with the same idempotency key within IDEMPOTENCY_WINDOW returns the
same token, re-signed from its stored claims (Ed25519 is deterministic, so
the value is identical).
"""

from __future__ import annotations

import secrets
import typing

from ntcli_authority import access, errors, jws, models, signing
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import Operations, keys_in_flux
from ntcli_authority.authority.checks import (
    MAX_IDEMPOTENCY_KEY,
    MAX_PAGE,
    check_description,
    check_expiry,
    check_limit,
    decode_cursor,
    encode_cursor,
    is_int,
    parse_scopes,
)
from ntcli_authority.models import (
    IssuedToken,
    Origin,
    Revocation,
    TokenInfo,
    TokenPage,
    TokenRow,
    ValidatedToken,
    held_scopes,
)
from ntcli_authority.storage.queries import PrimaryKeyChanged
from ntcli_core import scopes, timefmt
from ntcli_core.lifetimes import MAX_GRACE, MAX_LIFETIME
from ntcli_core.tokens import JTI_PREFIX

IDEMPOTENCY_WINDOW = 24 * 3600       # how long an idempotency key replays


class Tokens(Operations):
    """Operations on tokens."""

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
        granted = parse_scopes(scope)
        access.check_grant(principal, granted)
        now = self.now()
        expiry = check_expiry(now, expires_in, expires_at)
        check_description(description)
        # printable ASCII: it is compared byte for byte, and an HTTP header
        # carries nothing else intact
        if idempotency_key is not None and (
                not isinstance(idempotency_key, str) or not idempotency_key
                or len(idempotency_key) > MAX_IDEMPOTENCY_KEY
                or not (idempotency_key.isascii()
                        and idempotency_key.isprintable())):
            raise errors.InvalidRequest('Invalid idempotency key',
                                        {'field': 'idempotency_key'})
        for reload in (False, True):
            key, private_key = self.keys.primary(
                self._event(principal, origin, models.AUDIT_KEY_ROTATE),
                reload=reload)
            token, record = self.keys.sign(TokenRow(
                jti=JTI_PREFIX + secrets.token_hex(16),
                workspace_id=workspace_id, created_at=now, expires_at=expiry,
                kid=key.kid, scope=scopes.to_claim(granted),
                description=description), private_key)
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
                    raise keys_in_flux() from None
            except errors.IdempotencyKeyConflict as exc:
                self._record_replay(principal, origin, workspace_id, None,
                                    exc)
                raise
        if replayed:
            # the same value: Ed25519 is deterministic, the claims fixed
            token = signing.encode_token(
                stored, self._replayable(principal, origin, stored))
        return IssuedToken(
            token=token,
            jti=stored.jti,
            workspace_id=stored.workspace_id, created_at=stored.created_at,
            expires_at=stored.expires_at, scope=held_scopes(stored.scope),
            kid=stored.kid, replayed=replayed)

    def validate(self, token: str,
                 workspace_id: str | None = None) -> ValidatedToken:
        """Accept a token or raise TokenInvalid / TokenRevoked /
        TokenExpired, or Forbidden when it is not for ``workspace_id``.

        The token's row is read first, by the JTI the token states: when
        it holds the token's digest (see :mod:`ntcli_authority.signing`)
        and this node has its key, the token is the very string issued
        exactly when the digests match, and its signature needs no
        verifying; otherwise (a token issued before digests, a key whose
        private part is gone, a JTI not stored) the signature is verified.
        A mismatch says what a bad signature says: which JTIs exist and
        have a digest is not told.

        A server worker that keeps token rows remembers each string it
        accepted (:meth:`ntcli_authority.token_cache.TokenCache.accepted`):
        the same string again, while its row is still the one kept, is
        checked against the clock and ``workspace_id`` only.
        """
        cache = self.token_cache
        known = cache.accepted(token) if cache is not None else None
        if known is not None:
            return self._valid_now(*known, workspace_id)
        kid, stated = signing.read_token(token, self.keys.public_key)
        jti = stated.get('jti') if stated is not None else None
        rows = self.store if cache is None else cache
        record = rows.get_token(jti) if signing.is_jti(jti) else None
        claims = None
        if record is not None and record.digest is not None:
            digest_key = self.keys.digest_key(record.kid)
            if digest_key is not None:
                if not signing.digest_matches(digest_key, token,
                                              record.digest):
                    raise errors.TokenInvalid(jws.BAD_SIGNATURE)
                # the very string issued: its claims are the ones signed
                claims = stated
        if claims is None:
            claims = signing.verified_claims(token,
                                             self.keys.public_key(kid))
        else:
            signing.check_claims(claims)
        # A genuine signature over claims the store does not hold as
        # issued means a database reset or a key leak: not valid either.
        if (record is None or record.jti != claims['jti']
                or record.workspace_id != claims['sub']
                or record.kid != kid
                or record.created_at != claims['iat']
                or record.expires_at != claims.get('exp')
                or record.scope != claims['scope']):
            raise errors.TokenInvalid('The token is not known to this '
                                      'authority')
        valid = self._valid_now(record, ValidatedToken(
            jti=record.jti, workspace_id=record.workspace_id,
            issued_at=record.created_at, expires_at=record.expires_at,
            scope=held_scopes(record.scope), kid=record.kid,
            retires_at=record.retires_at), workspace_id)
        if cache is not None:
            cache.accept(token, record, valid)
        return valid

    def _valid_now(self, record: TokenRow, valid: ValidatedToken,
                   workspace_id: str | None) -> ValidatedToken:
        """``valid``, the answer for a token accepted against ``record``,
        unless the clock or ``workspace_id`` refuses it now."""
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
        return valid

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
        check_limit(limit)
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
                    stored: TokenRow) -> object:
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
        if grace is not None and (not is_int(grace)
                                  or not 0 <= grace <= MAX_GRACE):
            raise errors.InvalidRequest(
                'Invalid grace period: a whole number of seconds from 0 to '
                f'{MAX_GRACE} ({MAX_GRACE // 86400} days)', {'field': 'grace'})
        now = self.now()
        at = now + (grace or 0)
        if at > now:
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
                      limit: int = MAX_PAGE) -> list[TokenRow]:
        """Up to ``limit`` valid tokens of every workspace that expire
        within ``within`` seconds from now, soonest first."""
        self._authorize(principal, Action.WATCH_EXPIRY)
        if not is_int(within) or not 0 < within <= MAX_LIFETIME:
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
