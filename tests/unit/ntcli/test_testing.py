"""ntcli.testing: the fixtures that ntcli's tests and plugin authors use."""

import importlib.metadata
import logging
import os
import sys
import textwrap

import fixtures
import testtools

from ntcli import errors, paths, testing

GREET_MODULE = '''\
from ntcli import command


class Greet(command.ShowOne):
    """Say hello."""

    def take_action(self, parsed_args):
        return ('greeting',), ('hi',)


class Shout(command.Command):
    """Repeat standard input, louder."""

    def take_action(self, parsed_args):
        self.app.stdout.write(self.app.stdin.read().upper())
'''


def entry_point_names(group):
    return {ep.name for ep in importlib.metadata.entry_points(group=group)}


class TestResult(testtools.TestCase):

    def test_check_returns_the_result(self):
        result = testing.Result(0, '{"a": 1}', '')
        self.assertIs(result, result.check())
        self.assertEqual({'a': 1}, result.check(0).json())

    def test_check_shows_both_streams(self):
        result = testing.Result(2, 'out-text', 'err-text')
        error = self.assertRaises(AssertionError, result.check)
        for part in ('expected exit status 0', 'exit status 2', 'out-text',
                     'err-text'):
            self.assertIn(part, str(error))
        self.assertIs(result, result.check(2))


class TestIsolatedHome(testtools.TestCase):

    def test_environment_is_isolated_and_restored(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_ENDPOINT', 'http://outside.example'))
        outer_home = os.environ.get('HOME')
        with testing.IsolatedHome() as home:
            self.assertEqual(home.path, os.environ['HOME'])
            self.assertNotIn('NTCLI_ENDPOINT', os.environ)
            self.assertEqual(home.config_dir, paths.config_dir())
            self.assertEqual(home.data_dir, paths.data_dir())
            self.assertEqual(os.path.join(home.path, '.config', 'ntcli'),
                             home.config_dir)
            self.assertTrue(home.data_dir.startswith(home.path + os.sep))
            self.assertEqual(home.path, home.env['HOME'])
            self.assertTrue(os.path.isdir(os.environ['TMPDIR']))
            path = home.path
        self.assertEqual(outer_home, os.environ.get('HOME'))
        self.assertEqual('http://outside.example',
                         os.environ['NTCLI_ENDPOINT'])
        self.assertFalse(os.path.exists(path))

    def test_store_token_is_the_stored_token(self):
        home = self.useFixture(testing.IsolatedHome())
        authority = self.useFixture(testing.EmbeddedEndpoint(home.data_dir))
        issued = authority.issue_token()
        home.store_token(issued)
        shown = testing.run_in_process('token', 'show', '-f', 'json')
        self.assertEqual(issued.jti, shown.check().json()['jti'])
        self.assertEqual('active', shown.json()['status'])


class TestEmbeddedEndpoint(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())
        self.authority = self.useFixture(testing.EmbeddedEndpoint())

    def test_fresh_authority_in_a_temporary_directory(self):
        self.assertTrue(self.authority.endpoint.embedded)
        self.assertTrue(os.path.isdir(self.authority.data_dir))
        self.assertEqual([], self.authority.list_tokens())
        other = self.useFixture(testing.EmbeddedEndpoint())
        self.authority.issue_token()
        self.assertEqual([], other.list_tokens())

    def test_issue_lifetimes(self):
        year = self.authority.issue_token()
        self.assertAlmostEqual(year.created_at + testing.ONE_YEAR,
                               year.expires_at, delta=2)
        at = self.authority.issue_token(expires_at=year.created_at + 3600)
        self.assertEqual(year.created_at + 3600, at.expires_at)
        never = self.authority.issue_token(expires_in=None,
                                           description='ci')
        self.assertIsNone(never.expires_at)
        records = {r.jti: r for r in self.authority.list_tokens()}
        self.assertEqual({year.jti, at.jti, never.jti}, set(records))
        self.assertEqual('ci', records[never.jti].description)

    def test_workspaces_by_object_name_or_default(self):
        team = self.authority.create_workspace('team-a')
        self.assertEqual(team, self.authority.workspace('team-a'))
        self.assertEqual('default', self.authority.workspace().name)
        issued = self.authority.issue_token('team-a')
        self.assertEqual(team.id, issued.workspace_id)
        self.assertEqual([issued.jti],
                         [r.jti for r in self.authority.list_tokens(team)])
        self.assertEqual([], self.authority.list_tokens())
        self.assertRaises(errors.WorkspaceNotFound,
                          self.authority.workspace, 'no-such')

    def test_revoke(self):
        issued = self.authority.issue_token()
        revocation = self.authority.revoke_token(issued.jti)
        self.assertFalse(revocation.already_revoked)
        self.assertEqual(['revoked'],
                         [r.status for r in self.authority.list_tokens()])
        self.assertEqual([], self.authority.list_tokens(
            include_revoked=False))


class TestCLIRunner(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())

    def test_embedded_endpoint_is_the_one_ntcli_uses(self):
        authority = self.runner.embedded_endpoint()
        self.assertIs(authority, self.runner.embedded_endpoint())
        issued = authority.issue_token()
        listed = self.runner.run_in_process('token', 'list', '-f', 'json')
        self.assertEqual([issued.jti],
                         [row['JTI'] for row in listed.check().json()])
        listed = self.runner.run('token', 'list', '-f', 'json')
        self.assertEqual([issued.jti],
                         [row['JTI'] for row in listed.check().json()])

    def test_subprocess_and_in_process_agree(self):
        args = ('token', 'list', '-f', 'json')
        self.assertEqual(self.runner.run(*args),
                         self.runner.run_in_process(*args))
        args = ('-w', 'no-such', 'token', 'list')
        self.assertEqual(self.runner.run(*args).check(1),
                         self.runner.run_in_process(*args))

    def test_env_adds_and_removes_variables_for_one_run(self):
        authority = self.runner.embedded_endpoint()
        authority.create_workspace('team-b')
        issued = authority.issue_token('team-b')
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_WORKSPACE',
                                                     'team-b'))
        for run in (self.runner.run, self.runner.run_in_process):
            listed = run('token', 'list', '-f', 'json').check().json()
            self.assertEqual([issued.jti], [row['JTI'] for row in listed])
            listed = run('token', 'list', '-f', 'json',
                         env={'NTCLI_WORKSPACE': None}).check().json()
            self.assertEqual([], listed)
            failed = run('token', 'list', env={'NTCLI_WORKSPACE': 'nope'})
            self.assertIn("Workspace 'nope' not found", failed.stderr)
        self.assertEqual('team-b', os.environ['NTCLI_WORKSPACE'])

    def test_in_process_leaves_logging_as_it_was(self):
        root = logging.getLogger('')
        handlers = list(root.handlers)
        self.runner.run_in_process('--debug', 'token', 'list').check()
        self.assertEqual(handlers, root.handlers)


