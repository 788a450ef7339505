"""Creating a token that must reach its reader: the transaction behind
``ntcli token create``.

``token create`` prints a token that is stored nowhere else: if it cannot be
written (standard output closed or gone, a full disk, an I/O error) or the
command is stopped before it is, nobody holds it, and it must not stay live.
The request is written down before it is sent (ntcli.issues) and forgotten
once the token is delivered or revoked.

A command holds a :class:`Delivery` around everything it does, output
included, and issues the token through it::

    with delivery.Delivery(context) as self.delivery:
        return super().run_checked(parsed_args)   # take_action: .issue()
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from ntcli import errors, faults, interrupt, issues, revocations, unfinished
from ntcli.context import whole
from ntcli.credentials import PendingRevocation
from ntcli_core.lifetimes import Expiry

if TYPE_CHECKING:
    from ntcli.context import Context, PluginContext
    from ntcli.credentials import PendingIssue
    from ntcli.endpoints import IssuedToken

__all__ = ['Delivery', 'check_output']


def check_output(closed: bool) -> None:
    """Raise UsageError when standard output is ``closed``: a token printed
    there would never be seen, so none is created."""
    if closed:
        raise errors.UsageError(
            'Refusing to create a token: standard output is closed, so '
            'nobody would ever see it',
            'Run it with standard output open (a terminal, a file or a '
            'pipe).')


class Delivery:
    """One token created for a reader: issued by :meth:`issue`, revoked
    when what follows (printing it) fails or is interrupted before the
    ``with`` block ends."""

    def __init__(self, view: Context | PluginContext) -> None:
        self.context = whole(view)
        self.issued: IssuedToken | None = None
        self._bearer: str | None = None
        self._pending: PendingIssue | None = None

    def __enter__(self) -> Delivery:
        return self

    def issue(self, lifetime: Expiry, scope: tuple[str, ...] | None,
              description: str | None) -> IssuedToken:
        """Issue a token in the workspace of the run, as the run's
        credential, and record it in the history."""
        context = self.context
        unfinished.finish(context)
        workspace = context.workspace
        self._bearer = context.bearer(workspace.id)
        self._pending = issues.begin(
            context, None, self._bearer, workspace.id, purpose='create',
            expires_in=lifetime.expires_in, expires_at=lifetime.expires_at,
            scope=scope, description=description)
        with interrupt.deferred():  # a token issued is a token we know of
            self.issued = issued = issues.send(
                context, None, self._bearer, self._pending)
        faults.checkpoint('after-create')
        context.history.record('create', jti=issued.jti, outcome='created',
                               workspace_id=workspace.id,
                               endpoint=context.endpoint.key)
        return issued

    def __exit__(self, kind: type[BaseException] | None,
                 exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is None:
            self._forget()
            return
        if self.issued is None:
            return      # nothing issued; a pending issue is settled later
        error = revoke_undelivered(self.context, self.issued, self._bearer,
                                   exc)
        self._forget()
        raise error from None

    def _forget(self) -> None:
        """The token was delivered or revoked: its request is done."""
        if self._pending is not None:
            issues.delivered(self.context, self._pending)


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
