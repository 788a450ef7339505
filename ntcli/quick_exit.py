"""Ending the ``ntcli`` process without the interpreter's teardown.

Once a command is done, CPython's own exit still tears down every module
the run imported (about 300 for a token command), which costs more than
anything ntcli does after its output (benchmarks/RESULTS.md). Nothing of
it is seen outside the process, except what :func:`finish` does first, in
the interpreter's order: waiting for the threads that are not daemons
(here: taking the ordinary way when there is one), the ``atexit`` handlers
(logging's shutdown, which flushes every log handler, and any a plugin
registered), flushing standard output and standard error.

What the short way leaves out, and no code run by ntcli may rely on, is
what the interpreter would do while it frees objects: finalizers
(``__del__``, a file flushed or a ``NamedTemporaryFile`` removed because
it is collected, a SQLite connection closed, and its ``-wal`` file
checkpointed and removed, because nobody closed it). ntcli closes what it
opens; docs/plugins tells plugin authors to do the same.

It imports nothing that ``ntcli --version`` and a Tab do not already have.
"""

from __future__ import annotations

import atexit
import os
import sys


def finish(status: int) -> int:
    """End the process now with ``status``, as ``sys.exit(status)`` would
    after its handlers and flushes; or return ``status``, for ``sys.exit``,
    whenever the ordinary exit could do something more that is seen.

    The ordinary way is taken for a status that is not a number, while a
    thread that the interpreter waits for is running, under a debugger, a
    profiler or ``python -i`` (each acts after the program's end), and when
    flushing standard output or error fails: the interpreter then reports
    it and exits with 120, as it always did.
    """
    if (not isinstance(status, int) or _others_running()
            or sys.gettrace() is not None or sys.getprofile() is not None
            or sys.flags.inspect or os.environ.get('PYTHONINSPECT')):
        return status
    atexit._run_exitfuncs()
    for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__,
                                      sys.__stderr__) if s is not None
                   }.values():
        try:
            stream.flush()
        except Exception:   # still buffered: the interpreter fails on it
            return status
    os._exit(status)


def _others_running() -> bool:
    """Whether a thread other than the main one, and not a daemon, runs:
    the interpreter would wait for it before the ``atexit`` handlers."""
    threading = sys.modules.get('threading')
    if threading is None:       # no thread was started through it
        return False
    main = threading.main_thread()
    return threading.current_thread() is not main or any(
        thread is not main and not thread.daemon and thread.is_alive()
        for thread in threading.enumerate())
