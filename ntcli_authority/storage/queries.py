"""What every group of the store's queries builds on.

:class:`Queries` holds the dialect and runs each method of the store as
one transaction; the functions below are the steps several groups take
inside their transactions: recording an audit event with the change it
records, and holding the rows an issue must not see vanish before it
commits (the workspace, the primary signing key).
"""

from __future__ import annotations

import typing

from ntcli_authority import errors
from ntcli_authority.models import AuditEvent
from ntcli_authority.storage.dialect import (
    SIGNING_KEY_LOCK,
    Dialect,
    T,
    Transaction,
)
from ntcli_authority.storage.schema import EVENT_COLUMNS


class PrimaryKeyChanged(Exception):
    """A token to store names a signing key that is no longer the primary
    (a rotation or retirement committed since it was read): sign it with
    the primary read again."""


class Queries:
    """The base of each group of the store's queries: the dialect they run
    on, one transaction per method."""

    dialect: Dialect

    def _read(self, work: typing.Callable[[Transaction], T]) -> T:
        """A read of several statements, in one transaction."""
        return self.dialect.transaction(work, write=False)

    def _query(self, work: typing.Callable[[Transaction], T]) -> T:
        """A read of one statement (see Dialect.statement)."""
        return self.dialect.statement(work)

    def _write(self, work: typing.Callable[[Transaction], T]) -> T:
        """A change, in one transaction."""
        return self.dialect.transaction(work, write=True)

    def _insert_new(self, statement: str, row: dict,
                    taken: errors.AuthorityError,
                    audit: AuditEvent | None) -> None:
        """Insert ``row`` and record ``audit``; raise ``taken`` when a
        unique value is taken."""
        def work(tx: Transaction) -> None:
            tx.execute(statement, **row)
            append_event(tx, audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            raise taken from None


def append_event(tx: Transaction, event: AuditEvent | None) -> None:
    """Add ``event`` to the audit trail, in the transaction of the change
    it records."""
    if event is None:
        return
    params = event.as_dict()
    del params['id']
    tx.execute(f'INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES ('
               + ', '.join(f':{name}' for name in params) + ')', **params)


def hold_workspace(tx: Transaction, dialect: Dialect,
                   workspace_id: str) -> None:
    """Keep the workspace row from being deleted until COMMIT (raise
    WorkspaceNotFound)."""
    if not tx.one('SELECT 1 FROM workspaces WHERE id = :id'
                  + dialect.share_lock, id=workspace_id):
        raise errors.WorkspaceNotFound(
            details={'workspace_id': workspace_id})


def hold_primary(tx: Transaction, dialect: Dialect, kid: str) -> None:
    """Hold the signing keys (shared: issues do not wait for each other)
    until COMMIT, and make sure ``kid`` is still the primary: a rotation
    or retirement waits for this issue, and an issue that comes after one
    never stores a token of the key it replaced. Raises
    PrimaryKeyChanged."""
    dialect.lock(tx, SIGNING_KEY_LOCK, shared=True)
    primary = tx.one('SELECT kid FROM signing_keys WHERE {is_primary}'
                     .format(**dialect.ddl))
    # (No primary at all: a store used without an authority.)
    if primary is not None and primary[0] != kid:
        raise PrimaryKeyChanged(kid)
