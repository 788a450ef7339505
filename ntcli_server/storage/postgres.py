"""The PostgreSQL dialect: one database shared by several server nodes.

Each store object owns one connection (a gunicorn worker owns one store).
Every transaction runs at READ COMMITTED; the store's queries get their
safety under concurrency from row locks (``FOR KEY SHARE`` on the
workspace row), conditional updates and upserts (see
:mod:`ntcli_server.storage.sql`), and from transaction-scoped advisory
locks that serialize schema migrations and signing-key changes.

A connection found dead is replaced and the transaction retried once; a
failure after COMMIT was sent is not retried, since its outcome is unknown.
"""

from __future__ import annotations

import functools
import re
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
from ntcli_server.storage.sql import Dialect, T, Transaction, one_line

CONNECT_TIMEOUT_SECONDS = 10
#: How long a statement waits for a row or advisory lock before the
#: request fails with StorageUnavailable instead of hanging.
LOCK_TIMEOUT = '60s'

# Advisory lock ids (64-bit, database-wide): 'ntcli' followed by a number.
ADVISORY_LOCKS = {'migrations': 0x6E74636C69000001,
                  'signing keys': 0x6E74636C69000002}


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


@functools.lru_cache(maxsize=512)
def _pyformat(statement: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s`` (``%`` doubled;
    ``::type`` casts left alone)."""
    return re.sub(r'(?<![:\w]):([A-Za-z_]\w*)', r'%(\1)s',
                  statement.replace('%', '%%'))


# Errors after which the server has rolled the transaction back.
_ROLLED_BACK = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected,
                pg_errors.TransactionRollback)


class _Retry(Exception):
    """Internal: the connection died before COMMIT; run the work again."""


class PostgresDialect(Dialect):
    """A PostgreSQL database, reached by a DSN."""

    error = psycopg.Error
    unique_violation = pg_errors.UniqueViolation
    share_lock = ' FOR KEY SHARE'
    ddl = {'timestamp': 'BIGINT', 'flag': 'BOOLEAN', 'false': 'FALSE',
           'is_primary': 'is_primary', 'bytewise_text': 'TEXT COLLATE "C"'}

    def __init__(self, dsn: str) -> None:
        # Refuse to start before touching the database: private keys of a
        # shared store are always encrypted (see signing.seal).
        signing.check_secret(required=True)
        self._dsn = dsn
        self.location = f'({describe_dsn(dsn)})'
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._connect()

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
                f'Cannot connect to the token database {self.location}: '
                f'{one_line(exc)}') from None
        self._conn = conn
        return conn

    def _unavailable(self, exc: BaseException) -> errors.StorageUnavailable:
        return errors.StorageUnavailable(
            f'The token database {self.location} failed: {one_line(exc)}')

    def sql(self, statement: str) -> str:
        return _pyformat(statement)

    def transaction(self, work: typing.Callable[[Transaction], T], *,
                    write: bool) -> T:
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

    def _attempt(self, work: typing.Callable[[Transaction], T], *,
                 retry_allowed: bool) -> T:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._connect()
        committing = False
        try:
            with conn.cursor() as cur:
                cur.execute('BEGIN ISOLATION LEVEL READ COMMITTED')
                try:
                    result = work(Transaction(cur, self))
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
                        f'The token database {self.location} went away '
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

    def lock(self, tx: Transaction, name: str) -> None:
        # Released at COMMIT or ROLLBACK.
        tx.execute('SELECT pg_advisory_xact_lock(:id)',
                   id=ADVISORY_LOCKS[name])

    def close(self) -> None:
        with self._lock:
            self._drop_connection()
