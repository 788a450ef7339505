"""Hostile input refused at the edge, on both databases: no 5xx, nothing
stored (NUL, lone surrogates, integers out of 64 bits, non-ASCII digits,
duplicate JSON members)."""

from __future__ import annotations

import json
import logging
import urllib.parse

import fixtures
import testtools
from falcon import testing

from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_server import edge, wsgi
from tests import postgres as pg_fixture

NUL = '\x00'
SURROGATE = '%ED%A0%80'           # U+D800, as a client can send it
ODD_NUMBERS = ['9' * 19, '9' * 30, '-' + '9' * 30, str(2 ** 63),
               '١٠', '²', '１０', '+5', ' 5', '1_0', '0x10', '1e3']


def quote(text: str) -> str:
    return urllib.parse.quote(text, safe='')

OWNER = Principal.local()  # the local owner may do everything


class EdgeTests:
    """Scenarios; subclasses give ``open_authority``."""

    def open_authority(self) -> Authority:
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger(name='ntcli_server',
                                            level=logging.DEBUG))
        self.authority = self.open_authority()
        self.addCleanup(self.authority.close)
        alice = self.authority.create_user(OWNER, 'alice')
        self.headers = {'Authorization': f'Bearer {alice.credential}',
                        'Content-Type': 'application/json'}
        self.ws = self.authority.create_workspace(OWNER, 'main',
                                                  owner=alice.user.id)
        self.client = testing.TestClient(
            wsgi.create_app(lambda: self.authority))
        self.base = f'/v1/workspaces/{self.ws.id}'

    def call(self, method, path, **kwargs):
        return self.client.simulate_request(method, path,
                                            headers=self.headers, **kwargs)

    def assert_refused(self, result, *statuses):
        self.assertIn(result.status_code, statuses or (400, 422),
                      result.text)
        self.assertIn('error', result.json)

    def assert_nothing_stored(self):
        self.assertEqual(0, len(self.authority.list_tokens(OWNER, self.ws.id,
                                                           limit=None)
                                .tokens))
        self.assertEqual(['main'], [w.name for w in
                                    self.authority.list_workspaces(OWNER)])

    def test_nul_and_surrogates_in_paths(self):
        for bad in (quote(NUL), 'a' + quote(NUL) + 'b', SURROGATE):
            for method, path in (
                    ('GET', f'/v1/workspaces/{bad}/tokens'),
                    ('POST', f'/v1/workspaces/{bad}/tokens'),
                    ('DELETE', f'/v1/workspaces/{bad}'),
                    ('GET', f'/v1/workspaces/{bad}/events'),
                    ('DELETE', f'{self.base}/tokens/{bad}'),
                    ('POST', f'{self.base}/tokens/{bad}/revoke')):
                result = self.call(method, path)
                self.assert_refused(result, 400)
        self.assert_nothing_stored()

    def test_nul_and_surrogates_in_queries(self):
        for name in ('cursor', 'limit', 'since', 'action'):
            for bad in (quote(NUL), 'a' + quote(NUL), SURROGATE):
                for path in (self.base + '/events', self.base + '/tokens'):
                    self.assert_refused(self.call(
                        'GET', path, query_string=f'{name}={bad}'), 400)

    def test_nul_in_bodies(self):
        for body in ({'description': 'a\x00b'},
                     {'expires_at': '2030-01-01T00:00:00\x00Z'},
                     {'expires_at': '2030-01-01T00:00:00Z\x00'},
                     {'scope': ['workspace:read\x00']}):
            self.assert_refused(self.call('POST', self.base + '/tokens',
                                          body=json.dumps(body)), 422)
        self.assert_refused(self.call(
            'POST', '/v1/workspaces',
            body=json.dumps({'name': 'x\x00y'})), 422)
        self.assert_nothing_stored()

    def test_odd_numbers_in_queries(self):
        for value in ODD_NUMBERS:
            for name in ('limit', 'cursor', 'since'):
                for path in (self.base + '/events', self.base + '/tokens'):
                    result = self.call('GET', path, query_string=(
                        f'{name}={quote(value)}'))
                    if name == 'cursor' and path.endswith('/tokens'):
                        self.assert_refused(result, 400)
                    elif name == 'since' and path.endswith('/tokens'):
                        self.assertEqual(200, result.status_code)  # unused
                    else:
                        self.assert_refused(result)

    def test_odd_numbers_in_bodies(self):
        for value in (10 ** 19, -10 ** 19, 10 ** 40, 2 ** 63, -2 ** 63,
                      1e308, '١٠', '２０３０-01-01T00:00:00Z'):
            for field in ('expires_in', 'expires_at'):
                self.assert_refused(self.call(
                    'POST', self.base + '/tokens',
                    body=json.dumps({field: value})))
        self.assert_nothing_stored()

    def test_duplicate_members(self):
        for raw in ('{"expires_in": 60, "expires_in": null}',
                    '{"scope": ["workspace:read"], "scope": null}',
                    '{"description": "a", "x": {"k": 1, "k": 2}}'):
            self.assert_refused(self.call('POST', self.base + '/tokens',
                                          body=raw), 400)
        self.assert_nothing_stored()


class TestSQLite(EdgeTests, testtools.TestCase):

    def open_authority(self):
        return Authority.open(self.useFixture(fixtures.TempDir()).join(
            'a.db'))


class TestPostgres(EdgeTests, testtools.TestCase):

    def open_authority(self):
        postgres = self.useFixture(pg_fixture.PostgresServer())
        self.useFixture(pg_fixture.ServerSecret())
        return Authority.open(postgres.create_database())


class TestAsciiInt(testtools.TestCase):

    def test_ascii_int(self):
        self.assertEqual(2 ** 63 - 1, edge.ascii_int(str(2 ** 63 - 1)))
        self.assertEqual(-2 ** 63, edge.ascii_int(str(-2 ** 63)))
        for text in ODD_NUMBERS[2:] + [str(-2 ** 63 - 1), '', '-']:
            self.assertIsNone(edge.ascii_int(text), text)
