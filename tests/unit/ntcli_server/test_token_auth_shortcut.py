"""Tests of the answer to a valid ``GET /v1/token_auth`` given without
Falcon (ntcli_server.resources.token_auth.ValidShortcut): the same bytes
as Falcon's, and every other request left to Falcon."""

from __future__ import annotations

import re

from falcon import testing

from ntcli_server import ratelimit, wsgi
from tests.unit.ntcli_server import test_metrics, test_wsgi

PATH = '/v1/token_auth'
REQUEST_ID = 'req-1234'
LIMIT = 20          # failed authentications before an address is refused


class Spy:
    """A WSGI app in front of another, counting the requests it passes."""

    def __init__(self, app):
        self.app = app
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


class ShortcutTestCase(test_wsgi.APITestCase):

    def setUp(self):
        super().setUp()
        self.failures = ratelimit.FailureTable(limit=LIMIT, window=60)
        self.app = wsgi.create_app(lambda: self.authority,
                                   auth_failures=self.failures)
        self.falcon = Spy(self.app.app)
        self.app.app = self.falcon
        self.client = testing.TestClient(self.app)
        # Falcon alone, on the same authority: what the shortcut must equal
        self.plain = testing.TestClient(self.falcon.app)
        self.token = self.issue()['access_token']

    def both(self, method='GET', path=PATH, token=None, headers=None,
             **kwargs):
        """The answers of the app and of Falcon alone, and whether the app
        passed the request to Falcon."""
        headers = {'X-Request-Id': REQUEST_ID, **(headers or {})}
        if token is not None:
            headers['Authorization'] = f'Bearer {token}'
        before = self.falcon.calls
        kwargs.setdefault('remote_addr', '192.0.2.1')
        ours = self.client.simulate_request(method, path, headers=headers,
                                            **kwargs)
        passed = self.falcon.calls > before
        theirs = self.plain.simulate_request(method, path, headers=headers,
                                             **kwargs)
        return ours, theirs, passed

    def assertSame(self, ours, theirs):
        self.assertEqual(theirs.status, ours.status)
        self.assertEqual(theirs.headers, ours.headers)
        self.assertEqual(theirs.content, ours.content)


class TestValidAnswer(ShortcutTestCase):

    def test_a_valid_token_is_answered_without_falcon(self):
        ours, theirs, passed = self.both(token=self.token)
        self.assertFalse(passed)
        self.assertEqual(200, ours.status_code)
        self.assertSame(ours, theirs)
        self.assertEqual(self.ws.id, ours.headers['x-workspace-id'])
        self.assertEqual('no-store', ours.headers['cache-control'])

    def test_the_same_bytes_for_every_kind_of_valid_token(self):
        narrow = self.issue(scope=['servers:read'])['access_token']
        forever = self.issue(expires_in=None)['access_token']
        for token in (self.token, narrow, forever):
            ours, theirs, passed = self.both(token=token)
            self.assertFalse(passed)
            self.assertSame(ours, theirs)

    def test_a_retiring_token_answers_its_end(self):
        jti = self.authority.validate(self.token).jti
        self.authority.revoke(test_wsgi.OWNER, self.ws.id, jti,
                                    grace=600)
        ours, theirs, passed = self.both(token=self.token)
        self.assertFalse(passed)
        self.assertSame(ours, theirs)
        self.assertIn('revoked_at', ours.json)

    def test_the_ingress_request_allowed(self):
        headers = {'X-Original-URL': f'/v1/workspaces/{self.ws.id}/servers',
                   'X-Original-Method': 'GET'}
        ours, theirs, passed = self.both(token=self.token, headers=headers)
        self.assertFalse(passed)
        self.assertEqual(200, ours.status_code)
        self.assertSame(ours, theirs)

    def test_a_request_id_not_kept_is_replaced_as_falcon_does(self):
        ours, _, passed = self.both(token=self.token,
                                    headers={'X-Request-Id': 'a b'})
        self.assertFalse(passed)
        self.assertRegex(ours.headers['x-request-id'], '^[0-9a-f]{32}$')
        ours, _, passed = self.both(token=self.token, headers={
            'X-Request-Id': self.token})             # shaped like a secret
        self.assertNotIn(self.token, ours.headers['x-request-id'])

    def test_a_request_without_an_id_gets_one(self):
        result = self.client.simulate_get(
            PATH, headers={'Authorization': f'Bearer {self.token}'},
            remote_addr='192.0.2.1')
        self.assertEqual(200, result.status_code)
        self.assertRegex(result.headers['x-request-id'], '^[0-9a-f]{32}$')


