"""The SQLite dialect: one file, WAL mode, safe across processes.

Write transactions start with ``BEGIN IMMEDIATE`` so that two processes
never both hold a read snapshot and then fight over the write lock (the
case SQLite reports at once as ``database is locked``, whatever the busy
timeout); together with the busy timeout, concurrent writers simply queue.
That one write lock also serializes what PostgreSQL needs row and advisory
locks for, so :meth:`SQLiteDialect.lock` and the share lock are empty.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import typing
import urllib.parse

from ntcli_authority import errors
from ntcli_authority.storage import changes, green
from ntcli_authority.storage.dialect import Dialect, T, Transaction

BUSY_TIMEOUT_SECONDS = 60.0

#: Upserts (INSERT … ON CONFLICT) arrived in SQLite 3.24 (2018).
MINIMUM_VERSION = (3, 24)


def _create_private_file(path: str) -> bool:
    """Create the database file 0600 (its directory 0700) if missing;
    return whether it was created."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _is_missing(path: str) -> bool:
    """Whether nothing at all is at ``path`` (a permission problem is not
    "missing": opening reports it)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


class _Channel:
    """One connection and what lets one transaction at a time use it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # A semaphore, not a lock: under gevent, a transaction that ran out
        # of time is released by whoever sees its thread end.
        self.turn = threading.Semaphore(1)


