"""``/v1/workspaces``: workspaces, created, listed and deleted by users."""

from __future__ import annotations

import falcon

from ntcli_authority.models import Workspace
from ntcli_core import timefmt
from ntcli_server.api import Resource, origin
from ntcli_server.parsing import NULL, Fields, read_body


def workspace_json(workspace: Workspace, *, full: bool = False) -> dict:
    body = {'workspace_id': workspace.id, 'workspace_name': workspace.name,
            'created': timefmt.iso(workspace.created_at)}
    if full:
        body['description'] = workspace.description
    return body



class WorkspacesResource(Resource):
    """``/v1/workspaces``: create and list workspaces (users only)."""

    FIELDS: Fields = {'name': (str,), 'description': (str, NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS, required=('name',))
        workspace = self.api.authority.create_workspace(
            principal, body['name'], body.get('description'),
            origin=origin(req))
        resp.status = falcon.HTTP_201
        resp.media = workspace_json(workspace, full=True)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        workspaces = self.api.authority.list_workspaces(self.api.caller(req))
        resp.media = {'workspaces': [workspace_json(w) for w in workspaces],
                      'total': len(workspaces)}


class WorkspaceResource(Resource):
    """``/v1/workspaces/{id}``: delete a workspace and revoke its tokens."""

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str) -> None:
        revoked = self.api.authority.delete_workspace(
            self.api.caller(req), workspace_id, origin=origin(req))
        resp.media = {'workspace_id': workspace_id, 'status': 'deleted',
                      'tokens_revoked': revoked}

