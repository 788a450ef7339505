"""Database work under gevent (the server's workers), bounded in time.

A gunicorn gevent worker serves all its connections on one thread: a call
that blocks that thread (every sqlite3 call, psycopg's C wait loop) freezes
every request of the worker and its heartbeat, and gunicorn kills it after
``--timeout``. So, when gevent has patched this process:

* SQLite work runs on gevent's thread pool (:func:`run_off_loop`) while the
  request's greenlet waits, at most ``wait`` seconds;
* psycopg waits for its socket through gevent (see
  :func:`ntcli_authority.storage.postgres.cooperate_with_gevent`).

Nothing here imports gevent unless gevent already runs the process: the
CLI never pays for it.
"""

from __future__ import annotations

import contextlib
import sys
import typing

T = typing.TypeVar('T')


class Expired(Exception):
    """The work did not end within its time; ``pending`` (gevent's
    AsyncResult, or None) is the work still running."""

    def __init__(self, pending: typing.Any = None) -> None:
        super().__init__()
        self.pending = pending


def cooperative() -> bool:
    """Whether gevent has patched this process (threads are greenlets)."""
    monkey = sys.modules.get('gevent.monkey')
    return monkey is not None and bool(monkey.is_module_patched('threading'))


def run_off_loop(work: typing.Callable[[], T], wait: float,
                 interrupt: typing.Callable[[], None]) -> T:
    """Run ``work`` on a thread of gevent's pool and wait for it here,
    cooperatively, at most ``wait`` seconds; then call ``interrupt`` (which
    must make ``work`` end soon) and wait for the outcome, which is
    returned or raised as it is (``work`` may have finished meanwhile).
    :class:`Expired` when even the interrupted work does not end within
    ``wait`` more seconds: it goes on in its thread."""
    import gevent

    def outcome() -> tuple[bool, object]:
        # Raised in the pool, an exception would also be printed there
        # (gevent's hub reports it): carried back and raised here.
        try:
            return True, work()
        except BaseException as exc:  # noqa: BLE001 - raised again below
            return False, exc

    result = gevent.get_hub().threadpool.spawn(outcome)
    try:
        done, value = result.get(timeout=wait)
    except gevent.Timeout:
        interrupt()
        try:
            done, value = result.get(timeout=wait)
        except gevent.Timeout:
            raise Expired(result) from None
    if not done:
        raise typing.cast(BaseException, value)
    return typing.cast(T, value)


def deadline(seconds: float) -> typing.ContextManager[object]:
    """A context raising :class:`Expired` in this greenlet when the block
    outlasts ``seconds`` (nothing happens outside gevent)."""
    if not cooperative():
        return contextlib.nullcontext()
    import gevent
    return gevent.Timeout(seconds, Expired())
