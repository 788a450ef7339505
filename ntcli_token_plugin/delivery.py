"""A created token that did not reach its reader is revoked.

``token create`` prints a token that is stored nowhere else: if it cannot be
written (standard output closed or gone, a full disk, an I/O error) or the
command is stopped before it is, nobody holds it, and it must not stay live.
"""

from __future__ import annotations

from typing import Any

from ntcli import errors, interrupt, revocations


def revoke_undelivered(context: Any, issued: Any, bearer: str | None,
                       cause: BaseException) -> BaseException:
    """Revoke ``issued``; return the error to raise in place of ``cause``.

    When the revocation fails too, it is remembered as a pending
    revocation (retried by the next command) and the error names the JTI.
    """
    endpoint = context.endpoint
    with interrupt.deferred():
        _, failure = revocations.revoke_quietly(
            endpoint, bearer or issued.token, issued.workspace_id,
            issued.jti)
        if failure is not None:
            _remember(context, issued, failure)
        context.history.record(
            'create', jti=issued.jti, workspace_id=issued.workspace_id,
            endpoint=endpoint.key,
            outcome='not delivered; ' + ('revoked' if failure is None
                                         else 'revocation pending'))
    if failure is None:
        what = f'the new token {issued.jti} was revoked'
    else:
        what = (f'the new token {issued.jti} could not be revoked yet '
                f'({failure}); the revocation will be retried by the next '
                'ntcli command')
    if isinstance(cause, errors.Interrupted):
        cause.detail = what + '.'
        return cause
    if isinstance(cause, errors.OutputUndelivered):
        reason = cause.message.split(': ', 1)[-1]
        return errors.OutputUndelivered(
            f'The new token could not be written to standard output '
            f'({reason}), so {what}',
            'Run the command again with a working standard output.')
    if isinstance(cause, errors.NtcliError):
        cause.message = f'{cause.message}; {what}'
        return cause
    return errors.NtcliError(
        f'The new token could not be delivered ({type(cause).__name__}: '
        f'{cause}), so {what}', 'Run the command again.')


def _remember(context: Any, issued: Any, failure: str) -> None:
    from ntcli.credentials import PendingRevocation
    try:
        with context.store.transaction() as creds:
            creds.add_pending_revocation(PendingRevocation(
                endpoint=context.credentials_key,
                workspace_id=issued.workspace_id, jti=issued.jti,
                since=context.now(), last_error=failure,
                token=issued.token))
    except errors.NtcliError as exc:
        context.warn(f'could not remember the revocation of {issued.jti}: '
                     f'{exc.message}; revoke it with ntcli token revoke '
                     f'{issued.jti}')
