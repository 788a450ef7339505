"""Ctrl-C and SIGTERM: one line and exit status 130/143, never a traceback.

Both signals raise :class:`ntcli.errors.Interrupted` (a BaseException, so
that ``except Exception`` does not swallow it and transactions can clean up
on it as on any failure). A block under :func:`deferred` finishes first:
the signal is raised when it ends, unless a second one insists.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from ntcli.errors import Interrupted

NAMES: dict[int, str] = {signal.SIGINT: 'Interrupted',
                         signal.SIGTERM: 'Terminated'}


class _State:
    depth = 0                   # nesting of deferred() blocks
    pending: int | None = None  # a signal that arrived meanwhile
    keyboard = False            # the interactive shell: KeyboardInterrupt


def _interrupted(signum: int) -> BaseException:
    if _State.keyboard and signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Interrupted(signum, NAMES.get(signum, f'Signal {signum}'))


def _raise(signum: int, frame: Any) -> None:
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


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Install the handlers for the block (main thread only)."""
    previous = {}
    try:
        for signum in NAMES:
            previous[signum] = signal.signal(signum, _raise)
    except ValueError:          # not the main thread: leave them alone
        pass
    try:
        yield
    finally:
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
