"""The authority's audit trail: refusals recorded, events listed and
purged (every change records its own event, in its own transaction)."""

from __future__ import annotations

import re
import typing

from ntcli_authority import errors, models
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import LOCAL, Operations
from ntcli_authority.authority.checks import check_limit
from ntcli_authority.models import EventPage, Origin
from ntcli_core.redact import redact
from ntcli_core.terminal import quoted


class AuditTrail(Operations):
    """Operations on the audit trail."""

    def record_refusal(self, error: errors.AuthorityError, *,
                       origin: Origin | None = None,
                       workspace_id: str | None = None,
                       left_out: int = 0) -> None:
        """Record a refused credential: its error code and, for a genuine
        token, its JTI as the actor (never the credential itself);
        ``left_out``: refusals from the same client not recorded since its
        last event (see ntcli_server.refusals)."""
        jti = (error.details or {}).get('jti')
        detail = error.code
        if left_out:
            detail += f' (+{left_out} not recorded)'
        self.store.record_event(self._event(
            None, (origin or LOCAL).replace(actor=jti if isinstance(jti, str)
                                  else None),
            models.AUDIT_AUTH_REFUSED, outcome=models.OUTCOME_REFUSED,
            workspace_id=workspace_id, detail=detail))

    def list_events(self, principal: Principal,
                    workspace_id: str | None = None, *,
                    since: int | None = None,
                    actions: typing.Collection[str] = (),
                    limit: int = 100, cursor: str | None = None
                    ) -> EventPage:
        """One page of the audit trail, oldest first: of one workspace (it
        must exist) or all, at or after ``since``, of some actions."""
        if workspace_id is None:
            self._authorize(principal, Action.READ_ALL_EVENTS)
        else:
            self._authorize(principal, Action.READ_EVENTS, workspace_id)
        check_limit(limit)
        unknown = sorted(set(actions) - set(models.AUDIT_ACTIONS))
        if unknown:
            # The client's text: a few names, quoted, escaped and cut.
            shown = ', '.join(quoted(redact(name)) for name in unknown[:3])
            if len(unknown) > 3:
                shown += f' and {len(unknown) - 3} more'
            raise errors.InvalidRequest(
                f'Unknown action(s): {shown} (known: '
                f"{', '.join(models.AUDIT_ACTIONS)})", {'field': 'action'})
        after = None
        if cursor:
            # ASCII digits only (str.isdigit takes '²' and '١'), and a
            # number the database's 64-bit ids can be compared with.
            if (not re.fullmatch('[0-9]{1,19}', cursor)
                    or int(cursor) >= 2 ** 63):
                raise errors.InvalidRequest('Invalid pagination cursor',
                                            {'field': 'cursor'})
            after = int(cursor)
        events = self.store.list_events(
            workspace_id=workspace_id, since=since, actions=actions,
            after_id=after, limit=limit + 1)
        more = len(events) > limit
        events = events[:limit]
        return EventPage(events=events,
                         next_cursor=str(events[-1].id) if more else None)

    def purge_events(self, principal: Principal, older_than_days: int, *,
                     batch: int = 1000) -> int:
        """Delete the events older than ``older_than_days``, a batch per
        transaction so that requests wait for no long lock; return how
        many."""
        self._authorize(principal, Action.PURGE)
        before = self.now() - older_than_days * 86400
        total = 0
        while True:
            deleted = self.store.purge_events(before, batch)
            total += deleted
            if deleted < batch:
                return total
