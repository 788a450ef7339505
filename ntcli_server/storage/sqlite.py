"""The SQLite TokenStore: one file, WAL mode, safe across processes.

Write transactions start with ``BEGIN IMMEDIATE`` so that two processes
never both hold a read snapshot and then fight over the write lock (the
case SQLite reports at once as ``database is locked``, whatever the busy
timeout); together with the busy timeout, concurrent writers simply queue.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import threading
import time
import typing

from ntcli_server import errors
from ntcli_server.models import SigningKey, TokenRecord, User, Workspace
from ntcli_server.storage import (ALL_OWNERS, DatabaseMissing, Position,
                                  TokenStore, tables)

BUSY_TIMEOUT_SECONDS = 60.0

# Each entry upgrades the schema by one version and runs in one
# transaction. Never edit a released entry: append a new one.
MIGRATIONS: list[tuple[str, ...]] = [
    # 1: workspaces, tokens and signing keys.
    (
        """CREATE TABLE workspaces (
               id TEXT PRIMARY KEY,
               name TEXT NOT NULL UNIQUE,
               description TEXT,
               owner TEXT,
               created_at INTEGER NOT NULL)""",
        """CREATE TABLE tokens (
               jti TEXT PRIMARY KEY,
               workspace_id TEXT NOT NULL,
               created_at INTEGER NOT NULL,
               expires_at INTEGER,
               revoked_at INTEGER,
               description TEXT,
               kid TEXT NOT NULL)""",
        """CREATE INDEX tokens_by_workspace
               ON tokens (workspace_id, created_at, jti)""",
        """CREATE TABLE signing_keys (
               kid TEXT PRIMARY KEY,
               private_key TEXT,
               public_key TEXT NOT NULL,
               created_at INTEGER NOT NULL,
               is_primary INTEGER NOT NULL DEFAULT 0,
               retired_at INTEGER)""",
        # At most one primary key, whatever races happen.
        """CREATE UNIQUE INDEX signing_keys_one_primary
               ON signing_keys (is_primary) WHERE is_primary = 1""",
    ),
    # 2: token scopes, users and idempotency keys.
    (
        """ALTER TABLE tokens
               ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace'""",
        "CREATE INDEX tokens_by_kid ON tokens (kid)",
        """CREATE TABLE users (
               id TEXT PRIMARY KEY,
               name TEXT NOT NULL UNIQUE,
               credential_hash TEXT NOT NULL UNIQUE,
               created_at INTEGER NOT NULL)""",
        """CREATE TABLE idempotency_keys (
               workspace_id TEXT NOT NULL,
               idempotency_key TEXT NOT NULL,
               jti TEXT NOT NULL,
               created_at INTEGER NOT NULL,
               PRIMARY KEY (workspace_id, idempotency_key))""",
        """CREATE INDEX idempotency_keys_by_age
               ON idempotency_keys (created_at)""",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


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


