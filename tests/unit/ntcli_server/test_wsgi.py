"""Tests of ntcli_server.wsgi: the token API's wire format, validation,
limits, error envelopes and access rules, through Falcon's test client."""

from __future__ import annotations

import json
import logging
import os

import fixtures
import testtools
from falcon import testing

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_core import scopes
from ntcli_core.lifetimes import MAX_LIFETIME
from ntcli_server import envelope, parsing, wsgi
from tests.unit.ntcli_authority import base

OWNER = Principal.local()  # the local owner may do everything

YEAR = 31536000
ISO = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'


class APITestCase(testtools.TestCase):
    """A test client on an authority with a fake clock, a user ``alice``
    owning workspace ``main``, and a user ``bob``."""

    def setUp(self):
        super().setUp()
        self.fx = self.useFixture(base.AuthorityFixture())
        self.authority = self.fx.authority
        self.clock = self.fx.clock
        self.client = testing.TestClient(
            wsgi.create_app(lambda: self.authority))
        alice = self.authority.create_user(OWNER, 'alice')
        self.alice = alice.credential
        self.bob = self.authority.create_user(OWNER, 'bob').credential
        self.ws = self.authority.create_workspace(OWNER,
                                                  'main', owner=alice.user.id)
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='ntcli_server', level=logging.DEBUG))

    def call(self, method, path, credential=None, **kwargs):
        headers = kwargs.pop('headers', {})
        if credential:
            headers['Authorization'] = f'Bearer {credential}'
        return self.client.simulate_request(method, path, headers=headers,
                                            **kwargs)

    def tokens_path(self, ws_id=None):
        return f'/v1/workspaces/{ws_id or self.ws.id}/tokens'

    def issue(self, credential=None, ws_id=None, **body):
        result = self.call('POST', self.tokens_path(ws_id),
                           credential or self.alice, json=body)
        self.assertEqual(201, result.status_code, result.text)
        return result.json

    def assertError(self, result, status, code):
        self.assertEqual(status, result.status_code, result.text)
        self.assertEqual('application/json', result.headers['content-type'])
        body = result.json
        self.assertEqual({'error'}, set(body))
        self.assertEqual(code, body['error']['code'])
        self.assertIsInstance(body['error']['message'], str)
        self.assertLessEqual(set(body['error']),
                             {'code', 'message', 'details', 'request_id'})
        self.assertEqual(result.headers['x-request-id'],
                         body['error']['request_id'])
        return body['error']


class TestWorkspaces(APITestCase):

    def test_create(self):
        result = self.call('POST', '/v1/workspaces', self.alice,
                           json={'name': 'ci-builds', 'description': 'builds'})
        self.assertEqual(201, result.status_code)
        body = result.json
        self.assertEqual({'workspace_id', 'workspace_name', 'description',
                          'created'}, set(body))
        self.assertEqual(('ci-builds', 'builds'),
                         (body['workspace_name'], body['description']))
        self.assertRegex(body['created'], ISO)

    def test_list_shows_only_the_callers_workspaces(self):
        self.call('POST', '/v1/workspaces', self.bob, json={'name': 'bobs'})
        body = self.call('GET', '/v1/workspaces', self.alice).json
        self.assertEqual(1, body['total'])
        self.assertEqual([{'workspace_id': self.ws.id,
                           'workspace_name': 'main',
                           'created': '2023-11-14T22:13:20Z'}],
                         body['workspaces'])

    def test_bad_and_duplicate_names(self):
        self.assertError(self.call('POST', '/v1/workspaces', self.alice,
                                   json={'name': 'Main'}),
                         400, 'INVALID_REQUEST')
        error = self.assertError(
            self.call('POST', '/v1/workspaces', self.alice,
                      json={'name': 'main'}), 409, 'WORKSPACE_EXISTS')
        self.assertIn('already exists', error['message'])

    def test_delete_revokes_its_tokens(self):
        token = self.issue()
        result = self.call('DELETE', f'/v1/workspaces/{self.ws.id}',
                           self.alice)
        self.assertEqual({'workspace_id': self.ws.id, 'status': 'deleted',
                          'tokens_revoked': 1}, result.json)
        self.assertError(self.call('GET', '/v1/token_auth',
                                   token['access_token']),
                         401, 'TOKEN_REVOKED')
        self.assertError(self.call('DELETE', f'/v1/workspaces/{self.ws.id}',
                                   self.alice), 404, 'WORKSPACE_NOT_FOUND')


