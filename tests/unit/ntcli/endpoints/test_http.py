"""Tests of ntcli.endpoints.http against real local servers (no mocks):
a canned-answer server for error mapping and retries, and ntcli-server
behind a fault proxy for the retry of a lost issue answer."""

from __future__ import annotations

import json
import logging
import ssl
import time

import fixtures
import testtools

import ntcli
from ntcli import errors
from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint, normalize_url
from ntcli_server import testing
from tests.certificates import write_private_ca

WS = '11111111-2222-4333-8444-555555555555'


def envelope(status, code, message='server words', **details):
    body = {'error': {'code': code, 'message': message}}
    if details:
        body['error']['details'] = details
    return testing.Answer(status, json.dumps(body).encode())


def ok(body, status=200):
    return testing.Answer(status, json.dumps(body).encode())


class CannedTestCase(testtools.TestCase):
    """An HTTPEndpoint in front of a server that answers what we say."""

    timeout = 5.0
    debug = False

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(testing.FaultProxy())
        self.endpoint = HTTPEndpoint(self.server.url, EndpointOptions(
            timeout=self.timeout, debug=self.debug))
        self.addCleanup(self.endpoint.close)

    def answer(self, answer, **rule):
        self.server.fail(answer, **rule)


class TestURLs(testtools.TestCase):

    def test_normalized(self):
        for given, expected in (
                ('HTTP://Example.COM:80/', 'http://example.com'),
                ('https://example.com:443/api/', 'https://example.com/api'),
                ('https://example.com:8443', 'https://example.com:8443'),
                ('http://[::1]:8080/', 'http://[::1]:8080')):
            self.assertEqual(expected, normalize_url(given))

    def test_refused(self):
        for bad in ('ftp://example.com', 'http://', 'example.com',
                    'http://host:99999'):
            self.assertRaises(errors.UsageError, normalize_url, bad)
        exc = self.assertRaises(errors.UsageError, normalize_url,
                                'https://me:secret@example.com')
        self.assertNotIn('secret', exc.message)

    def test_missing_ca_bundle(self):
        endpoint = HTTPEndpoint('https://example.com', EndpointOptions(
            ca_bundle='/nonexistent/ca.pem'))
        exc = self.assertRaises(errors.UsageError, endpoint.list_workspaces,
                                'ntu_x')
        self.assertIn('/nonexistent/ca.pem', exc.message)


