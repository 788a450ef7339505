"""Backing up and restoring a SQLite token database, with SQLite's online
backup API (``sqlite3.Connection.backup``).

A backup is consistent while servers use the database: it copies the
pages of one snapshot, the transactions committed in the WAL included (a
plain copy of the file can miss them). It is written next to its target
as a private (0600) temporary file, checked (``PRAGMA integrity_check``),
and only then linked into place, so that a failed or interrupted backup
leaves no file behind, and an existing file is never overwritten.

A restore checks the backup first (an SQLite database of ntcli, of a
schema version this ntcli knows, intact), then writes it over the database
with the same API, as ``sqlite3``'s ``.restore`` does: one write
transaction through the database's own locks and WAL, so that no file is
replaced and no ``-wal`` of the old contents can be replayed into the new
ones; an older backup's schema is then upgraded. Servers are stopped
first (they keep what they read in memory); the command says so.

PostgreSQL databases are backed up with ``pg_dump``: both functions refuse
a DSN.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import urllib.parse

from ntcli_authority import errors
from ntcli_authority.storage import schema
from ntcli_authority.storage.dump import COPIED_TABLES
from ntcli_authority.storage.sqlite import SQLiteDialect
from ntcli_authority.storage.store import TokenStore


@dataclasses.dataclass(frozen=True)
class Report:
    """What a backup or restore wrote: the file, its schema version and
    the rows of each table."""

    path: str
    schema_version: int
    counts: dict[str, int]


def backup(database: str, target: str) -> Report:
    """Copy the SQLite database at ``database`` into a new file at
    ``target``. Raises InvalidRequest (a DSN, an existing or unusable
    target), DatabaseMissing, StorageUnavailable."""
    database = _sqlite_path(database, 'back up')
    target = _sqlite_path(target, 'back up into')
    if os.path.lexists(target):
        raise errors.InvalidRequest(
            f'{target} already exists: a backup never replaces a file',
            {'field': 'target'})
    if not os.path.exists(database):
        raise errors.DatabaseMissing(database)
    source = _connect(database, mode='ro')
    try:
        version = _check(source, database)
        temporary = _copy(source, target)
    finally:
        source.close()
    try:
        with contextlib.closing(_connect(temporary, mode='ro')) as copy:
            counts = _counts(copy)
        # A hard link fails on an existing name: never overwrites one
        # made meanwhile.
        os.link(temporary, target)
    except FileExistsError:
        raise errors.InvalidRequest(
            f'{target} already exists: a backup never replaces a file',
            {'field': 'target'}) from None
    except OSError as exc:
        raise errors.InvalidRequest(
            f'Cannot write the backup {target}: {exc.strerror or exc}',
            {'field': 'target'}) from None
    finally:
        for suffix in ('', '-wal', '-shm'):
            _remove(temporary + suffix)
    _sync_directory(target)
    return Report(target, version, counts)


def restore(source: str, database: str, *, replace: bool = False) -> Report:
    """Write the backup at ``source`` over the SQLite database at
    ``database`` (created when missing). Raises DatabaseNotEmpty when the
    database holds anything, unless ``replace``; InvalidRequest (a DSN,
    not a backup of an ntcli database), StorageUnavailable."""
    source = _sqlite_path(source, 'restore from')
    database = _sqlite_path(database, 'restore into')
    if not os.path.exists(source):
        raise errors.InvalidRequest(f'No backup at {source}',
                                    {'field': 'source'})
    if os.path.exists(database) and os.path.samefile(source, database):
        raise errors.InvalidRequest(
            'The backup and the database are the same file',
            {'field': 'source'})
    with contextlib.closing(_connect(source, mode='ro')) as backed_up:
        _check(backed_up, source)
        if os.path.exists(database):
            with contextlib.closing(_connect(database, mode='ro')) as live:
                held = _counts(live)
            if any(held.values()) and not replace:
                raise errors.DatabaseNotEmpty(details=held)
        else:
            # Made as the server makes it: private, in WAL mode.
            TokenStore(SQLiteDialect(database, create=True)).close()
        with contextlib.closing(_connect(database, mode='rw')) as live:
            try:
                # One step: one write transaction on the database, which
                # readers see whole or not at all.
                backed_up.backup(live, pages=-1)
            except sqlite3.Error as exc:
                raise errors.StorageUnavailable(
                    f'Restoring into {database} failed: {exc}') from None
    # An older backup is brought to this ntcli's schema.
    store = TokenStore(SQLiteDialect(database, create=False))
    try:
        return Report(database, store.schema_version(), store.row_counts())
    finally:
        store.close()


def _sqlite_path(target: str, doing: str) -> str:
    if target.startswith(('postgresql://', 'postgres://')):
        raise errors.InvalidRequest(
            f'Only a SQLite database can be used to {doing} here; back up '
            'and restore PostgreSQL with pg_dump and pg_restore',
            {'field': 'database'})
    if target.startswith('sqlite://'):
        target = target[len('sqlite://'):]
    if not target or target == ':memory:':
        raise errors.InvalidRequest(f'Cannot {doing} {target or "nothing"}',
                                    {'field': 'database'})
    return target


def _connect(path: str, *, mode: str) -> sqlite3.Connection:
    """A connection to the file at ``path`` (``mode``: ro or rw), never
    creating it."""
    uri = ('file:' + urllib.parse.quote(os.path.abspath(path))
           + f'?mode={mode}')
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None,
                               timeout=60)
    except sqlite3.Error as exc:
        raise errors.StorageUnavailable(f'Cannot open {path}: {exc}') \
            from None


def _check(conn: sqlite3.Connection, path: str) -> int:
    """The schema version of an intact ntcli database; InvalidRequest
    for anything else."""
    try:
        row = conn.execute('SELECT version FROM schema_version').fetchone()
        intact = conn.execute('PRAGMA integrity_check').fetchall()
    except sqlite3.Error as exc:
        raise errors.InvalidRequest(
            f'{path} is not a token database of ntcli: {exc}',
            {'field': 'source'}) from None
    if intact != [('ok',)]:
        raise errors.InvalidRequest(
            f'{path} is damaged (PRAGMA integrity_check: '
            f'{intact[0][0] if intact else "no answer"})',
            {'field': 'source'})
    latest = len(schema.MIGRATIONS)
    if row is None or not isinstance(row[0], int) or row[0] < 1:
        raise errors.InvalidRequest(
            f'{path} is not a token database of ntcli (no schema version)',
            {'field': 'source'})
    if row[0] > latest:
        raise errors.InvalidRequest(
            f'{path} has schema version {row[0]}, newer than this ntcli '
            f'supports ({latest}); upgrade ntcli', {'field': 'source'})
    return row[0]


def _copy(source: sqlite3.Connection, beside: str) -> str:
    """Copy ``source`` with the online backup API into a new private file
    in the directory of ``beside``; return its path."""
    directory = os.path.dirname(os.path.abspath(beside))
    temporary = os.path.join(
        directory, f'.{os.path.basename(beside)}.{os.getpid()}.tmp')
    try:
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise errors.InvalidRequest(
            f'Cannot write in {directory}: {exc.strerror or exc}',
            {'field': 'target'}) from None
    os.close(fd)
    try:
        with contextlib.closing(_connect(temporary, mode='rw')) as copy:
            # One step, one read transaction: in WAL mode it blocks no
            # writer, and a backup in several steps starts again whenever
            # another connection writes between two of them.
            source.backup(copy, pages=-1)
            # One self-contained file, whatever the source's journal: the
            # server switches its database to WAL again when it opens it.
            copy.execute('PRAGMA journal_mode = DELETE')
            intact = copy.execute('PRAGMA integrity_check').fetchall()
            if intact != [('ok',)]:
                raise errors.StorageUnavailable(
                    'The copy failed its integrity check')
        with open(temporary, 'rb') as handle:
            os.fsync(handle.fileno())
    except BaseException as exc:
        _remove(temporary)
        if isinstance(exc, sqlite3.Error):
            raise errors.StorageUnavailable(
                f'Copying the database failed: {exc}') from None
        raise
    return temporary


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many rows each table of a database holds (tables an older
    schema lacks are left out)."""
    try:
        present = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {table: conn.execute(f'SELECT COUNT(*) FROM {table}')
                .fetchone()[0]
                for table, _, _ in COPIED_TABLES if table in present}
    except sqlite3.Error as exc:
        raise errors.StorageUnavailable(f'Cannot read the database: {exc}') \
            from None


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _sync_directory(path: str) -> None:
    """Make a new name in the directory of ``path`` durable."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
