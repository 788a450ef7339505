"""The token API served by two ``ntcli-server serve`` nodes that share one
PostgreSQL database, as behind a load balancer.

* The whole endpoint contract (tests/contract/base.py) runs through a
  round-robin "load balancer": consecutive calls go to alternate nodes.
* Scenarios of several nodes: issue on A, validate and revoke on B, the
  revocation seen by A; ``/v1/token_auth`` on both; one idempotency key on
  both nodes at once; a signing key rotation seen by a node at once; and
  the database going away (503 with the error envelope, no token issued
  half-way) and coming back.

PostgreSQL comes from tests/postgres.py; without it these tests are
skipped, saying why.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid

import requests
import testtools

from ntcli import errors
from ntcli.endpoints import Endpoint, EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_authority.storage import changes
from ntcli_server.testing import ServerFixture
from tests import postgres as pg_fixture
from tests.contract import base

SERVER_ENV = {pg_fixture.SERVER_SECRET_ENV: pg_fixture.TEST_SERVER_SECRET}


def start_nodes(cls, count: int = 2) -> None:
    """Give the test class a fresh database (``cls.dsn``) and ``count``
    server nodes on it (``cls.nodes``); the first has a user."""
    cls.postgres = pg_fixture.PostgresServer()
    cls.postgres.setUp()                       # skips without PostgreSQL
    cls.addClassCleanup(cls.postgres.cleanUp)
    cls.dsn = cls.postgres.create_database()
    cls.nodes = []
    for index in range(count):
        node = ServerFixture(cls.dsn, workspace=None, env=SERVER_ENV,
                             user='tester' if index == 0 else None)
        node.setUp()
        cls.addClassCleanup(node.cleanUp)
        cls.nodes.append(node)
    cls.credential = cls.nodes[0].credential


def http_endpoint(node: ServerFixture) -> HTTPEndpoint:
    return HTTPEndpoint(node.url, EndpointOptions(timeout=10))


def token_kid(token: str) -> str:
    header = token[len('wst_'):].split('.')[0]
    return json.loads(base64.urlsafe_b64decode(header + '=' * (-len(header)
                                                               % 4)))['kid']


class LoadBalancer(Endpoint):
    """Sends each call to the next node in turn (round robin)."""

    def __init__(self, nodes: list[Endpoint]) -> None:
        super().__init__(nodes[0].url, nodes[0].options)
        self.nodes = nodes
        self._turn = itertools.cycle(nodes)
        self._lock = threading.Lock()

    def _next(self) -> Endpoint:
        with self._lock:
            return next(self._turn)

    def create_workspace(self, credential, name, description=None):
        return self._next().create_workspace(credential, name, description)

    def list_workspaces(self, credential):
        return self._next().list_workspaces(credential)

    def delete_workspace(self, credential, workspace_id):
        try:
            return self._next().delete_workspace(credential, workspace_id)
        finally:
            time.sleep(changes.BOUND)   # as for revoke_token

    def issue_token(self, credential, workspace_id, **kwargs):
        return self._next().issue_token(credential, workspace_id, **kwargs)

    def list_tokens_page(self, credential, workspace_id, **kwargs):
        return self._next().list_tokens_page(credential, workspace_id,
                                             **kwargs)

    def revoke_token(self, credential, workspace_id, jti, **kwargs):
        # A revocation takes effect on every node within the bound the
        # docs state (immediately on the node and worker that made it).
        try:
            return self._next().revoke_token(credential, workspace_id, jti,
                                             **kwargs)
        finally:
            time.sleep(changes.BOUND)

    def validate_token(self, token):
        return self._next().validate_token(token)

    def list_events_page(self, credential, workspace_id, **kwargs):
        return self._next().list_events_page(credential, workspace_id,
                                             **kwargs)

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class TestLoadBalancedNodes(base.EndpointContract, testtools.TestCase):
    """The endpoint contract, each call on the other node than the last."""

    embedded = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_nodes(cls)

    def make_endpoint(self):
        return LoadBalancer([http_endpoint(node) for node in self.nodes])

    def rotate_signing_key(self):
        self.nodes[0].admin('keys', 'rotate')

    def make_user(self):
        return self.nodes[0].admin('user', 'create',
                                   base.unique_name('user')).strip()


class TestTwoNodes(testtools.TestCase):
    """Scenarios that need to say which node does what."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_nodes(cls)

    def setUp(self):
        super().setUp()
        self.a, self.b = (http_endpoint(node) for node in self.nodes)
        for endpoint in (self.a, self.b):
            self.addCleanup(endpoint.close)
        self.ws = self.a.create_workspace(self.credential,
                                          base.unique_name()).id

    def token_auth(self, node: ServerFixture, token: str,
                   method: str = 'GET') -> requests.Response:
        return requests.request(method, node.url + '/v1/token_auth',
                                headers={'Authorization': 'Bearer ' + token},
                                timeout=10)

    def test_issue_on_a_validate_and_revoke_on_b(self):
        token = self.a.issue_token(self.credential, self.ws, expires_in=600)
        self.assertEqual(token.jti, self.b.validate_token(token.token).jti)
        self.assertIn(token.jti, [r.jti for r in self.b.list_tokens(
            self.credential, self.ws)])
        revocation = self.b.revoke_token(self.credential, self.ws, token.jti)
        time.sleep(changes.BOUND)
        self.assertRaises(errors.TokenRevoked, self.a.validate_token,
                          token.token)
        self.assertEqual(revocation.revoked_at, self.a.revoke_token(
            self.credential, self.ws, token.jti).revoked_at)
        listed = {r.jti: r for r in self.a.list_tokens(
            self.credential, self.ws, include_revoked=True)}
        self.assertEqual('revoked', listed[token.jti].status)

    def test_token_auth_on_both_nodes(self):
        token = self.b.issue_token(self.credential, self.ws, expires_in=600)
        for node in self.nodes:
            for method in ('GET', 'POST'):
                answer = self.token_auth(node, token.token, method)
                self.assertEqual(200, answer.status_code)
                self.assertEqual(self.ws, answer.headers['X-Workspace-Id'])
        self.a.revoke_token(self.credential, self.ws, token.jti)
        time.sleep(changes.BOUND)
        for node in self.nodes:
            answer = self.token_auth(node, token.token)
            self.assertEqual(401, answer.status_code)
            self.assertEqual('TOKEN_REVOKED', answer.json()['error']['code'])
            self.assertNotIn('X-Workspace-Id', answer.headers)

    def test_one_idempotency_key_on_both_nodes_at_once(self):
        for _ in range(5):
            key = str(uuid.uuid4())
            barrier = threading.Barrier(2)
            results: list = [None, None]

            def issue(index, endpoint, key=key, barrier=barrier,
                      results=results):
                barrier.wait(10)
                results[index] = endpoint.issue_token(
                    self.credential, self.ws, expires_in=600,
                    idempotency_key=key)

            threads = [threading.Thread(target=issue, args=(i, e))
                       for i, e in enumerate((self.a, self.b))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            self.assertIsNotNone(results[0])
            self.assertIsNotNone(results[1])
            # the same token twice: issued once, replayed once
            self.assertEqual(
                [False, True], sorted(r.replayed for r in results))
            self.assertEqual(results[0].replace(replayed=False),
                             results[1].replace(replayed=False))
        self.assertEqual(5, len(self.b.list_tokens(self.credential,
                                                   self.ws)))

    def test_a_known_token_is_validated_without_reading_its_row(self):
        # In steady state a node's worker answers from the rows it keeps:
        # with the tokens table out of reach, a token it validated before
        # is still valid, one it never saw cannot be read (503).
        import psycopg

        from ntcli_authority.storage import listener
        token = self.a.issue_token(self.credential, self.ws, expires_in=600)
        unseen = self.a.issue_token(self.credential, self.ws,
                                    expires_in=600)
        for node in self.nodes:      # opens each worker's authority
            self.assertEqual(200, self.token_auth(node, token.token)
                             .status_code)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            # (a row read before a worker listens is not kept)
            deadline = time.monotonic() + 30
            while conn.execute(
                    'SELECT count(*) FROM pg_stat_activity '
                    'WHERE datname = current_database() '
                    'AND application_name = %s AND query = %s',
                    (listener.APPLICATION_NAME,
                     listener.HEARTBEAT_QUERY)).fetchone()[0] < 2:
                self.assertLess(time.monotonic(), deadline, 'not listening')
                time.sleep(0.05)
            for node in self.nodes:
                for _ in range(3):
                    self.assertEqual(200, self.token_auth(node, token.token)
                                     .status_code)
            conn.execute('ALTER TABLE tokens RENAME TO tokens_away')
            try:
                for node in self.nodes:
                    self.assertEqual(200, self.token_auth(
                        node, token.token).status_code)
                    self.assertEqual(503, self.token_auth(
                        node, unseen.token).status_code)
            finally:
                conn.execute('ALTER TABLE tokens_away RENAME TO tokens')
        self.a.revoke_token(self.credential, self.ws, token.jti)
        time.sleep(changes.BOUND)
        for node in self.nodes:
            self.assertEqual(401, self.token_auth(node, token.token)
                             .status_code)

    def test_concurrent_revokes_on_both_nodes(self):
        token = self.a.issue_token(self.credential, self.ws, expires_in=600)
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def revoke(index, endpoint):
            barrier.wait(10)
            results[index] = endpoint.revoke_token(self.credential, self.ws,
                                                   token.jti)

        threads = [threading.Thread(target=revoke, args=(i, e))
                   for i, e in enumerate((self.a, self.b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertIsNotNone(results[0])
        self.assertEqual(results[0].revoked_at, results[1].revoked_at)

    def test_key_rotation_is_seen_by_every_node_at_once(self):
        old = self.a.issue_token(self.credential, self.ws, expires_in=600)
        self.b.validate_token(old.token)
        new_kid = self.nodes[0].admin('keys', 'rotate').strip()
        # A node that just started signs with the new key at once; the
        # running nodes verify its tokens at once (an unknown key id is
        # looked up in the shared database).
        third = ServerFixture(self.dsn, user=None, env=SERVER_ENV)
        self.useFixture(third)
        c = http_endpoint(third)
        self.addCleanup(c.close)
        new = c.issue_token(self.credential, self.ws, expires_in=600)
        self.assertEqual(new_kid, token_kid(new.token))
        self.assertNotEqual(token_kid(old.token), token_kid(new.token))
        for endpoint in (self.a, self.b):
            self.assertEqual(new.jti, endpoint.validate_token(new.token).jti)
            endpoint.validate_token(old.token)
        for node in self.nodes:
            self.assertEqual(200, self.token_auth(node, new.token)
                             .status_code)


class TestDatabaseOutage(testtools.TestCase):
    """The database goes away under running nodes, and comes back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        start_nodes(cls)

    def setUp(self):
        super().setUp()
        self.a = http_endpoint(self.nodes[0])
        self.addCleanup(self.a.close)
        self.ws = self.a.create_workspace(self.credential,
                                          base.unique_name()).id
        self.dbname = self.dsn.rsplit('/', 1)[1]

    def set_connections_allowed(self, allowed: bool) -> None:
        with self.postgres.server.admin() as conn:
            conn.execute(f'ALTER DATABASE {self.dbname} '
                         f'ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                conn.execute('SELECT pg_terminate_backend(pid) '
                             'FROM pg_stat_activity WHERE datname = %s',
                             (self.dbname,))

    def issue(self, node: ServerFixture, key: str) -> requests.Response:
        return requests.post(
            f'{node.url}/v1/workspaces/{self.ws}/tokens',
            json={'expires_in': 600}, timeout=20,
            headers={'Authorization': 'Bearer ' + self.credential,
                     'Idempotency-Key': key})

    def test_unreachable_database_gives_503_and_no_token(self):
        self.set_connections_allowed(False)
        self.addCleanup(self.set_connections_allowed, True)
        for node in self.nodes:
            answer = self.issue(node, 'outage-1')
            self.assertEqual(503, answer.status_code)
            error = answer.json()['error']
            self.assertEqual('STORAGE_UNAVAILABLE', error['code'])
            self.assertTrue(error['message'])
            self.assertNotIn(self.dbname, answer.text)
            self.assertEqual(503, requests.get(node.url + '/readyz',
                                               timeout=20).status_code)
        self.set_connections_allowed(True)
        # Back again: the retried issue gives one token, on either node.
        first = self.issue(self.nodes[1], 'outage-1')
        self.assertEqual(201, first.status_code)
        again = self.issue(self.nodes[0], 'outage-1')
        self.assertEqual(first.json()['access_token'],
                         again.json()['access_token'])
        self.assertEqual([first.json()['jti']], [
            r.jti for r in self.a.list_tokens(self.credential, self.ws,
                                              include_revoked=True,
                                              include_expired=True)])
        password = pg_fixture.password_of(self.dsn)
        for node in self.nodes:
            self.assertIn('STORAGE_UNAVAILABLE', node.log())
            if password:
                self.assertNotIn(password, node.log())


class TestRevocationBound(testtools.TestCase):
    """A thousand tokens revoked on one node and validated on the other,
    the other's change signal cut half-way: no revoked token is accepted
    once the documented bound has passed since its revocation returned."""

    COUNT = 1000

    def setUp(self):
        super().setUp()
        self.postgres = self.useFixture(pg_fixture.PostgresServer())
        self.dsn = self.postgres.create_database()
        self.a = self.useFixture(ServerFixture(self.dsn, workspace='main',
                                               env=SERVER_ENV, workers=2))
        # (a thousand refusals from one address: no failure limit)
        self.b = self.useFixture(ServerFixture(
            self.dsn, user=None, env=SERVER_ENV, workers=2,
            serve_args=['--auth-failure-limit', '0']))

    def cut_listeners(self) -> int:
        """Terminate every listening connection; how many there were."""
        import psycopg

        from ntcli_authority.storage import listener
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return len(conn.execute(
                'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                'WHERE datname = current_database() '
                'AND application_name = %s',
                (listener.APPLICATION_NAME,)).fetchall())

    def test_no_revoked_token_accepted_after_the_bound(self):
        a = requests.Session()
        a.headers['Authorization'] = 'Bearer ' + self.a.credential
        tokens_url = f'{self.a.url}/v1/workspaces/{self.a.workspace_id}/tokens'
        tokens = []
        for _ in range(self.COUNT):
            issued = a.post(tokens_url, json={'expires_in': 3600},
                            timeout=10).json()
            tokens.append((issued['jti'], issued['access_token']))
        # B's workers hold every token in memory (two connections, which
        # gunicorn hands to either worker).
        checkers = [requests.Session() for _ in range(4)]

        def token_auth(token: str, index: int = 0) -> int:
            return checkers[index % len(checkers)].get(
                self.b.url + '/v1/token_auth', timeout=10,
                headers={'Authorization': 'Bearer ' + token}).status_code

        for index, (_, token) in enumerate(tokens * 2):
            self.assertEqual(200, token_auth(token, index))
        revoked_at: list[float] = []
        accepted_after_bound = []
        accepted_within = 0
        checked = 0
        cut = 0
        for index, (jti, token) in enumerate(tokens):
            if index == self.COUNT // 2:
                cut = self.cut_listeners()
            answer = a.delete(f'{tokens_url}/{jti}', timeout=10)
            self.assertEqual(200, answer.status_code, answer.text)
            revoked_at.append(time.monotonic())
            # at once (within the bound: either answer may come)...
            if token_auth(token, index) == 200:
                accepted_within += 1
            # ...and every token whose bound has passed
            while (checked <= index
                   and time.monotonic() - revoked_at[checked]
                   > changes.BOUND):
                for attempt in range(2):
                    status = token_auth(tokens[checked][1],
                                        checked + attempt)
                    if status != 401:
                        accepted_after_bound.append((tokens[checked][0],
                                                     status))
                checked += 1
        time.sleep(changes.BOUND)
        for index in range(checked, self.COUNT):
            for attempt in range(2):
                status = token_auth(tokens[index][1], index + attempt)
                if status != 401:
                    accepted_after_bound.append((tokens[index][0], status))
        self.assertEqual([], accepted_after_bound)
        # The cut happened: every listening connection, at least one per
        # node (a worker listens once it has opened the database; one of
        # A's two may never have had a request).
        self.assertGreaterEqual(cut, 2)
        self.addDetail('accepted within the bound', testtools.content
                       .text_content(str(accepted_within)))
