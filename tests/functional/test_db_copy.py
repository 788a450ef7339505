"""``ntcli-server db copy``: a one-node SQLite authority moved onto
PostgreSQL, end to end with real servers on both sides."""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import requests
import testtools

from ntcli_server.testing import ServerFixture, server_command
from tests import postgres as pg_fixture

SECRET = {pg_fixture.SERVER_SECRET_ENV: pg_fixture.TEST_SERVER_SECRET}


def run(*args, env=None):
    return subprocess.run(server_command() + list(args), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, **(env or {})})


class TestFromOneNodeToSeveral(testtools.TestCase):

    def setUp(self):
        super().setUp()
        postgres = self.useFixture(pg_fixture.PostgresServer())
        self.dsn = postgres.create_database()
        # the single node: SQLite, no node secret (keys stored plain)
        self.old = self.useFixture(ServerFixture(env={
            pg_fixture.SERVER_SECRET_ENV: ''}))
        self.auth = {'Authorization': f'Bearer {self.old.credential}'}
        tokens = f'{self.old.url}/v1/workspaces/{self.old.workspace_id}/tokens'
        self.kept = requests.post(tokens, json={'expires_in': 3600},
                                  headers=self.auth, timeout=10).json()
        self.forever = requests.post(
            tokens, json={'expires_in': None}, timeout=10,
            headers={**self.auth, 'Idempotency-Key': 'once'}).json()
        self.gone = requests.post(tokens, json={}, headers=self.auth,
                                  timeout=10).json()
        requests.delete(f"{tokens}/{self.gone['jti']}", headers=self.auth,
                        timeout=10).raise_for_status()
        self.old.admin('keys', 'rotate')       # tokens under two keys
        self.newest = requests.post(tokens, json={}, headers=self.auth,
                                    timeout=10).json()
        self.old.stop()
        self.tokens_path = tokens.replace(self.old.url, '')

    def copy(self, *extra, env=SECRET):
        return run('db', 'copy', '--from', self.old.db, '--to', self.dsn,
                   '-f', 'json', *extra, env=env)

    def test_copy_serve_and_refuse_a_second_copy(self):
        result = self.copy()
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('3 of 3 live tokens', result.stderr)
        counts = {row['table']: str(row['rows'])
                  for row in json.loads(result.stdout)}
        self.assertEqual({'users': '1', 'workspaces': '1',
                          'signing_keys': '2', 'tokens': '4',
                          'idempotency_keys': '1', 'trust_policies': '0',
                          'exchanged_subject_tokens': '0',
                          'identities': '0', 'sessions': '0'},
                         {k: v for k, v in counts.items()
                          if k != 'audit_events'})
        # the private keys are sealed under the node secret now
        with psycopg.connect(self.dsn) as conn:
            sealed = [row[0] for row in conn.execute(
                'SELECT private_key FROM signing_keys')]
        self.assertEqual(2, len(sealed))
        self.assertTrue(all(s.startswith('fernet:') for s in sealed))
        self.assertNotIn('PRIVATE KEY', repr(sealed))
        # a node on PostgreSQL serves what the old node issued
        node = self.useFixture(ServerFixture(self.dsn, user=None,
                                             env=SECRET))

        def token_auth(token):
            return requests.get(node.url + '/v1/token_auth', timeout=10,
                                headers={'Authorization': f'Bearer {token}'})
        for issued in (self.kept, self.forever, self.newest):
            self.assertEqual(200, token_auth(issued['access_token'])
                             .status_code)
        self.assertEqual('TOKEN_REVOKED', token_auth(
            self.gone['access_token']).json()['error']['code'])
        # the user credential, the idempotency key and the audit trail
        replay = requests.post(
            node.url + self.tokens_path, json={'expires_in': None},
            timeout=10, headers={**self.auth, 'Idempotency-Key': 'once'})
        self.assertEqual(self.forever['access_token'],
                         replay.json()['access_token'])
        old_trail = json.loads(run('--db', self.old.db, 'audit', 'list',
                                   '-f', 'json').stdout)
        new_trail = json.loads(run('--db', self.dsn, 'audit', 'list', '-f',
                                   'json', env=SECRET).stdout)
        self.assertEqual(old_trail, new_trail[:len(old_trail)])
        self.assertEqual(['token.replay'],
                         [e['action'] for e in new_trail[len(old_trail):]])
        # a second copy is refused: nothing changes
        again = self.copy()
        self.assertEqual(1, again.returncode)
        self.assertIn('not empty', again.stderr)
        self.assertIn('--force', again.stderr)
        self.assertNotIn('Traceback', again.stderr)
        with psycopg.connect(self.dsn) as conn:
            events = conn.execute(
                'SELECT COUNT(*) FROM audit_events').fetchone()[0]
        self.assertEqual(len(new_trail), events)

    def test_force_replaces_the_target(self):
        self.assertEqual(0, self.copy().returncode)
        with psycopg.connect(self.dsn) as conn:
            conn.execute("DELETE FROM tokens WHERE jti = %s",
                         (self.kept['jti'],))
        result = self.copy('--force')
        self.assertEqual(0, result.returncode, result.stderr)
        with psycopg.connect(self.dsn) as conn:
            self.assertEqual(4, conn.execute(
                'SELECT COUNT(*) FROM tokens').fetchone()[0])

    def test_without_the_node_secret_nothing_is_copied(self):
        result = self.copy(env={pg_fixture.SERVER_SECRET_ENV: ''})
        self.assertEqual(1, result.returncode)
        self.assertIn('NTCLI_SERVER_SECRET', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_a_missing_source(self):
        result = run('db', 'copy', '--from', self.old.db + '.nope', '--to',
                     self.dsn, env=SECRET)
        self.assertEqual(1, result.returncode)
        self.assertIn(self.old.db + '.nope', result.stderr)

    def test_text_the_target_cannot_hold_is_named(self):
        # A NUL stored by an older server (SQLite keeps it; PostgreSQL
        # cannot): the copy names the row, and writes nothing.
        import sqlite3
        with sqlite3.connect(self.old.db) as conn:
            conn.execute("UPDATE tokens SET description = 'a' || char(0) "
                         "|| 'b' WHERE jti = ?", (self.kept['jti'],))
        result = self.copy()
        self.assertEqual(1, result.returncode)
        self.assertNotIn('Traceback', result.stderr)
        for part in ('table tokens', f"jti='{self.kept['jti']}'",
                     'column description', 'NUL', 'Nothing was written'):
            self.assertIn(part, result.stderr)
        with psycopg.connect(self.dsn) as conn:
            self.assertEqual(0, conn.execute(
                'SELECT COUNT(*) FROM tokens').fetchone()[0])