class SQLiteTokenStore(TokenStore):
    """A TokenStore on a SQLite database file."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        """Open (``create``: or create) the database file at ``path``;
        ``create=False`` raises DatabaseMissing when there is none."""
        self.path = path
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
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

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

    # -- plumbing ---------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> typing.Iterator[sqlite3.Connection]:
        """One write transaction; rolled back on any exception."""
        with self._lock:
            try:
                self._conn.execute('BEGIN IMMEDIATE')
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                yield self._conn
                self._conn.execute('COMMIT')
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute('ROLLBACK')
                if isinstance(exc, sqlite3.Error) and not isinstance(
                        exc, sqlite3.IntegrityError):
                    raise self._unavailable(exc) from exc
                raise

    @contextlib.contextmanager
    def _read(self) -> typing.Iterator[sqlite3.Connection]:
        """A consistent read (one snapshot for all its statements)."""
        with self._lock:
            try:
                self._conn.execute('BEGIN')
                try:
                    yield self._conn
                finally:
                    self._conn.execute('COMMIT')
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    def _unavailable(self, exc: sqlite3.Error) -> errors.StorageUnavailable:
        return errors.StorageUnavailable(
            f'The token database {self.path} failed: {exc}')

    def _current_version(self, conn: sqlite3.Connection) -> int:
        row = conn.execute('SELECT version FROM schema_version').fetchone()
        return row[0] if row else 0

    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute('CREATE TABLE IF NOT EXISTS schema_version '
                         '(version INTEGER NOT NULL)')
            if conn.execute('SELECT COUNT(*) FROM schema_version'
                            ).fetchone()[0] == 0:
                conn.execute('INSERT INTO schema_version VALUES (0)')
            current = self._current_version(conn)
        if current > SCHEMA_VERSION:
            raise errors.StorageUnavailable(
                f'The token database {self.path} has schema version '
                f'{current}, newer than this ntcli supports '
                f'({SCHEMA_VERSION}); upgrade ntcli')
        for target, statements in enumerate(MIGRATIONS, start=1):
            with self._write() as conn:
                # Re-read under the write lock: another process may have
                # applied this migration meanwhile.
                if self._current_version(conn) >= target:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute('UPDATE schema_version SET version = ?',
                             (target,))

    def schema_version(self) -> int:
        with self._read() as conn:
            return self._current_version(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- signing keys -----------------------------------------------------
    def get_signing_key(self, kid: str) -> SigningKey | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                               'WHERE kid = ?', (kid,)).fetchone()
        return tables.signing_key(row) if row else None

    def get_primary_signing_key(self) -> SigningKey | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                               'WHERE is_primary = 1').fetchone()
        return tables.signing_key(row) if row else None

    def list_signing_keys(self) -> list[SigningKey]:
        with self._read() as conn:
            rows = conn.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                                'ORDER BY created_at, kid').fetchall()
        return [tables.signing_key(row) for row in rows]

    def _insert_key(self, conn: sqlite3.Connection, key: SigningKey) -> None:
        conn.execute(
            'INSERT INTO signing_keys (kid, public_key, created_at, '
            'private_key, is_primary, retired_at) VALUES (?, ?, ?, ?, 1, '
            'NULL)', (key.kid, key.public_key, key.created_at,
                      key.private_key))

    def ensure_primary_signing_key(self, candidate: SigningKey) -> SigningKey:
        with self._write() as conn:
            row = conn.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                               'WHERE is_primary = 1').fetchone()
            if row:
                return tables.signing_key(row)
            self._insert_key(conn, candidate)
        return dataclasses.replace(candidate, is_primary=True)

    def add_primary_signing_key(self, key: SigningKey) -> None:
        with self._write() as conn:
            conn.execute('UPDATE signing_keys SET is_primary = 0 '
                         'WHERE is_primary = 1')
            self._insert_key(conn, key)

    def retire_unused_signing_keys(self, now: int) -> list[str]:
        with self._write() as conn:
            kids = [row[0] for row in conn.execute(
                'SELECT kid FROM signing_keys k WHERE is_primary = 0 '
                'AND private_key IS NOT NULL AND NOT EXISTS ('
                ' SELECT 1 FROM tokens t WHERE t.kid = k.kid'
                ' AND t.revoked_at IS NULL'
                ' AND (t.expires_at IS NULL OR t.expires_at > ?))',
                (now,))]
            for kid in kids:
                conn.execute('UPDATE signing_keys SET private_key = NULL, '
                             'retired_at = ? WHERE kid = ?', (now, kid))
        return kids

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, workspace: Workspace) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    f'INSERT INTO workspaces ({tables.WORKSPACE_COLUMNS}) '
                    'VALUES (?, ?, ?, ?, ?)',
                    (workspace.id, workspace.name, workspace.created_at,
                     workspace.description, workspace.owner))
        except sqlite3.IntegrityError:
            raise errors.WorkspaceExists(
                f"A workspace named '{workspace.name}' already exists",
                {'workspace_name': workspace.name}) from None

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.WORKSPACE_COLUMNS} FROM workspaces '
                               'WHERE id = ?', (workspace_id,)).fetchone()
        return Workspace(*row) if row else None

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.WORKSPACE_COLUMNS} FROM workspaces '
                               'WHERE name = ?', (name,)).fetchone()
        return Workspace(*row) if row else None

    def list_workspaces(self, owner: object = ALL_OWNERS) -> list[Workspace]:
        query = f'SELECT {tables.WORKSPACE_COLUMNS} FROM workspaces'
        params: tuple = ()
        if owner is None:
            query += ' WHERE owner IS NULL'
        elif owner is not ALL_OWNERS:
            query += ' WHERE owner = ?'
            params = (owner,)
        with self._read() as conn:
            rows = conn.execute(query + ' ORDER BY name', params).fetchall()
        return [Workspace(*row) for row in rows]

    def delete_workspace(self, workspace_id: str, now: int) -> int:
        with self._write() as conn:
            if not conn.execute('SELECT 1 FROM workspaces WHERE id = ?',
                                (workspace_id,)).fetchone():
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
            revoked = conn.execute(
                'UPDATE tokens SET revoked_at = ? WHERE workspace_id = ? '
                'AND revoked_at IS NULL', (now, workspace_id)).rowcount
            conn.execute('DELETE FROM idempotency_keys WHERE workspace_id = ?',
                         (workspace_id,))
            conn.execute('DELETE FROM workspaces WHERE id = ?',
                         (workspace_id,))
        return revoked

    # -- tokens -----------------------------------------------------------
    def _insert_token(self, conn: sqlite3.Connection,
                      record: TokenRecord) -> None:
        conn.execute(
            f'INSERT INTO tokens ({tables.TOKEN_COLUMNS}) '
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            (record.jti, record.workspace_id, record.created_at,
             record.expires_at, record.kid, record.scope, record.description,
             record.revoked_at))

    def add_token(self, record: TokenRecord,
                  idempotency_key: str | None = None, *,
                  idempotency_since: int = 0) -> tuple[TokenRecord, bool]:
        with self._write() as conn:
            if not conn.execute('SELECT 1 FROM workspaces WHERE id = ?',
                                (record.workspace_id,)).fetchone():
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': record.workspace_id})
            if idempotency_key is not None:
                row = conn.execute(
                    f'SELECT {tables.TOKEN_COLUMNS} FROM tokens WHERE jti = ('
                    ' SELECT jti FROM idempotency_keys'
                    ' WHERE workspace_id = ? AND idempotency_key = ?'
                    ' AND created_at >= ?)',
                    (record.workspace_id, idempotency_key,
                     idempotency_since)).fetchone()
                if row:
                    return tables.token(row), True
                conn.execute(
                    'DELETE FROM idempotency_keys WHERE workspace_id = ? '
                    'AND idempotency_key = ?',
                    (record.workspace_id, idempotency_key))
            self._insert_token(conn, record)
            if idempotency_key is not None:
                conn.execute(
                    'INSERT INTO idempotency_keys (workspace_id, '
                    'idempotency_key, jti, created_at) VALUES (?, ?, ?, ?)',
                    (record.workspace_id, idempotency_key, record.jti,
                     record.created_at))
        return record, False

    def add_tokens(self, records: typing.Iterable[TokenRecord]) -> int:
        count = 0
        with self._write() as conn:
            for record in records:
                self._insert_token(conn, record)
                count += 1
        return count

    def get_token(self, jti: str) -> TokenRecord | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.TOKEN_COLUMNS} FROM tokens '
                               'WHERE jti = ?', (jti,)).fetchone()
        return tables.token(row) if row else None

    def list_tokens(self, workspace_id: str, *, now: int,
                    include_expired: bool = False,
                    include_revoked: bool = False,
                    after: Position | None = None,
                    limit: int = 100) -> list[TokenRecord]:
        wanted = tables.status_filter(include_expired, include_revoked,
                                    lambda name: f':{name}')
        query = (f'SELECT {tables.TOKEN_COLUMNS} FROM tokens '
                 f'WHERE workspace_id = :ws AND {wanted}')
        params: dict = {'ws': workspace_id, 'now': now, 'limit': limit}
        if after is not None:
            # Keyset pagination: constant cost per page, stable under
            # concurrent inserts and revocations.
            query += (' AND (created_at > :after_created OR '
                      '(created_at = :after_created AND jti > :after_jti))')
            params['after_created'], params['after_jti'] = after
        query += ' ORDER BY created_at, jti LIMIT :limit'
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [tables.token(row) for row in rows]

    def revoke_token(self, workspace_id: str, jti: str,
                     now: int) -> tuple[TokenRecord, bool]:
        with self._write() as conn:
            if not conn.execute('SELECT 1 FROM workspaces WHERE id = ?',
                                (workspace_id,)).fetchone():
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
            row = conn.execute(
                f'SELECT {tables.TOKEN_COLUMNS} FROM tokens '
                'WHERE jti = ? AND workspace_id = ?',
                (jti, workspace_id)).fetchone()
            if row is None:
                raise errors.TokenNotFound(
                    f"Token with JTI '{jti}' not found", {'jti': jti})
            record = tables.token(row)
            if record.revoked_at is not None:
                return record, True
            conn.execute('UPDATE tokens SET revoked_at = ? WHERE jti = ?',
                         (now, jti))
        return dataclasses.replace(record, revoked_at=now), False

    def purge_idempotency_keys(self, before: int) -> int:
        with self._write() as conn:
            return conn.execute('DELETE FROM idempotency_keys '
                                'WHERE created_at < ?', (before,)).rowcount

    # -- users ------------------------------------------------------------
    def create_user(self, user: User) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    f'INSERT INTO users ({tables.USER_COLUMNS}) '
                    'VALUES (?, ?, ?, ?)',
                    (user.id, user.name, user.created_at,
                     user.credential_hash))
        except sqlite3.IntegrityError:
            raise errors.UserExists(
                f"A user named '{user.name}' already exists",
                {'user_name': user.name}) from None

    def _one_user(self, where: str, value: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(f'SELECT {tables.USER_COLUMNS} FROM users '
                               f'WHERE {where} = ?', (value,)).fetchone()
        return User(*row) if row else None

    def get_user(self, user_id: str) -> User | None:
        return self._one_user('id', user_id)

    def get_user_by_name(self, name: str) -> User | None:
        return self._one_user('name', name)

    def get_user_by_credential_hash(self, credential_hash: str
                                    ) -> User | None:
        return self._one_user('credential_hash', credential_hash)

    def list_users(self) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(f'SELECT {tables.USER_COLUMNS} FROM users '
                                'ORDER BY name').fetchall()
        return [User(*row) for row in rows]
