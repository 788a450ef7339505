"""Tests of the ntcli-server admin commands (in process)."""

from __future__ import annotations

import importlib.util
import io
import json
import os

import fixtures
import testtools

from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_core import timefmt
from ntcli_server import cli
from tests import postgres as pg_fixture

OWNER = Principal.local()  # the local owner may do everything


class CLITestCase(testtools.TestCase):
    """ntcli-server run in this process on a database of its own."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.db = os.path.join(self.dir, 'server.db')
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_SERVER_DB',
                                                     self.db))

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
        return code, out.getvalue(), err.getvalue()


class TestAdminCommands(CLITestCase):

    def test_user_create_prints_the_credential_once(self):
        code, out, err = self.run_cli('user', 'create', 'alice')
        self.assertEqual(0, code)
        credential = out.strip()
        self.assertRegex(credential, r'^ntu_[A-Za-z0-9_-]{20,}$')
        self.assertIn('will not be shown again', err)
        self.assertNotIn(credential, err)
        with Authority.open(self.db) as authority:
            self.assertEqual('alice',
                             authority.authenticate(credential).user_name)
        code, out, err = self.run_cli('user', 'list')
        self.assertIn('alice', out)
        self.assertNotIn(credential, out)

    def test_user_create_under_oidc_require_makes_no_useless_credential(
            self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_SERVER_OIDC_REQUIRE', '1'))
        code, out, err = self.run_cli('user', 'create', 'alice')
        self.assertEqual((1, ''), (code, out))
        self.assertIn('NTCLI_SERVER_OIDC_REQUIRE is set', err)
        self.assertIn('--no-credential', err)
        self.assertFalse(os.path.exists(self.db))     # refused before
        code, out, err = self.run_cli('user', 'create', 'alice',
                                      '--no-credential', '-f', 'value',
                                      '-c', 'id')
        self.assertEqual(0, code, err)
        self.assertNotIn('ntu_', out)
        with Authority.open(self.db) as authority:
            self.assertEqual(['alice'], [u.name for u in authority.list_users(
                Principal.local())])

    def test_duplicate_user_is_one_line_and_exit_1(self):
        self.run_cli('user', 'create', 'alice')
        code, out, err = self.run_cli('user', 'create', 'alice')
        self.assertEqual((1, ''), (code, out))
        self.assertEqual(["ntcli-server: A user named 'alice' already "
                          'exists'], err.splitlines())

    def test_workspace_create_and_list(self):
        self.run_cli('user', 'create', 'alice')
        code, out, err = self.run_cli('workspace', 'create', 'main',
                                      '--owner', 'alice')
        self.assertEqual(0, code)
        workspace_id = out.strip()
        self.assertRegex(workspace_id, r'^[0-9a-f-]{36}$')
        self.assertIn("'main' created for user 'alice'", err)
        code, out, err = self.run_cli('workspace', 'list', '-f', 'json')
        [row] = json.loads(out)
        self.assertEqual(['id', 'name', 'owner', 'created'], list(row))
        self.assertEqual([workspace_id, 'main', 'alice'],
                         [row['id'], row['name'], row['owner']])

    def test_workspace_needs_a_known_owner(self):
        self.run_cli('keys', 'rotate')
        code, out, err = self.run_cli('workspace', 'create', 'main',
                                      '--owner', 'nobody')
        self.assertEqual(1, code)
        self.assertEqual(["ntcli-server: User 'nobody' not found"],
                         err.splitlines())
        code, out, err = self.run_cli('workspace', 'create', 'main')
        self.assertEqual(2, code)
        self.assertEqual(2, len(err.splitlines()))
        self.assertIn('--owner', err.splitlines()[0])
        self.assertTrue(err.splitlines()[1].startswith('Hint: '))

    def test_keys_rotate(self):
        code, first, err = self.run_cli('keys', 'rotate')
        self.assertEqual(0, code)
        self.assertIn('stay valid', err)
        code, second, err = self.run_cli('keys', 'rotate')
        code, out, err = self.run_cli('keys', 'list', '-f', 'json')
        rows = json.loads(out)
        self.assertEqual(2, len(rows))
        primary = [r['kid'] for r in rows if r['primary']]
        self.assertEqual([second.strip()], primary)
        self.assertNotEqual(first, second)

    def test_keys_retire_and_their_audit_events(self):
        self.run_cli('user', 'create', 'alice')
        self.run_cli('workspace', 'create', 'main', '--owner', 'alice')
        with Authority.open(self.db) as authority:
            ws = authority.get_workspace(OWNER, 'main')
            live = authority.issue(OWNER, ws.id, expires_in=600)
            first_kid = live.kid
        code, second, _ = self.run_cli('keys', 'rotate')
        code, out, err = self.run_cli('keys', 'retire')
        self.assertEqual((0, ''), (code, out))       # the first signs `live`
        self.assertIn('No signing key to retire', err)
        with Authority.open(self.db) as authority:
            authority.revoke(OWNER, ws.id, live.jti)
        code, out, err = self.run_cli('keys', 'retire')
        self.assertEqual((0, first_kid), (code, out.strip()))
        self.assertIn('1 signing key(s) retired', err)
        code, out, err = self.run_cli('audit', 'list', '--action',
                                      'signing_key.rotate', '--action',
                                      'signing_key.retire', '-f', 'json')
        # JSON, not CSV: a kid may start with '-', which CSV neutralises
        rows = json.loads(out)
        self.assertEqual([('signing_key.rotate', first_kid),   # first issue
                          ('signing_key.rotate', second.strip()),
                          ('signing_key.retire', first_kid)],
                         [(r['action'], r['detail']) for r in rows])
        self.assertEqual({'local'}, {r['actor'] for r in rows})

    def test_db_option_beats_the_environment(self):
        other = os.path.join(self.dir, 'other.db')
        self.run_cli('--db', other, 'user', 'create', 'alice')
        self.assertTrue(os.path.exists(other))
        self.run_cli('keys', 'rotate')          # creates $NTCLI_SERVER_DB
        code, out, err = self.run_cli('user', 'list')
        self.assertEqual(0, code, err)
        self.assertNotIn('alice', out)
        # --db may follow the command too (ntcli-server serve --db ...)
        code, out, err = self.run_cli('user', 'list', '--db', other)
        self.assertIn('alice', out)

    def test_usage_errors_are_one_line_and_a_hint_and_exit_2(self):
        for argv in ([], ['bogus'], ['user'], ['serve', '--workers', '0'],
                     ['serve', '--workers', '٢'],
                     ['serve', '--workers', '1_0'],
                     ['serve', '--db-wait', '0'],
                     ['serve', '--log-level', 'loud'],
                     ['user', 'list', '-f', 'xml'], ['--bogus', 'user']):
            code, out, err = self.run_cli(*argv)
            self.assertEqual((2, ''), (code, out), argv)
            self.assertEqual(2, len(err.splitlines()), err)
            self.assertTrue(err.startswith('ntcli-server'), err)
            self.assertIn('--help', err.splitlines()[1])

    def test_db_wait_below_the_worker_timeout(self):
        self.run_cli('user', 'create', 'alice')
        code, out, err = self.run_cli('serve', '--timeout', '10',
                                      '--db-wait', '10')
        self.assertEqual(1, code)
        self.assertEqual(['ntcli-server: --db-wait (10) must be less than '
                          '--timeout (10)'], err.splitlines())

    def test_unusable_database_is_one_line_and_exit_1(self):
        blocker = os.path.join(self.dir, 'file')
        open(blocker, 'w').close()
        for argv in (['user', 'create', 'alice'], ['keys', 'rotate']):
            code, out, err = self.run_cli(
                '--db', os.path.join(blocker, 'sub', 'x.db'), *argv)
            self.assertEqual(1, code)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn('Cannot open the token database', err)
            self.assertNotIn('Traceback', err)
        # a directory where the file should be
        for argv in (['user', 'list'], ['serve', '--bind', '127.0.0.1:1']):
            code, out, err = self.run_cli('--db', self.dir, *argv)
            self.assertEqual(1, code)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn('Cannot open the token database', err)
            self.assertNotIn('Traceback', err)

    # -- a missing SQLite database ----------------------------------------
    def test_read_commands_and_serve_refuse_a_missing_database(self):
        missing = os.path.join(self.dir, 'typo', 'x.db')
        for argv in (['user', 'list'], ['workspace', 'list'],
                     ['keys', 'list'], ['serve', '--bind', '127.0.0.1:1']):
            code, out, err = self.run_cli('--db', missing, *argv)
            self.assertEqual((1, ''), (code, out), argv)
            self.assertEqual(
                [f'ntcli-server: No token database at {missing}.',
                 f'Hint: Create one with: ntcli-server --db {missing} user '
                 'create NAME'],
                err.splitlines(), argv)
            # nothing was created, not even the directory
            self.assertFalse(os.path.exists(os.path.dirname(missing)))

    def test_missing_database_from_the_environment_or_default(self):
        code, out, err = self.run_cli('user', 'list')
        self.assertEqual(1, code)
        self.assertIn(f'No token database at {self.db}.', err)
        self.assertFalse(os.path.exists(self.db))
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_SERVER_DB'))
        cwd = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(cwd)
        code, out, err = self.run_cli('keys', 'list')
        self.assertEqual(
            (1, ['ntcli-server: No token database at ntcli-server.db.',
                 'Hint: Create one with: ntcli-server --db ntcli-server.db '
                 'user create NAME']), (code, err.splitlines()))
        self.assertEqual([], os.listdir(cwd))

    def test_the_hint_quotes_a_path_for_the_shell(self):
        missing = os.path.join(self.dir, 'my dir', 'x.db')
        code, out, err = self.run_cli('--db', missing, 'workspace', 'list')
        self.assertEqual(1, code)
        self.assertIn(f"ntcli-server --db '{missing}' user create NAME", err)

    def test_creating_commands_create_it_and_say_so(self):
        for n, argv in enumerate((['user', 'create', 'alice'],
                                  ['keys', 'rotate'])):
            db = os.path.join(self.dir, f'new-{n}', 'x.db')
            code, out, err = self.run_cli('--db', db, *argv)
            self.assertEqual(0, code, err)
            self.assertEqual(f'Created a new token database at {db}',
                             err.splitlines()[0])
            self.assertTrue(os.path.exists(db))
            self.assertEqual(0o600, os.stat(db).st_mode & 0o777)
            # once: the next command finds it
            code, out, err = self.run_cli('--db', db, *argv[:1] + ['list'])
            self.assertEqual(0, code, err)
            self.assertNotIn('Created', err)
            code, out, err = self.run_cli('--db', db, 'keys', 'rotate')
            self.assertNotIn('Created', err)

    def test_workspace_create_refuses_a_missing_database(self):
        # Its owner must be a user, which a new database has not: creating
        # one would only leave an empty database behind a typo.
        db = os.path.join(self.dir, 'fresh.db')
        code, out, err = self.run_cli('--db', db, 'workspace', 'create',
                                      'main', '--owner', 'alice')
        self.assertEqual((1, ''), (code, out))
        self.assertEqual([f'ntcli-server: No token database at {db}.',
                          f'Hint: Create one with: ntcli-server --db {db} '
                          'user create NAME'], err.splitlines())
        self.assertFalse(os.path.exists(db))

    def test_an_existing_database_is_used_as_it_is(self):
        self.run_cli('user', 'create', 'alice')
        for argv in (['user', 'list'], ['workspace', 'list'],
                     ['keys', 'list']):
            code, out, err = self.run_cli(*argv)
            self.assertEqual((0, ''), (code, err), argv)

    def test_a_postgresql_dsn_is_not_checked_as_a_path(self):
        # No file test for a DSN: it fails (no server there) as a
        # database that cannot be reached, not as a missing file.
        if importlib.util.find_spec('psycopg') is None:
            self.skipTest('psycopg is not installed')
        self.useFixture(fixtures.EnvironmentVariable(
            pg_fixture.SERVER_SECRET_ENV, pg_fixture.TEST_SERVER_SECRET))
        dsn = 'postgresql://nobody@127.0.0.1:1/none?connect_timeout=1'
        code, out, err = self.run_cli('--db', dsn, 'user', 'list')
        self.assertEqual(1, code)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn('Cannot connect to the token database', err)


class TestExpiringTokens(CLITestCase):
    """``ntcli-server token expiring``: what is about to stop working."""

    def setUp(self):
        super().setUp()
        self.run_cli('user', 'create', 'alice')
        self.run_cli('workspace', 'create', 'main', '--owner', 'alice')
        self.run_cli('workspace', 'create', 'other', '--owner', 'alice')
        with Authority.open(self.db) as authority:
            main = authority.get_workspace(OWNER, 'main').id
            other = authority.get_workspace(OWNER, 'other').id
            self.day = authority.issue(OWNER, main, expires_in=86400,
                                       description='ci \x1b[31m').jti
            self.week = authority.issue(OWNER, other, expires_in=6 * 86400).jti
            self.retiring = authority.issue(OWNER,
                                            main, expires_in=2 * 86400).jti
            # the grace ends an hour after the revocation, read between
            # these two clocks (a second may tick between them)
            before = authority.now()
            authority.revoke(OWNER, main, self.retiring, grace=3600)
            self.retires_between = (before + 3600, authority.now() + 3600)
            revoked = authority.issue(OWNER, main, expires_in=3600).jti
            authority.revoke(OWNER, main, revoked)
            authority.issue(OWNER, main, expires_in=90 * 86400)
            authority.issue(OWNER, main)
        self.main, self.other = main, other

    def listed(self, *argv):
        code, out, err = self.run_cli('token', 'expiring', *argv,
                                      '-f', 'json')
        self.assertEqual((0, ''), (code, err))
        return json.loads(out)

    def test_soonest_first_in_every_workspace(self):
        rows = self.listed('--within', '7d')
        self.assertEqual([self.day, self.retiring, self.week],
                         [r['jti'] for r in rows])
        self.assertEqual(
            {'jti', 'workspace_id', 'workspace_name', 'expires_at',
             'retiring_until', 'description'}, set(rows[0]))
        self.assertEqual((self.main, 'main', 'ci \x1b[31m', None),
                         (rows[0]['workspace_id'], rows[0]['workspace_name'],
                          rows[0]['description'], rows[0]['retiring_until']))
        self.assertIn(rows[1]['retiring_until'],
                      {timefmt.iso(at) for at in self.retires_between})
        self.assertEqual([self.day], [r['jti'] for r in
                                      self.listed('--within', '86400')])
        # the table escapes what a terminal would obey
        code, out, _ = self.run_cli('token', 'expiring', '--within', '1d')
        self.assertNotIn('\x1b', out)

    def test_the_clock_moves(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_TEST_CLOCK_OFFSET', str(2 * 3600)))
        # the grace has ended: the retiring token is revoked
        self.assertEqual([self.day, self.week],
                         [r['jti'] for r in self.listed('--within', '7d')])

    def test_limit_and_bad_windows(self):
        code, out, err = self.run_cli('token', 'expiring', '--within', '7d',
                                      '--limit', '1', '-f', 'json')
        self.assertEqual([self.day], [r['jti'] for r in json.loads(out)])
        self.assertIn('Only the 1 soonest are listed', err)
        for bad in ('0', '-1d', '11y', 'soon', '1e3', '\u0661d'):
            code, out, err = self.run_cli('token', 'expiring', '--within',
                                          bad)
            self.assertEqual((2, ''), (code, out), bad)
            self.assertEqual(2, len(err.splitlines()), err)


class TestFormats(CLITestCase):
    """Every command that shows or lists takes ntcli's formatters."""

    def test_every_listing_in_every_format(self):
        code, out, _ = self.run_cli('user', 'create', 'alice', '-f', 'json')
        created = json.loads(out)
        self.assertEqual({'credential', 'id', 'name', 'created'},
                         set(created))
        self.assertTrue(created['credential'].startswith('ntu_'))
        self.run_cli('workspace', 'create', 'main', '--owner', 'alice')
        self.run_cli('keys', 'rotate')
        import yaml
        for argv in (['user', 'list'], ['workspace', 'list'],
                     ['keys', 'list'], ['audit', 'list']):
            code, out, err = self.run_cli(*argv, '-f', 'json')
            self.assertEqual((0, ''), (code, err), argv)
            rows = json.loads(out)
            self.assertTrue(rows, argv)
            self.assertEqual(rows, yaml.safe_load(
                self.run_cli(*argv, '-f', 'yaml')[1]), argv)
            csv_lines = self.run_cli(*argv, '-f', 'csv')[1].splitlines()
            self.assertEqual(len(rows) + 1, len(csv_lines), argv)
            self.assertEqual(list(rows[0]), csv_lines[0].split(','))
            value_lines = self.run_cli(*argv, '-f', 'value')[1].splitlines()
            self.assertEqual(len(rows), len(value_lines), argv)
            table = self.run_cli(*argv, '-f', 'table')[1]
            self.assertIn(str(rows[0][list(rows[0])[1]]), table)
            # -c picks columns
            code, out, _ = self.run_cli(*argv, '-f', 'value', '-c',
                                        list(rows[0])[0])
            self.assertEqual([str(r[list(r)[0]]) for r in rows],
                             out.splitlines())

    def test_fields_from_the_database_are_safe_in_flat_formats(self):
        # a user agent is whatever a client sent: formulas, escapes, lines
        from ntcli_authority.models import Origin
        agent = '=cmd|\' /C calc\'!A0\x1b]0;PWNED\x07\r\nfake'
        with Authority.open(self.db, create=True) as authority:
            authority.create_user(OWNER, 'alice', origin=Origin(
                actor='admin', user_agent=agent))
            authority.create_user(OWNER, 'bob', origin=Origin(
                actor='admin', user_agent='-2+3'))
        code, out, _ = self.run_cli('audit', 'list', '-f', 'csv', '-c',
                                    'user_agent')
        self.assertEqual(0, code)
        import csv
        # cliff's CSV escapes backslashes with a backslash
        rows = list(csv.reader(io.StringIO(out), escapechar='\\'))
        from ntcli_core.terminal import escape
        self.assertEqual([['user_agent'], ["'" + escape(agent)],
                          ["'-2+3"]], rows)
        for fmt in ('value', 'table', 'csv'):
            code, out, _ = self.run_cli('audit', 'list', '-f', fmt)
            self.assertNotIn('\x1b', out)
            self.assertNotIn('\r', out)
        code, out, _ = self.run_cli('audit', 'list', '-f', 'value')
        self.assertEqual(2, len(out.splitlines()))
        code, out, _ = self.run_cli('audit', 'list', '-f', 'json')
        self.assertEqual(agent, json.loads(out)[0]['user_agent'])

    def test_help_lists_every_command(self):
        code, out, err = self.run_cli('--help')
        self.assertEqual(0, code)
        for name in ('serve', 'user create', 'user list', 'workspace create',
                     'workspace list', 'keys rotate', 'keys list',
                     'keys retire', 'audit list', 'db copy',
                     'db backup', 'db restore', 'token expiring'):
            self.assertIn(name, out)


