"""Tests of the ntcli-server admin commands (in process)."""

from __future__ import annotations

import io
import os

import fixtures
import testtools

from ntcli_server import cli
from ntcli_server.authority import Authority


class TestAdminCommands(testtools.TestCase):

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
        code, out, err = self.run_cli('workspace', 'list')
        header, row = out.splitlines()
        self.assertEqual(['ID', 'NAME', 'OWNER', 'CREATED'], header.split())
        self.assertEqual([workspace_id, 'main', 'alice'], row.split()[:3])

    def test_workspace_needs_a_known_owner(self):
        code, out, err = self.run_cli('workspace', 'create', 'main',
                                      '--owner', 'nobody')
        self.assertEqual(1, code)
        self.assertEqual(["ntcli-server: User 'nobody' not found"],
                         err.splitlines())
        code, out, err = self.run_cli('workspace', 'create', 'main')
        self.assertEqual(2, code)
        self.assertEqual(1, len(err.splitlines()))
        self.assertIn('--owner', err)

    def test_keys_rotate(self):
        code, first, err = self.run_cli('keys', 'rotate')
        self.assertEqual(0, code)
        self.assertIn('stay valid', err)
        code, second, err = self.run_cli('keys', 'rotate')
        code, out, err = self.run_cli('keys', 'list')
        rows = out.splitlines()[1:]
        self.assertEqual(2, len(rows))
        primary = [r.split()[0] for r in rows if 'yes' in r.split()]
        self.assertEqual([second.strip()], primary)
        self.assertNotEqual(first, second)

    def test_db_option_beats_the_environment(self):
        other = os.path.join(self.dir, 'other.db')
        self.run_cli('--db', other, 'user', 'create', 'alice')
        self.assertTrue(os.path.exists(other))
        code, out, err = self.run_cli('user', 'list')
        self.assertNotIn('alice', out)
        # --db may follow the command too (ntcli-server serve --db ...)
        code, out, err = self.run_cli('user', 'list', '--db', other)
        self.assertIn('alice', out)

    def test_usage_errors_are_one_line_and_exit_2(self):
        for argv in ([], ['bogus'], ['user'], ['serve', '--workers', '0'],
                     ['serve', '--log-level', 'loud']):
            code, out, err = self.run_cli(*argv)
            self.assertEqual(2, code, argv)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn('--help', err)

    def test_unusable_database_is_one_line_and_exit_1(self):
        blocker = os.path.join(self.dir, 'file')
        open(blocker, 'w').close()
        for argv in (['user', 'list'], ['serve', '--bind', '127.0.0.1:1']):
            code, out, err = self.run_cli(
                '--db', os.path.join(blocker, 'sub', 'x.db'), *argv)
            self.assertEqual(1, code)
            self.assertEqual(1, len(err.splitlines()), err)
            self.assertIn('Cannot open the token database', err)
            self.assertNotIn('Traceback', err)
