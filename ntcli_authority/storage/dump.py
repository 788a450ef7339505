"""A copy of the store: every row of every table, dumped and loaded.

``ntcli-server db copy`` (:mod:`ntcli_authority.dbcopy`) moves a database
between SQLite and PostgreSQL with these.
"""

from __future__ import annotations

import typing

from ntcli_authority import errors
from ntcli_authority.storage.dialect import SIGNING_KEY_LOCK, Transaction
from ntcli_authority.storage.queries import Queries
from ntcli_authority.storage.schema import (
    EVENT_COLUMNS,
    IDEMPOTENCY_COLUMNS,
    IDENTITY_COLUMNS,
    KEY_COLUMNS,
    POLICY_COLUMNS,
    SESSION_COLUMNS,
    SUBJECT_COLUMNS,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    WORKSPACE_COLUMNS,
)

#: What a copy of the database carries (:meth:`Dump.dump`): each
#: table, its columns and the order its rows are read and written in
#: (audit events keep their order; their ids are the target's own).
COPIED_TABLES = (
    ('users', USER_COLUMNS, 'id'),
    ('workspaces', WORKSPACE_COLUMNS, 'id'),
    ('signing_keys', KEY_COLUMNS, 'created_at, kid'),
    ('tokens', TOKEN_COLUMNS, 'created_at, jti'),
    ('idempotency_keys', IDEMPOTENCY_COLUMNS,
     'workspace_id, idempotency_key'),
    ('audit_events', EVENT_COLUMNS, 'id'),
    ('trust_policies', POLICY_COLUMNS, 'id'),
    ('exchanged_subject_tokens', SUBJECT_COLUMNS, 'digest'),
    ('identities', IDENTITY_COLUMNS, 'issuer, subject'),
    ('sessions', SESSION_COLUMNS, 'id'),
)


class Dump(Queries):
    """Every row of the database, out and in."""

    def dump(self) -> dict[str, list[dict]]:
        """Every row of every table of COPIED_TABLES, read in one
        transaction (a consistent snapshot)."""
        def work(tx: Transaction) -> dict[str, list[dict]]:
            tables = {}
            for table, columns, order in COPIED_TABLES:
                names = columns.split(', ')
                tables[table] = [
                    dict(zip(names, row, strict=True)) for row in tx.all(
                        f'SELECT {columns} FROM {table} ORDER BY {order}')]
            for row in tables['signing_keys']:
                row['is_primary'] = bool(row['is_primary'])
            return tables
        return self._read(work)

    def load(self, tables: typing.Mapping[str, list[dict]], *,
             replace: bool = False) -> None:
        """Write rows of :meth:`dump` in one transaction. Raises
        DatabaseNotEmpty when this database holds anything, unless
        ``replace``: then everything in it is deleted first."""
        def work(tx: Transaction) -> None:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            held = self._counts(tx)
            if any(held.values()):
                if not replace:
                    raise errors.DatabaseNotEmpty(details=held)
                for table, _, _ in reversed(COPIED_TABLES):
                    tx.execute(f'DELETE FROM {table}')
            for table, columns, _ in COPIED_TABLES:
                rows = tables.get(table) or []
                if rows:
                    names = columns.split(', ')
                    tx.many(f'INSERT INTO {table} ({columns}) VALUES ('
                            + ', '.join(f':{n}' for n in names) + ')',
                            [{n: row[n] for n in names} for row in rows])
        self._write(work)

    def row_counts(self) -> dict[str, int]:
        """How many rows each table of COPIED_TABLES holds."""
        return self._read(self._counts)

    @staticmethod
    def _counts(tx: Transaction) -> dict[str, int]:
        return {table: tx.all(f'SELECT COUNT(*) FROM {table}')[0][0]
                for table, _, _ in COPIED_TABLES}
