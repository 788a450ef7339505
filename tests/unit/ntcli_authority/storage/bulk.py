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

if typing.TYPE_CHECKING:
    from ntcli_authority.authority import Authority

#: The columns of the tokens table from schema version 5 to 8, before
#: token digests (migration 9).
COLUMNS_BEFORE_DIGESTS = ('jti', 'workspace_id', 'created_at', 'expires_at',
                          'kid', 'scope', 'description', 'revoked_at',
                          'retires_at')


def insert_tokens(store: TokenStore, records: typing.Iterable[TokenRow]
                  ) -> int:
    """Store ``records`` as they are, in one transaction; return how
    many."""
    return _insert(store, INSERT_TOKEN,
                   [record.as_dict() for record in records])


def insert_tokens_before_digests(store: TokenStore,
                                 records: typing.Iterable[TokenRow]) -> int:
    """Store ``records`` as an ntcli before token digests did (on a
    database of schema version 5 to 8, or without their digests on a later
    one); return how many."""
    names = COLUMNS_BEFORE_DIGESTS
    return _insert(
        store, f'INSERT INTO tokens ({", ".join(names)}) VALUES ('
        + ', '.join(f':{name}' for name in names) + ')',
        [{name: getattr(record, name) for name in names}
         for record in records])


def issue_tokens(authority: Authority, records: typing.Sequence[TokenRow]
                 ) -> list[str]:
    """Sign ``records`` with the primary key (their ``kid`` is set to it)
    and store them with their digests, as issuing them would; return
    their tokens."""
    key, private = authority.keys.primary()
    signed = [authority.keys.sign(record.replace(kid=key.kid), private)
              for record in records]
    insert_tokens(authority.store, [record for _, record in signed])
    return [token for token, _ in signed]


def _insert(store: TokenStore, statement: str, rows: list[dict]) -> int:
    def work(tx: Transaction) -> None:
        tx.many(statement, rows)
        if isinstance(store.dialect, postgres.PostgresDialect):
            # Until autovacuum gets to it, the planner judges a workspace
            # just filled by its old size (benchmarks/RESULTS.md).
            tx.execute('ANALYZE tokens')

    store.dialect.transaction(work, write=True)
    return len(rows)
