"""``ntcli-server serve`` while another session holds the database locked.

A request that waits for a lock gets 503 with ``Retry-After`` and the error
envelope after ``--db-wait``; meanwhile the same worker (one worker here)
goes on answering ``/healthz`` and other workspaces' validations, and
gunicorn never kills it. The lock is held for longer than twice the
worker timeout (``--timeout 8``): on a server whose database calls block
the worker, gunicorn logs ``WORKER TIMEOUT`` and resets every connection.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
import time

import psycopg
import requests
import testtools

from ntcli_server.testing import ServerFixture
from tests import postgres as pg_fixture

TIMEOUT = 8             # the worker timeout
DB_WAIT = 4             # the bound on one database call
HELD = 2.5 * TIMEOUT    # how long the lock is held


class StuckDatabaseMixin:
    """Scenarios; subclasses start ``self.server`` and lock its database."""

    server: ServerFixture

    def start(self, db: str | None = None, env: dict | None = None) -> None:
        self.server = self.useFixture(ServerFixture(
            db, workers=1, env=env,
            serve_args=['--timeout', str(TIMEOUT), '--db-wait',
                        str(DB_WAIT), '--auth-failure-limit', '0']))
        self.auth = {'Authorization': f'Bearer {self.server.credential}'}
        other = requests.post(self.server.url + '/v1/workspaces',
                              json={'name': 'other'}, headers=self.auth,
                              timeout=10)
        self.assertEqual(201, other.status_code, other.text)
        self.other_id = other.json()['workspace_id']
        self.other_token = self.issue(self.other_id).json()['access_token']

    def issue(self, workspace_id: str) -> requests.Response:
        return requests.post(
            f'{self.server.url}/v1/workspaces/{workspace_id}/tokens',
            json={'expires_in': 600}, headers=self.auth, timeout=30)

    def validate(self, token: str) -> requests.Response:
        return requests.get(self.server.url + '/v1/token_auth',
                            headers={'Authorization': f'Bearer {token}'},
                            timeout=30)

    def assert_unavailable(self, answer: requests.Response) -> None:
        self.assertEqual(503, answer.status_code, answer.text)
        self.assertTrue(answer.headers['Retry-After'].isdigit())
        error = answer.json()['error']
        self.assertEqual('STORAGE_UNAVAILABLE', error['code'])
        self.assertTrue(error['request_id'])

    def server_waits(self) -> None:
        """Return once the server waits for the held lock."""
        raise NotImplementedError

    def answers_while_waiting(self, workspace_id: str, *,
                              others_answer: bool) -> None:
        """While an issue waits for the lock, the same worker answers
        /healthz (and other workspaces' validations): the wait does not
        hold the worker."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            issue = pool.submit(self.issue, workspace_id)
            self.server_waits()
            self.assertEqual(200, requests.get(self.server.url + '/healthz',
                                               timeout=30).status_code)
            if others_answer:
                self.assertEqual(200, self.validate(self.other_token)
                                 .status_code)
            self.assertFalse(issue.done())
            self.assert_unavailable(issue.result())

    def while_locked(self, workspace_id: str, *, others_answer: bool
                     ) -> None:
        """For HELD seconds: issues in ``workspace_id`` get 503, while
        /healthz (and, if ``others_answer``, validations of another
        workspace's token) keep answering on the same worker."""
        issues: list[requests.Response] = []
        during: list[tuple[str, int]] = []
        pending = threading.Event()

        def keep_issuing() -> None:
            deadline = time.monotonic() + HELD
            try:
                while time.monotonic() < deadline:
                    issues.append(self.issue(workspace_id))
            finally:
                pending.set()

        issuer = threading.Thread(target=keep_issuing)
        issuer.start()
        self.addCleanup(issuer.join)
        while not pending.is_set():
            during.append(('healthz', requests.get(
                self.server.url + '/healthz', timeout=30).status_code))
            if others_answer:
                during.append(('validation', self.validate(
                    self.other_token).status_code))
            pending.wait(0.2)
        issuer.join()
        self.answers_while_waiting(workspace_id, others_answer=others_answer)
        self.assertTrue(issues)
        for answer in issues:
            self.assert_unavailable(answer)
        self.assertTrue(during)
        self.assertEqual([(what, 200) for what, _ in during], during)

    def assert_recovered(self) -> None:
        self.assertEqual(201, self.issue(self.server.workspace_id)
                         .status_code)
        self.assertEqual(200, self.validate(self.other_token).status_code)
        self.assertEqual(200, requests.get(self.server.url + '/readyz',
                                           timeout=30).status_code)
        self.assertNotIn('WORKER TIMEOUT', self.server.log())
        self.assertTrue(self.server.running)


class TestSQLite(StuckDatabaseMixin, testtools.TestCase):

    def server_waits(self) -> None:
        # SQLite shows nobody who waits for its lock: give the request a
        # moment to get there (a quarter of the time it may wait).
        time.sleep(DB_WAIT / 4)

    def test_write_lock_held(self):
        self.start()
        holder = sqlite3.connect(self.server.db, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute('BEGIN IMMEDIATE')
        try:
            # Reads go on in WAL mode: validations and readiness answer.
            self.while_locked(self.server.workspace_id, others_answer=True)
            self.assertEqual(200, requests.get(
                self.server.url + '/readyz', timeout=30).status_code)
        finally:
            holder.execute('ROLLBACK')
        self.assert_recovered()


class TestPostgres(StuckDatabaseMixin, testtools.TestCase):

    def setUp(self):
        super().setUp()
        postgres = self.useFixture(pg_fixture.PostgresServer())
        self.dsn = postgres.create_database()
        self.start(self.dsn, env={pg_fixture.SERVER_SECRET_ENV:
                                  pg_fixture.TEST_SERVER_SECRET})
        self.holder = psycopg.connect(self.dsn, autocommit=True)
        self.addCleanup(self.holder.close)

    def server_waits(self) -> None:
        while not self.holder.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = "
                "'ntcli-server' AND wait_event_type = 'Lock'").fetchone():
            time.sleep(0.05)

    def test_workspace_row_locked(self):
        self.holder.execute('BEGIN')
        self.holder.execute('SELECT 1 FROM workspaces WHERE id = %s '
                            'FOR UPDATE', (self.server.workspace_id,))
        try:
            self.while_locked(self.server.workspace_id, others_answer=True)
        finally:
            self.holder.execute('ROLLBACK')
        self.assert_recovered()

    def test_tokens_table_locked(self):
        self.holder.execute('BEGIN')
        self.holder.execute('LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE')
        try:
            # Every token read waits: validations get 503 too, in time.
            self.while_locked(self.server.workspace_id, others_answer=False)
            self.assert_unavailable(self.validate(self.other_token))
        finally:
            self.holder.execute('ROLLBACK')
        self.assert_recovered()