class TestRequestValidation(APITestCase):

    def test_malformed_json_is_400(self):
        result = self.call('POST', '/v1/workspaces', self.alice,
                           body='{"name": ',
                           headers={'Content-Type': 'application/json'})
        self.assertError(result, 400, 'INVALID_REQUEST')

    def test_invalid_utf8_is_400(self):
        result = self.call('POST', '/v1/workspaces', self.alice,
                           body=b'{"name": "\xff"}',
                           headers={'Content-Type': 'application/json'})
        self.assertError(result, 400, 'INVALID_REQUEST')

    def test_body_that_is_not_json_is_415(self):
        result = self.call('POST', '/v1/workspaces', self.alice,
                           body='name=ci',
                           headers={'Content-Type':
                                    'application/x-www-form-urlencoded'})
        self.assertError(result, 415, 'UNSUPPORTED_MEDIA_TYPE')

    def test_json_with_a_charset_is_fine(self):
        result = self.call('POST', '/v1/workspaces', self.alice,
                           body='{"name": "ci-builds"}',
                           headers={'Content-Type':
                                    'application/json; charset=utf-8'})
        self.assertEqual(201, result.status_code)

    def test_schema_errors_are_422(self):
        cases = [
            ('/v1/workspaces', []),
            ('/v1/workspaces', 'main'),
            ('/v1/workspaces', {}),
            ('/v1/workspaces', {'name': 5}),
            ('/v1/workspaces', {'name': 'ok-name', 'owner': 'me'}),
            (self.tokens_path(), {'expires_in': '3600'}),
            (self.tokens_path(), {'expires_in': 3600.5}),
            (self.tokens_path(), {'expires_in': True}),
            (self.tokens_path(), {'expires_at': 'next tuesday'}),
            (self.tokens_path(), {'scope': ['a']}),
            (self.tokens_path(), {'scope': 'no spaces'}),
            (self.tokens_path(), {'scope': []}),
            (self.tokens_path(), {'scope': ['servers:read', None]}),
            (self.tokens_path(), {'scope': {'servers': 'read'}}),
            (self.tokens_path(), {'scope': 7}),
            (self.tokens_path(), {'scope': ['servers:admin']}),
            (self.tokens_path(), {'scope': ['servers:read\u0000']}),
            (self.tokens_path(), {'scope': ['servers:read'] * 33}),
            (self.tokens_path(), {'ttl': 60}),
        ]
        for path, body in cases:
            self.assertError(self.call('POST', path, self.alice, json=body),
                             422, 'VALIDATION_ERROR')

    def test_values_the_authority_refuses_are_400(self):
        for body in ({'expires_in': 0}, {'expires_in': 11 * 366 * 86400},
                     {'expires_in': 60, 'expires_at': 1_800_000_000},
                     {'expires_at': 1}, {'description': 'x' * 300}):
            error = self.assertError(
                self.call('POST', self.tokens_path(), self.alice, json=body),
                400, 'INVALID_REQUEST')
            self.assertIn('field', error['details'])

    def test_bodies_over_64_kib_are_413(self):
        big = json.dumps({'name': 'x' * 70000})
        self.assertError(
            self.call('POST', '/v1/workspaces', self.alice, body=big,
                      headers={'Content-Type': 'application/json'}),
            413, 'PAYLOAD_TOO_LARGE')

    def test_bad_query_parameters(self):
        path = self.tokens_path()
        self.assertError(self.call('GET', path, self.alice,
                                   params={'include_expired': 'maybe'}),
                         422, 'VALIDATION_ERROR')
        self.assertError(self.call('GET', path, self.alice,
                                   params={'limit': 'ten'}),
                         422, 'VALIDATION_ERROR')
        self.assertError(self.call('GET', path, self.alice,
                                   params={'limit': '0'}),
                         400, 'INVALID_REQUEST')
        self.assertError(self.call('GET', path, self.alice,
                                   params={'cursor': '!!'}),
                         400, 'INVALID_REQUEST')

    def test_chunked_body_where_the_server_cannot_end_it_is_411(self):
        # A WSGI server that does not de-chunk into a terminated stream:
        # reading to the end could block, reading nothing would drop the
        # body; the request is refused instead.
        import io
        env = testing.create_environ(
            method='POST', path=self.tokens_path(),
            headers={'Authorization': f'Bearer {self.alice}',
                     'Content-Type': 'application/json',
                     'Transfer-Encoding': 'chunked'})
        env['wsgi.input'] = io.BytesIO(b'{"expires_in": 60}')
        env.pop('CONTENT_LENGTH', None)
        env['wsgi.input_terminated'] = False
        status = []
        body = b''.join(wsgi.create_app(lambda: self.authority)(
            env, lambda s, h, *a: status.append(s)))
        self.assertEqual('411 Length Required', status[0])
        self.assertEqual('LENGTH_REQUIRED', json.loads(body)['error']['code'])
        env['wsgi.input'] = io.BytesIO(b'{"expires_in": 60}')
        env['wsgi.input_terminated'] = True
        body = b''.join(wsgi.create_app(lambda: self.authority)(
            env, lambda s, h, *a: status.append(s)))
        self.assertEqual('201 Created', status[1])
        self.assertEqual(60, json.loads(body)['expires_in'])

    def test_cursors_the_database_cannot_hold_are_400(self):
        import base64
        path = self.tokens_path()
        for position in ([2 ** 63, 'x'], [-2 ** 70, 'x'], [2 ** 64, 'x'],
                         [1, '\ud800'], [1, 'ok\udfff'], [[1], 'x'],
                         '[' * 5000):
            text = (position if isinstance(position, str)
                    else json.dumps(position))
            cursor = base64.urlsafe_b64encode(text.encode()).decode()
            error = self.assertError(
                self.call('GET', path, self.alice,
                          params={'cursor': cursor.rstrip('=')}),
                400, 'INVALID_REQUEST')
            self.assertEqual({'field': 'cursor'}, error['details'])
        # the edges of 64 bits are positions like any other
        for edge in (2 ** 63 - 1, -2 ** 63):
            cursor = base64.urlsafe_b64encode(
                json.dumps([edge, 'jti_x']).encode()).decode()
            result = self.call('GET', path, self.alice,
                               params={'cursor': cursor})
            self.assertEqual(200, result.status_code, result.text)

    def test_lone_surrogates_are_400(self):
        for path, body in (
                ('/v1/workspaces', '{"name": "ok-name", '
                                   '"description": "\\ud800"}'),
                (self.tokens_path(), '{"description": "a\\udc00b"}'),
                (self.tokens_path(), '{"\\ud800": 1}'),
                (self.tokens_path(), '{"scope": "\\udfff"}')):
            error = self.assertError(
                self.call('POST', path, self.alice, body=body,
                          headers={'Content-Type': 'application/json'}),
                400, 'INVALID_REQUEST')
            self.assertIn('UTF-8', error['message'])
        self.assertEqual([], self.authority.list_tokens(OWNER,
                                                        self.ws.id).tokens)

    def test_deep_nesting_is_400(self):
        for body in ('[' * 32000, '{"a":' * 10000 + '1' + '}' * 10000,
                     '[' * 900 + ']' * 900):
            self.assertLess(len(body), parsing.MAX_BODY)
            result = self.call('POST', self.tokens_path(), self.alice,
                               body=body,
                               headers={'Content-Type': 'application/json'})
            self.assertIn(result.status_code, (400, 422), result.text)
            self.assertEqual({'error'}, set(result.json))

    def test_huge_numbers_are_refused(self):
        for text in ('1' * 5000, '1e400', '-1e400', '1' * 40, 'NaN',
                     'Infinity'):
            result = self.call(
                'POST', self.tokens_path(), self.alice,
                body=f'{{"expires_in": {text}}}',
                headers={'Content-Type': 'application/json'})
            self.assertIn(result.status_code, (400, 422), text)
            self.assertEqual({'error'}, set(result.json))
        for text in ('1' * 5000, '9' * 30, '-' + '9' * 30):
            result = self.call('GET', self.tokens_path(), self.alice,
                               params={'limit': text})
            self.assertIn(result.status_code, (400, 422), text)


