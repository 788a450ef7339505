"""``/v1/workspaces/{id}/events``: a workspace's audit trail."""

from __future__ import annotations

import falcon

from ntcli_authority.models import AuditEvent
from ntcli_core import timefmt
from ntcli_server.api import Resource
from ntcli_server.parsing import query_int, query_time

DEFAULT_PAGE = 100                   # events


def event_json(event: AuditEvent) -> dict:
    return {'id': event.id, 'time': timefmt.iso(event.at),
            'action': event.action, 'outcome': event.outcome,
            'actor': event.actor, 'workspace_id': event.workspace_id,
            'target_jti': event.target_jti, 'client': event.client,
            'request_id': event.request_id, 'user_agent': event.user_agent,
            'detail': event.detail}



class EventsResource(Resource):
    """``/v1/workspaces/{id}/events``: the workspace's audit trail, oldest
    first, paged (its owner only)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        since = req.get_param('since')
        actions = req.get_param_as_list('action') or ()
        page = self.api.authority.list_events(
            principal, workspace_id,
            since=None if since is None else query_time('since', since),
            actions=tuple(actions),
            limit=query_int(req, 'limit', DEFAULT_PAGE),
            cursor=req.get_param('cursor') or None)
        resp.media = {'workspace_id': workspace_id,
                      'events': [event_json(e) for e in page.events],
                      'count': len(page.events),
                      'next_cursor': page.next_cursor}