class TestBackupCommands(CLITestCase):
    """db backup and db restore (ntcli_authority.storage.backup)."""

    def test_a_round_trip(self):
        self.run_cli('user', 'create', 'alice')
        target = os.path.join(self.dir, 'backup.db')
        code, out, err = self.run_cli('db', 'backup', '--to', target,
                                      '-f', 'json')
        self.assertEqual(0, code, err)
        self.assertIn({'table': 'users', 'rows': 1}, json.loads(out))
        self.assertIn(f'Backed up to {target}', err)
        code, out, err = self.run_cli('db', 'backup', '--to', target)
        self.assertEqual((1, ''), (code, out))
        self.assertEqual(f'ntcli-server: {target} already exists: a backup '
                         'never replaces a file\n', err)
        self.run_cli('user', 'create', 'bob')
        code, out, err = self.run_cli('db', 'restore', '--from', target)
        self.assertEqual((1, ''), (code, out))
        self.assertIn('is not empty (2 users, ', err)
        self.assertIn('nothing was restored', err)
        self.assertIn('Hint: Give --force', err)
        code, out, err = self.run_cli('db', 'restore', '--from', target,
                                      '--force', '-f', 'value')
        self.assertEqual(0, code, err)
        self.assertIn('users 1', out.splitlines())
        self.assertIn('Tokens revoked since the backup are valid again', err)
        code, out, _ = self.run_cli('user', 'list', '-f', 'value',
                                    '-c', 'name')
        self.assertEqual('alice\n', out)

    def test_postgresql_is_left_to_pg_dump(self):
        code, out, err = self.run_cli(
            'db', 'backup', '--db', 'postgresql://db.example/ntcli', '--to',
            os.path.join(self.dir, 'b.db'))
        self.assertEqual((1, ''), (code, out))
        self.assertIn('pg_dump', err)
        self.assertEqual(1, len(err.splitlines()))


