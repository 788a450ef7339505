"""The PostgreSQL TokenStore: one database shared by several server nodes.

Each store object owns one connection (a gunicorn worker owns one store).
Every method is one transaction at READ COMMITTED, and correctness under
concurrency comes from the database's own guarantees rather than from a
stricter isolation level that would make callers retry:

* a revocation is one conditional ``UPDATE … WHERE revoked_at IS NULL``,
  so of two nodes revoking a token at once exactly one sets revoked_at;
* a JTI is a primary key, an idempotency key a (workspace, key) primary
  key claimed with ``INSERT … ON CONFLICT``: a second node issuing with the
  same key waits for the first and returns its token;
* a partial unique index allows one primary signing key, and key changes
  are serialized by a transaction-scoped advisory lock;
* issuing and revoking take a KEY SHARE lock on the workspace row, and
  deleting a workspace deletes that row before it revokes the workspace's
  tokens: the DELETE waits for every issue and revoke in flight there,
  and those that come later find the workspace gone (see
  delete_workspace for why it is the DELETE, not a FOR UPDATE lock).

A connection found dead is replaced and the transaction retried once; a
failure after COMMIT was sent is not retried, since its outcome is unknown.
Schema migrations are applied on open under an advisory lock, so two nodes
starting at once do not both migrate.
"""

from __future__ import annotations

import dataclasses
import threading
import typing

from ntcli_server import errors, signing

try:
    import psycopg
    from psycopg import conninfo, errors as pg_errors
except ImportError as exc:      # the 'postgres' extra is not installed
    raise errors.StorageUnavailable(
        "A PostgreSQL store needs psycopg: pip install 'ntcli[postgres]'"
    ) from exc
from ntcli_server.models import SigningKey, TokenRecord, User, Workspace
from ntcli_server.storage import ALL_OWNERS, Position, TokenStore, tables

CONNECT_TIMEOUT_SECONDS = 10
#: How long a statement waits for a row or advisory lock before the
#: request fails with StorageUnavailable instead of hanging.
LOCK_TIMEOUT = '60s'

# Advisory lock ids (64-bit, database-wide): 'ntcli' followed by a number.
MIGRATION_LOCK = 0x6E74636C69000001
SIGNING_KEY_LOCK = 0x6E74636C69000002

