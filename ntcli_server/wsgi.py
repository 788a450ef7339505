"""The token API over HTTP: the Falcon WSGI app, put together.

Its parts: :mod:`ntcli_server.parsing` reads requests,
:mod:`ntcli_server.api` holds what every resource shares (the authority
of this process, the caller, the metrics), :mod:`ntcli_server.resources`
the routes by group (with :mod:`ntcli_server.signin`,
:mod:`ntcli_server.ci` and :mod:`ntcli_server.exchange` for sign-in and
token exchange), and :mod:`ntcli_server.envelope` turns every failure
into the error envelope.

:mod:`ntcli_server.metrics` is imported only when ``--metrics`` asks for
it: prometheus-client fixes where its values live when first imported
(see :mod:`ntcli_server.multiproc`).
"""

from __future__ import annotations

import typing

import falcon

from ntcli_authority import oidc
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority, SignInPolicy
from ntcli_core import clock, oauth
from ntcli_server import (
    ci,
    edge,
    envelope,
    exchange,
    parsing,
    ratelimit,
    request_ids,
    signin,
)
from ntcli_server.api import AuditContext, AuthorityFactory, TokenAPI, origin
from ntcli_server.resources import (
    events,
    service,
    token_auth,
    tokens,
    trust,
    workspaces,
)

#: Probes of load balancers and monitoring: never refused for the failed
#: authentications of their address.
PROBES = ('/healthz', '/readyz', '/health', '/metrics')


def _with_policy(factory: AuthorityFactory,
                 policy: SignInPolicy) -> AuthorityFactory:
    def policed() -> Authority:
        authority = factory()
        authority.sign_in_policy = policy
        return authority
    return policed


def _add_sign_in_routes(app: falcon.App, api: TokenAPI,
                        settings: signin.SignInSettings | None,
                        ci_audience: str | None) -> None:
    """The token-exchange endpoint with its exchanges (a sign-in, a CI
    job's token for a workspace token), and the sign-in routes
    (:mod:`ntcli_server.signin`, :mod:`ntcli_server.ci`)."""
    exchanges: list[exchange.Exchange] = []
    if settings is not None:
        exchanges.append(signin.SignInExchange(
            api, settings, oidc.Issuer(settings.issuer)))
    exchanges.append(ci.WorkspaceTokenExchange(api, ci_audience))
    exchange.add_route(app, exchanges, parsing.body_bytes, origin)
    app.add_route(oauth.PROVIDERS_PATH, signin.ProvidersResource(settings))
    app.add_route(oauth.SESSION_PATH, signin.SessionResource(api))


def create_app(target: str | AuthorityFactory, *,
               metrics: bool = False,
               auth_failures: ratelimit.FailureTable | None = None,
               wait: float | None = None,
               sign_in: signin.SignInSettings | None = None,
               ci_audience: str | None = None) -> token_auth.ValidShortcut:
    """The token API on an authority: a database target (SQLite path or
    PostgreSQL DSN) or a factory called once per process. ``metrics`` adds
    ``GET /metrics`` (:mod:`ntcli_server.metrics`, which needs
    prometheus-client). ``auth_failures`` limits failed authentications
    per client address (:mod:`ntcli_server.ratelimit`). ``wait`` bounds
    each database call of a ``target`` (see ``serve --db-wait``).
    ``sign_in`` names the identity provider people sign in with
    (:mod:`ntcli_server.signin`). ``ci_audience`` is the ``aud`` CI jobs'
    OIDC tokens must carry to be exchanged for workspace tokens
    (:mod:`ntcli_server.ci`); None refuses them.

    A target must exist: a missing SQLite file is not created (requests
    fail with 503), lest a mistyped path or a deleted file quietly start a
    new authority whose signing key no client token matches.

    The Falcon app is the answer's ``app``; in front of it, the answer to
    a valid ``GET /v1/token_auth`` is given without Falcon
    (:class:`ntcli_server.resources.token_auth.ValidShortcut`).
    """
    factory: AuthorityFactory = (
        (lambda: Authority.open(target, create=False, wait=wait,
                                 keep_tokens=True,
                                 clock=clock.offset_read_once()))
        if isinstance(target, str) else target)
    if sign_in is not None:
        factory = _with_policy(factory, sign_in.policy)
    middleware: list[typing.Any] = [request_ids.RequestIds()]
    recorder = None
    if metrics:
        # before the limit, so that what it refuses (429) is counted too
        from ntcli_server import metrics as prometheus
        recorder = prometheus.PrometheusMetrics(
            # the server's own gauges: read as whoever holds the database
            token_counts=lambda windows: api.authority.count_expiring(
                Principal.local(), windows))
        middleware.append(prometheus.RequestMetrics(recorder))
    if auth_failures is not None:
        middleware.append(ratelimit.AuthFailureLimit(auth_failures,
                                                     exempt=PROBES))
    api = TokenAPI(factory, recorder)
    app = falcon.App(middleware=[*middleware, edge.TextGuard(), AuditContext(),
                                 parsing.BodyLimit()])
    if recorder is not None:
        app.add_route(prometheus.PATH, prometheus.MetricsResource(recorder))
    app.add_route('/healthz', service.HealthResource())
    app.add_route('/readyz', service.ReadyResource(api))
    app.add_route('/health', service.HealthCheckResource(api))
    app.add_route('/openapi.json', service.OpenAPIResource())
    app.add_route('/v1/token_auth', token_auth.TokenAuthResource(api))
    app.add_route('/v1/whoami', token_auth.WhoAmIResource(api))
    app.add_route('/v1/workspaces', workspaces.WorkspacesResource(api))
    app.add_route('/v1/workspaces/{workspace_id}',
                  workspaces.WorkspaceResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens',
                  tokens.TokensResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens/{jti}',
                  tokens.TokenResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens/{jti}/revoke',
                  tokens.TokenRevokeResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/events',
                  events.EventsResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/trust-policies',
                  trust.TrustPoliciesResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/trust-policies/{policy}',
                  trust.TrustPolicyResource(api))
    _add_sign_in_routes(app, api, sign_in, ci_audience)
    envelope.add_handlers(app)
    return token_auth.ValidShortcut(
        app, api, auth_failures,
        recorder.request if recorder is not None else None)
