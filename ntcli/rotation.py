"""Token rotation: the transaction behind ``ntcli token refresh``.

The order is what makes rotation safe: write down the issue request
(ntcli.issues), issue the new token, store it, and only then revoke the old
one. A crash or a network failure at any point
leaves a stored token that works: the old one before the store step, the new
one after it. The whole transaction holds the credentials lock, so
concurrent refreshes on one machine run one after the other.

A conditional refresh (``--if-expires-within``) decides under that same
lock: of two runs started at once, the second sees the token the first
stored, finds it good for long enough, and keeps it.

With a grace period (``--grace``), step 3 asks the endpoint to revoke the
old token when the grace ends rather than at once: the endpoint records
that time with the token and refuses it from then on, whether or not ntcli
ever runs again. The pending revocation written in step 2 carries the same
time, so a retry never lengthens the grace period it was given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntcli import (
    errors,
    faults,
    interrupt,
    issues,
    revocations,
    tokeninfo,
    unfinished,
)
from ntcli.context import choose_bearer, whole
from ntcli.credentials import PendingRevocation, StoredToken
from ntcli_core import scopes, timefmt
from ntcli_core.lifetimes import Expiry
from ntcli_core.records import Record

if TYPE_CHECKING:
    from ntcli.context import Context, PluginContext
    from ntcli.credentials import Credentials, PendingIssue
    from ntcli.endpoints import IssuedToken

__all__ = ['Kept', 'Rotation', 'rotate_token']


class Rotation(Record):
    """What a refresh did."""

    new_jti: str
    new_expires_at: int | None
    old_jti: str | None
    old_revoked_at: int | None
    revocation_pending: bool = False
    revocation_error: str | None = None
    new_scope: tuple[str, ...] | None = None
    # the old token stays valid until old_revoked_at (a grace period)
    old_retiring: bool = False


class Kept(Record):
    """What a conditional refresh left alone: a stored token that is valid
    and does not expire within the window."""

    jti: str
    expires_at: int | None
    # the scopes of the kept token, None when nothing says
    scope: tuple[str, ...] | None = None


def rotate_token(view: Context | PluginContext, expiry: Expiry, *,
                 scope: tuple[str, ...] | None = None,
                 if_expires_within: int | None = None,
                 grace: int | None = None) -> Rotation | Kept:
    """Issue a new token, store it, revoke the old one; see module doc.

    ``grace`` (seconds): the old token stays valid that long after the new
    one is stored, then the endpoint refuses it.

    The new token gets ``scope``, else the old token's scopes, else (the
    first token ntcli keeps for itself) every scope, so that it can
    refresh itself. With ``if_expires_within`` (seconds), only when no
    token is stored, or the stored one expires within that window or is
    rejected by the endpoint; otherwise nothing changes and :class:`Kept`
    says so.
    """
    context = whole(view)
    if context.env_token():
        raise errors.NtcliError(
            'The token in NTCLI_TOKEN is not the stored token and is not '
            'rotated',
            'Unset NTCLI_TOKEN to refresh the stored token, or use '
            "'ntcli token create' for a new token.")
    unfinished.finish(context)         # what an earlier refresh left
    endpoint = context.endpoint
    workspace = context.workspace
    with context.store.transaction() as creds:
        old = creds.get_token(context.credentials_key, workspace.id)
        if if_expires_within is not None and old is not None and \
                _outlives(context, old, if_expires_within):
            return Kept(old.jti, old.expires_at,
                        tokeninfo.scopes_of(old.token, old.scope))
        bearer = _stored_bearer(context, creds, old)
        wanted = scope or _scopes_to_keep(old)
        # the grace runs from now (the refresh), whatever a retry does
        revoke_at = context.now() + grace if grace and old else None
        faults.checkpoint('before-issue')
        pending = issues.begin(                              # 0. write down
            context, creds, bearer, workspace.id, purpose='refresh',
            expires_in=expiry.expires_in, expires_at=expiry.expires_at,
            scope=wanted)
        # Ctrl-C and SIGTERM wait until the issued token is stored (or,
        # failing that, revoked); a second signal does not wait
        new = None
        try:
            with interrupt.deferred():
                new = issues.send(context, creds, bearer, pending)  # 1.
                _store_new_token(context, creds, new, old, bearer,
                                 revoke_at, pending)         # 2. store
        except errors.Interrupted as exc:
            if exc.detail is None and new is not None:
                exc.detail = _stopped_after_store(new, old)
            raise
        faults.checkpoint('after-store')
        revoked_at, failure, retiring = None, None, False
        if old is not None:                                  # 3. revoke
            revoke_bearer = _stored_bearer(context, creds, old)
            try:
                revoked_at, failure = revocations.revoke_quietly(
                    endpoint, revoke_bearer, workspace.id, old.jti,
                    grace=revocations.grace_left(context, revoke_at))
                retiring = _retiring(context, revoked_at, grace)
                _settle_revocation(context, creds, old, failure)
            except errors.Interrupted as exc:
                exc.detail = _stopped_after_store(new, old)
                raise
        faults.checkpoint('after-revoke')
    if old and failure:
        outcome = 'pending revocation of ' + old.jti
    elif retiring:
        outcome = f'rotated; old token retiring until ' \
                  f'{timefmt.iso(revoked_at)}'
    else:
        outcome = 'rotated' if old else 'first token'
    context.history.record(
        'refresh', jti=new.jti, workspace_id=workspace.id,
        endpoint=endpoint.key, outcome=outcome,
        detail=f'old token {old.jti}' if old else None)
    return Rotation(new.jti, new.expires_at, old.jti if old else None,
                    revoked_at, failure is not None, failure, new.scope,
                    retiring)


def _retiring(context: Context, revoked_at: int | None,
              grace: int | None) -> bool:
    """Whether the old token is retiring (valid until ``revoked_at``); a
    warning when a grace period was asked for and the endpoint revoked it
    at once (an API without grace periods)."""
    if revoked_at is not None and revoked_at > context.now():
        return True
    if grace and revoked_at is not None:
        context.warn('the endpoint revoked the old token at once: it does '
                     'not keep a token valid for a grace period.')
    return False


def _scopes_to_keep(old: StoredToken | None) -> tuple[str, ...]:
    """The old token's scopes; every scope when there is none, or when
    nothing says which it held."""
    if old is None:
        return scopes.FULL
    return tokeninfo.scopes_of(old.token, old.scope) or scopes.FULL


def _stopped_after_store(new: IssuedToken, old: StoredToken | None) -> str:
    """What a refresh stopped after step 2 leaves, for its one line."""
    if old is None:
        return f'the new token {new.jti} is stored.'
    return (f'the new token {new.jti} is stored; the revocation of the old '
            f'token {old.jti} will be finished by the next ntcli command.')


def _outlives(context: Context, old: StoredToken, window: int) -> bool:
    """True when the stored token does not expire within ``window`` seconds
    (a non-expiring one never does) and the endpoint still accepts it.

    An endpoint that cannot be reached raises: whether to rotate cannot be
    decided, and rotating would need the endpoint anyway.
    """
    if old.expires_at is not None and \
            old.expires_at - context.now() <= window:
        return False
    try:
        context.endpoint.validate_token(old.token)
    except errors.TokenRejected:
        return False
    return True


def _stored_bearer(context: Context, creds: Credentials,
                   old: StoredToken | None) -> str | None:
    """Who asks for the new token and revokes the old one: the rule of
    every command (ntcli.context.choose_bearer; NTCLI_TOKEN was refused
    above), so the user, else the old token itself."""
    return choose_bearer(context.endpoint.embedded, None,
                         creds.get_user_credential(context.credentials_key),
                         old.token if old else None)


def _store_new_token(context: Context, creds: Credentials,
                     new: IssuedToken, old: StoredToken | None,
                     bearer: str | None, revoke_at: int | None,
                     pending: PendingIssue) -> None:
    """Step 2: store the new token and, in the same write, the intent to
    revoke the old one and the end of the pending issue, so that a crash
    before step 3 completes is finished by the next command. If the write
    fails or the command is stopped (Ctrl-C, SIGTERM) before it is done,
    the old token stays stored and the new one is revoked (and should that
    fail, the pending issue makes the next command revoke it)."""
    endpoint = context.endpoint
    try:
        faults.checkpoint('after-issue')
        creds.set_token(context.credentials_key, new.workspace_id, StoredToken(
            token=new.token, jti=new.jti, workspace_id=new.workspace_id,
            created_at=new.created_at, expires_at=new.expires_at,
            scope=new.scope))
        if old is not None:
            creds.add_pending_revocation(PendingRevocation(
                endpoint=context.credentials_key,
                workspace_id=old.workspace_id,
                jti=old.jti, since=context.now(), token=old.token,
                revoke_at=revoke_at))
        issues.finish(creds, pending)
        with interrupt.deferred():      # written entirely, or not at all
            creds.commit()
        return
    except BaseException as exc:        # Ctrl-C and SIGTERM included
        failure = exc
    # No orphan may live on: revoke the token nobody will ever see.
    with interrupt.deferred():
        revocations.revoke_quietly(endpoint, bearer or new.token,
                                   new.workspace_id, new.jti)
        context.history.record('refresh', jti=new.jti, outcome='failed: '
                               'new token could not be stored; revoked',
                               workspace_id=new.workspace_id,
                               endpoint=endpoint.key)
    if isinstance(failure, errors.Interrupted):
        failure.detail = ('the new token was revoked; your previous token '
                          'is still stored and valid.')
    if not isinstance(failure, Exception):
        raise failure
    reason = failure.message if isinstance(failure, errors.NtcliError) \
        else f'{type(failure).__name__}: {failure}'
    raise errors.CredentialStoreError(
        f'The new token could not be stored: {reason}',
        'Your previous token is still stored and valid. Fix the problem '
        f'(disk space, permissions of {context.config_dir}) and run '
        'ntcli token refresh again.') from failure


def _settle_revocation(context: Context, creds: Credentials,
                       old: StoredToken, failure: str | None) -> None:
    """Step 3 done: drop the pending revocation, or keep it for a retry."""
    if failure is None:
        creds.remove_pending_revocation(context.credentials_key, old.jti)
    else:
        for pending in creds.pending_revocations(context.credentials_key):
            if pending.jti == old.jti:
                pending.attempts += 1
                pending.last_error = failure
                creds.update_pending_revocation(pending)
        context.warn(f'the old token {old.jti} could not be revoked '
                     f'({failure}); the new token is stored and the '
                     'revocation will be retried by the next ntcli command.')
    try:
        creds.commit()
    except errors.NtcliError as exc:
        # the new token is stored; the revocation is retried or was done
        context.warn(f'could not update the pending revocations: '
                     f'{exc.message}')
