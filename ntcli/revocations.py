"""Revocations that could not be completed when they were due.

When ``token refresh`` has stored a new token but cannot revoke the old one,
the revocation is remembered in the encrypted store and retried by the next
command that talks to the endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntcli import errors

if TYPE_CHECKING:
    from ntcli.context import Context
    from ntcli.endpoints import Endpoint


def revoke_quietly(endpoint: Endpoint, bearer: str | None, workspace_id: str,
                   jti: str) -> tuple[int | None, str | None]:
    """Revoke ``jti``; return (revoked_at, None) or (None, what failed).

    A token the endpoint already considers dead (revoked, expired, unknown)
    counts as revoked: there is nothing left to do for it.
    """
    from ntcli import faults
    try:
        if faults.should_fail('revoke'):
            raise errors.EndpointUnreachable('Injected fault: the endpoint '
                                             'could not be reached')
        revocation = endpoint.revoke_token(bearer, workspace_id, jti)
    except (errors.TokenRevoked, errors.TokenExpired, errors.TokenNotFound,
            errors.WorkspaceNotFound):
        return None, None
    except errors.NtcliError as exc:
        return None, exc.message
    return revocation.revoked_at, None


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
        user = None if endpoint.embedded else \
            creds.get_user_credential(key)
        for item in creds.pending_revocations(key):
            # the user may revoke any token; a token may revoke itself
            bearer = user or item.token
            _, failure = revoke_quietly(endpoint, bearer, item.workspace_id,
                                        item.jti)
            if failure is None:
                creds.remove_pending_revocation(key, item.jti)
                context.history.record(
                    'revoke', jti=item.jti, outcome='revoked (retried)',
                    workspace_id=item.workspace_id, endpoint=endpoint.key)
            else:
                item.attempts += 1
                item.last_error = failure
                creds.update_pending_revocation(item)
                context.warn(f'the revocation of token {item.jti} is still '
                             f'pending: {failure}')