class TestIssue(APITestCase):

    def test_default_lifetime_is_one_year(self):
        body = self.issue()
        self.assertEqual({'access_token', 'token_type', 'expires_in',
                          'expires_at', 'scope', 'jti', 'workspace_id',
                          'created_at'}, set(body))
        self.assertEqual(('Bearer', YEAR, ['workspace:read', 'servers:read'],
                          self.ws.id),
                         (body['token_type'], body['expires_in'],
                          body['scope'], body['workspace_id']))
        self.assertTrue(body['access_token'].startswith('wst_'))
        self.assertEqual('2024-11-13T22:13:20Z', body['expires_at'])
        self.assertEqual('2023-11-14T22:13:20Z', body['created_at'])

    def test_explicit_null_means_never(self):
        for body in ({'expires_in': None}, {'expires_at': None},
                     {'expires_in': None, 'expires_at': None}):
            issued = self.issue(**body)
            self.assertEqual((None, None),
                             (issued['expires_in'], issued['expires_at']))

    def test_expiry_as_seconds_or_a_time(self):
        self.assertEqual(3600, self.issue(expires_in=3600)['expires_in'])
        at = self.issue(expires_at='2024-01-01T00:00:00Z')
        self.assertEqual('2024-01-01T00:00:00Z', at['expires_at'])
        at = self.issue(expires_at=base.START + 60)
        self.assertEqual(60, at['expires_in'])

    def test_scope_and_description(self):
        issued = self.issue(scope=['tokens:write', 'servers:read'],
                            description='ci')
        canonical = ['servers:read', 'tokens:read', 'tokens:write']
        self.assertEqual(canonical, issued['scope'])
        listed = self.call('GET', self.tokens_path(), self.alice).json
        self.assertEqual(('ci', canonical),
                         (listed['tokens'][0]['description'],
                          listed['tokens'][0]['scope']))
        # a space-separated string, and null for the default
        self.assertEqual(canonical, self.issue(
            scope='servers:read tokens:write')['scope'])
        self.assertEqual(list(scopes.DEFAULT), self.issue(scope=None)['scope'])

    def test_empty_body_without_content_type(self):
        result = self.call('POST', self.tokens_path(), self.alice)
        self.assertEqual(201, result.status_code)

    def test_idempotency_key_replays_the_same_token(self):
        headers = {'Idempotency-Key': 'k-1'}
        first = self.call('POST', self.tokens_path(), self.alice, json={},
                          headers=dict(headers))
        again = self.call('POST', self.tokens_path(), self.alice, json={},
                          headers=dict(headers))
        self.assertEqual(first.json, again.json)
        self.assertNotIn('idempotent-replayed', first.headers)
        self.assertEqual('true', again.headers['idempotent-replayed'])
        self.assertError(
            self.call('POST', self.tokens_path(), self.alice, json={},
                      headers={'Idempotency-Key': 'k' * 200}),
            400, 'INVALID_REQUEST')

    def test_answers_are_not_cached(self):
        result = self.call('POST', self.tokens_path(), self.alice, json={})
        self.assertEqual('no-store', result.headers['cache-control'])