class TestImportPath(testtools.TestCase):

    def test_path_and_modules_are_undone(self):
        directory = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(directory, 'ntcli_probe_mod.py'), 'w') as f:
            f.write('VALUE = 42\n')
        with testing.ImportPath(directory):
            self.assertEqual(directory, sys.path[0])
            self.assertEqual(directory,
                             os.environ['PYTHONPATH'].split(os.pathsep)[0])
            import ntcli_probe_mod
            self.assertEqual(42, ntcli_probe_mod.VALUE)
        self.assertNotIn(directory, sys.path)
        self.assertNotIn(directory, os.environ.get('PYTHONPATH', ''))
        self.assertNotIn('ntcli_probe_mod', sys.modules)


class TestPluginDistribution(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())

    def test_command_is_found_and_runs(self):
        with testing.PluginDistribution(
                'greet-plugin',
                {'ntcli.commands': {'greet_me': 'ntcli_greet_mod:Greet',
                                    'shout': 'ntcli_greet_mod:Shout'}},
                modules={'ntcli_greet_mod.py': GREET_MODULE}):
            self.assertIn('greet_me', entry_point_names('ntcli.commands'))
            for run in (self.runner.run, self.runner.run_in_process):
                result = run('greet', 'me').check()
                self.assertEqual('Greeting:  hi\n', result.stdout)
                result = run('shout', input='hey\n').check()
                self.assertEqual('HEY\n', result.stdout)
        self.assertNotIn('greet_me', entry_point_names('ntcli.commands'))
        self.assertNotEqual(0, self.runner.run_in_process(
            'greet', 'me').returncode)


class TestPluginSourceTree(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())
        self.tree = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(self.tree, 'ntcli_greet_tree'))
        self.write('ntcli_greet_tree/__init__.py', '')
        self.write('ntcli_greet_tree/cmd.py', GREET_MODULE)
        self.write('setup.cfg', '''\
            [metadata]
            name = ntcli-greet-tree
            version = 1.0

            [options]
            packages = find:

            [options.entry_points]
            ntcli.commands =
                greet_tree = ntcli_greet_tree.cmd:Greet
            ''')

    def write(self, name, text):
        with open(os.path.join(self.tree, name), 'w') as f:
            f.write(textwrap.dedent(text))

    def test_looks_installed_and_runs(self):
        before = sorted(os.listdir(self.tree))
        with testing.PluginSourceTree(self.tree) as source:
            dist = importlib.metadata.distribution('ntcli-greet-tree')
            self.assertEqual('1.0', dist.version)
            self.assertEqual('Greeting:  hi\n',
                             self.runner.run('greet', 'tree').check().stdout)
            metadata_dir = source.metadata_dir
        self.assertEqual(before, sorted(os.listdir(self.tree)))
        self.assertFalse(os.path.exists(metadata_dir))

    def test_given_metadata_dir_is_reused(self):
        shared = self.useFixture(fixtures.TempDir()).path
        with testing.PluginSourceTree(self.tree, metadata_dir=shared):
            built = os.listdir(shared)
        self.assertEqual(built, os.listdir(shared))
        self.useFixture(fixtures.MockPatch(
            'ntcli.testing.PluginSourceTree._write_metadata',
            side_effect=AssertionError('rebuilt')))
        with testing.PluginSourceTree(self.tree, metadata_dir=shared):
            self.assertEqual(
                'Greeting:  hi\n',
                self.runner.run_in_process('greet', 'tree').check().stdout)

    def test_unreadable_setup_is_reported(self):
        self.write('setup.cfg', '[metadata]\nname = \n[options\n')
        source = testing.PluginSourceTree(self.tree)
        error = self.assertRaises(fixtures.MultipleExceptions, source.setUp)
        kind, value, _tb = error.args[0]
        self.assertIs(RuntimeError, kind)
        self.assertIn('setuptools could not read the plugin', str(value))
