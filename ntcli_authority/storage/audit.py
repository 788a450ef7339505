"""The store's audit trail: events recorded, listed and purged.

No column holds a token, credential or key. A change records its event in
its own transaction (:func:`~ntcli_authority.storage.queries.append_event`).
"""

from __future__ import annotations

import typing

from ntcli_authority.models import AuditEvent
from ntcli_authority.storage.queries import Queries, append_event
from ntcli_authority.storage.schema import EVENT_COLUMNS


def _event(row: tuple) -> AuditEvent:
    """An AuditEvent from a row of ``id, EVENT_COLUMNS``."""
    return AuditEvent(*row[1:]).replace(id=row[0])


class AuditTrail(Queries):
    """The audit trail."""

    def record_event(self, event: AuditEvent) -> None:
        """Record an event that goes with no change (a refused credential)."""
        self._write(lambda tx: append_event(tx, event))

    def list_events(self, *, workspace_id: str | None = None,
                    since: int | None = None,
                    actions: typing.Collection[str] = (),
                    after_id: int | None = None,
                    limit: int = 100) -> list[AuditEvent]:
        """Up to ``limit`` events in the order they were recorded, after
        ``after_id``: of one workspace, at or after ``since``, of some
        actions, as asked."""
        where: list[str] = []
        params: dict[str, object] = {'limit': limit}
        if workspace_id is not None:
            where.append('workspace_id = :ws')
            params['ws'] = workspace_id
        if since is not None:
            where.append('at >= :since')
            params['since'] = since
        if actions:
            names = [f'action{i}' for i in range(len(actions))]
            where.append(f'action IN ({", ".join(":" + n for n in names)})')
            params.update(zip(names, actions, strict=True))
        if after_id is not None:
            where.append('id > :after')
            params['after'] = after_id
        query = (f'SELECT id, {EVENT_COLUMNS} FROM audit_events'
                 + (' WHERE ' + ' AND '.join(where) if where else '')
                 + ' ORDER BY id LIMIT :limit')
        rows = self._query(lambda tx: tx.all(query, **params))
        return [_event(row) for row in rows]

    def purge_events(self, before: int, limit: int) -> int:
        # A bounded batch: a short write lock, however old the trail.
        """Delete up to ``limit`` of the oldest events recorded before
        ``before``; return how many."""
        return self._write(lambda tx: tx.count(
            'DELETE FROM audit_events WHERE id IN ('
            ' SELECT id FROM audit_events WHERE at < :before'
            ' ORDER BY id LIMIT :limit)', before=before, limit=limit))