# Each entry upgrades the schema by one version, with the same numbering
# and meaning as the SQLite store's MIGRATIONS, and runs in one
# transaction. Never edit a released entry: append a new one. Names and
# JTIs sort byte-wise (COLLATE "C"), as in SQLite, whatever the locale.
MIGRATIONS: list[tuple[str, ...]] = [
    # 1: workspaces, tokens and signing keys.
    (
        """CREATE TABLE workspaces (
               id TEXT PRIMARY KEY,
               name TEXT COLLATE "C" NOT NULL UNIQUE,
               description TEXT,
               owner TEXT,
               created_at BIGINT NOT NULL)""",
        """CREATE TABLE tokens (
               jti TEXT COLLATE "C" PRIMARY KEY,
               workspace_id TEXT NOT NULL,
               created_at BIGINT NOT NULL,
               expires_at BIGINT,
               revoked_at BIGINT,
               description TEXT,
               kid TEXT NOT NULL)""",
        """CREATE INDEX tokens_by_workspace
               ON tokens (workspace_id, created_at, jti)""",
        """CREATE TABLE signing_keys (
               kid TEXT PRIMARY KEY,
               private_key TEXT,
               public_key TEXT NOT NULL,
               created_at BIGINT NOT NULL,
               is_primary BOOLEAN NOT NULL DEFAULT FALSE,
               retired_at BIGINT)""",
        # At most one primary key, whatever races happen.
        """CREATE UNIQUE INDEX signing_keys_one_primary
               ON signing_keys (is_primary) WHERE is_primary""",
    ),
    # 2: token scopes, users and idempotency keys.
    (
        """ALTER TABLE tokens
               ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace'""",
        "CREATE INDEX tokens_by_kid ON tokens (kid)",
        """CREATE TABLE users (
               id TEXT PRIMARY KEY,
               name TEXT COLLATE "C" NOT NULL UNIQUE,
               credential_hash TEXT NOT NULL UNIQUE,
               created_at BIGINT NOT NULL)""",
        """CREATE TABLE idempotency_keys (
               workspace_id TEXT NOT NULL,
               idempotency_key TEXT NOT NULL,
               jti TEXT NOT NULL,
               created_at BIGINT NOT NULL,
               PRIMARY KEY (workspace_id, idempotency_key))""",
        """CREATE INDEX idempotency_keys_by_age
               ON idempotency_keys (created_at)""",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


Cursor = psycopg.Cursor
T = typing.TypeVar('T')




def describe_dsn(dsn: str) -> str:
    """Where a DSN points, for messages: host, port and database only (no
    password, no user, no options)."""
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return 'PostgreSQL (unparsable DSN)'
    host = params.get('host') or 'localhost'
    port = params.get('port') or '5432'
    dbname = params.get('dbname') or params.get('user') or '?'
    return f'PostgreSQL at {host}:{port}/{dbname}'


def _reason(exc: BaseException) -> str:
    """A one-line reason from a driver error (libpq never includes the
    password in its messages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return '; '.join(lines) or type(exc).__name__


# Errors after which the server has rolled the transaction back.
_ROLLED_BACK = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
                pg_errors.TransactionRollback)


class _Retry(Exception):
    """Internal: the connection died before COMMIT; run the work again."""


class PostgresTokenStore(TokenStore):
    """A TokenStore on a PostgreSQL database."""

    def __init__(self, dsn: str) -> None:
        # Refuse to start before touching the database: private keys of a
        # shared store are always encrypted (see signing.seal).
        signing.check_secret(required=True)
        self._dsn = dsn
        self.location = describe_dsn(dsn)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._connect()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        params = conninfo.conninfo_to_dict(self._dsn)
        params.setdefault('connect_timeout', CONNECT_TIMEOUT_SECONDS)
        params.setdefault('application_name', 'ntcli-server')
        try:
            # Autocommit: this class issues BEGIN/COMMIT itself, so that it
            # knows whether COMMIT was sent when a connection dies.
            conn = psycopg.connect(**params, autocommit=True)
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        except psycopg.Error as exc:
            raise errors.StorageUnavailable(
                f'Cannot connect to the token database ({self.location}): '
                f'{_reason(exc)}') from None
        self._conn = conn
        return conn

    def _unavailable(self, exc: BaseException) -> errors.StorageUnavailable:
        return errors.StorageUnavailable(
            f'The token database ({self.location}) failed: {_reason(exc)}')

    def _transaction(self, work: typing.Callable[[Cursor], T]) -> T:
        """Run ``work`` in one READ COMMITTED transaction and commit.

        An exception rolls it back. When the connection turns out to be
        dead (a database restart, a network cut, an idle timeout) before
        COMMIT was sent, the server has discarded the transaction, so it
        is run once more on a new connection.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._attempt(work, retry_allowed=attempt == 1)
                except _Retry:
                    continue
        raise AssertionError('unreachable')  # pragma: no cover

    def _attempt(self, work: typing.Callable[[Cursor], T], *,
                 retry_allowed: bool) -> T:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._connect()
        committing = False
        try:
            with conn.cursor() as cur:
                cur.execute('BEGIN ISOLATION LEVEL READ COMMITTED')
                try:
                    result = work(cur)
                except BaseException:
                    if not conn.broken:
                        cur.execute('ROLLBACK')
                    raise
                committing = True
                cur.execute('COMMIT')
            return result
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if conn.broken or conn.closed:
                self._drop_connection()
                if retry_allowed and not committing:
                    raise _Retry() from exc
                if committing:
                    raise errors.StorageUnavailable(
                        f'The token database ({self.location}) went away '
                        'while committing; the change may or may not have '
                        'been saved') from None
            elif isinstance(exc, _ROLLED_BACK) and retry_allowed:
                # A serialization failure or deadlock victim: rolled back
                # already, so running it again is safe.
                raise _Retry() from exc
            raise self._unavailable(exc) from None
        except psycopg.IntegrityError:
            raise
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _current_version(self, cur: Cursor) -> int:
        row = cur.execute('SELECT version FROM schema_version').fetchone()
        return row[0] if row else 0

    def _migrate(self) -> None:
        def prepare(cur: Cursor) -> int:
            # Waits for a node migrating right now; released at COMMIT.
            cur.execute('SELECT pg_advisory_xact_lock(%s)',
                        (MIGRATION_LOCK,))
            cur.execute('CREATE TABLE IF NOT EXISTS schema_version '
                        '(version INTEGER NOT NULL)')
            cur.execute('INSERT INTO schema_version (version) SELECT 0 '
                        'WHERE NOT EXISTS (SELECT 1 FROM schema_version)')
            return self._current_version(cur)

        current = self._transaction(prepare)
        if current > SCHEMA_VERSION:
            raise errors.StorageUnavailable(
                f'The token database ({self.location}) has schema version '
                f'{current}, newer than this ntcli supports '
                f'({SCHEMA_VERSION}); upgrade ntcli')
        for target, statements in enumerate(MIGRATIONS, start=1):
            if current >= target:
                continue

            def apply(cur: Cursor, target=target,
                      statements=statements) -> None:
                cur.execute('SELECT pg_advisory_xact_lock(%s)',
                            (MIGRATION_LOCK,))
                # Re-read under the lock: another node may have applied
                # this migration meanwhile.
                if self._current_version(cur) >= target:
                    return
                for statement in statements:
                    cur.execute(statement)
                cur.execute('UPDATE schema_version SET version = %s',
                            (target,))

            try:
                self._transaction(apply)
            except (psycopg.Error, errors.StorageUnavailable) as exc:
                raise errors.StorageUnavailable(
                    f'Migrating the token database ({self.location}) to '
                    f'schema version {target} failed: {_reason(exc)}'
                ) from None

    def schema_version(self) -> int:
        return self._transaction(self._current_version)

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    # -- signing keys -----------------------------------------------------
    def _select_key(self, where: str, params: tuple = ()
                    ) -> SigningKey | None:
        def work(cur: Cursor) -> tuple | None:
            return cur.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                               f'WHERE {where}', params).fetchone()
        row = self._transaction(work)
        return tables.signing_key(row) if row else None

    def get_signing_key(self, kid: str) -> SigningKey | None:
        return self._select_key('kid = %s', (kid,))

    def get_primary_signing_key(self) -> SigningKey | None:
        return self._select_key('is_primary')

    def list_signing_keys(self) -> list[SigningKey]:
        rows = self._transaction(lambda cur: cur.execute(
            f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
            'ORDER BY created_at, kid').fetchall())
        return [tables.signing_key(row) for row in rows]

    @staticmethod
    def _lock_keys(cur: Cursor) -> None:
        # Serializes key changes across nodes; released at COMMIT.
        cur.execute('SELECT pg_advisory_xact_lock(%s)', (SIGNING_KEY_LOCK,))

    @staticmethod
    def _insert_primary(cur: Cursor, key: SigningKey,
                        if_none: bool = False) -> bool:
        cur.execute(
            'INSERT INTO signing_keys (kid, public_key, created_at, '
            'private_key, is_primary, retired_at) '
            'VALUES (%s, %s, %s, %s, TRUE, NULL)'
            + (' ON CONFLICT DO NOTHING' if if_none else ''),
            (key.kid, key.public_key, key.created_at, key.private_key))
        return cur.rowcount == 1

    def ensure_primary_signing_key(self, candidate: SigningKey) -> SigningKey:
        def work(cur: Cursor) -> SigningKey:
            self._lock_keys(cur)
            row = cur.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                              'WHERE is_primary').fetchone()
            if row:
                return tables.signing_key(row)
            # ON CONFLICT: safe even against a writer that skips the lock.
            if self._insert_primary(cur, candidate, if_none=True):
                return dataclasses.replace(candidate, is_primary=True)
            row = cur.execute(f'SELECT {tables.KEY_COLUMNS} FROM signing_keys '
                              'WHERE is_primary').fetchone()
            if row is None:
                raise errors.StorageUnavailable(
                    'No primary signing key could be stored')
            return tables.signing_key(row)
        return self._transaction(work)

    def add_primary_signing_key(self, key: SigningKey) -> None:
        def work(cur: Cursor) -> None:
            self._lock_keys(cur)
            cur.execute('UPDATE signing_keys SET is_primary = FALSE '
                        'WHERE is_primary')
            self._insert_primary(cur, key)
        self._transaction(work)

    def retire_unused_signing_keys(self, now: int) -> list[str]:
        def work(cur: Cursor) -> list[str]:
            self._lock_keys(cur)
            rows = cur.execute(
                'UPDATE signing_keys k SET private_key = NULL, '
                'retired_at = %(now)s WHERE NOT is_primary '
                'AND private_key IS NOT NULL AND NOT EXISTS ('
                ' SELECT 1 FROM tokens t WHERE t.kid = k.kid'
                ' AND t.revoked_at IS NULL'
                ' AND (t.expires_at IS NULL OR t.expires_at > %(now)s)) '
                'RETURNING kid', {'now': now}).fetchall()
            return sorted(row[0] for row in rows)
        return self._transaction(work)

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, workspace: Workspace) -> None:
        try:
            self._transaction(lambda cur: cur.execute(
                f'INSERT INTO workspaces ({tables.WORKSPACE_COLUMNS}) '
                'VALUES (%s, %s, %s, %s, %s)',
                (workspace.id, workspace.name, workspace.created_at,
                 workspace.description, workspace.owner)))
        except pg_errors.UniqueViolation:
            raise errors.WorkspaceExists(
                f"A workspace named '{workspace.name}' already exists",
                {'workspace_name': workspace.name}) from None

    def _select_workspace(self, column: str,
                          value: str) -> Workspace | None:
        row = self._transaction(lambda cur: cur.execute(
            f'SELECT {tables.WORKSPACE_COLUMNS} FROM workspaces '
            f'WHERE {column} = %s', (value,)).fetchone())
        return Workspace(*row) if row else None

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        return self._select_workspace('id', workspace_id)

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        return self._select_workspace('name', name)

    def list_workspaces(self, owner: object = ALL_OWNERS) -> list[Workspace]:
        query = f'SELECT {tables.WORKSPACE_COLUMNS} FROM workspaces'
        params: tuple = ()
        if owner is None:
            query += ' WHERE owner IS NULL'
        elif owner is not ALL_OWNERS:
            query += ' WHERE owner = %s'
            params = (owner,)
        rows = self._transaction(lambda cur: cur.execute(
            query + ' ORDER BY name', params).fetchall())
        return [Workspace(*row) for row in rows]

    @staticmethod
    def _lock_workspace(cur: Cursor, workspace_id: str) -> None:
        """KEY SHARE lock the workspace row until COMMIT, so that it cannot
        be deleted meanwhile (raise WorkspaceNotFound)."""
        if not cur.execute('SELECT 1 FROM workspaces WHERE id = %s '
                           'FOR KEY SHARE', (workspace_id,)).fetchone():
            raise errors.WorkspaceNotFound(
                details={'workspace_id': workspace_id})

    def delete_workspace(self, workspace_id: str, now: int) -> int:
        def work(cur: Cursor) -> int:
            # The DELETE comes first: it waits for every issue and revoke
            # holding the workspace row (KEY SHARE); those that come later
            # wait for this transaction and then find the row gone. Only
            # then are the tokens revoked, by a statement whose snapshot
            # sees every token those issues committed.
            #
            # Not 'SELECT ... FOR UPDATE' first, as this once did:
            # PostgreSQL (seen on 15.18) can grant FOR KEY SHARE to an
            # issue that read the row while other issues held it, just as
            # a waiting FOR UPDATE takes it, and both then hold the row:
            # heap_lock_tuple's KEY SHARE fast path re-checks for an
            # update or delete, not for a new FOR UPDATE lock. That issue
            # inserted its token after the revoking UPDATE below, leaving
            # it live in a deleted workspace. A DELETE is what the
            # re-check does catch, as foreign keys rely on.
            if cur.execute('DELETE FROM workspaces WHERE id = %s',
                           (workspace_id,)).rowcount != 1:
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
            revoked = cur.execute(
                'UPDATE tokens SET revoked_at = %s WHERE workspace_id = %s '
                'AND revoked_at IS NULL', (now, workspace_id)).rowcount
            cur.execute('DELETE FROM idempotency_keys '
                        'WHERE workspace_id = %s', (workspace_id,))
            return revoked
        return self._transaction(work)

    # -- tokens -----------------------------------------------------------
    @staticmethod
    def _insert_token(cur: Cursor, record: TokenRecord) -> None:
        cur.execute(
            f'INSERT INTO tokens ({tables.TOKEN_COLUMNS}) '
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            (record.jti, record.workspace_id, record.created_at,
             record.expires_at, record.kid, record.scope, record.description,
             record.revoked_at))

    def add_token(self, record: TokenRecord,
                  idempotency_key: str | None = None, *,
                  idempotency_since: int = 0) -> tuple[TokenRecord, bool]:
        def work(cur: Cursor) -> tuple[TokenRecord, bool]:
            self._lock_workspace(cur, record.workspace_id)
            if idempotency_key is not None:
                replayed = self._claim_idempotency_key(
                    cur, record, idempotency_key, idempotency_since)
                if replayed is not None:
                    return replayed, True
            self._insert_token(cur, record)
            return record, False
        return self._transaction(work)

    def _claim_idempotency_key(self, cur: Cursor, record: TokenRecord,
                               key: str, since: int) -> TokenRecord | None:
        """Make ``key`` name ``record`` unless it names a token stored at or
        after ``since``; return that token, or None when claimed.

        One statement decides: a new key is inserted, a stale one taken
        over, a fresh one left alone. A node issuing with the same key
        concurrently holds the row until it commits; this one waits and
        then sees its token.
        """
        params = {'ws': record.workspace_id, 'key': key, 'jti': record.jti,
                  'created': record.created_at, 'since': since}
        claimed = cur.execute(
            'INSERT INTO idempotency_keys AS i (workspace_id, '
            'idempotency_key, jti, created_at) '
            'VALUES (%(ws)s, %(key)s, %(jti)s, %(created)s) '
            'ON CONFLICT (workspace_id, idempotency_key) DO UPDATE '
            'SET jti = EXCLUDED.jti, created_at = EXCLUDED.created_at '
            'WHERE i.created_at < %(since)s RETURNING jti',
            params).fetchone()
        if claimed:
            return None
        row = cur.execute(
            f'SELECT {tables.TOKEN_COLUMNS} FROM tokens WHERE jti = ('
            ' SELECT jti FROM idempotency_keys'
            ' WHERE workspace_id = %(ws)s AND idempotency_key = %(key)s)',
            params).fetchone()
        if row:
            return tables.token(row)
        # The key names a token that is gone: claim it for this one.
        cur.execute('UPDATE idempotency_keys SET jti = %(jti)s, '
                    'created_at = %(created)s WHERE workspace_id = %(ws)s '
                    'AND idempotency_key = %(key)s', params)
        return None

    def add_tokens(self, records: typing.Iterable[TokenRecord]) -> int:
        records = list(records)

        def work(cur: Cursor) -> int:
            cur.executemany(
                f'INSERT INTO tokens ({tables.TOKEN_COLUMNS}) '
                'VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
                [(r.jti, r.workspace_id, r.created_at, r.expires_at, r.kid,
                  r.scope, r.description, r.revoked_at) for r in records])
            return len(records)
        return self._transaction(work)

    def get_token(self, jti: str) -> TokenRecord | None:
        row = self._transaction(lambda cur: cur.execute(
            f'SELECT {tables.TOKEN_COLUMNS} FROM tokens WHERE jti = %s',
            (jti,)).fetchone())
        return tables.token(row) if row else None

    def list_tokens(self, workspace_id: str, *, now: int,
                    include_expired: bool = False,
                    include_revoked: bool = False,
                    after: Position | None = None,
                    limit: int = 100) -> list[TokenRecord]:
        wanted = tables.status_filter(include_expired, include_revoked,
                                    lambda name: f'%({name})s')
        query = (f'SELECT {tables.TOKEN_COLUMNS} FROM tokens '
                 f'WHERE workspace_id = %(ws)s AND {wanted}')
        params: dict = {'ws': workspace_id, 'now': now, 'limit': limit}
        if after is not None:
            # Keyset pagination, as in the SQLite store.
            query += (' AND (created_at, jti) > '
                      '(%(after_created)s, %(after_jti)s)')
            params['after_created'], params['after_jti'] = after
        query += ' ORDER BY created_at, jti LIMIT %(limit)s'
        rows = self._transaction(
            lambda cur: cur.execute(query, params).fetchall())
        return [tables.token(row) for row in rows]

    def revoke_token(self, workspace_id: str, jti: str,
                     now: int) -> tuple[TokenRecord, bool]:
        def work(cur: Cursor) -> tuple[TokenRecord, bool]:
            self._lock_workspace(cur, workspace_id)
            # One conditional UPDATE: of concurrent revokes exactly one
            # matches; the others wait for it, then match nothing.
            row = cur.execute(
                f'UPDATE tokens SET revoked_at = %s WHERE jti = %s '
                f'AND workspace_id = %s AND revoked_at IS NULL '
                f'RETURNING {tables.TOKEN_COLUMNS}',
                (now, jti, workspace_id)).fetchone()
            if row:
                return tables.token(row), False
            row = cur.execute(
                f'SELECT {tables.TOKEN_COLUMNS} FROM tokens '
                'WHERE jti = %s AND workspace_id = %s',
                (jti, workspace_id)).fetchone()
            if row is None:
                raise errors.TokenNotFound(
                    f"Token with JTI '{jti}' not found", {'jti': jti})
            return tables.token(row), True
        return self._transaction(work)

    def purge_idempotency_keys(self, before: int) -> int:
        return self._transaction(lambda cur: cur.execute(
            'DELETE FROM idempotency_keys WHERE created_at < %s',
            (before,)).rowcount)

    # -- users ------------------------------------------------------------
    def create_user(self, user: User) -> None:
        try:
            self._transaction(lambda cur: cur.execute(
                f'INSERT INTO users ({tables.USER_COLUMNS}) '
                'VALUES (%s, %s, %s, %s)',
                (user.id, user.name, user.created_at,
                 user.credential_hash)))
        except pg_errors.UniqueViolation:
            raise errors.UserExists(
                f"A user named '{user.name}' already exists",
                {'user_name': user.name}) from None

    def _one_user(self, column: str, value: str) -> User | None:
        row = self._transaction(lambda cur: cur.execute(
            f'SELECT {tables.USER_COLUMNS} FROM users WHERE {column} = %s',
            (value,)).fetchone())
        return User(*row) if row else None

    def get_user(self, user_id: str) -> User | None:
        return self._one_user('id', user_id)

    def get_user_by_name(self, name: str) -> User | None:
        return self._one_user('name', name)

    def get_user_by_credential_hash(self, credential_hash: str
                                    ) -> User | None:
        return self._one_user('credential_hash', credential_hash)

    def list_users(self) -> list[User]:
        rows = self._transaction(lambda cur: cur.execute(
            f'SELECT {tables.USER_COLUMNS} FROM users '
            'ORDER BY name').fetchall())
        return [User(*row) for row in rows]
