"""``/v1/token_auth`` (the target of an ingress ``auth_request``) and
``/v1/whoami``: who a credential stands for."""

from __future__ import annotations

import functools
import json

import falcon

from ntcli_authority import access
from ntcli_core import timefmt
from ntcli_server import ingress
from ntcli_server.api import Resource
from ntcli_server.parsing import bearer


@functools.lru_cache(maxsize=1024)
def _valid_answer(workspace_id: str, jti: str, scope: tuple[str, ...],
                  expires_at: int | None, retires_at: int | None) -> bytes:
    """The body of a 200 from /v1/token_auth, as Falcon's JSON media would
    write it: the same for every validation of a token, so it is written
    once (what that saves: benchmarks/RESULTS.md). A retiring token's answer
    adds ``revoked_at``, the end of its grace period."""
    body: dict[str, object] = {'valid': True, 'workspace_id': workspace_id,
                               'jti': jti, 'scope': list(scope),
                               'expires_at': timefmt.iso(expires_at)}
    if retires_at is not None:
        body['revoked_at'] = timefmt.iso(retires_at)
    return json.dumps(body, ensure_ascii=False).encode('utf-8')


class TokenAuthResource(Resource):
    """``/v1/token_auth``: the target of an ingress ``auth_request``.

    200 for a valid bearer token, 401 otherwise. With ``X-Original-URL``
    and ``X-Original-Method`` (see ntcli_server.ingress) also 403 when the
    URL is another workspace's or the token lacks the scope the request
    needs. A 200 tells the upstream who calls: ``X-Workspace-Id``,
    ``X-Token-Jti`` and ``X-Token-Scope`` (space-separated).
    """

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.api.validation():
            valid = self.api.authority.validate(bearer(req))
            target = ingress.target(req.get_header('X-Original-URL'),
                                    req.get_header('X-Original-Method'))
            if target is not None:
                access.check_request(valid.scope, valid.workspace_id,
                                     target)
        resp.set_header('X-Workspace-Id', valid.workspace_id)
        resp.set_header('X-Token-Jti', valid.jti)
        resp.set_header('X-Token-Scope', ' '.join(valid.scope))
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _valid_answer(valid.workspace_id, valid.jti,
                                  valid.scope, valid.expires_at,
                                  valid.retires_at)

    on_post = on_get


class WhoAmIResource(Resource):
    """``/v1/whoami``: who the bearer credential stands for."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        resp.media = {'kind': principal.kind, 'user_id': principal.user_id,
                      'user_name': principal.user_name,
                      'workspace_id': principal.workspace_id,
                      'jti': principal.jti}