class TestLeftToFalcon(ShortcutTestCase):
    """Everything but a valid plain GET is Falcon's: its answer, byte for
    byte, and its counting of failures."""

    def assertFalcons(self, **kwargs):
        ours, theirs, passed = self.both(**kwargs)
        self.assertTrue(passed)
        self.assertSame(ours, theirs)
        return ours

    def test_refusals(self):
        other = self.authority.create_workspace(test_wsgi.OWNER, 'other')
        revoked = self.issue()
        self.authority.revoke(test_wsgi.OWNER, self.ws.id,
                                    revoked['jti'])
        cases = {
            None: 401,                                  # no credential
            'wst_not-a-token': 401,
            self.token[:-2] + ('AA' if self.token[-2:] != 'AA' else 'BB'):
                401,                                    # altered signature
            revoked['access_token']: 401,
            self.alice: 401,                            # not a token
        }
        for token, status in cases.items():
            self.assertEqual(status,
                             self.assertFalcons(token=token).status_code)
        forbidden = self.assertFalcons(token=self.token, headers={
            'X-Original-URL': f'/v1/workspaces/{other.id}/servers',
            'X-Original-Method': 'GET'})
        self.assertEqual(403, forbidden.status_code)

    def test_an_expired_token(self):
        token = self.issue(expires_in=60)['access_token']
        self.clock.advance(61)
        self.assertEqual(401, self.assertFalcons(token=token).status_code)

    def test_other_requests(self):
        for kwargs in ({'method': 'POST'}, {'method': 'HEAD'},
                       {'path': PATH + '/'}, {'path': '/v1/whoami'},
                       {'query_string': 'a=b'}, {'body': b'{}'},
                       {'headers': {'Transfer-Encoding': 'chunked'}}):
            self.assertFalcons(token=self.token, **kwargs)

    def test_a_request_without_a_client_address(self):
        environ = testing.create_environ(
            PATH, headers={'Authorization': f'Bearer {self.token}'})
        self.assertNotIn('REMOTE_ADDR', environ)    # as Falcon's tests do
        before = self.falcon.calls
        statuses = []
        body = b''.join(self.app(environ, lambda status, headers, *exc:
                                 statuses.append(status)))
        self.assertEqual(before + 1, self.falcon.calls)
        self.assertEqual(['200 OK'], statuses)
        self.assertIn(b'"valid": true', body)

    def test_failures_are_counted_once_and_block_even_a_valid_token(self):
        for _ in range(LIMIT):
            self.assertEqual(401, self.client.simulate_get(
                PATH, headers={'Authorization': 'Bearer wst_x'},
                remote_addr='192.0.2.9').status_code)
        before = self.falcon.calls
        result = self.client.simulate_get(
            PATH, headers={'Authorization': f'Bearer {self.token}'},
            remote_addr='192.0.2.9')
        self.assertEqual(429, result.status_code)
        self.assertEqual(before + 1, self.falcon.calls)

    def test_a_failure_is_falcons(self):
        self.authority.store.close()
        before = self.falcon.calls
        result = self.client.simulate_get(
            PATH, headers={'Authorization': f'Bearer {self.token}'})
        self.assertEqual(before + 1, self.falcon.calls)
        self.assertEqual(500, result.status_code, result.text)


class TestShortcutMetrics(test_metrics.MetricsTestCase):

    def test_counted_as_falcons_answer_is(self):
        token = self.issue()['access_token']
        before = self.metrics()
        result = self.call('GET', PATH, token)
        self.assertEqual(200, result.status_code)
        after = self.metrics()
        request = next(name for name in after
                       if name.startswith('ntcli_server_http_requests_total{')
                       and 'route="/v1/token_auth"' in name
                       and 'status="200"' in name)
        self.assertEqual(before.get(request, 0) + 1, after[request])
        valid = next(name for name in after
                     if re.match(r'ntcli_server_token_validations_total\{'
                                 r'.*outcome="valid"', name))
        self.assertEqual(before.get(valid, 0) + 1, after[valid])
