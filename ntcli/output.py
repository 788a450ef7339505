"""Delivering a command's output: part of the operation, not an afterthought.

A write to standard output can fail (a closed descriptor, a reader that went
away, a full disk, an I/O error), and with a buffered stream it fails only
when the buffer is flushed, possibly at interpreter exit, after the command
has reported success. :func:`deliver` flushes (and, for a regular file,
syncs) while the command can still act on the failure.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

# Errors that mean "the output did not reach its reader".
UNDELIVERED = (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EBADF,
               errno.EDQUOT, errno.EFBIG, errno.ECONNRESET)

def is_undelivered(exc: BaseException, stream: Any) -> bool:
    """True when ``exc`` says that writing to ``stream`` failed."""
    if isinstance(exc, OSError):
        return exc.errno in UNDELIVERED and exc.filename is None
    # writing to a stream that was closed meanwhile
    return isinstance(exc, ValueError) and bool(getattr(stream, 'closed',
                                                        False))


def deliver(stream: Any) -> None:
    """Flush ``stream``; sync it when it is a regular file (on a full
    network file system the error comes only then)."""
    stream.flush()
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return                  # an in-memory stream: nothing more to do
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS, errno.ENOTSUP):
            raise


def reason(exc: BaseException) -> str:
    """Why the output was lost, in a few words."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return 'standard output is closed'


def discard(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null, so that the text still
    buffered in it does not fail again (and print a traceback) at exit."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (AttributeError, OSError, ValueError):
        return
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)
