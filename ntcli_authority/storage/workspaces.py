"""The store's workspaces, and how deleting one ends its tokens.

Issuing and revoking hold the workspace row
(:func:`~ntcli_authority.storage.queries.hold_workspace`), and deleting a
workspace deletes that row before it revokes the workspace's tokens: the
DELETE waits for every issue and revoke in flight there, and those that
come later find the workspace gone (see delete_workspace for why it is the
DELETE, not a FOR UPDATE lock).
"""

from __future__ import annotations

from ntcli_authority import errors
from ntcli_authority.models import AuditEvent, Workspace
from ntcli_authority.storage.dialect import Transaction
from ntcli_authority.storage.queries import Queries, append_event
from ntcli_authority.storage.schema import NOT_REVOKED, WORKSPACE_COLUMNS

#: ``list_workspaces`` owner filter meaning "every owner".
ALL_OWNERS = object()


class Workspaces(Queries):
    """Workspaces: created, found, listed, deleted."""

    def create_workspace(self, workspace: Workspace,
                         audit: AuditEvent | None = None) -> None:
        """Add a workspace. Raises WorkspaceExists for a taken name."""
        self._insert_new(
            f'INSERT INTO workspaces ({WORKSPACE_COLUMNS}) '
            'VALUES (:id, :name, :created_at, :description, :owner)',
            workspace.as_dict(), errors.WorkspaceExists(
                f"A workspace named '{workspace.name}' already exists",
                {'workspace_name': workspace.name}), audit)

    def _select_workspace(self, column: str,
                          value: str) -> Workspace | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {WORKSPACE_COLUMNS} FROM workspaces '
            f'WHERE {column} = :value', value=value))
        return Workspace(*row) if row else None

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        """The workspace with this id."""
        return self._select_workspace('id', workspace_id)

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        """The workspace with this name."""
        return self._select_workspace('name', name)

    def list_workspaces(self, owner: object = ALL_OWNERS) -> list[Workspace]:
        """Workspaces of ``owner`` (a user id, None for the local owner, or
        ALL_OWNERS), by name."""
        query = f'SELECT {WORKSPACE_COLUMNS} FROM workspaces'
        params = {}
        if owner is None:
            query += ' WHERE owner IS NULL'
        elif owner is not ALL_OWNERS:
            query += ' WHERE owner = :owner'
            params['owner'] = owner
        rows = self._query(lambda tx: tx.all(query + ' ORDER BY name',
                                            **params))
        return [Workspace(*row) for row in rows]

    def delete_workspace(self, workspace_id: str, now: int,
                         audit: AuditEvent | None = None) -> int:
        """Revoke the workspace's live tokens (revoked_at = now, retiring
        ones included), drop its
        idempotency keys, delete it; return how many tokens were revoked
        (``audit`` is recorded with that number as detail).
        Token rows stay so that their tokens are reported as revoked.
        Raises WorkspaceNotFound."""
        def work(tx: Transaction) -> int:
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
            if tx.count('DELETE FROM workspaces WHERE id = :ws',
                        ws=workspace_id) != 1:
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
            revoked = tx.count(
                'UPDATE tokens SET revoked_at = :now '
                f'WHERE workspace_id = :ws AND {NOT_REVOKED}',
                now=now, ws=workspace_id)
            tx.execute('DELETE FROM idempotency_keys WHERE workspace_id = :ws',
                       ws=workspace_id)
            tx.execute('DELETE FROM trust_policies WHERE workspace_id = :ws',
                       ws=workspace_id)
            if audit is not None:
                append_event(tx, audit.replace(
                    detail=f'tokens_revoked={revoked}'))
            return revoked
        return self._write(work)