class TestErrorMapping(CannedTestCase):

    def test_api_error_codes(self):
        cases = [
            (401, 'TOKEN_EXPIRED', errors.TokenExpired),
            (401, 'TOKEN_REVOKED', errors.TokenRevoked),
            (401, 'TOKEN_INVALID', errors.TokenInvalid),
            (403, 'FORBIDDEN', errors.Forbidden),
            (404, 'WORKSPACE_NOT_FOUND', errors.WorkspaceNotFound),
            (404, 'TOKEN_NOT_FOUND', errors.TokenNotFound),
            (400, 'INVALID_REQUEST', errors.InvalidRequest),
            (422, 'VALIDATION_ERROR', errors.InvalidRequest),
            (413, 'PAYLOAD_TOO_LARGE', errors.InvalidRequest),
            (409, 'WORKSPACE_EXISTS', errors.Conflict),
        ]
        for status, code, cls in cases:
            self.server.clear()
            self.answer(envelope(status, code, field='x'))
            exc = self.assertRaises(cls, self.endpoint.list_workspaces,
                                    'ntu_x')
            self.assertEqual(code, exc.code)
            self.assertEqual('server words', exc.message)
            self.assertEqual({'field': 'x'}, exc.details)

    def test_authentication_required_uses_the_documented_message(self):
        self.answer(envelope(401, 'AUTHENTICATION_REQUIRED'))
        exc = self.assertRaises(errors.AuthenticationRequired,
                                self.endpoint.list_workspaces, None)
        self.assertEqual('Authentication required. Try running ntcli token '
                         'refresh', exc.message)

    def test_unknown_codes_and_server_failures_name_the_endpoint(self):
        self.answer(envelope(418, 'TEAPOT', 'short and stout'))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.list_workspaces, 'ntu_x')
        self.assertEqual(f'The endpoint at {self.server.url} failed: short '
                         'and stout (HTTP 418)', exc.message)
        self.server.clear()
        self.answer(envelope(500, 'INTERNAL_ERROR', 'it broke'))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.create_workspace, 'ntu_x',
                                'main')
        self.assertIn('it broke (HTTP 500)', exc.message)
        self.assertIsNotNone(exc.hint)

    def test_answers_that_are_not_the_token_api(self):
        cases = [
            (testing.HTML_502, '(HTTP 502, text/html)'),
            (testing.Answer(200, b'hello', 'text/plain'),
             '(HTTP 200, text/plain)'),
            (testing.Answer(200, b'{not json', 'application/json'),
             '(HTTP 200, application/json)'),
            (testing.Answer(500, b'{"detail": "x"}'),
             '(HTTP 500, application/json)'),
            (testing.Answer(404, b'[]'), '(HTTP 404, application/json)'),
            (testing.Answer(200, b'<html/>', None),
             '(HTTP 200, no content type)'),
        ]
        for answer, tail in cases:
            self.server.clear()
            self.answer(answer)
            exc = self.assertRaises(errors.EndpointError,
                                    self.endpoint.create_workspace,
                                    'ntu_x', 'main')
            self.assertEqual(
                f'The endpoint at {self.server.url} answered something '
                f'that is not the token API {tail}', exc.message)
            self.assertIn('--debug', exc.hint)

    def test_answers_of_the_wrong_shape(self):
        self.answer(ok({'workspaces': 5}))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.list_workspaces, 'ntu_x')
        self.assertIn('does not understand', exc.message)
        self.server.clear()
        self.answer(ok({'access_token': 'wst_x', 'jti': 'jti_x',
                        'expires_at': 'soon'}, 201))
        self.assertRaises(errors.EndpointError, self.endpoint.issue_token,
                          'ntu_x', WS)

    def test_redirects_are_not_followed(self):
        self.answer(testing.Answer(
            301, b'', None, (('Location', 'https://elsewhere/v1'),)))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.create_workspace, 'ntu_x',
                                'main')
        self.assertIn('redirects (HTTP 301) to https://elsewhere/v1',
                      exc.message)
        self.assertEqual(1, len(self.server.seen))

    def test_connection_refused(self):
        url = f'http://127.0.0.1:{testing.free_port()}'
        endpoint = HTTPEndpoint(url, EndpointOptions(timeout=120))
        started = time.monotonic()
        exc = self.assertRaises(errors.EndpointUnreachable,
                                endpoint.list_workspaces, 'ntu_x')
        self.assertEqual(f'Cannot reach the endpoint at {url}: connection '
                         'refused', exc.message)
        self.assertIn('server is running', exc.hint)
        # refused at once, not after the timeout (wide for slow machines)
        self.assertLess(time.monotonic() - started, 60)


class TestTimeoutsAndRetries(CannedTestCase):

    timeout = 2.0    # short for the hang, long for a loaded machine

    def test_a_hanging_server_times_out_once(self):
        self.answer(testing.HANG)
        for call in (lambda: self.endpoint.list_workspaces('ntu_x'),
                     lambda: self.endpoint.issue_token('ntu_x', WS)):
            started = time.monotonic()
            exc = self.assertRaises(errors.EndpointUnreachable, call)
            # the server hangs for 300 s; one request each (counted below)
            self.assertLess(time.monotonic() - started, 60)
            self.assertEqual(f'The endpoint at {self.server.url} did not '
                             'answer within 2 seconds', exc.message)
            self.assertIn('--timeout', exc.hint)
        self.assertEqual(2, len(self.server.seen))

    def test_idempotent_calls_retry_gateway_errors(self):
        self.answer(ok({'workspaces': [], 'total': 0}))
        self.answer(testing.HTML_502, times=2)
        self.assertEqual([], self.endpoint.list_workspaces('ntu_x'))
        self.assertEqual(3, len(self.server.seen))

    def test_creating_a_workspace_is_not_repeated(self):
        self.answer(testing.HTML_502)
        self.assertRaises(errors.EndpointError,
                          self.endpoint.create_workspace, 'ntu_x', 'main')
        self.assertEqual(1, len(self.server.seen))
        self.server.clear()
        self.answer(testing.CLOSE)
        exc = self.assertRaises(errors.EndpointUnreachable,
                                self.endpoint.create_workspace, 'ntu_x',
                                'main')
        self.assertIn('closed before an answer came', exc.message)
        self.assertEqual(2, len(self.server.seen))

    def test_issue_is_repeated_with_the_same_idempotency_key(self):
        self.answer(envelope(503, 'STORAGE_UNAVAILABLE'))
        self.server.fail(testing.CLOSE, times=1)
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.issue_token, 'ntu_x', WS)
        self.assertIn('(HTTP 503)', exc.message)
        keys = [r.headers.get('Idempotency-Key') for r in self.server.seen]
        self.assertEqual(3, len(keys))
        self.assertEqual(1, len(set(keys)))
        self.assertIsNotNone(keys[0])

    def test_a_server_failure_names_its_request_id(self):
        body = {'error': {'code': 'STORAGE_UNAVAILABLE', 'message': 'down',
                          'request_id': 'edge-77'}}
        self.answer(testing.Answer(503, json.dumps(body).encode()))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.list_workspaces, 'ntu_x')
        self.assertIn('(HTTP 503, request id edge-77)', exc.message)
        self.server.clear()
        body['error']['request_id'] = 'x\x1b[31m'
        self.answer(testing.Answer(503, json.dumps(body).encode()))
        exc = self.assertRaises(errors.EndpointError,
                                self.endpoint.list_workspaces, 'ntu_x')
        self.assertIn('(HTTP 503)', exc.message)

    def test_lost_answers_of_reads_are_asked_again(self):
        self.answer(ok({'workspaces': [], 'total': 0}))
        self.server.fail(testing.CLOSE, times=2)
        self.assertEqual([], self.endpoint.list_workspaces('ntu_x'))
        self.assertEqual(3, len(self.server.seen))


