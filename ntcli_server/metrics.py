"""Prometheus metrics of the token API (``ntcli-server serve --metrics``).

gunicorn runs several worker processes; prometheus-client's multiprocess
mode has each of them write its values to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, see :mod:`ntcli_server.multiproc`), and
``GET /metrics`` adds them up, so every worker is counted whichever one
answers the scrape.

Labels are bounded sets: the route *template*
(``/v1/workspaces/{workspace_id}/tokens``), the method, the status code, a
validation outcome and an expiry window; never a workspace id, a JTI or
anything a client can make up, lest one client create unbounded series.

How many tokens expire soon is read from the database at each scrape (one
query, whichever worker answers), not counted by the workers: it changes
with the clock, not with requests.
"""

from __future__ import annotations

import os
import time
import typing

import falcon
import prometheus_client
from prometheus_client import multiprocess

from ntcli_authority import errors
from ntcli_server.multiproc import ENV as MULTIPROC_ENV

PATH = '/metrics'
UNMATCHED = '<unmatched>'
STORAGE_ERROR = errors.StorageUnavailable.code
METHODS = frozenset({'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE',
                     'OPTIONS'})
OUTCOMES = ('valid', 'missing', 'invalid', 'expired', 'revoked', 'forbidden')
SIGN_IN_OUTCOMES = ('success', 'rejected', 'not_linked',
                    'provider_unavailable')
#: The windows of ``ntcli_server_tokens_expiring``: label, seconds.
EXPIRY_WINDOWS = (('1d', 86400), ('7d', 7 * 86400), ('30d', 30 * 86400))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0)


# -- the metrics ----------------------------------------------------------
#: For each window (seconds), how many valid tokens expire within it, and
#: how many are retiring (Authority.count_expiring).
TokenCounts = typing.Callable[[typing.Sequence[int]],
                              tuple[dict[int, int], int]]


class TokenExpiryCollector:
    """Gauges read from the database when scraped: tokens expiring within
    each of EXPIRY_WINDOWS, and tokens in a rotation's grace period."""

    def __init__(self, counts: TokenCounts) -> None:
        self.counts = counts

    def collect(self) -> typing.Iterator[typing.Any]:
        from prometheus_client.core import GaugeMetricFamily
        try:
            expiring, retiring = self.counts(
                [seconds for _, seconds in EXPIRY_WINDOWS])
        except errors.StorageUnavailable:
            return      # the scrape still has every other metric
        gauge = GaugeMetricFamily(
            'ntcli_server_tokens_expiring',
            'Valid tokens (every workspace) that expire within a window',
            labels=['within'])
        for label, seconds in EXPIRY_WINDOWS:
            gauge.add_metric([label], expiring.get(seconds, 0))
        yield gauge
        yield GaugeMetricFamily(
            'ntcli_server_tokens_retiring',
            'Valid tokens in the grace period of a rotation (revoked when '
            'it ends)', value=retiring)


class PrometheusMetrics:
    """The token API's metrics, in one process."""

    def __init__(self, token_counts: TokenCounts | None = None) -> None:
        self.token_counts = token_counts
        # A registry of our own: two apps in one process (tests) do not
        # collide; in multiprocess mode the values go to files anyway.
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            'ntcli_server_http_requests', 'HTTP requests answered',
            ['method', 'route', 'status'], registry=self.registry)
        self.latency = prometheus_client.Histogram(
            'ntcli_server_http_request_duration_seconds',
            'Time to answer an HTTP request', ['method', 'route'],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.issued = prometheus_client.Counter(
            'ntcli_server_tokens_issued', 'Tokens issued',
            registry=self.registry)
        self.replayed = prometheus_client.Counter(
            'ntcli_server_idempotent_replays',
            'Issue requests answered with the token of an earlier request '
            '(same Idempotency-Key)', registry=self.registry)
        self.revoked = prometheus_client.Counter(
            'ntcli_server_tokens_revoked',
            'Tokens revoked (a repeated revoke is not counted)',
            registry=self.registry)
        self.validations = prometheus_client.Counter(
            'ntcli_server_token_validations',
            'Workspace tokens checked, by outcome', ['outcome'],
            registry=self.registry)
        self.storage_errors = prometheus_client.Counter(
            'ntcli_server_storage_errors',
            'Requests failed because the database failed',
            registry=self.registry)
        self.sign_ins = prometheus_client.Counter(
            'ntcli_server_sign_ins',
            'Sign-ins through the identity provider (ID tokens exchanged '
            'for sessions), by outcome', ['outcome'], registry=self.registry)
        for outcome in OUTCOMES:      # every outcome shows, even at zero
            self.validations.labels(outcome)
        for outcome in SIGN_IN_OUTCOMES:
            self.sign_ins.labels(outcome)

    def request(self, method: str, route: str, status: int,
                seconds: float) -> None:
        method = method if method in METHODS else 'OTHER'
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def token_issued(self, replayed: bool) -> None:
        (self.replayed if replayed else self.issued).inc()

    def token_revoked(self, already: bool) -> None:
        if not already:
            self.revoked.inc()

    def validation(self, outcome: str) -> None:
        self.validations.labels(outcome).inc()

    def storage_error(self) -> None:
        self.storage_errors.inc()

    def sign_in(self, outcome: str) -> None:
        self.sign_ins.labels(outcome).inc()

    def exposition(self) -> bytes:
        """Every metric of every worker, in the text format."""
        if os.environ.get(MULTIPROC_ENV):
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        text = prometheus_client.generate_latest(registry)
        if self.token_counts is not None:
            gauges = prometheus_client.CollectorRegistry()
            gauges.register(TokenExpiryCollector(self.token_counts))
            text += prometheus_client.generate_latest(gauges)
        return text


class RequestMetrics:
    """Falcon middleware: count and time every request by route."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        started = getattr(req.context, 'metrics_started', None)
        if started is None:
            return
        route = getattr(req, 'uri_template', None) if resource else None
        self.metrics.request(req.method, route or UNMATCHED,
                             falcon.http_status_to_code(resp.status),
                             time.perf_counter() - started)
        if getattr(req.context, 'error_code', None) == STORAGE_ERROR:
            self.metrics.storage_error()


class MetricsResource:
    """``GET /metrics``: the Prometheus text exposition."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self.metrics.exposition()
        resp.content_type = prometheus_client.CONTENT_TYPE_LATEST
