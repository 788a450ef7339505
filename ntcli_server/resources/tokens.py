"""``/v1/workspaces/{id}/tokens``: issue, list and revoke a workspace's
tokens.

Wire decisions (the NimbleTools management API's shapes):

* ``POST .../tokens`` without ``expires_in`` and ``expires_at`` issues a
  token for one year; a non-expiring token is asked for explicitly with
  ``"expires_in": null`` (or ``"expires_at": null``), and only a user may
  (a workspace token gets ``403 FORBIDDEN``). ``expires_at`` may be Unix
  seconds or an ISO-8601 time.
* A value the authority refuses (a bad name, a lifetime out of range) is
  ``400 INVALID_REQUEST``.
* Times are ISO-8601 UTC with ``Z``, except ``created_at`` in a token
  listing, which is Unix seconds as in the NimbleTools API.
"""

from __future__ import annotations

import falcon

from ntcli_authority.models import IssuedToken, TokenInfo
from ntcli_core import timefmt
from ntcli_core.lifetimes import DEFAULT_LIFETIME
from ntcli_server.api import Resource, TokenAPI, origin
from ntcli_server.parsing import (
    NULL,
    Fields,
    query_flag,
    query_int,
    read_body,
    unix_time,
)


def issued_json(issued: IssuedToken) -> dict:
    lifetime = None if issued.expires_at is None else \
        issued.expires_at - issued.created_at
    return {'access_token': issued.token, 'token_type': 'Bearer',
            'expires_in': lifetime,
            'expires_at': timefmt.iso(issued.expires_at),
            'scope': list(issued.scope), 'jti': issued.jti,
            'workspace_id': issued.workspace_id,
            'created_at': timefmt.iso(issued.created_at)}


def token_json(info: TokenInfo) -> dict:
    return {'jti': info.jti, 'created_at': info.created_at,
            'expires_at': timefmt.iso(info.expires_at),
            'status': info.status, 'description': info.description,
            'revoked_at': timefmt.iso(info.revoked_at),
            'scope': list(info.scope)}



class TokensResource(Resource):
    """``/v1/workspaces/{id}/tokens``: issue and list tokens."""

    FIELDS: Fields = {'expires_in': (int, NULL),
                      'expires_at': (int, str, NULL),
                      'scope': (list, str, NULL),
                      'description': (str, NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS)
        if 'expires_in' in body or 'expires_at' in body:
            expires_in = body.get('expires_in')
            expires_at = unix_time('expires_at', body.get('expires_at'))
        else:
            expires_in, expires_at = DEFAULT_LIFETIME, None
        issued = self.api.authority.issue(
            principal, workspace_id, expires_in=expires_in,
            expires_at=expires_at, description=body.get('description'),
            scope=body.get('scope'),
            idempotency_key=req.get_header('Idempotency-Key'),
            origin=origin(req))
        self.api.metrics.token_issued(issued.replayed)
        resp.status = falcon.HTTP_201
        if issued.replayed:
            resp.set_header('Idempotent-Replayed', 'true')
        resp.media = issued_json(issued)

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        include_expired = query_flag(req, 'include_expired')
        include_revoked = query_flag(req, 'include_revoked')
        # without a limit, every token: clients that know no cursor (the
        # NimbleTools CLI) would otherwise show a truncated list
        limit = query_int(req, 'limit', None)
        page = self.api.authority.list_tokens(
            principal, workspace_id, include_expired=include_expired,
            include_revoked=include_revoked, limit=limit,
            cursor=req.get_param('cursor') or None)
        resp.media = {'workspace_id': workspace_id,
                      'tokens': [token_json(t) for t in page.tokens],
                      'count': len(page.tokens),
                      'next_cursor': page.next_cursor}


def revoke(api: TokenAPI, req: falcon.Request, resp: falcon.Response,
           workspace_id: str, jti: str) -> None:
    """Revoke a token (idempotent), for either route that does it."""
    # ?grace=SECONDS: valid until then (a rotation without downtime);
    # clients that never send it (the NimbleTools CLI) revoke at once
    result = api.authority.revoke(api.caller(req), workspace_id, jti,
                                  grace=query_int(req, 'grace', None),
                                  origin=origin(req))
    api.metrics.token_revoked(result.already_revoked)
    resp.media = {'workspace_id': workspace_id, 'token_jti': jti,
                  'status': 'retiring' if result.retiring else 'revoked',
                  'revoked_at': timefmt.iso(result.revoked_at),
                  'already_revoked': result.already_revoked}


class TokenResource(Resource):
    """``/v1/workspaces/{id}/tokens/{jti}``: revoke a token (idempotent)."""

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str, jti: str) -> None:
        revoke(self.api, req, resp, workspace_id, jti)


class TokenRevokeResource(Resource):
    """``/v1/workspaces/{id}/tokens/{jti}/revoke``: the same revocation by
    POST, the way the NimbleTools CLI asks for it."""

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str, jti: str) -> None:
        revoke(self.api, req, resp, workspace_id, jti)