class TestRequests(CannedTestCase):

    debug = True

    def test_headers_and_body(self):
        self.answer(ok({
            'access_token': 'wst_abc', 'token_type': 'Bearer',
            'expires_in': None, 'expires_at': None, 'scope': 'workspace',
            'jti': 'jti_1', 'workspace_id': WS,
            'created_at': '2025-01-01T00:00:00Z'}, 201))
        issued = self.endpoint.issue_token('ntu_cred', WS,
                                           description='ci',
                                           idempotency_key='key-1')
        self.assertEqual(('wst_abc', None, 1735689600),
                         (issued.token, issued.expires_at,
                          issued.created_at))
        seen = self.server.seen[0]
        self.assertEqual(('POST', f'/v1/workspaces/{WS}/tokens'),
                         (seen.method, seen.path))
        self.assertEqual('Bearer ntu_cred', seen.headers['Authorization'])
        self.assertEqual('key-1', seen.headers['Idempotency-Key'])
        self.assertEqual(f'ntcli/{ntcli.__version__}',
                         seen.headers['User-Agent'])
        # neither expiry given: a non-expiring token, asked explicitly
        self.assertEqual({'expires_in': None, 'description': 'ci'},
                         json.loads(seen.body))

    def test_expiry_time_is_sent_as_iso(self):
        self.answer(ok({'access_token': 'wst_abc', 'jti': 'jti_1',
                        'expires_at': '2030-01-01T00:00:00Z'}, 201))
        issued = self.endpoint.issue_token('ntu_x', WS,
                                           expires_at=1893456000)
        self.assertEqual(1893456000, issued.expires_at)
        self.assertEqual({'expires_at': '2030-01-01T00:00:00Z'},
                         json.loads(self.server.seen[0].body))

    def test_ids_cannot_change_the_path(self):
        self.answer(envelope(404, 'TOKEN_NOT_FOUND'))
        self.assertRaises(errors.TokenNotFound, self.endpoint.revoke_token,
                          'ntu_x', '../../admin', 'a/b?c')
        self.assertEqual('/v1/workspaces/..%2F..%2Fadmin/tokens/a%2Fb%3Fc',
                         self.server.seen[0].path)

    def test_revoke_with_grace_asks_for_it_and_reads_the_answer(self):
        self.answer(ok({'workspace_id': WS, 'token_jti': 'jti_1',
                        'status': 'retiring',
                        'revoked_at': '2030-01-01T00:00:00Z',
                        'already_revoked': False}))
        revocation = self.endpoint.revoke_token('ntu_x', WS, 'jti_1',
                                                grace=3600)
        self.assertEqual((True, 1893456000),
                         (revocation.retiring, revocation.revoked_at))
        self.assertEqual(('DELETE', f'/v1/workspaces/{WS}/tokens/jti_1'
                                    '?grace=3600'),
                         (self.server.seen[0].method,
                          self.server.seen[0].path))

    def test_an_api_without_grace_periods_revokes_at_once(self):
        # the NimbleTools API ignores the query: its answer says revoked
        self.answer(ok({'workspace_id': WS, 'token_jti': 'jti_1',
                        'status': 'revoked',
                        'revoked_at': '2025-01-01T00:00:00Z'}))
        revocation = self.endpoint.revoke_token('ntu_x', WS, 'jti_1',
                                                grace=3600)
        self.assertEqual((False, 1735689600),
                         (revocation.retiring, revocation.revoked_at))
        # and without grace, no query at all
        self.answer(ok({'status': 'revoked',
                        'revoked_at': '2025-01-01T00:00:00Z'}))
        self.endpoint.revoke_token('ntu_x', WS, 'jti_1')
        self.assertEqual(f'/v1/workspaces/{WS}/tokens/jti_1',
                         self.server.seen[-1].path)

    def test_validate_reports_a_retiring_token(self):
        self.answer(ok({'valid': True, 'workspace_id': WS, 'jti': 'jti_1',
                        'expires_at': None,
                        'revoked_at': '2030-01-01T00:00:00Z'}))
        self.assertEqual(1893456000, self.endpoint.validate_token(
            'wst_whatever').revoked_at)

    def test_validate_with_headers_only(self):
        self.answer(testing.Answer(200, b'', None, (
            ('X-Workspace-Id', WS), ('X-Token-Jti', 'jti_9'))))
        valid = self.endpoint.validate_token('wst_whatever')
        self.assertEqual(('jti_9', WS, None),
                         (valid.jti, valid.workspace_id, valid.expires_at))
        self.assertEqual('Bearer wst_whatever',
                         self.server.seen[0].headers['Authorization'])

    def test_no_credential_no_header(self):
        self.answer(envelope(401, 'AUTHENTICATION_REQUIRED'))
        self.assertRaises(errors.AuthenticationRequired,
                          self.endpoint.list_workspaces, None)
        self.assertNotIn('Authorization', self.server.seen[0].headers)

    def test_debug_trace_has_no_secret(self):
        logs = self.useFixture(fixtures.FakeLogger(name='ntcli.http',
                                                   level=logging.DEBUG))
        self.answer(envelope(403, 'FORBIDDEN', 'not with wst_secret123'))
        self.assertRaises(errors.Forbidden, self.endpoint.list_tokens,
                          'wst_secret123', WS)
        output = logs.output
        self.assertIn(f'HTTP GET {self.server.url}/v1/workspaces/{WS}/tokens'
                      '?include_expired=false', output)
        self.assertIn('-> 403 (', output)
        self.assertIn('Authorization: Bearer ***', output)
        self.assertIn('FORBIDDEN', output)
        self.assertNotIn('secret123', output)


