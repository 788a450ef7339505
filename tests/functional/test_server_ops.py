"""A real ``ntcli-server serve`` as an operator runs it for a team: request
ids, JSON logs, and Prometheus metrics counted across gunicorn workers."""

from __future__ import annotations

import concurrent.futures
import glob
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request

import fixtures
import requests
import testtools
from prometheus_client import multiprocess

from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_authority.models import Identity, Session
from ntcli_server.testing import ServerFixture, server_command
from tests.unit.ntcli_server.test_metrics import samples


def wait_for(predicate, timeout=20.0):
    """Poll ``predicate`` until true (logs reach the file asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class TestMetricsAcrossWorkers(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.multiproc = self.useFixture(fixtures.TempDir()).path
        # values of an earlier run, and a file that is not prometheus'
        with open(os.path.join(self.multiproc, 'counter_1.db'), 'wb') as f:
            f.write(b'\0' * 64)
        with open(os.path.join(self.multiproc, 'keep.txt'), 'w') as f:
            f.write('not ours')
        self.server = self.useFixture(ServerFixture(
            workers=3, serve_args=['--metrics'],
            env={'PROMETHEUS_MULTIPROC_DIR': self.multiproc}))

    def test_every_worker_is_counted(self):
        url = self.server.url + '/v1/workspaces'
        headers = {'Authorization': f'Bearer {self.server.credential}'}

        def get(_):
            return requests.get(url, headers=headers, timeout=30).status_code

        def burst():
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                self.assertEqual([200] * 30, list(pool.map(get, range(30))))
        burst()
        # gevent workers may serve a whole burst alone: kill every worker
        # (gunicorn starts new ones), so that the next burst is counted by
        # other processes whose values must add up with the dead ones'
        first = self.worker_pids()
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: self.worker_pids() - first))
        self.assertTrue(wait_for(lambda: requests.get(
            self.server.url + '/healthz', timeout=5).status_code == 200))
        burst()
        # the first scrape after the workers' deaths may come while a new
        # worker starts; the counts are what matters, so wait for an answer
        answers = []
        self.assertTrue(wait_for(lambda: answers.append(requests.get(
            self.server.url + '/metrics', timeout=10)) or
            answers[-1].status_code == 200),
            [(a.status_code, a.text[:300]) for a in answers[-3:]])
        found = samples(answers[-1].text)
        self.assertEqual(60, found['ntcli_server_http_requests_total{method='
                                   '"GET",route="/v1/workspaces",'
                                   'status="200"}'])
        served = []
        for name in glob.glob(os.path.join(self.multiproc, 'counter_*.db')):
            for metric in multiprocess.MultiProcessCollector.merge([name]):
                served += [s.value for s in metric.samples
                           if s.name == 'ntcli_server_http_requests_total'
                           and s.labels['route'] == '/v1/workspaces'
                           and s.value > 0]
        self.assertEqual(60, sum(served))
        self.assertGreater(len(served), 1)
        self.assertNotIn('counter_1.db', os.listdir(self.multiproc))
        self.assertTrue(os.path.exists(os.path.join(self.multiproc,
                                                    'keep.txt')))

    def worker_pids(self) -> set[int]:
        """The live workers of the server (children of its master)."""
        master = self.server.process.pid
        children = set()
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                try:
                    with open(f'/proc/{entry}/stat') as f:
                        fields = f.read().rsplit(')', 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master and fields[0] != 'Z':
                    children.add(int(entry))
        return children

    def test_a_private_directory_is_removed_at_exit(self):
        server = self.useFixture(ServerFixture(
            serve_args=['--metrics'], env={'PROMETHEUS_MULTIPROC_DIR': ''}))
        found = re.search(r'keep their values in (\S+)', server.log())
        self.assertIsNotNone(found, server.log())
        path = found.group(1)
        self.assertTrue(os.path.isdir(path))
        self.assertEqual(200, requests.get(server.url + '/metrics',
                                           timeout=10).status_code)
        server.stop()
        self.assertFalse(os.path.exists(path))


class TestRequestIdsAndJSONLogs(testtools.TestCase):

    def test_json_logs_carry_the_request_id(self):
        server = self.useFixture(ServerFixture(
            serve_args=['--log-format', 'json']))
        request = urllib.request.Request(
            server.url + '/v1/workspaces',
            headers={'X-Request-Id': 'edge-1234',
                     'Authorization': f'Bearer {server.credential}'})
        with urllib.request.urlopen(request, timeout=10) as answer:
            self.assertEqual('edge-1234', answer.headers['X-Request-Id'])
        answer = requests.get(server.url + '/v1/workspaces', timeout=10,
                              headers={'X-Request-Id': 'bad id'})
        generated = answer.headers['X-Request-Id']
        self.assertEqual(generated, answer.json()['error']['request_id'])

        def access_lines():
            entries = []
            for line in server.log().splitlines():
                entry = json.loads(line)       # every line is one object
                if entry['log'] == 'access':
                    entries.append(entry)
            return entries
        self.assertTrue(wait_for(lambda: {'edge-1234', generated} <= {
            e['request_id'] for e in access_lines()}))
        by_id = {e['request_id']: e for e in access_lines()}
        self.assertEqual((200, 'GET', '/v1/workspaces'),
                         (by_id['edge-1234']['status'],
                          by_id['edge-1234']['method'],
                          by_id['edge-1234']['path']))
        self.assertEqual(401, by_id[generated]['status'])
        self.assertNotIn(server.credential, server.log())
        errors = [json.loads(line) for line in server.log().splitlines()]
        self.assertIn('error', {e['log'] for e in errors})
        self.assertTrue(all({'time', 'level', 'message', 'request_id'}
                            <= set(e) for e in errors if e['log'] == 'error'))

    def test_text_access_log_ends_with_the_request_id(self):
        server = self.useFixture(ServerFixture())
        requests.get(server.url + '/healthz', timeout=10,
                     headers={'X-Request-Id': 'edge-5678'})
        self.assertTrue(wait_for(lambda: any(
            line.endswith(' edge-5678') and '"GET /healthz' in line
            for line in server.log().splitlines())))


class TestLogsKeepSecrets(testtools.TestCase):
    """A careless client's token in the query, the path or the user agent
    stays out of both logs, in both formats; each record is written once."""

    def careless_requests(self, server):
        token = requests.post(
            f'{server.url}/v1/workspaces/{server.workspace_id}/tokens',
            json={'expires_in': 600}, timeout=10, headers={
                'Authorization': f'Bearer {server.credential}'}
        ).json()['access_token']
        encoded = urllib.parse.quote(token, safe='').replace('_', '%5F')
        for path in (f'/v1/whoami?access_token={token}',
                     f'/v1/whoami?access_token={encoded}',
                     f'/v1/workspaces/{token}/tokens',
                     f'/v1/workspaces/{encoded}/tokens'):
            requests.get(server.url + path, timeout=10, headers={
                'User-Agent': f'careless/1.0 {token}'})
        return token

    def test_text(self):
        server = self.useFixture(ServerFixture())
        token = self.careless_requests(server)
        self.assertTrue(wait_for(
            lambda: server.log().count('careless/1.0') >= 4))
        self.assertNotIn(token, server.log())
        self.assertNotIn(token.split('.')[-1], server.log())

    def test_json(self):
        server = self.useFixture(ServerFixture(
            serve_args=['--log-format', 'json']))
        token = self.careless_requests(server)
        # A record of ntcli_server's own: the database file goes away.
        os.unlink(server.db)
        self.assertEqual(503, requests.get(
            server.url + '/v1/whoami', timeout=10, headers={
                'Authorization': f'Bearer {server.credential}'}).status_code)
        self.assertTrue(wait_for(
            lambda: server.log().count('careless/1.0') >= 4
            and 'STORAGE_UNAVAILABLE' in server.log()))
        entries = [json.loads(line)          # every line is one object
                   for line in server.log().splitlines()]
        self.assertEqual(1, sum('STORAGE_UNAVAILABLE' in e['message']
                                for e in entries if e['log'] == 'error'))
        self.assertNotIn(token, server.log())
        self.assertNotIn(token.split('.')[-1], server.log())


class TestAuditTrail(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(ServerFixture())

    def audit(self, *args):
        return json.loads(self.server.admin('audit', 'list', '-f', 'json',
                                            *args))

    def test_issue_and_revoke_over_http_are_audited_exactly(self):
        server = self.server
        user_id = server.admin('user', 'list', '-f', 'value', '-c',
                               'id').strip()
        before = self.audit('--workspace', 'main')
        path = f'{server.url}/v1/workspaces/{server.workspace_id}/tokens'
        auth = {'Authorization': f'Bearer {server.credential}',
                'User-Agent': 'ops-test/1.0'}
        issued = requests.post(path, json={}, timeout=10, headers={
            **auth, 'X-Request-Id': 'issue-1'}).json()
        requests.delete(f"{path}/{issued['jti']}", timeout=10, headers={
            **auth, 'X-Request-Id': 'revoke-1'}).raise_for_status()
        after = self.audit('--workspace', server.workspace_id)
        self.assertEqual(['workspace.create'],
                         [e['action'] for e in before])
        self.assertEqual(before, after[:1])
        common = {'outcome': 'success', 'actor': user_id,
                  'workspace_id': server.workspace_id,
                  'target_jti': issued['jti'], 'client': '127.0.0.1',
                  'user_agent': 'ops-test/1.0', 'detail': None}
        self.assertEqual(
            [{**common, 'action': 'token.issue', 'request_id': 'issue-1'},
             {**common, 'action': 'token.revoke', 'request_id': 'revoke-1'}],
            [{k: v for k, v in e.items() if k != 'time'}
             for e in after[1:]])
        # no secret in any column of any row
        conn = sqlite3.connect(server.db)
        self.addCleanup(conn.close)
        rows = repr(conn.execute('SELECT * FROM audit_events').fetchall())
        for secret in (issued['access_token'],
                       issued['access_token'].split('.')[-1],
                       server.credential, server.credential[4:]):
            self.assertNotIn(secret, rows)
        # the filters
        self.assertEqual(after[2:], self.audit('--action', 'token.revoke'))
        self.assertEqual([], self.audit('--since', '2999-01-01T00:00:00Z'))
        csv_out = server.admin('audit', 'list', '-f', 'csv')
        self.assertEqual(len(self.audit()) + 1, len(csv_out.splitlines()))

    def test_bad_usage(self):
        for args in (('--action', 'token.steal'), ('--since', 'soon'),
                     ('-f', 'xml')):
            result = subprocess.run(
                server_command() + ['--db', self.server.db, 'audit', 'list',
                                    *args], capture_output=True, text=True)
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertNotIn('Traceback', result.stderr)


class TestAuditRetention(testtools.TestCase):

    def test_old_events_go_while_the_server_serves(self):
        directory = self.useFixture(fixtures.TempDir()).path
        db = os.path.join(directory, 'server.db')
        now = int(time.time())
        with Authority.open(db, clock=lambda: now - 10 * 86400) as old:
            old.create_user(Principal.local(), 'ancient')
        with Authority.open(db, clock=lambda: now - 2 * 86400) as recent:
            recent.create_user(Principal.local(), 'recent')
        server = self.useFixture(ServerFixture(
            db, user=None, serve_args=['--audit-retention-days', '5']))

        def details():
            return [e['detail'].split()[-1] for e in json.loads(
                server.admin('audit', 'list', '-f', 'json'))]
        self.assertTrue(wait_for(lambda: details() == ['recent']),
                        details())
        self.assertEqual(200, requests.get(server.url + '/healthz',
                                           timeout=10).status_code)

    def test_retention_outlives_a_reload_of_the_workers(self):
        # Workers exit normally on a reload (SIGHUP); none of them may take
        # the retention process with it.
        server = self.useFixture(ServerFixture(
            serve_args=['--audit-retention-days', '5']))
        master = server.process.pid

        def children():
            found = {}
            for entry in os.listdir('/proc'):
                if not entry.isdigit():
                    continue
                try:
                    with open(f'/proc/{entry}/stat') as f:
                        fields = f.read().rsplit(')', 1)[1].split()
                    with open(f'/proc/{entry}/cmdline', 'rb') as f:
                        cmdline = f.read()
                except OSError:
                    continue
                if int(fields[1]) == master and fields[0] != 'Z':
                    found[int(entry)] = b'ntcli_server.retention' in cmdline
            return found

        self.assertTrue(wait_for(lambda: any(children().values())),
                        children())
        retention = {p for p, r in children().items() if r}
        workers = {p for p, r in children().items() if not r}
        os.kill(master, signal.SIGHUP)
        self.assertTrue(wait_for(lambda: not workers & set(children())),
                        children())
        self.assertTrue(wait_for(lambda: len(children()) > len(retention)))
        self.assertEqual(200, requests.get(server.url + '/healthz',
                                           timeout=10).status_code)
        self.assertEqual(retention,
                         {p for p, r in children().items() if r})
        self.assertNotIn('can only join a child process', server.log())


class TestRetention(testtools.TestCase):
    """Without --audit-retention-days too, the server forgets what it
    need not keep."""

    def test_expired_sessions_go_while_the_server_serves(self):
        directory = self.useFixture(fixtures.TempDir()).path
        db = os.path.join(directory, 'server.db')
        now = int(time.time())
        issuer = 'https://idp.example'
        with Authority.open(db) as authority:
            user = authority.create_user(Principal.local(), 'alice').user
            authority.store.add_identity(Identity(issuer, 'sub', user.id,
                                                  now - 3 * 86400))
            for session, expires_at in (('ses_expired', now - 2 * 86400),
                                        ('ses_live', now + 3600)):
                authority.store.add_session(Session(
                    session, user.id, issuer, 'sub', now - 3 * 86400,
                    expires_at, secret_hash=session), None)

        def sessions():
            with sqlite3.connect(db) as connection:
                return sorted(row[0] for row in connection.execute(
                    'SELECT id FROM sessions'))
        self.assertEqual(['ses_expired', 'ses_live'], sessions())
        server = self.useFixture(ServerFixture(db, user=None))
        self.assertTrue(wait_for(lambda: sessions() == ['ses_live']),
                        sessions())
        self.assertEqual(200, requests.get(server.url + '/healthz',
                                           timeout=10).status_code)


class TestDatabaseFileReplaced(testtools.TestCase):
    """A restore done under a running server, or a mistaken rm: 503 until
    the server is restarted, never an acknowledged change to a file no
    later process reads."""

    def issue(self, server):
        return requests.post(
            f'{server.url}/v1/workspaces/{server.workspace_id}/tokens',
            json={'expires_in': 600}, timeout=10, headers={
                'Authorization': f'Bearer {server.credential}'})

    def test_replaced(self):
        server = self.useFixture(ServerFixture())
        backup = server.db + '.backup'
        with sqlite3.connect(server.db) as source, \
                sqlite3.connect(backup) as target:
            source.backup(target)
        self.assertEqual(201, self.issue(server).status_code)
        os.replace(backup, server.db)
        for _ in range(3):
            answer = self.issue(server)
            self.assertEqual(503, answer.status_code, answer.text)
            self.assertEqual('STORAGE_UNAVAILABLE',
                             answer.json()['error']['code'])
        self.assertEqual(503, requests.get(server.url + '/readyz',
                                           timeout=10).status_code)
        self.assertEqual(200, requests.get(server.url + '/healthz',
                                           timeout=10).status_code)
        self.assertIn('replaced or deleted', server.log())
        # Then as the operator guide says: stop, drop the old file's -wal
        # and -shm (they would be replayed into the restored file), start.
        server.kill()
        for suffix in ('-wal', '-shm'):
            if os.path.exists(server.db + suffix):
                os.unlink(server.db + suffix)
        server.start()
        self.assertEqual(201, self.issue(server).status_code)
        with sqlite3.connect(server.db) as conn:
            # the restored file: the token issued before the restore is not
            # in it, the one issued after the restart is
            self.assertEqual(1, conn.execute(
                'SELECT COUNT(*) FROM tokens').fetchone()[0])

    def test_deleted(self):
        server = self.useFixture(ServerFixture())
        for suffix in ('', '-wal', '-shm'):
            if os.path.exists(server.db + suffix):
                os.unlink(server.db + suffix)
        self.assertEqual(503, self.issue(server).status_code)
        self.assertFalse(os.path.exists(server.db))
