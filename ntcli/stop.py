"""Ending ntcli at once on a signal: one line on stderr, the signal's exit
status (128 + its number), nothing else.

That is the answer until a command begins to act (see
:mod:`ntcli.interrupt`): while the interpreter imports cliff and the
command there is nothing to finish or undo, and an exception raised in the
middle of an import, or in a callback that swallows it, would print a
traceback or be lost. This module imports only ``os`` and ``_signal``, so
that ``ntcli --version`` and a Tab answered from the completion table are
covered from ntcli's first line without paying for more.
"""

from __future__ import annotations

# _signal, not signal, which only wraps _signal's numbers and handlers in
# enums: measured, importing enum costs 5-10 ms of a 25 ms Tab
import _signal  # type: ignore[import-not-found]  # no stub
import os

#: the signals ntcli answers, and the word it says
NAMES: dict[int, str] = {_signal.SIGINT: 'Interrupted',
                         _signal.SIGTERM: 'Terminated'}


def name(signum: int) -> str:
    """The word for ``signum``: Interrupted, Terminated."""
    return NAMES.get(signum, f'Signal {signum}')


def exit_at_once(signum: int, frame: object = None) -> None:
    """Say so in one line and end the process now, with 128 + ``signum``."""
    try:  # noqa: SIM105 - contextlib is more than this module imports
        os.write(2, f'{name(signum)}.\n'.encode())
    except OSError:
        pass
    os._exit(128 + signum)


def install() -> None:
    """Answer SIGINT and SIGTERM with :func:`exit_at_once`, for good."""
    for signum in NAMES:
        _signal.signal(signum, exit_at_once)