class TestTrustCommands(CLITestCase):

    def setUp(self):
        super().setUp()
        self.run_cli('user', 'create', 'alice')
        code, out, _ = self.run_cli('workspace', 'create', 'alpha',
                                    '--owner', 'alice')
        self.workspace_id = out.strip()

    def create(self, *extra):
        return self.run_cli(
            'trust', 'create', 'alpha', 'deploy', '--issuer',
            'https://token.actions.githubusercontent.com',
            '--claim', 'repository=acme/app', '--claim',
            'ref=refs/heads/*', *extra)

    def test_create_list_show_delete(self):
        code, out, err = self.create('--scope', 'servers:write',
                                     '--max-lifetime', '900')
        self.assertEqual(0, code, err)
        policy_id = out.strip()
        self.assertRegex(policy_id, r'^tp_[0-9a-f]{16}$')
        self.assertIn("Trust policy 'deploy' created", err)
        code, out, err = self.run_cli('trust', 'list', '-f', 'json')
        self.assertEqual(0, code, err)
        [listed] = json.loads(out)
        self.assertEqual({
            'id': policy_id, 'workspace_id': self.workspace_id,
            'name': 'deploy',
            'issuer': 'https://token.actions.githubusercontent.com',
            'conditions': {'ref': 'refs/heads/*', 'repository': 'acme/app'},
            'scope': ['servers:read', 'servers:write'], 'max_lifetime': 900,
            'created_by': 'local', 'description': None},
            {k: v for k, v in listed.items() if k != 'created'})
        code, out, err = self.run_cli('trust', 'show', 'alpha', 'deploy',
                                      '-f', 'json')
        self.assertEqual(policy_id, json.loads(out)['id'])
        code, out, err = self.run_cli('trust', 'list')
        self.assertIn('ref=refs/heads/*, repository=acme/app', out)
        code, out, err = self.run_cli('trust', 'delete', 'alpha', policy_id)
        self.assertEqual((0, f"Trust policy 'deploy' ({policy_id}) "
                             'deleted.\n'), (code, out))
        code, out, err = self.run_cli('trust', 'list', '--workspace',
                                      'alpha', '-f', 'json')
        self.assertEqual([], json.loads(out))
        code, out, err = self.run_cli('audit', 'list', '-f', 'json',
                                      '--action', 'trust_policy.create',
                                      '--action', 'trust_policy.delete')
        self.assertEqual(['trust_policy.create', 'trust_policy.delete'],
                         [e['action'] for e in json.loads(out)])

    def test_bad_input_is_one_line(self):
        code, out, err = self.create('--scope', 'tokens:write')
        self.assertEqual((1, ''), (code, out))
        self.assertEqual(['ntcli-server: A trust policy cannot grant '
                          'tokens:write: a token from a CI job must not '
                          'issue other tokens'], err.splitlines())
        code, out, err = self.create('--max-lifetime', '90000')
        self.assertEqual(2, code)
        self.assertIn("'90000' is not a whole number from 60 to 86400", err)
        code, out, err = self.run_cli(
            'trust', 'create', 'alpha', 'x', '--issuer', 'https://i',
            '--claim', 'no-equals-sign')
        self.assertEqual(2, code)
        self.assertIn('is not CLAIM=PATTERN', err)
        code, out, err = self.run_cli('trust', 'delete', 'alpha', 'nope')
        self.assertEqual((1, ["ntcli-server: Trust policy 'nope' not "
                              'found']), (code, err.splitlines()))
        code, out, err = self.run_cli('trust', 'list', '-f', 'json')
        self.assertEqual([], json.loads(out))