class SQLiteDialect(Dialect):
    """A SQLite database file (or ``:memory:``).

    Two connections: writes queue on one (and on SQLite's write lock),
    reads use the other, so that in WAL mode a held write lock delays no
    read. ``wait`` bounds every wait for the database: the busy timeout,
    the queue for a connection, and, in a gevent worker, the work itself
    (see :mod:`ntcli_authority.storage.green`).

    The file is watched: once it is replaced (a restore) or deleted while
    open, every call fails with StorageUnavailable until the process
    opens the database again, lest changes go to a file nobody will read.
    """

    error = sqlite3.Error
    unique_violation = sqlite3.IntegrityError
    share_lock = ''
    # SQLite's INTEGER is 64-bit, and its default collation byte-wise.
    ddl = {'timestamp': 'INTEGER', 'flag': 'INTEGER', 'false': '0',
           'is_primary': 'is_primary = 1', 'bytewise_text': 'TEXT',
           'serial_key': 'INTEGER PRIMARY KEY AUTOINCREMENT',
           # A change of a token row bumps the counter in its own
           # transaction (see ntcli_authority.storage.changes.Counter).
           'token_change_signal': (
               'CREATE TABLE token_changes (n INTEGER NOT NULL)',
               'INSERT INTO token_changes (n) VALUES (0)',
               'CREATE TRIGGER tokens_updated AFTER UPDATE ON tokens '
               'BEGIN UPDATE token_changes SET n = n + 1; END',
               'CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens '
               'BEGIN UPDATE token_changes SET n = n + 1; END')}

    def __init__(self, path: str, *, create: bool = True,
                 wait: float | None = None) -> None:
        """Open (``create``: or create) the database file at ``path``;
        ``create=False`` raises DatabaseMissing when there is none."""
        self.path = self.location = path
        self.wait = BUSY_TIMEOUT_SECONDS if wait is None else wait
        if sqlite3.sqlite_version_info < MINIMUM_VERSION:
            raise errors.StorageUnavailable(
                'The token database needs SQLite '
                f'{".".join(map(str, MINIMUM_VERSION))} or later; this '
                f'Python has SQLite {sqlite3.sqlite_version}')
        self._identity: tuple[int, int] | None = None
        self._watched = path
        self._lost = False
        self._changes: changes.Counter | None = None
        target, uri = path, False
        if path != ':memory:' and not create:
            if _is_missing(path):
                raise errors.DatabaseMissing(path)
            # mode=rw: should the file vanish meanwhile, SQLite fails
            # instead of making an empty database there.
            target = ('file:' + urllib.parse.quote(os.path.abspath(path))
                      + '?mode=rw')
            uri = True
        try:
            if path != ':memory:' and create:
                # SQLite gives the -wal and -shm files the mode of the
                # database file, so they are private too.
                self.created = _create_private_file(path)
            self._target, self._uri = target, uri
            self._writer = _Channel(self._open(target, uri))
            if path == ':memory:':
                self._reader = self._writer     # one database per connection
            else:
                self._reader = _Channel(self._open(target, uri))
                self._watched = os.path.abspath(path)
                self._identity = _identity(self._watched)
        except (sqlite3.Error, OSError) as exc:
            raise errors.StorageUnavailable(
                f'Cannot open the token database {path}: {exc}') from exc

    def _open(self, target: str, uri: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            target, timeout=self.wait, isolation_level=None,
            check_same_thread=False, uri=uri)
        conn.execute(f'PRAGMA busy_timeout = {int(self.wait * 1000)}')
        self._enable_wal(conn)
        # Durable commits: a revocation must survive a power cut.
        conn.execute('PRAGMA synchronous = FULL')
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection that writes."""
        return self._writer.conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a brand-new file to WAL can fail at once with "database
        # is locked" (no busy wait) when several processes open it together;
        # retry within the busy timeout instead of failing the user.
        deadline = time.monotonic() + self.wait
        while True:
            try:
                conn.execute('PRAGMA journal_mode = WAL')
                return
            except sqlite3.OperationalError as exc:
                if 'locked' not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def transaction(self, work: typing.Callable[[Transaction], T], *,
                    write: bool) -> T:
        channel = self._writer if write else self._reader
        conn = channel.conn

        def run(remaining: float) -> T:
            try:
                # What is left of the wait, once a turn was waited for.
                conn.execute('PRAGMA busy_timeout = '
                             f'{max(1, int(remaining * 1000))}')
                # A read is one snapshot for all its statements.
                conn.execute('BEGIN IMMEDIATE' if write else 'BEGIN')
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                result = work(Transaction(conn, self))
                conn.execute('COMMIT')
                return result
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute('ROLLBACK')
                if isinstance(exc, sqlite3.Error) and not isinstance(
                        exc, sqlite3.IntegrityError):
                    raise self._unavailable(exc) from exc
                raise
        return self._use(channel, run)

    def statement(self, work: typing.Callable[[Transaction], T]) -> T:
        channel = self._reader

        def run(remaining: float) -> T:
            cursor = channel.conn.cursor()
            try:
                return work(Transaction(cursor, self))
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            finally:
                # A statement stepped short of its last row keeps its read
                # snapshot: closing resets it now, not when it is collected.
                cursor.close()
        return self._use(channel, run)

    def _use(self, channel: _Channel,
             run: typing.Callable[[float], T]) -> T:
        """``run(seconds left)`` with ``channel`` to itself, within
        ``self.wait``."""
        self._check_file()
        started = time.monotonic()
        if not channel.turn.acquire(timeout=self.wait):
            raise errors.StorageUnavailable(
                f'The token database {self.path} is busy: no connection '
                f'was free within {self.wait:g} s')
        remaining = max(0.001, self.wait - (time.monotonic() - started))
        if not green.cooperative():
            try:
                return run(remaining)
            finally:
                channel.turn.release()
        try:
            result = green.run_off_loop(lambda: run(remaining), remaining,
                                        channel.conn.interrupt)
        except green.Expired as exc:
            # Its thread still runs: the connection is free when it ends.
            exc.pending.rawlink(lambda _: channel.turn.release())
            raise errors.StorageUnavailable(
                f'The token database {self.path} did not answer within '
                f'{self.wait:g} s; a change may or may not have been '
                'saved') from None
        except BaseException:
            channel.turn.release()
            raise
        channel.turn.release()
        return result

    def _check_file(self) -> None:
        """Refuse to go on once the open file is no longer at ``path``."""
        if self._identity is not None and not self._lost:
            try:
                now = _identity(self._watched)
            except OSError:
                now = None
            self._lost = now != self._identity
        if self._lost:
            raise errors.StorageUnavailable(
                f'The token database file {self.path} was replaced or '
                'deleted while in use; restart the server to use the file '
                'now there')

    def lock(self, tx: Transaction, name: str, *,
             shared: bool = False) -> None:
        """Nothing to do: a write transaction holds the whole database."""

    def token_changes(self) -> changes.ChangeFeed:
        """The change counter, read on a connection of its own that never
        waits (an in-memory database has one connection: no counter, every
        row is read)."""
        if self._changes is None:
            def connect() -> sqlite3.Connection:
                conn = sqlite3.connect(self._target, timeout=0,
                                       isolation_level=None,
                                       check_same_thread=False,
                                       uri=self._uri)
                conn.execute('PRAGMA query_only = 1')
                return conn

            def usable() -> bool:
                try:
                    self._check_file()
                except errors.StorageUnavailable:
                    return False
                return self.path != ':memory:'
            self._changes = changes.Counter(
                connect, usable, wal_index=(
                    None if self.path == ':memory:'
                    else os.path.abspath(self.path) + '-shm'))
        return self._changes

    def _unavailable(self, exc: sqlite3.Error) -> errors.StorageUnavailable:
        return errors.StorageUnavailable(
            f'The token database {self.path} failed: {exc}')

    def close(self) -> None:
        if self._changes is not None:
            self._changes.close()
        for channel in {id(c): c for c in (self._writer, self._reader)
                        }.values():
            channel.conn.close()


def _identity(path: str) -> tuple[int, int]:
    """Which file is at ``path`` (device, inode)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino
