"""The service's own routes: liveness (``/healthz``), readiness
(``/readyz``), the platform's health check (``/health``) and the OpenAPI
document (``/openapi.json``)."""

from __future__ import annotations

import falcon

from ntcli_core import timefmt
from ntcli_server import openapi
from ntcli_server.api import Resource

SERVICE_NAME = 'ntcli-server'


class HealthResource:
    """``/healthz``: 200 while this process serves requests (liveness),
    from memory: whatever the database does, this answers at once."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {'status': 'ok'}

    on_head = on_get


class ReadyResource(Resource):
    """``/readyz``: 200 while the database answers (readiness), else 503
    within the bound on database waits (``serve --db-wait``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.api.authority.store.schema_version()
        resp.media = {'status': 'ready'}

    on_head = on_get


class HealthCheckResource(Resource):
    """``/health``: the platform's health check, with what answers and
    when; 503 (the error envelope) while the database does not answer."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        authority = self.api.authority
        authority.store.schema_version()
        resp.media = {'status': 'healthy', 'version': openapi.release(),
                      'service': SERVICE_NAME,
                      'timestamp': timefmt.iso(authority.now())}


class OpenAPIResource:
    """``/openapi.json``: the OpenAPI document of this API."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = openapi.document()

