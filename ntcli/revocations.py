"""Revocations that could not be completed when they were due.

When ``token refresh`` has stored a new token but cannot revoke the old one,
the revocation is remembered in the encrypted store and retried by the next
command that talks to the endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntcli import errors, faults
from ntcli.context import choose_bearer
from ntcli_core import timefmt
from ntcli_core.lifetimes import MAX_GRACE

if TYPE_CHECKING:
    from ntcli.context import Context
    from ntcli.endpoints import Endpoint


def revoke_quietly(endpoint: Endpoint, bearer: str | None, workspace_id: str,
                   jti: str, *, grace: int | None = None
                   ) -> tuple[int | None, str | None]:
    """Revoke ``jti`` (after ``grace`` seconds if given); return
    (revoked_at, None) or (None, what failed). revoked_at is later than now
    when the endpoint keeps the token valid for the grace period.

    A token the endpoint already considers dead (revoked, expired, unknown)
    counts as revoked: there is nothing left to do for it.
    """
    try:
        if faults.should_fail('revoke'):
            raise errors.EndpointUnreachable('Injected fault: the endpoint '
                                             'could not be reached')
        if grace:
            revocation = endpoint.revoke_token(bearer, workspace_id, jti,
                                               grace=grace)
        else:
            revocation = endpoint.revoke_token(bearer, workspace_id, jti)
    except (errors.TokenRevoked, errors.TokenExpired, errors.TokenNotFound,
            errors.WorkspaceNotFound):
        return None, None
    except errors.NtcliError as exc:
        return None, exc.message
    return revocation.revoked_at, None


def grace_left(context: Context, revoke_at: int | None) -> int | None:
    """The seconds of a grace period still to run until ``revoke_at``,
    None when there is none (revoke at once)."""
    if revoke_at is None:
        return None
    left = revoke_at - context.now()
    return min(left, MAX_GRACE) if left > 0 else None


def retry_pending(context: Context) -> None:
    """Retry every pending revocation of the context's endpoint."""
    endpoint = context.endpoint
    key = context.credentials_key
    try:
        if not context.store.read().pending_revocations(key):
            return                      # the common case: one cheap read
    except errors.NtcliError:
        return  # the command itself will report an unreadable store
    with context.store.transaction() as creds:
        user = creds.get_user_credential(key)
        for item in creds.pending_revocations(key):
            # as the command that left it had: the user, else the token
            bearer = choose_bearer(endpoint.embedded, None, user, item.token)
            # a grace period runs from the refresh, not from this retry:
            # what is left of it, or nothing once it has ended
            grace = grace_left(context, item.revoke_at)
            revoked_at, failure = revoke_quietly(
                endpoint, bearer, item.workspace_id, item.jti, grace=grace)
            if failure is None:
                creds.remove_pending_revocation(key, item.jti)
                retiring = revoked_at is not None and \
                    revoked_at > context.now()
                context.history.record(
                    'revoke', jti=item.jti,
                    outcome='retiring until ' + str(timefmt.iso(revoked_at))
                    + ' (retried)' if retiring else 'revoked (retried)',
                    workspace_id=item.workspace_id, endpoint=endpoint.key)
            else:
                item.attempts += 1
                item.last_error = failure
                creds.update_pending_revocation(item)
                context.warn(f'the revocation of token {item.jti} is still '
                             f'pending: {failure}')
