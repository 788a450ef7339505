"""Work an earlier command left unfinished, finished before the next acts.

A refresh whose old token could not be revoked, or a request whose answer
was lost, is written down in the encrypted store (ntcli.revocations,
ntcli.issues). The next command that works with tokens finishes it first:
:class:`ntcli.command.Command` calls :func:`finish` for a command that
declares ``finishes_pending_work``, and the token operations call it too.
It is an explicit step: reading a context's endpoint does nothing of the
kind, and a look (shell completion, ``auth status --all``) never does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntcli import issues, revocations

if TYPE_CHECKING:
    from ntcli.context import Context


def finish(context: Context) -> None:
    """Settle the issues whose answers were lost, then retry the pending
    revocations; once a command, never for a look."""
    if context.pending_finished or context.look:
        return
    context.pending_finished = True
    issues.settle(context)
    revocations.retry_pending(context)