class TestTLS(testtools.TestCase):
    """HTTPS with a private CA: refused until the CA bundle is given."""

    def setUp(self):
        super().setUp()
        directory = self.useFixture(fixtures.TempDir()).path
        self.ca, cert, key = write_private_ca(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = self.useFixture(testing.FaultProxy(
            ssl_context=context))
        self.server.fail(ok({'workspaces': [], 'total': 0}))
        for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
            self.useFixture(fixtures.EnvironmentVariable(name))

    def list_with(self, **options):
        endpoint = HTTPEndpoint(self.server.url, EndpointOptions(
            timeout=5, **options))
        self.addCleanup(endpoint.close)
        return endpoint.list_workspaces('ntu_x')

    def test_unknown_ca_is_refused(self):
        exc = self.assertRaises(errors.EndpointUnreachable, self.list_with)
        self.assertIn('certificate could not be verified', exc.message)
        self.assertIn('--ca-bundle', exc.hint)
        self.assertEqual([], self.server.seen)

    def test_ca_bundle_option(self):
        self.assertEqual([], self.list_with(ca_bundle=self.ca))

    def test_requests_ca_bundle_variable(self):
        self.useFixture(fixtures.EnvironmentVariable('REQUESTS_CA_BUNDLE',
                                                     self.ca))
        self.assertEqual([], self.list_with())


class TestAgainstTheServer(testtools.TestCase):
    """ntcli-server behind a proxy that loses the first issue answer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = testing.ServerFixture()
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)

    def test_a_lost_issue_answer_gives_the_same_token_on_retry(self):
        proxy = self.useFixture(testing.FaultProxy(self.server.url))
        proxy.fail(testing.LOSE_ANSWER, method='POST', times=1)
        endpoint = HTTPEndpoint(proxy.url, EndpointOptions(timeout=5))
        self.addCleanup(endpoint.close)
        credential, ws = self.server.credential, self.server.workspace_id
        before = {r.jti for r in endpoint.list_tokens(credential, ws)}
        issued = endpoint.issue_token(credential, ws, expires_in=60)
        posts = [r for r in proxy.seen if r.method == 'POST']
        self.assertEqual(2, len(posts))
        self.assertEqual(posts[0].headers['Idempotency-Key'],
                         posts[1].headers['Idempotency-Key'])
        after = {r.jti for r in endpoint.list_tokens(credential, ws)}
        self.assertEqual({issued.jti}, after - before)
        self.assertEqual(issued.jti, endpoint.validate_token(
            issued.token).jti)
