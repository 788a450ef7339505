"""How a process learns that token rows it read may have changed.

A change feed answers one question, cheaply, on every validation: *may the
token rows this process read under the same answer still be trusted?*
(:class:`ChangeFeed`). The database itself produces the signal (schema
version 8): on SQLite, triggers bump a counter in the transaction that
updates or deletes a token row (:class:`Counter`, here); on PostgreSQL, a
trigger sends a ``NOTIFY`` that a listening connection of each process
receives (:class:`ntcli_authority.storage.listener.Listener`).

A feed fails closed: whenever it cannot tell (the counter unreadable, the
listening connection lost or not heard from lately), it answers None and
the caller reads the row from the database.
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import stat
import threading
import time
import typing

#: The bound the documentation states: a token revoked on any node is
#: refused by every node from this many seconds after the revoking request
#: returned (on SQLite at once; on PostgreSQL the listener's lease, 0.8 s).
BOUND = 1.0


class ChangeFeed(typing.Protocol):
    """The change signal of a database's token rows."""

    def generation(self) -> object | None:
        """A value that differs from every earlier one once a token row
        has changed; None when that cannot be told now (read the row)."""

    def close(self) -> None:
        """Stop watching (the feed answers None from then on)."""


#: The statement reading SQLite's counter (see the SQLite dialect's
#: ``token_change_signal``).
READ_COUNTER = 'SELECT n FROM token_changes'
#: The bytes of SQLite's WAL index (the ``-shm`` file) that every commit
#: rewrites: its header, twice (https://www.sqlite.org/walformat.html).
WAL_INDEX_HEADER = 96
#: Seconds the counter is trusted unread while the WAL index's header is
#: unchanged, and the database file is trusted to be the one at its path
#: unlooked: a bound, well within :data:`BOUND`, on anything that could
#: change the database without that header telling (a file replaced).
RECHECK = 0.25


class Counter:
    """SQLite's change counter, read on a connection of its own.

    The read runs on the calling thread, without waiting: under gevent,
    in the worker's loop, where a trip to the thread pool (what every
    other SQLite call takes) would cost more than reading the token row
    it saves. The connection's busy timeout is 0, so a database busy
    with its WAL recovery makes the read fail at once, and the feed
    answers None instead of holding the loop.

    In WAL mode the counter is read only when something was committed
    since its last read: every commit, by any connection of any process,
    rewrites the header of the WAL index (the ``-shm`` file), which this
    process has mapped and compares without a system call. The header is
    read before the counter, so a commit racing the read makes the next
    call read again; and at least every :data:`RECHECK` seconds the
    counter is read and the file at the database's path looked at
    (``usable``) whatever the header says.

    The index is mapped as SQLite maps it (its connections read and write
    that header in shared memory): while this connection is open, SQLite
    neither deletes nor truncates the file, and a file truncated by hand
    under a live database fails SQLite's own reads alike.
    """

    def __init__(self, connect: typing.Callable[[], sqlite3.Connection],
                 usable: typing.Callable[[], bool],
                 wal_index: str | None = None,
                 clock: typing.Callable[[], float] = time.monotonic
                 ) -> None:
        """``connect``: a new connection to the database; ``usable``:
        whether the file open is still the one at the database's path;
        ``wal_index``: the path of its ``-shm`` file (None: read the
        counter every time)."""
        self._connect = connect
        self._usable = usable
        self._wal_index = wal_index
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._index: mmap.mmap | None = None     # the -shm file, mapped
        # The last read: the index's header before it, what it answered,
        # and until when that is trusted unread; one reference, replaced
        # whole, so that a thread never pairs one read's header with
        # another's answer.
        self._last: tuple[bytes, object, float] | None = None
        # Where the process has threads (not under gevent), one read at a
        # time: a read never waits, so another thread's turn is None.
        self._turn = threading.Lock()

    def generation(self) -> object | None:
        index, last = self._index, self._last
        if index is not None and last is not None:
            try:
                if (index[:WAL_INDEX_HEADER] == last[0]
                        and self._clock() < last[2]):
                    return last[1]
            except ValueError:               # closed meanwhile
                return None
        return self._read()

    def _read(self) -> object | None:
        """Read the counter (the header first), and remember both."""
        if not self._usable() or not self._turn.acquire(blocking=False):
            return None
        try:
            index = self._index
            header = b'' if index is None else index[:WAL_INDEX_HEADER]
            conn = self._conn
            if conn is None:
                conn = self._conn = self._connect()
            rows = conn.execute(READ_COUNTER).fetchall()
            counted = rows[0][0] if len(rows) == 1 else None
            self._remember(conn, header, counted)
            return counted
        except (sqlite3.Error, OSError, ValueError):
            self._last = None
            return None
        finally:
            self._turn.release()

    def _remember(self, conn: sqlite3.Connection, header: bytes,
                  counted: object | None) -> None:
        """Note the counter just read, and the WAL index's header as it was
        before; map the index after the first read (when this connection
        has it open: SQLite keeps it while the connection lives)."""
        if counted is None:
            self._last = None
            return
        if self._index is None and self._wal_index is not None:
            self._index = _map_wal_index(conn, self._wal_index)
            if self._index is None:
                self._wal_index = None       # not in WAL mode: never
            return                           # the next call reads it
        if len(header) == WAL_INDEX_HEADER:
            self._last = (header, counted, self._clock() + RECHECK)

    def close(self) -> None:
        with self._turn:
            conn, self._conn, self._usable = self._conn, None, _never
            index, self._index, self._last = self._index, None, None
        if index is not None:
            index.close()
        if conn is not None:
            conn.close()


def _map_wal_index(conn: sqlite3.Connection, path: str) -> mmap.mmap | None:
    """The header of the WAL index at ``path``, mapped to read, when
    ``conn`` uses one (WAL mode) and it is a regular file; None
    otherwise."""
    try:
        if conn.execute('PRAGMA journal_mode').fetchone()[0] != 'wal':
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (sqlite3.Error, OSError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return mmap.mmap(fd, WAL_INDEX_HEADER, access=mmap.ACCESS_READ)
    except (OSError, ValueError):            # shorter than its header
        return None
    finally:
        os.close(fd)                         # (the map keeps its own)


def _never() -> bool:
    return False
