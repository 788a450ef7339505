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

import sqlite3
import threading
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


class Counter:
    """SQLite's change counter, read on a connection of its own.

    The read runs on the calling thread, without waiting: under gevent,
    in the worker's loop, where a trip to the thread pool (what every
    other SQLite call takes) would cost more than reading the token row
    it saves. The connection's busy timeout is 0, so a database busy
    with its WAL recovery makes the read fail at once, and the feed
    answers None instead of holding the loop.
    """

    def __init__(self, connect: typing.Callable[[], sqlite3.Connection],
                 usable: typing.Callable[[], bool]) -> None:
        """``connect``: a new connection to the database; ``usable``:
        whether the file open is still the one at the database's path."""
        self._connect = connect
        self._usable = usable
        self._conn: sqlite3.Connection | None = None
        # Where the process has threads (not under gevent), one read at a
        # time: a read never waits, so another thread's turn is None.
        self._turn = threading.Lock()

    def generation(self) -> object | None:
        if not self._usable() or not self._turn.acquire(blocking=False):
            return None
        try:
            if self._conn is None:
                self._conn = self._connect()
            rows = self._conn.execute(READ_COUNTER).fetchall()
        except sqlite3.Error:
            return None
        finally:
            self._turn.release()
        return rows[0][0] if len(rows) == 1 else None

    def close(self) -> None:
        with self._turn:
            conn, self._conn, self._usable = self._conn, None, _never
        if conn is not None:
            conn.close()


def _never() -> bool:
    return False
