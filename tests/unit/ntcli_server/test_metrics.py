"""Tests of ntcli_server.metrics through the token API (one process; the
multiprocess mode is tested with a real server in
tests.functional.test_server_ops)."""

from __future__ import annotations

import re
import warnings

from falcon import testing

from ntcli_authority import errors
from ntcli_server import wsgi
from tests.unit.ntcli_server import test_wsgi


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of a Prometheus text exposition."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            name, _, value = line.rpartition(' ')
            found[name] = float(value)
    return found


class MetricsTestCase(test_wsgi.APITestCase):

    def setUp(self):
        super().setUp()
        self.client = testing.TestClient(
            wsgi.create_app(lambda: self.authority, metrics=True))

    def metrics(self) -> dict[str, float]:
        result = self.client.simulate_get('/metrics')
        self.assertEqual(200, result.status_code)
        self.assertTrue(result.headers['content-type'].startswith(
            'text/plain'))
        return samples(result.text)


class TestMetrics(MetricsTestCase):

    def test_off_unless_asked(self):
        client = testing.TestClient(wsgi.create_app(lambda: self.authority))
        self.assertError(client.simulate_get('/metrics'), 404, 'NOT_FOUND')

    def test_requests_by_route_template_and_status(self):
        token = self.issue()
        self.call('DELETE', self.tokens_path() + '/' + token['jti'],
                  self.alice)
        self.call('GET', self.tokens_path(), self.alice)
        self.call('GET', self.tokens_path())                      # 401
        self.call('GET', '/v1/workspaces/' + 'x' * 40 + '/tokens',
                  self.alice)                                     # 404
        self.call('GET', '/no/such/' + token['jti'])
        with warnings.catch_warnings():    # wsgiref's validator frowns
            warnings.simplefilter('ignore')
            self.call('BREW', '/v1/workspaces', self.alice)
        found = self.metrics()
        route = '/v1/workspaces/{workspace_id}/tokens'
        self.assertEqual(1, found['ntcli_server_http_requests_total{method='
                                  f'"POST",route="{route}",status="201"}}'])
        self.assertEqual(1, found['ntcli_server_http_requests_total{method='
                                  f'"DELETE",route="{route}/{{jti}}",'
                                  'status="200"}'])
        for status in ('200', '401', '404'):
            self.assertEqual(1, found[
                'ntcli_server_http_requests_total{method="GET",'
                f'route="{route}",status="{status}"}}'])
        self.assertEqual(1, found['ntcli_server_http_requests_total{method='
                                  '"GET",route="<unmatched>",status="404"}'])
        # a made-up method is not a label of its own (400 or 405)
        self.assertEqual(1, sum(
            v for k, v in found.items()
            if k.startswith('ntcli_server_http_requests_total{method='
                            '"OTHER",route="/v1/workspaces",')))
        self.assertNotIn('BREW', repr(found))
        self.assertEqual(3, found[
            'ntcli_server_http_request_duration_seconds_count{method="GET",'
            f'route="{route}"}}'])

    def test_no_workspace_id_or_jti_in_any_label(self):
        token = self.issue(scope='tokens:write')
        self.call('GET', '/v1/token_auth', token['access_token'])
        self.call('DELETE', self.tokens_path() + '/' + token['jti'],
                  self.alice)
        text = self.client.simulate_get('/metrics').text
        for secret_or_id in (self.ws.id, token['jti'],
                             token['access_token'][:20], self.alice[:12]):
            self.assertNotIn(secret_or_id, text)
        labels = set(re.findall(r'(\w+)="', text))
        self.assertEqual({'method', 'route', 'status', 'le', 'outcome',
                          'within'}, labels)

    def test_tokens_expiring_within_fixed_windows(self):
        self.issue(expires_in=3600)
        self.issue(expires_in=3 * 86400)
        self.issue(expires_in=20 * 86400)
        self.issue(expires_in=90 * 86400)
        self.issue(expires_in=None)
        retiring = self.issue(expires_in=2 * 86400)
        self.call('DELETE', self.tokens_path() + '/' + retiring['jti'],
                  self.alice, params={'grace': '600'})
        revoked = self.issue(expires_in=3600)
        self.call('DELETE', self.tokens_path() + '/' + revoked['jti'],
                  self.alice)
        found = self.metrics()
        self.assertEqual(
            (1, 3, 4, 1),
            (found['ntcli_server_tokens_expiring{within="1d"}'],
             found['ntcli_server_tokens_expiring{within="7d"}'],
             found['ntcli_server_tokens_expiring{within="30d"}'],
             found['ntcli_server_tokens_retiring']))
        self.clock.advance(3600)           # the clock moves, not requests
        found = self.metrics()
        self.assertEqual(
            (0, 1, 2, 0),
            (found['ntcli_server_tokens_expiring{within="1d"}'],
             found['ntcli_server_tokens_expiring{within="7d"}'],
             found['ntcli_server_tokens_expiring{within="30d"}'],
             found['ntcli_server_tokens_retiring']))

    def test_tokens_issued_replayed_and_revoked(self):
        first = self.issue()
        self.call('POST', self.tokens_path(), self.alice, json={},
                  headers={'Idempotency-Key': 'k1'})
        self.call('POST', self.tokens_path(), self.alice, json={},
                  headers={'Idempotency-Key': 'k1'})
        for _ in range(2):         # the second revoke changes nothing
            self.call('DELETE', self.tokens_path() + '/' + first['jti'],
                      self.alice)
        found = self.metrics()
        self.assertEqual(2, found['ntcli_server_tokens_issued_total'])
        self.assertEqual(1, found['ntcli_server_idempotent_replays_total'])
        self.assertEqual(1, found['ntcli_server_tokens_revoked_total'])

    def test_validations_by_outcome(self):
        valid = self.issue(scope='tokens:write')['access_token']
        expiring = self.issue(expires_in=60)['access_token']
        revoked = self.issue()
        self.call('DELETE', self.tokens_path() + '/' + revoked['jti'],
                  self.alice)
        self.clock.advance(120)
        self.call('GET', '/v1/token_auth', valid)
        self.call('GET', self.tokens_path(), valid)   # a caller's token too
        self.call('GET', '/v1/token_auth', expiring)
        self.call('GET', '/v1/token_auth', revoked['access_token'])
        self.call('GET', '/v1/token_auth', 'wst_garbage')
        self.call('GET', '/v1/token_auth')
        self.call('GET', '/v1/workspaces', self.alice)   # not a token
        found = self.metrics()

        def outcome(name):
            return found['ntcli_server_token_validations_total{outcome="'
                         f'{name}"}}']
        self.assertEqual(2, outcome('valid'))
        self.assertEqual(1, outcome('expired'))
        self.assertEqual(1, outcome('revoked'))
        self.assertEqual(1, outcome('invalid'))
        self.assertEqual(1, outcome('missing'))
        self.assertEqual(0, outcome('forbidden'))

    def test_storage_errors(self):
        def down(*args, **kwargs):
            raise errors.StorageUnavailable('disk I/O error')
        self.authority.list_workspaces = down
        self.call('GET', '/v1/workspaces', self.alice)
        found = self.metrics()
        self.assertEqual(1, found['ntcli_server_storage_errors_total'])
        self.assertEqual(1, found['ntcli_server_http_requests_total{method='
                                  '"GET",route="/v1/workspaces",'
                                  'status="503"}'])


class TestWithTheFailureLimit(MetricsTestCase):

    def test_refused_by_the_limit_is_counted_and_has_an_id(self):
        from ntcli_server import ratelimit
        self.client = testing.TestClient(wsgi.create_app(
            lambda: self.authority, metrics=True,
            auth_failures=ratelimit.FailureTable(2, 60)))
        statuses = [self.call('GET', '/v1/workspaces', 'ntu_wrong',
                              remote_addr='10.0.0.9') for _ in range(4)]
        self.assertEqual([401, 401, 429, 429],
                         [r.status_code for r in statuses])
        for refused in statuses[2:]:
            error = self.assertError(refused, 429, 'TOO_MANY_REQUESTS')
            self.assertEqual(refused.headers['x-request-id'],
                             error['request_id'])
        found = self.metrics()
        # refused before routing: no route template yet
        self.assertEqual(2, found['ntcli_server_http_requests_total{method='
                                  '"GET",route="<unmatched>",'
                                  'status="429"}'])