class TestListAndRevoke(APITestCase):

    def test_list_shape_and_filters(self):
        live = self.issue(description='live')
        dead = self.issue(expires_in=None)
        short = self.issue(expires_in=10)
        self.call('DELETE', f"{self.tokens_path()}/{dead['jti']}",
                  self.alice)
        self.clock.advance(20)
        body = self.call('GET', self.tokens_path(), self.alice).json
        self.assertEqual({'workspace_id', 'tokens', 'count', 'next_cursor'},
                         set(body))
        self.assertEqual((self.ws.id, 1, None),
                         (body['workspace_id'], body['count'],
                          body['next_cursor']))
        self.assertEqual({'jti': live['jti'], 'created_at': base.START,
                          'expires_at': live['expires_at'],
                          'status': 'active', 'description': 'live',
                          'revoked_at': None,
                          'scope': ['workspace:read', 'servers:read']},
                         body['tokens'][0])
        body = self.call('GET', self.tokens_path(), self.alice,
                         params={'include_expired': 'true',
                                 'include_revoked': '1'}).json
        statuses = {t['jti']: (t['status'], t['revoked_at'])
                    for t in body['tokens']}
        self.assertEqual({live['jti']: ('active', None),
                          dead['jti']: ('revoked', '2023-11-14T22:13:20Z'),
                          short['jti']: ('expired', None)}, statuses)

    def test_pagination(self):
        jtis = {self.issue()['jti'] for _ in range(5)}
        seen, cursor = [], None
        while True:
            params = {'limit': '2'}
            if cursor:
                params['cursor'] = cursor
            body = self.call('GET', self.tokens_path(), self.alice,
                             params=params).json
            self.assertLessEqual(body['count'], 2)
            seen += [t['jti'] for t in body['tokens']]
            cursor = body['next_cursor']
            if not cursor:
                break
        self.assertEqual(5, len(seen))
        self.assertEqual(jtis, set(seen))

    def test_revoke_twice(self):
        token = self.issue()
        path = f"{self.tokens_path()}/{token['jti']}"
        first = self.call('DELETE', path, self.alice)
        self.assertEqual(200, first.status_code)
        self.assertEqual({'workspace_id': self.ws.id,
                          'token_jti': token['jti'], 'status': 'revoked',
                          'revoked_at': '2023-11-14T22:13:20Z',
                          'already_revoked': False}, first.json)
        self.clock.advance(100)
        again = self.call('DELETE', path, self.alice)
        self.assertEqual(200, again.status_code)
        self.assertTrue(again.json['already_revoked'])
        self.assertEqual(first.json['revoked_at'], again.json['revoked_at'])

    def test_revoke_with_grace(self):
        token = self.issue(scope='tokens:write')
        path = f"{self.tokens_path()}/{token['jti']}"
        # the token itself asks, as a refresh without a user credential
        first = self.call('DELETE', path, token['access_token'],
                          params={'grace': '3600'})
        self.assertEqual(200, first.status_code, first.text)
        self.assertEqual({'workspace_id': self.ws.id,
                          'token_jti': token['jti'], 'status': 'retiring',
                          'revoked_at': '2023-11-14T23:13:20Z',
                          'already_revoked': False}, first.json)
        listed = self.call('GET', self.tokens_path(), self.alice).json
        self.assertEqual([('active', '2023-11-14T23:13:20Z')],
                         [(t['status'], t['revoked_at'])
                          for t in listed['tokens']])
        self.assertEqual(200, self.call('GET', '/v1/token_auth',
                                        token['access_token']).status_code)
        self.clock.advance(3600)
        self.assertError(self.call('GET', '/v1/token_auth',
                                   token['access_token']),
                         401, 'TOKEN_REVOKED')
        self.assertEqual([], self.call('GET', self.tokens_path(),
                                       self.alice).json['tokens'])

    def test_revoke_ends_a_grace_at_once_by_either_route(self):
        token = self.issue()
        path = f"{self.tokens_path()}/{token['jti']}"
        self.call('POST', path + '/revoke', self.alice,
                  params={'grace': '600'})
        self.clock.advance(5)
        now = self.call('DELETE', path, self.alice)
        self.assertEqual(('revoked', '2023-11-14T22:13:25Z', False),
                         (now.json['status'], now.json['revoked_at'],
                          now.json['already_revoked']))
        self.assertError(self.call('GET', '/v1/token_auth',
                                   token['access_token']),
                         401, 'TOKEN_REVOKED')

    def test_bad_grace_changes_nothing(self):
        token = self.issue()
        path = f"{self.tokens_path()}/{token['jti']}"
        for grace in ('-1', '604801', '1.5', 'soon', '9' * 30, ''):
            result = self.call('DELETE', path, self.alice,
                               params={'grace': grace})
            if grace == '':
                continue       # an empty parameter is no parameter
            # 422: not an integer; 400: an integer out of bounds
            self.assertIn(result.status_code, (400, 422), grace)
        self.assertEqual(200, self.call('GET', '/v1/token_auth',
                                        token['access_token']).status_code)

    def test_revoke_unknown(self):
        self.assertError(self.call('DELETE', f'{self.tokens_path()}/jti_x',
                                   self.alice), 404, 'TOKEN_NOT_FOUND')
        self.assertError(
            self.call('DELETE', '/v1/workspaces/nope/tokens/jti_x',
                      self.alice), 404, 'WORKSPACE_NOT_FOUND')


