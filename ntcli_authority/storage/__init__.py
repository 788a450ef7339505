"""Where the token authority keeps its state: a SQLite or PostgreSQL
database behind one :class:`~ntcli_authority.storage.store.TokenStore`.

The package's modules: :mod:`~ntcli_authority.storage.store` (the store
and its contract), one module per kind of row (signing_keys, workspaces,
tokens, policies, users, audit, dump), :mod:`~ntcli_authority.storage.schema`
(tables and migrations), :mod:`~ntcli_authority.storage.dialect` (how a
transaction runs), :mod:`~ntcli_authority.storage.sqlite` and
:mod:`~ntcli_authority.storage.postgres` (the two databases) and
:mod:`~ntcli_authority.storage.green` (database work under gevent).

The PostgreSQL dialect is imported only when a PostgreSQL store is opened:
psycopg is an optional dependency (the ``postgres`` extra).
"""

from __future__ import annotations

from ntcli_authority.storage import sqlite
from ntcli_authority.storage.store import TokenStore


def open_store(target: str, *, create: bool = True,
               wait: float | None = None) -> TokenStore:
    """Open the store at ``target``: a PostgreSQL DSN
    (``postgresql://…``), or a SQLite path (``sqlite:///path`` or a plain
    path, ``:memory:`` for a throw-away database).

    ``create=False`` refuses a missing SQLite file (DatabaseMissing)
    instead of creating it; a PostgreSQL database must exist anyway.
    ``wait``: the longest one call may wait for the database (a lock, a
    busy connection, a slow statement) before StorageUnavailable; None:
    the dialect's default, for the CLI and the admin commands.
    """
    if target.startswith(('postgresql://', 'postgres://')):
        from ntcli_authority.storage import postgres
        return TokenStore(postgres.PostgresDialect(target, wait=wait))
    if target.startswith('sqlite://'):
        target = target[len('sqlite://'):]
    return TokenStore(sqlite.SQLiteDialect(target, create=create, wait=wait))
