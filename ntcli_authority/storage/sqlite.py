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

from ntcli_authority import errors
from ntcli_authority.storage import DatabaseMissing
from ntcli_authority.storage.sql import Dialect, T, Transaction

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


class SQLiteDialect(Dialect):
    """A SQLite database file (or ``:memory:``)."""

    error = sqlite3.Error
    unique_violation = sqlite3.IntegrityError
    share_lock = ''
    # SQLite's INTEGER is 64-bit, and its default collation byte-wise.
    ddl = {'timestamp': 'INTEGER', 'flag': 'INTEGER', 'false': '0',
           'is_primary': 'is_primary = 1', 'bytewise_text': 'TEXT',
           'serial_key': 'INTEGER PRIMARY KEY AUTOINCREMENT'}

    def __init__(self, path: str, *, create: bool = True) -> None:
        """Open (``create``: or create) the database file at ``path``;
        ``create=False`` raises DatabaseMissing when there is none."""
        self.path = self.location = path
        if sqlite3.sqlite_version_info < MINIMUM_VERSION:
            raise errors.StorageUnavailable(
                'The token database needs SQLite '
                f'{".".join(map(str, MINIMUM_VERSION))} or later; this '
                f'Python has SQLite {sqlite3.sqlite_version}')
        # One connection per store, shared by threads under a lock.
        self._lock = threading.RLock()
        target, uri = path, False
        if path != ':memory:' and not create:
            if _is_missing(path):
                raise DatabaseMissing(path)
            # mode=rw: should the file vanish meanwhile, SQLite fails
            # instead of making an empty database there.
            import urllib.parse
            target = ('file:' + urllib.parse.quote(os.path.abspath(path))
                      + '?mode=rw')
            uri = True
        try:
            if path != ':memory:' and create:
                # SQLite gives the -wal and -shm files the mode of the
                # database file, so they are private too.
                self.created = _create_private_file(path)
            self._conn = sqlite3.connect(
                target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                check_same_thread=False, uri=uri)
            self._conn.execute(
                f'PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}')
            self._enable_wal()
            # Durable commits: a revocation must survive a power cut.
            self._conn.execute('PRAGMA synchronous = FULL')
        except (sqlite3.Error, OSError) as exc:
            raise errors.StorageUnavailable(
                f'Cannot open the token database {path}: {exc}') from exc

    def _enable_wal(self) -> None:
        # Switching a brand-new file to WAL can fail at once with "database
        # is locked" (no busy wait) when several processes open it together;
        # retry within the busy timeout instead of failing the user.
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self._conn.execute('PRAGMA journal_mode = WAL')
                return
            except sqlite3.OperationalError as exc:
                if 'locked' not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def transaction(self, work: typing.Callable[[Transaction], T], *,
                    write: bool) -> T:
        with self._lock:
            try:
                # A read is one snapshot for all its statements.
                self._conn.execute('BEGIN IMMEDIATE' if write else 'BEGIN')
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                result = work(Transaction(self._conn, self))
                self._conn.execute('COMMIT')
                return result
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute('ROLLBACK')
                if isinstance(exc, sqlite3.Error) and not isinstance(
                        exc, sqlite3.IntegrityError):
                    raise self._unavailable(exc) from exc
                raise

    def statement(self, work: typing.Callable[[Transaction], T]) -> T:
        with self._lock:
            cursor = self._conn.cursor()
            try:
                return work(Transaction(cursor, self))
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            finally:
                # A statement stepped short of its last row keeps its read
                # snapshot: closing resets it now, not when it is collected.
                cursor.close()

    def lock(self, tx: Transaction, name: str) -> None:
        """Nothing to do: a write transaction holds the whole database."""

    def _unavailable(self, exc: sqlite3.Error) -> errors.StorageUnavailable:
        return errors.StorageUnavailable(
            f'The token database {self.path} failed: {exc}')

    def close(self) -> None:
        with self._lock:
            self._conn.close()
