"""The endpoint contract on the HTTP endpoint and a real ntcli-server.

One server serves the whole class; every test works in a workspace of its
own, so the tests do not see each other.
"""

import sqlite3

import requests
import testtools

from ntcli import errors
from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_server.testing import ServerFixture
from tests.contract import base


class TestHTTPEndpoint(base.EndpointContract, testtools.TestCase):

    embedded = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerFixture(workspace=None)
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)
        cls.credential = cls.server.credential

    def make_endpoint(self):
        return HTTPEndpoint(self.server.url, EndpointOptions(timeout=10))

    def rotate_signing_key(self):
        self.server.admin('keys', 'rotate')

    def make_user(self):
        return self.server.admin('user', 'create',
                                 base.unique_name('user')).strip()

    def test_no_credential(self):
        # over HTTP, no credential is nobody (on the embedded endpoint it
        # is the local owner)
        for call in (
                lambda: self.endpoint.list_workspaces(None),
                lambda: self.endpoint.issue_token(None, self.workspace.id),
                lambda: self.endpoint.list_tokens(None, self.workspace.id),
                lambda: self.endpoint.validate_token('')):
            exc = self.assertRaises(errors.AuthenticationRequired, call)
            self.assertEqual('Authentication required. Try running ntcli '
                             'token refresh', exc.message)

    def test_the_key_is_the_normalized_url(self):
        port = self.server.port
        for given in (f'HTTP://127.0.0.1:{port}/', f'http://127.0.0.1:{port}',
                      f'http://127.0.0.1:{port}//'):
            self.assertEqual(f'http://127.0.0.1:{port}',
                             HTTPEndpoint(given, EndpointOptions()).key)


class TestTwoServersOneDatabase(testtools.TestCase):
    """Two ntcli-server nodes on one database see the same tokens (how the
    PostgreSQL multi-node tests use ServerFixture, here on SQLite)."""

    def test_a_known_token_is_validated_without_reading_its_row(self):
        # A worker answers from the rows it keeps while the change counter
        # stands still: with the tokens table out of reach, a token it
        # validated before is still valid, one it never saw is not (503);
        # a revocation by the other node is seen at once.
        first = self.useFixture(ServerFixture())
        second = self.useFixture(ServerFixture(first.db, user=None))
        a = HTTPEndpoint(first.url, EndpointOptions(timeout=10))
        credential, ws = first.credential, first.workspace_id
        token = a.issue_token(credential, ws, expires_in=60)
        unseen = a.issue_token(credential, ws, expires_in=60)

        def token_auth(value: str) -> int:
            return requests.get(second.url + '/v1/token_auth', timeout=10,
                                headers={'Authorization': 'Bearer ' + value}
                                ).status_code

        self.assertEqual(200, token_auth(token.token))
        conn = sqlite3.connect(first.db, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute('ALTER TABLE tokens RENAME TO tokens_away')
        try:
            self.assertEqual(200, token_auth(token.token))
            self.assertEqual(503, token_auth(unseen.token))
        finally:
            conn.execute('ALTER TABLE tokens_away RENAME TO tokens')
        a.revoke_token(credential, ws, token.jti)
        self.assertEqual(401, token_auth(token.token))

    def test_issue_on_one_node_revoke_on_the_other(self):
        first = self.useFixture(ServerFixture())
        second = self.useFixture(ServerFixture(first.db, user=None))
        self.assertNotEqual(first.port, second.port)
        a, b = (HTTPEndpoint(s.url, EndpointOptions(timeout=10))
                for s in (first, second))
        credential, ws = first.credential, first.workspace_id
        token = a.issue_token(credential, ws, expires_in=60,
                              idempotency_key='once')
        again = b.issue_token(credential, ws, expires_in=60,
                              idempotency_key='once')
        self.assertEqual((token, True), (again.replace(replayed=False),
                                         again.replayed))
        self.assertEqual(token.jti, b.validate_token(token.token).jti)
        b.revoke_token(credential, ws, token.jti)
        self.assertRaises(errors.TokenRevoked, a.validate_token, token.token)
