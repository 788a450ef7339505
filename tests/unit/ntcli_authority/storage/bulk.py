"""Many token rows written in one transaction, as the tests fill a
database (the product issues tokens one at a time, through the
authority)."""

from __future__ import annotations

import typing

from ntcli_authority.models import TokenRow
from ntcli_authority.storage import postgres
from ntcli_authority.storage.dialect import Transaction
from ntcli_authority.storage.store import TokenStore
from ntcli_authority.storage.tokens import INSERT_TOKEN


def insert_tokens(store: TokenStore, records: typing.Iterable[TokenRow]
                  ) -> int:
    """Store ``records`` as they are, in one transaction; return how
    many."""
    rows = [record.as_dict() for record in records]

    def work(tx: Transaction) -> None:
        tx.many(INSERT_TOKEN, rows)
        if isinstance(store.dialect, postgres.PostgresDialect):
            # Until autovacuum gets to it, the planner judges a workspace
            # just filled by its old size (benchmarks/RESULTS.md).
            tx.execute('ANALYZE tokens')

    store.dialect.transaction(work, write=True)
    return len(rows)