class TestTokenAuth(APITestCase):

    def test_valid_token(self):
        token = self.issue()
        for method in ('GET', 'POST'):
            result = self.call(method, '/v1/token_auth',
                               token['access_token'])
            self.assertEqual(200, result.status_code)
            self.assertEqual(self.ws.id, result.headers['x-workspace-id'])
            self.assertEqual(token['jti'], result.headers['x-token-jti'])
            self.assertEqual('workspace:read servers:read',
                             result.headers['x-token-scope'])
            self.assertEqual({'valid': True, 'workspace_id': self.ws.id,
                              'jti': token['jti'],
                              'scope': ['workspace:read', 'servers:read'],
                              'expires_at': token['expires_at']},
                             result.json)

    def test_a_valid_answer_written_once_still_ends_at_revocation(self):
        token = self.issue()
        for _ in range(2):
            result = self.call('GET', '/v1/token_auth', token['access_token'])
            self.assertEqual(200, result.status_code)
            self.assertEqual('application/json',
                             result.headers['content-type'])
            # the bytes Falcon's JSON media would write for the answer
            self.assertEqual(json.dumps(result.json, ensure_ascii=False),
                             result.text)
        self.call('DELETE', f"{self.tokens_path()}/{token['jti']}",
                  self.alice)
        result = self.call('GET', '/v1/token_auth', token['access_token'])
        self.assertError(result, 401, 'TOKEN_REVOKED')

    def test_invalid_tokens_are_401(self):
        expiring = self.issue(expires_in=10)['access_token']
        revoked = self.issue()
        self.call('DELETE', f"{self.tokens_path()}/{revoked['jti']}",
                  self.alice)
        self.clock.advance(11)
        for bearer, code in ((expiring, 'TOKEN_EXPIRED'),
                             (revoked['access_token'], 'TOKEN_REVOKED'),
                             ('garbage', 'TOKEN_INVALID'),
                             (self.alice, 'TOKEN_INVALID'),
                             (None, 'AUTHENTICATION_REQUIRED')):
            result = self.call('GET', '/v1/token_auth', bearer)
            self.assertError(result, 401, code)
            self.assertNotIn('x-workspace-id', result.headers)
            self.assertIn('Bearer', result.headers['www-authenticate'])


class TestIngress(APITestCase):
    """/v1/token_auth with X-Original-URL and X-Original-Method."""

    def setUp(self):
        super().setUp()
        self.reader = self.issue()          # workspace:read servers:read
        self.other = self.authority.create_workspace(OWNER, 'other')

    def ask(self, token, url, method='GET', **headers):
        headers = {'X-Original-URL': url, 'X-Original-Method': method,
                   **headers}
        return self.call('GET', '/v1/token_auth', token['access_token'],
                         headers=headers)

    def test_a_read_of_its_own_workspace(self):
        for url in (f'/v1/workspaces/{self.ws.id}/servers',
                    f'/v1/workspaces/{self.ws.id}',
                    f'https://api.example/v1/workspaces/{self.ws.id}/'
                    'servers/abc?x=1'):
            result = self.ask(self.reader, url)
            self.assertEqual(200, result.status_code, result.text)
            self.assertEqual((self.ws.id, self.reader['jti'],
                              'workspace:read servers:read'),
                             (result.headers['x-workspace-id'],
                              result.headers['x-token-jti'],
                              result.headers['x-token-scope']))

    def test_a_write_needs_the_write_scope(self):
        url = f'/v1/workspaces/{self.ws.id}/servers'
        for method in ('POST', 'PUT', 'DELETE', 'PATCH'):
            error = self.assertError(self.ask(self.reader, url, method),
                                     403, 'INSUFFICIENT_SCOPE')
            self.assertEqual({'required': ['servers:write']},
                             error['details'])
        writer = self.issue(scope=['servers:write'])
        self.assertEqual(200, self.ask(writer, url, 'POST').status_code)
        # a resource it has no scope for at all
        self.assertError(self.ask(writer, f'{url}/../secrets'), 403,
                         'FORBIDDEN')
        self.assertError(
            self.ask(writer, f'/v1/workspaces/{self.ws.id}/secrets'),
            403, 'INSUFFICIENT_SCOPE')

    def test_another_workspace_is_403(self):
        full = self.issue(scope=scopes.FULL)
        for url in (f'/v1/workspaces/{self.other.id}/servers',
                    f'/v1/workspaces/{self.other.id}',
                    f'/v1/workspaces/{self.other.id.upper()}/servers'):
            result = self.ask(full, url)
            error = self.assertError(result, 403, 'FORBIDDEN')
            self.assertIn('another workspace', error['message'])
            self.assertNotIn('x-workspace-id', result.headers)

    def test_ambiguous_urls_and_lone_headers_are_403(self):
        full = self.issue(scope=scopes.FULL)
        for url in (f'/v1/workspaces/{self.ws.id}/../{self.other.id}/x',
                    f'/v1/workspaces//{self.other.id}/servers',
                    f'/v1/workspaces/{self.ws.id}%2F..%2F{self.other.id}'):
            self.assertError(self.ask(full, url), 403, 'FORBIDDEN')
        for headers in ({'X-Original-URL': '/'},
                        {'X-Original-Method': 'GET'}):
            self.assertError(self.call('GET', '/v1/token_auth',
                                       full['access_token'],
                                       headers=headers), 403, 'FORBIDDEN')

    def test_a_bad_token_is_401_first(self):
        self.call('DELETE', f"{self.tokens_path()}/{self.reader['jti']}",
                  self.alice)
        self.assertError(self.ask(self.reader, '/..//'), 401,
                         'TOKEN_REVOKED')


