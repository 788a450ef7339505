"""Where the authority keeps its state: the TokenStore.

A store keeps workspaces, token metadata (never token values), signing
keys, users, idempotency keys and the audit trail, in a SQLite or
PostgreSQL database (the :class:`~ntcli_authority.storage.dialect.Dialect`
says which). Every method is one transaction: a change, or a read of
several statements, runs between one BEGIN and COMMIT, and a read of one
statement alone (a single statement is a transaction of its own); methods
that change state take the current time from the caller (the authority's
clock).

Methods that change state take ``audit``, the event that records the
change, and store it in the same transaction: if the event cannot be
written, the change is not made either.

Reads return None for a missing row; writes raise the
:mod:`ntcli_authority.errors` classes named in their docstrings; any
database failure is raised as
:class:`ntcli_authority.errors.StorageUnavailable`.

The methods are written in one module per kind of row (signing keys,
workspaces, tokens, trust policies, users, the audit trail, the copy);
:class:`TokenStore` is all of them on one database.
"""

from __future__ import annotations

from ntcli_authority.storage import schema
from ntcli_authority.storage.audit import AuditTrail
from ntcli_authority.storage.changes import ChangeFeed
from ntcli_authority.storage.dialect import Dialect
from ntcli_authority.storage.dump import Dump
from ntcli_authority.storage.policies import TrustPolicies
from ntcli_authority.storage.signing_keys import SigningKeys
from ntcli_authority.storage.tokens import Tokens
from ntcli_authority.storage.users import Users
from ntcli_authority.storage.workspaces import Workspaces


class TokenStore(SigningKeys, Workspaces, Tokens, TrustPolicies, Users,
                 AuditTrail, Dump):
    """The token authority's state, on the database a dialect speaks to
    (open one with :func:`ntcli_authority.storage.open_store`)."""

    def __init__(self, dialect: Dialect) -> None:
        """Use ``dialect``'s database, migrating its schema if needed;
        the store owns the dialect (and closes it)."""
        self.dialect = dialect
        #: Whether opening this store created its database (a new SQLite
        #: file).
        self.created = dialect.created
        try:
            schema.migrate(dialect)
        except BaseException:
            dialect.close()
            raise

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._query(schema.current_version)

    def token_changes(self) -> ChangeFeed:
        """What says whether token rows read before may have changed (see
        Dialect.token_changes)."""
        return self.dialect.token_changes()

    def close(self) -> None:
        """Release the connection; the store is not used afterwards."""
        self.dialect.close()
