"""Rotation with a grace period against a real ntcli-server, the clock moved
by the test seam (NTCLI_TEST_CLOCK_OFFSET, in the server's environment and
the CLI's): a grace period that ends while the server is down, a restart in
the middle, and a SQLite -> PostgreSQL ``db copy`` in the middle."""

from __future__ import annotations

import json
import os
import subprocess

import requests
import testtools
from testtools import matchers

from ntcli_core import clock, timefmt
from ntcli_server.testing import (
    Answer,
    FaultProxy,
    ServerFixture,
    server_command,
)
from tests import postgres as pg_fixture
from tests.functional import test_remote

HOUR = 3600
SECRET = {pg_fixture.SERVER_SECRET_ENV: pg_fixture.TEST_SERVER_SECRET}


def token_auth(server: ServerFixture, token: str) -> requests.Response:
    return requests.get(f'{server.url}/v1/token_auth', timeout=10,
                        headers={'Authorization': f'Bearer {token}'})


def restart(server: ServerFixture, offset: int = 0) -> None:
    """Stop the server and start it again, its clock ``offset`` seconds
    ahead."""
    server.stop()
    server.extra_env[clock.OFFSET_ENV] = str(offset)
    server.start()


class TestGraceOnTheServer(test_remote.RemoteTest):

    server_per_test = True

    def setUp(self):
        super().setUp()
        self.login_and_select()
        self.quick('token', 'refresh')
        self.old = self.stored()
        self.out = self.json('token', 'refresh', '--grace', '1h')
        self.new = self.stored()

    def test_the_answer_the_list_and_the_audit_trail(self):
        self.assertEqual(self.old.jti, self.out['old_token']['jti'])
        revoked_at = timefmt.parse_iso(self.out['old_token']['revoked_at'])
        self.assertGreater(revoked_at, clock.now() + HOUR - 60)
        answer = token_auth(self.server, self.old.token)
        self.assertEqual(200, answer.status_code)
        self.assertEqual(self.out['old_token']['revoked_at'],
                         answer.json()['revoked_at'])
        self.assertNotIn('revoked_at', token_auth(self.server,
                                                  self.new.token).json())
        rows = {r['JTI']: r['Status'] for r in self.json(
            'token', 'list', '--show-expired')}
        self.assertEqual(f'Retiring until {timefmt.human(revoked_at)}',
                         rows[self.old.jti])
        trail = json.loads(self.server.admin(
            'audit', 'list', '--action', 'token.retire', '-f', 'json'))
        self.assertEqual([(self.old.jti, 'success',
                           f"revoked_at={self.out['old_token']['revoked_at']}")],
                         [(e['target_jti'], e['outcome'], e['detail'])
                          for e in trail])
        expiring = json.loads(self.server.admin(
            'token', 'expiring', '--within', '400d', '-f', 'json'))
        self.assertEqual(
            {self.old.jti: self.out['old_token']['revoked_at'],
             self.new.jti: None},
            {r['jti']: r['retiring_until'] for r in expiring
             if r['jti'] in (self.old.jti, self.new.jti)})
        # revoking it ends the grace at once
        self.ntcli('token', 'revoke', '--force', self.old.jti)
        self.assertEqual(401, token_auth(self.server,
                                         self.old.token).status_code)

    def test_the_grace_ends_while_the_server_is_down(self):
        self.server.stop()
        # nothing runs while it is down; it comes back after the grace
        self.server.extra_env[clock.OFFSET_ENV] = str(HOUR + 1)
        self.server.start()
        refused = token_auth(self.server, self.old.token)
        self.assertEqual(401, refused.status_code)
        self.assertEqual('TOKEN_REVOKED', refused.json()['error']['code'])
        self.assertEqual(200, token_auth(self.server,
                                         self.new.token).status_code)
        later = {clock.OFFSET_ENV: str(HOUR + 1)}
        self.assertEqual(12, self.ntcli(
            'token', 'show', '--check', expect=None,
            env={'NTCLI_TOKEN': self.old.token, **later}).returncode)
        self.assertEqual(0, self.ntcli('token', 'show', '--check',
                                       env=later).returncode)

    def test_a_restart_in_the_middle(self):
        restart(self.server, 600)
        answer = token_auth(self.server, self.old.token)
        self.assertEqual(200, answer.status_code)
        self.assertEqual(self.out['old_token']['revoked_at'],
                         answer.json()['revoked_at'])
        restart(self.server, HOUR + 1)
        self.assertEqual(401, token_auth(self.server,
                                         self.old.token).status_code)
        self.assertEqual(200, token_auth(self.server,
                                         self.new.token).status_code)

    def test_a_failed_revoke_keeps_its_deadline_on_the_server(self):
        # the server is down at step 3: the revocation waits, the grace
        # still runs from the refresh
        self.quick('token', 'refresh')
        before = self.stored()
        self.server.stop()
        result = self.ntcli('token', 'refresh', '--grace', '1h',
                            expect=None)
        self.assertNotEqual(0, result.returncode)   # no issue without it
        self.server.start()
        out = self.json('token', 'refresh', '--grace', '1h',
                        env={'NTCLI_FAULT': 'fail:revoke'})
        self.assertTrue(out['old_token']['revocation_pending'])
        self.assertEqual(200, token_auth(self.server,
                                         before.token).status_code)
        # the next command, half an hour later, finishes it with what is
        # left: the old token stops at the hour, not half an hour later
        restart(self.server, HOUR // 2)
        half = {clock.OFFSET_ENV: str(HOUR // 2)}
        self.ntcli('token', 'list', env=half)
        self.assertEqual(200, token_auth(self.server,
                                         before.token).status_code)
        restart(self.server, HOUR + 60)
        self.assertEqual(401, token_auth(self.server,
                                         before.token).status_code)


class TestExpiryGaugesAcrossWorkers(testtools.TestCase):

    def test_every_worker_answers_from_the_database(self):
        from tests.unit.ntcli_server.test_metrics import samples
        server = self.useFixture(ServerFixture(workers=2,
                                               serve_args=['--metrics']))
        auth = {'Authorization': f'Bearer {server.credential}'}
        tokens = f'{server.url}/v1/workspaces/{server.workspace_id}/tokens'
        for lifetime in (3600, 3 * 86400, 20 * 86400):
            requests.post(tokens, json={'expires_in': lifetime},
                          headers=auth, timeout=10).raise_for_status()
        retiring = requests.post(tokens, json={'expires_in': 86400 * 2},
                                 headers=auth, timeout=10).json()
        requests.delete(f"{tokens}/{retiring['jti']}", headers=auth,
                        params={'grace': 600}, timeout=10)
        for _ in range(4):          # whichever worker answers the scrape
            answer = requests.get(server.url + '/metrics', timeout=10)
            self.assertEqual(200, answer.status_code, answer.text)
            found = samples(answer.text)
            self.assertEqual(
                (1, 3, 4, 1),
                (found['ntcli_server_tokens_expiring{within="1d"}'],
                 found['ntcli_server_tokens_expiring{within="7d"}'],
                 found['ntcli_server_tokens_expiring{within="30d"}'],
                 found['ntcli_server_tokens_retiring']))
        restart(server, 2 * 3600)
        found = samples(requests.get(server.url + '/metrics',
                                     timeout=10).text)
        # the hour-long token expired, the retiring one's grace ended
        self.assertEqual(
            (0, 1, 2, 0),
            (found['ntcli_server_tokens_expiring{within="1d"}'],
             found['ntcli_server_tokens_expiring{within="7d"}'],
             found['ntcli_server_tokens_expiring{within="30d"}'],
             found['ntcli_server_tokens_retiring']))


class TestAnAPIWithoutGracePeriods(test_remote.RemoteTest):
    """An API that ignores ``grace`` (the NimbleTools API) revokes at once;
    ntcli says so instead of promising a grace period."""

    server_per_test = True

    def endpoint_url(self):
        self.proxy = self.useFixture(FaultProxy(self.server.url))
        return self.proxy.url

    def test_the_old_token_is_reported_revoked_with_a_warning(self):
        self.login_and_select()
        self.quick('token', 'refresh')
        old = self.stored()
        now = timefmt.iso(clock.now())
        self.proxy.fail(Answer(200, json.dumps({
            'workspace_id': self.workspace.id, 'token_jti': old.jti,
            'status': 'revoked', 'revoked_at': now}).encode()),
            method='DELETE')
        result = self.ntcli('token', 'refresh', '--grace', '1h', '-f',
                            'json')
        out = json.loads(result.stdout)
        self.assertEqual({'jti': old.jti, 'revoked_at': now},
                         out['old_token'])
        self.assertIn('the endpoint revoked the old token at once: it does '
                      'not keep a token valid for a grace period',
                      result.stderr)
        # the grace runs from the refresh, so a slow machine asks for a
        # second or two less than the hour by the time it revokes
        path, _, query = self.proxy.seen[-1].path.partition('?grace=')
        self.assertIn(old.jti, path)
        self.assertThat(int(query), matchers.Annotate(
            'grace asked for', matchers.GreaterThan(3590)))
        self.assertLessEqual(int(query), 3600)
        self.assertEqual([], self.credentials().pending_revocations(
            self.url))


def _run(*args, env=None):
    return subprocess.run(server_command() + list(args), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, **(env or {})})


class TestGraceAcrossADatabaseCopy(testtools.TestCase):

    def test_a_retiring_token_keeps_its_grace_on_postgresql(self):
        postgres = self.useFixture(pg_fixture.PostgresServer())
        dsn = postgres.create_database()
        old = self.useFixture(ServerFixture(env={
            pg_fixture.SERVER_SECRET_ENV: ''}))
        auth = {'Authorization': f'Bearer {old.credential}'}
        tokens = f'{old.url}/v1/workspaces/{old.workspace_id}/tokens'
        retiring = requests.post(tokens, json={'expires_in': 86400},
                                 headers=auth, timeout=10).json()
        answer = requests.delete(f"{tokens}/{retiring['jti']}", timeout=10,
                                 headers=auth, params={'grace': HOUR})
        self.assertEqual('retiring', answer.json()['status'])
        until = answer.json()['revoked_at']
        old.stop()
        copied = _run('db', 'copy', '--from', old.db, '--to', dsn,
                      '-f', 'json', env=SECRET)
        self.assertEqual(0, copied.returncode, copied.stderr)
        node = self.useFixture(ServerFixture(dsn, user=None, env=SECRET))
        answer = token_auth(node, retiring['access_token'])
        self.assertEqual((200, until), (answer.status_code,
                                        answer.json()['revoked_at']))
        restart(node, HOUR + 1)
        self.assertEqual('TOKEN_REVOKED', token_auth(
            node, retiring['access_token']).json()['error']['code'])