class TestWireFormat(APITestCase):
    """What clients of the platform's API rely on."""

    def test_a_list_without_limit_has_every_token(self):
        jtis = {self.issue()['jti'] for _ in range(105)}
        body = self.call('GET', self.tokens_path(), self.alice).json
        self.assertEqual((105, None), (body['count'], body['next_cursor']))
        self.assertEqual(jtis, {t['jti'] for t in body['tokens']})
        page = self.call('GET', self.tokens_path(), self.alice,
                         params={'limit': '100'}).json
        self.assertEqual(100, page['count'])
        self.assertIsNotNone(page['next_cursor'])

    def test_health(self):
        body = self.call('GET', '/health').json
        self.assertEqual({'status', 'version', 'service', 'timestamp'},
                         set(body))
        import ntcli
        self.assertEqual(('healthy', ntcli.__version__, 'ntcli-server',
                          '2023-11-14T22:13:20Z'),
                         (body['status'], body['version'], body['service'],
                          body['timestamp']))

    def test_revoke_by_post(self):
        token = self.issue()
        path = f"{self.tokens_path()}/{token['jti']}/revoke"
        result = self.call('POST', path, self.alice,
                           headers={'Content-Type': 'application/json'})
        self.assertEqual(200, result.status_code, result.text)
        self.assertEqual(('revoked', False),
                         (result.json['status'],
                          result.json['already_revoked']))
        self.assertError(self.call('GET', '/v1/token_auth',
                                   token['access_token']),
                         401, 'TOKEN_REVOKED')
        self.assertError(self.call('POST', path, self.bob), 403, 'FORBIDDEN')
        self.assertError(self.call('DELETE', path, self.alice), 405,
                         'METHOD_NOT_ALLOWED')

    def test_openapi_document(self):
        result = self.call('GET', '/openapi.json')
        self.assertEqual(200, result.status_code)
        self.assertEqual('3.1.0', result.json['openapi'])


class TestScopes(APITestCase):
    """Issuing with a workspace token: no escalation."""

    def test_a_token_without_tokens_write_issues_nothing(self):
        reader = self.issue()['access_token']
        error = self.assertError(
            self.call('POST', self.tokens_path(), reader,
                      json={'scope': ['workspace:read']}),
            403, 'INSUFFICIENT_SCOPE')
        self.assertIn('tokens:write', error['message'])
        self.assertEqual(1, self.call('GET', self.tokens_path(),
                                      self.alice).json['count'])

    def test_a_token_grants_only_its_own_scopes(self):
        issuer = self.issue(scope=['tokens:write', 'servers:read'])
        bearer = issuer['access_token']
        ok = self.issue(bearer, scope=['servers:read'], expires_in=60)
        self.assertEqual(['servers:read'], ok['scope'])
        for wanted in (['servers:write'], 'secrets:read', None):
            body = {'expires_in': 60}
            if wanted is not None:
                body['scope'] = wanted
            error = self.assertError(
                self.call('POST', self.tokens_path(), bearer, json=body),
                403, 'INSUFFICIENT_SCOPE')
            self.assertTrue(error['details']['missing'])
        # the user grants anything
        self.assertEqual(list(scopes.FULL),
                         self.issue(scope=list(scopes.FULL))['scope'])


