"""Ctrl-C and SIGTERM: one line and exit status 130/143, never a traceback.

Until a command begins to act (:func:`acting`: while Python imports cliff
and the command, parses the line, builds the application), there is
nothing to finish or undo, so a signal stops ntcli at once, wherever the
interpreter is (:mod:`ntcli.stop`). From then on both signals
raise :class:`ntcli.errors.Interrupted` (a BaseException, so that ``except
Exception`` does not swallow it and transactions can clean up on it as on
any failure). A block under :func:`deferred` finishes first: the signal is
raised when it ends, unless a second one insists.

A signal before :func:`handled` is entered (while the interpreter itself
starts, before ntcli's first line runs) is Python's to answer.
"""

from __future__ import annotations

import contextlib
import signal

from ntcli import stop
from ntcli.errors import Interrupted

# typing is left out at run time: see ntcli.main
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

NAMES = stop.NAMES


class _State:
    depth = 0                   # nesting of deferred() blocks
    pending: int | None = None  # a signal that arrived meanwhile
    keyboard = False            # the interactive shell: KeyboardInterrupt
    acting = False              # a command has begun: signals raise


def _interrupted(signum: int) -> BaseException:
    if _State.keyboard and signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Interrupted(signum, stop.name(signum))


def _in_import_callback(frame: Any) -> bool:
    # importlib's module-lock callback swallows (and prints) what is raised
    # in it, and the command would go on
    return frame is not None and frame.f_code.co_name == 'cb' and \
        frame.f_code.co_filename.startswith('<frozen importlib')


def _raise(signum: int, frame: Any) -> None:
    if not _State.acting or _in_import_callback(frame):
        stop.exit_at_once(signum)
    if _State.depth and _State.pending is None:
        _State.pending = signum  # finish the block first
        return
    _State.pending = None
    raise _interrupted(signum)


@contextlib.contextmanager
def as_keyboard_interrupt() -> Iterator[None]:
    """Within the block (the interactive shell), SIGINT raises
    KeyboardInterrupt, which the shell answers with a new prompt."""
    _State.keyboard = True
    try:
        yield
    finally:
        _State.keyboard = False


def acting() -> None:
    """The command begins to act: from now on a signal raises, so that
    what it does can finish or be undone."""
    _State.acting = True


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for the block (main thread only); until
    :func:`acting`, a signal ends ntcli at once."""
    _State.acting = False
    previous = {}
    try:
        for signum in NAMES:
            previous[signum] = signal.signal(signum, _raise)
    except ValueError:          # not the main thread: leave them alone
        pass
    try:
        yield
    finally:
        _State.acting = False   # the command is over: nothing to finish
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Let the block finish before a signal stops the command."""
    _State.depth += 1
    try:
        yield
    except BaseException:
        if _State.depth == 1:
            _State.pending = None   # the block failed: its error is reported
        raise
    finally:
        _State.depth -= 1
    if _State.depth == 0 and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise _interrupted(signum)
