"""Asking the user before a destructive action."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ntcli import errors

if TYPE_CHECKING:
    from cliff.app import App

__all__ = ['confirm']


def confirm(app: App, question: str) -> None:
    """Ask ``question`` with ``Are you sure? (y/N)``; raise unless yes.

    A non-interactive stdin fails at once instead of waiting for an answer
    that will never come.
    """
    if not app.stdin.isatty():
        raise errors.UsageError(
            'Refusing to ask for confirmation: standard input is not a '
            'terminal', 'Pass --force to go ahead without asking.')
    app.stderr.write(f'{question} Are you sure? (y/N) ')
    app.stderr.flush()
    answer = app.stdin.readline().strip().lower()
    if answer not in ('y', 'yes'):
        raise errors.NtcliError('Cancelled; nothing was changed.')