class TestWhoAmI(APITestCase):

    def test_user(self):
        result = self.call('GET', '/v1/whoami', self.alice)
        self.assertEqual(200, result.status_code)
        self.assertEqual(('user', 'alice', None),
                         (result.json['kind'], result.json['user_name'],
                          result.json['workspace_id']))

    def test_workspace_token(self):
        token = self.issue()
        result = self.call('GET', '/v1/whoami', token['access_token'])
        self.assertEqual(('workspace', self.ws.id, token['jti']),
                         (result.json['kind'], result.json['workspace_id'],
                          result.json['jti']))
        self.assertNotIn(token['access_token'], result.text)

    def test_nobody(self):
        self.assertError(self.call('GET', '/v1/whoami'), 401,
                         'AUTHENTICATION_REQUIRED')
        self.assertError(self.call('GET', '/v1/whoami', 'ntu_nope'), 401,
                         'AUTHENTICATION_REQUIRED')


class TestAuthorization(APITestCase):

    def test_no_or_unknown_credentials(self):
        for headers in ({}, {'Authorization': 'Basic YWxpY2U6cHc='},
                        {'Authorization': 'Bearer'},
                        {'Authorization': 'Bearer ntu_unknown'}):
            self.assertError(
                self.call('GET', '/v1/workspaces', headers=headers),
                401, 'AUTHENTICATION_REQUIRED')

    def test_workspace_token_in_its_own_workspace(self):
        bearer = self.issue(scope=scopes.FULL)
        issued = self.issue(bearer['access_token'])
        listed = self.call('GET', self.tokens_path(), bearer['access_token'])
        self.assertEqual(200, listed.status_code)
        self.assertEqual(2, listed.json['count'])
        self.assertError(
            self.call('DELETE', f"{self.tokens_path()}/{issued['jti']}",
                      bearer['access_token']), 403, 'FORBIDDEN')
        own = self.call('DELETE', f"{self.tokens_path()}/{bearer['jti']}",
                        bearer['access_token'])
        self.assertEqual(200, own.status_code)

    def test_workspace_token_elsewhere(self):
        bearer = self.issue()['access_token']
        other = self.authority.create_workspace(OWNER, 'other')
        for method, path in (
                ('POST', self.tokens_path(other.id)),
                ('GET', self.tokens_path(other.id)),
                ('POST', self.tokens_path('no-such-workspace')),
                ('POST', '/v1/workspaces'),
                ('DELETE', f'/v1/workspaces/{self.ws.id}')):
            body = ({'name': 'made-by-a-token'}
                    if path == '/v1/workspaces' else {})
            self.assertError(self.call(method, path, bearer, json=body),
                             403, 'FORBIDDEN')
        # it sees its own workspace only
        listed = self.call('GET', '/v1/workspaces', bearer).json
        self.assertEqual([self.ws.id], [w['workspace_id']
                                        for w in listed['workspaces']])

    def test_another_users_workspace(self):
        token = self.issue()
        for method, path in (
                ('POST', self.tokens_path()), ('GET', self.tokens_path()),
                ('DELETE', f"{self.tokens_path()}/{token['jti']}"),
                ('DELETE', f'/v1/workspaces/{self.ws.id}')):
            self.assertError(self.call(method, path, self.bob, json={}),
                             403, 'FORBIDDEN')

    def test_workspace_token_cannot_issue_a_non_expiring_token(self):
        bearer = self.issue(scope=scopes.FULL)['access_token']
        for body in ({'expires_in': None}, {'expires_at': None},
                     {'expires_in': None, 'expires_at': None}):
            error = self.assertError(
                self.call('POST', self.tokens_path(), bearer, json=body),
                403, 'FORBIDDEN')
            self.assertIn('needs a user credential', error['message'])
        # nothing was issued
        listed = self.call('GET', self.tokens_path(), self.alice).json
        self.assertEqual(1, listed['count'])
        # tokens that expire it may issue: the default year, or any
        # lifetime up to the ten years every token is capped at
        self.assertEqual(YEAR, self.issue(bearer)['expires_in'])
        ten_years = MAX_LIFETIME
        self.assertEqual(ten_years,
                         self.issue(bearer, expires_in=ten_years)
                         ['expires_in'])
        self.assertError(
            self.call('POST', self.tokens_path(), bearer,
                      json={'expires_in': ten_years + 1}),
            400, 'INVALID_REQUEST')
        self.assertError(
            self.call('POST', self.tokens_path(), bearer,
                      json={'expires_at': base.START + ten_years + 1}),
            400, 'INVALID_REQUEST')
        # a user still may
        self.assertIsNone(self.issue(expires_in=None)['expires_at'])

    def test_workspace_token_cannot_replay_a_non_expiring_token(self):
        # An idempotency key a user issued a permanent token under must
        # not hand that token to a workspace token asking for a day: the
        # key names the user's request.
        key = {'Idempotency-Key': 'k-1'}
        bearer = self.issue(scope=scopes.FULL)['access_token']
        permanent = self.call('POST', self.tokens_path(), self.alice,
                              json={'expires_in': None}, headers=dict(key))
        self.assertEqual(201, permanent.status_code)
        result = self.call('POST', self.tokens_path(), bearer,
                           json={'expires_in': 86400}, headers=dict(key))
        self.assertError(result, 409, 'IDEMPOTENCY_KEY_CONFLICT')
        self.assertNotIn(permanent.json['access_token'], result.text)
        self.assertNotIn(permanent.json['jti'], result.text)
        # an expiring one under its own key replays as before
        first = self.call('POST', self.tokens_path(), bearer,
                          json={'expires_in': 60},
                          headers={'Idempotency-Key': 'k-2'})
        again = self.call('POST', self.tokens_path(), bearer,
                          json={'expires_in': 60},
                          headers={'Idempotency-Key': 'k-2'})
        self.assertEqual(first.json['jti'], again.json['jti'])
        self.assertEqual('true', again.headers['idempotent-replayed'])

    def test_the_caller_is_known_before_the_body_is_read(self):
        self.assertError(self.call('POST', self.tokens_path(), None,
                                   json={'bogus': 1}),
                         401, 'AUTHENTICATION_REQUIRED')
        # the authority decides on a request, once it is read
        self.assertError(self.call('POST', self.tokens_path(), self.bob,
                                   json={'bogus': 1}),
                         422, 'VALIDATION_ERROR')
        self.assertError(self.call('POST', self.tokens_path(), self.bob,
                                   json={'expires_in': 60}),
                         403, 'FORBIDDEN')


