"""How the store speaks to a database: transactions and dialects.

What differs between SQLite and PostgreSQL is a :class:`Dialect`: how a
placeholder, a column type and a row lock are spelled, how a transaction
is run (and, on PostgreSQL, retried), and how schema and signing-key
changes are serialized across processes. Queries use ``:name``
placeholders and SQL both databases run alike; upserts need SQLite 3.24.

Every method of the store (:mod:`ntcli_authority.storage.store`) is one
transaction run by its dialect.
"""

from __future__ import annotations

import abc
import typing

T = typing.TypeVar('T')

#: Names of the dialect's cross-process locks (Dialect.lock).
MIGRATION_LOCK = 'migrations'
SIGNING_KEY_LOCK = 'signing keys'


def one_line(exc: BaseException) -> str:
    """A one-line reason from a driver error (neither driver puts a
    password in its messages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return '; '.join(lines) or type(exc).__name__


if typing.TYPE_CHECKING:
    from ntcli_authority.storage.changes import ChangeFeed

    # For type checkers only: creating a Protocol class costs about as
    # much as the rest of this module's import.
    class Cursor(typing.Protocol):
        """What a transaction needs of a DB-API cursor (or a sqlite3
        connection): ``execute`` returns an object with fetchone,
        fetchall and rowcount."""

        def execute(self, sql: str, params: typing.Any, /) -> typing.Any:
            ...

        def executemany(self, sql: str, params: typing.Any, /
                        ) -> typing.Any: ...


class Transaction:
    """The statements of one transaction, written with ``:name``
    placeholders and translated by the dialect."""

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(self, sql: str, **params: typing.Any) -> typing.Any:
        """Run one statement; return the driver's cursor."""
        return self._cursor.execute(self._dialect.sql(sql), params)

    def one(self, sql: str, **params: typing.Any) -> tuple | None:
        """The first row of a query, or None."""
        return self.execute(sql, **params).fetchone()

    def all(self, sql: str, **params: typing.Any) -> list[tuple]:
        """Every row of a query."""
        return self.execute(sql, **params).fetchall()

    def count(self, sql: str, **params: typing.Any) -> int:
        """Run a statement; return how many rows it changed."""
        return self.execute(sql, **params).rowcount

    def many(self, sql: str, rows: list[dict]) -> None:
        """Run one statement for each set of parameters."""
        self._cursor.executemany(self._dialect.sql(sql), rows)


class Dialect(abc.ABC):
    """How one kind of database is spoken to: SQL spelling, transactions
    and cross-process locks."""

    #: Where the database is, for messages: no password, ever.
    location: str
    #: Whether opening created the database (a new SQLite file).
    created: bool = False
    #: The driver's base exception, and its exception for a duplicate
    #: unique value.
    error: type[Exception]
    unique_violation: type[Exception]
    #: The clause that keeps a selected row from being deleted or its key
    #: changed until COMMIT (empty where a write transaction holds the
    #: whole database).
    share_lock: str
    #: The words MIGRATIONS use: timestamp, flag, false, is_primary (the
    #: primary-key index predicate), bytewise_text, serial_key (an integer
    #: primary key the database numbers, in insertion order), and
    #: token_change_signal: the statements that make the database signal
    #: each change of a token row (see :meth:`token_changes`).
    ddl: typing.Mapping[str, str | tuple[str, ...]]
    #: Whether text may hold NUL (SQLite's may, PostgreSQL's may not).
    holds_nul: bool = True

    def sql(self, statement: str) -> str:
        """``statement`` with this driver's placeholders."""
        return statement

    @abc.abstractmethod
    def transaction(self, work: typing.Callable[[Transaction], T], *,
                    write: bool) -> T:
        """Run ``work`` in one transaction and commit; roll back on any
        exception. Driver errors are raised as StorageUnavailable, except
        integrity errors (a duplicate key), which callers handle."""

    @abc.abstractmethod
    def statement(self, work: typing.Callable[[Transaction], T]) -> T:
        """Run ``work``, a read of exactly one statement, as a transaction
        of its own: without BEGIN and COMMIT, which are two more statements
        (on PostgreSQL two more round trips) for nothing, since a single
        statement reads one snapshot, committed changes up to its start.
        Driver errors are raised as StorageUnavailable."""

    @abc.abstractmethod
    def lock(self, tx: Transaction, name: str, *,
             shared: bool = False) -> None:
        """Hold the cross-process lock ``name`` until ``tx`` ends
        (``shared``: along with other shared holders, not an exclusive
        one)."""

    @abc.abstractmethod
    def token_changes(self) -> ChangeFeed:
        """What tells this process whether token rows it read may have
        changed since (made on first call, closed with the dialect)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""