class TestFailures(APITestCase):

    def test_unknown_route_and_method(self):
        self.assertError(self.call('GET', '/v2/nothing'), 404, 'NOT_FOUND')
        result = self.call('PUT', '/v1/workspaces', self.alice)
        self.assertError(result, 405, 'METHOD_NOT_ALLOWED')
        self.assertIn('POST', result.headers['allow'])

    def test_unexpected_exception_is_a_bare_500(self):
        token = self.issue()['access_token']

        def boom(*args, **kwargs):
            raise RuntimeError(f'bug while handling {token}')
        self.authority.list_workspaces = boom
        error = self.assertError(self.call('GET', '/v1/workspaces',
                                           self.alice),
                                 500, 'INTERNAL_ERROR')
        self.assertNotIn('details', error)
        self.assertNotIn('bug', error['message'])
        log = self.logs.output
        self.assertIn('RuntimeError', log)
        self.assertNotIn(token, log)
        self.assertNotIn(token[:40], log)

    def test_storage_failure_is_503_without_its_cause(self):
        def down(*args, **kwargs):
            raise errors.StorageUnavailable(
                'The token database /srv/secret/path.db failed: disk I/O')
        self.authority.list_workspaces = down
        error = self.assertError(self.call('GET', '/v1/workspaces',
                                           self.alice),
                                 503, 'STORAGE_UNAVAILABLE')
        self.assertNotIn('/srv', error['message'])
        self.assertIn('/srv/secret/path.db', self.logs.output)

    def test_health(self):
        self.assertEqual({'status': 'ok'},
                         self.call('GET', '/healthz').json)
        self.assertEqual({'status': 'ready'},
                         self.call('GET', '/readyz').json)
        for path in ('/healthz', '/readyz'):
            head = self.call('HEAD', path)
            self.assertEqual((200, b''), (head.status_code, head.content))

    def test_liveness_never_touches_the_database(self):
        def cannot_open():
            raise errors.StorageUnavailable('Cannot open /x.db')
        client = testing.TestClient(wsgi.create_app(cannot_open))
        self.assertEqual(200, client.simulate_get('/healthz').status_code)
        self.assertEqual(200, client.simulate_head('/healthz').status_code)
        ready = client.simulate_get('/readyz')
        self.assertError(ready, 503, 'STORAGE_UNAVAILABLE')
        self.assertEqual(str(envelope.RETRY_UNAVAILABLE),
                         ready.headers['Retry-After'])

    def test_a_missing_database_is_not_created(self):
        # create_app on a path (as serve's workers have it): a database
        # deleted or mistyped is a 503, never a new authority.
        missing = self.fx.dir + '/gone/server.db'
        client = testing.TestClient(wsgi.create_app(missing))
        self.assertError(client.simulate_get('/readyz'), 503,
                         'STORAGE_UNAVAILABLE')
        self.assertFalse(os.path.exists(os.path.dirname(missing)))
        client = testing.TestClient(wsgi.create_app(self.fx.path))
        self.assertEqual(200, client.simulate_get('/readyz').status_code)

    def test_health_when_the_database_cannot_be_opened(self):
        def cannot_open():
            raise errors.StorageUnavailable('Cannot open /x.db')
        client = testing.TestClient(wsgi.create_app(cannot_open))
        result = client.simulate_get('/readyz')
        self.assertError(result, 503, 'STORAGE_UNAVAILABLE')


class TestIdempotencyKeyText(APITestCase):

    def test_only_printable_ascii_keys(self):
        for key in ('a\x01b', 'ключ', 'tab\there'):
            error = self.assertError(
                self.call('POST', self.tokens_path(), self.alice, json={},
                          headers={'Idempotency-Key': key}),
                400, 'INVALID_REQUEST')
            self.assertEqual({'field': 'idempotency_key'}, error['details'])
        self.assertEqual([], self.authority.list_tokens(OWNER,
                                                        self.ws.id).tokens)
