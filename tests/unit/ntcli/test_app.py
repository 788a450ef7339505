"""The cliff application: construction, options, errors, plugins, formats."""

import argparse
import json

import testtools

from ntcli import application as ntcli_app
from ntcli import command, errors, testing
from ntcli import context as ntcli_context
from ntcli.main import main as ntcli_app_main


class TestConstruction(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())

    def test_commands_come_from_entry_points(self):
        app = ntcli_app.NtcliApp()
        names = {name for name, _ in app.command_manager}
        for expected in ('token refresh', 'token show', 'token create',
                         'token list', 'token revoke', 'token history',
                         'workspace create', 'workspace list',
                         'workspace select', 'workspace delete',
                         'auth login', 'auth status', 'auth logout',
                         'config show', 'config rotate-key'):
            self.assertIn(expected, names)
        # read from the entry points, not wired by hand
        self.assertEqual(
            'ntcli_token_plugin.refresh:RefreshToken',
            app.command_manager.commands['token refresh'].value)

    def test_commands_are_not_imported_until_used(self):
        app = ntcli_app.NtcliApp()
        ep = app.command_manager.commands['token refresh']
        self.assertFalse(hasattr(ep, 'command_class'))

    def test_version(self):
        result = self.useFixture(testing.CLIRunner()).run('--version')
        self.assertEqual(0, result.returncode)
        self.assertEqual('', result.stderr)
        # the bytes cliff's argparse version action prints
        import argparse
        import contextlib
        import io
        parser = argparse.ArgumentParser(prog='ntcli')
        parser.add_argument('--version', action='version',
                            version='ntcli 0.1.0')
        expected = io.StringIO()
        with contextlib.redirect_stdout(expected):
            self.assertRaises(SystemExit, parser.parse_args, ['--version'])
        self.assertEqual(expected.getvalue(), result.stdout)

    def test_version_to_a_broken_pipe(self):
        import io

        class Broken(io.StringIO):
            def write(self, text):
                raise BrokenPipeError(32, 'Broken pipe')

        # as a command's output into a closed pipe
        self.assertEqual(141, ntcli_app_main(['--version'], stdout=Broken()))

    def test_help_groups_commands(self):
        result = testing.run_in_process('--help')
        self.assertEqual(0, result.returncode)
        self.assertIn('Commands:', result.stdout)
        self.assertIn('  token:\n', result.stdout)
        self.assertIn('  workspace:\n', result.stdout)
        self.assertIn('token refresh', result.stdout)

    def test_command_help_explains_every_option(self):
        result = testing.run_in_process('token', 'refresh', '--help')
        self.assertEqual(0, result.returncode)
        for option in ('--expires-in', '--expires-at', '--no-expiry',
                       '--format'):
            self.assertIn(option, result.stdout)
        via_help = testing.run_in_process('help', 'token', 'refresh')
        self.assertEqual(result.stdout, via_help.stdout)

    def test_unknown_command_is_usage_error_on_stderr(self):
        result = testing.run_in_process('tokn', 'refresh')
        self.assertEqual(2, result.returncode)
        self.assertEqual('', result.stdout)
        self.assertIn("is not an ntcli command", result.stderr)

    def test_bad_option_is_usage_error(self):
        result = testing.run_in_process('token', 'list', '--bogus')
        self.assertEqual(2, result.returncode)


class FakeOptions(argparse.Namespace):
    def __init__(self, **kwargs):
        defaults = dict(endpoint=None, workspace=None, config_dir=None,
                        timeout=None, ca_bundle=None, debug=False)
        defaults.update(kwargs)
        super().__init__(**defaults)


class TestOptionPrecedence(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(testing.IsolatedHome())

    def context(self, **options):
        return ntcli_context.Context(None, FakeOptions(**options))

    def write_config(self, endpoint=None, **values):
        from ntcli import config
        cfg = config.Config.load(self.home.config_dir)
        for key, value in values.items():
            cfg.set(key, value)
        if endpoint:
            cfg.add_context('conf', endpoint=endpoint, key=endpoint)
            cfg.current_context = 'conf'
        cfg.save()

    def test_default(self):
        self.assertEqual('local', self.context().endpoint_url)
        self.assertEqual(30.0, self.context().timeout)

    def test_config_over_default(self):
        self.write_config(endpoint='http://config.example:1', timeout=5)
        self.assertEqual('http://config.example:1',
                         self.context().endpoint_url)
        self.assertEqual(5.0, self.context().timeout)

    def test_env_over_config(self):
        self.write_config(endpoint='http://config.example:1')
        self.useFixture(testing.fixtures.EnvironmentVariable(
            'NTCLI_ENDPOINT', 'http://env.example:2'))
        self.useFixture(testing.fixtures.EnvironmentVariable(
            'NTCLI_TIMEOUT', '7'))
        self.assertEqual('http://env.example:2', self.context().endpoint_url)
        self.assertEqual(7.0, self.context().timeout)

    def test_flag_over_env(self):
        self.useFixture(testing.fixtures.EnvironmentVariable(
            'NTCLI_ENDPOINT', 'http://env.example:2'))
        ctx = self.context(endpoint='http://flag.example:3', timeout=9.0)
        self.assertEqual('http://flag.example:3', ctx.endpoint_url)
        self.assertEqual(9.0, ctx.timeout)

    def test_config_dir_flag_over_env(self):
        other = self.useFixture(testing.fixtures.TempDir()).path
        self.useFixture(testing.fixtures.EnvironmentVariable(
            'NTCLI_CONFIG_DIR', self.home.path + '/env-dir'))
        self.assertEqual(self.home.path + '/env-dir',
                         self.context().config_dir)
        self.assertEqual(other, self.context(config_dir=other).config_dir)

    def test_invalid_timeout(self):
        err = self.assertRaises(errors.UsageError,
                                lambda: self.context(timeout=-1.0).timeout)
        self.assertEqual(2, err.exit_code)


class _Raiser(command.Command):
    """Raise the exception given by the test."""

    exc = None

    def take_action(self, parsed_args):
        raise self.exc


class TestErrorMapping(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())

    def run_raising(self, exc, *extra):
        _Raiser.exc = exc
        app_fixture = testing.fixtures.MonkeyPatch(
            'ntcli.application.CommandManager.load_commands',
            lambda self, ns: (self.group_list.append(ns),
                              self.add_command('boom', _Raiser)))
        self.useFixture(app_fixture)
        return testing.run_in_process(*extra, 'boom')

    def test_expected_failure_exit_1_with_hint(self):
        result = self.run_raising(errors.NtcliError('It broke', 'Do this.'))
        self.assertEqual(1, result.returncode)
        self.assertEqual('It broke\nHint: Do this.\n', result.stderr)
        self.assertEqual('', result.stdout)

    def test_usage_error_exit_2(self):
        result = self.run_raising(errors.InvalidExpiration(hint='Fix it.'))
        self.assertEqual(2, result.returncode)
        self.assertIn('Invalid expiration time\n', result.stderr)

    def test_unexpected_error_has_no_traceback(self):
        result = self.run_raising(RuntimeError('kaboom'))
        self.assertEqual(1, result.returncode)
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn('RuntimeError: kaboom', result.stderr)
        self.assertIn('--debug', result.stderr)

    def test_debug_shows_redacted_traceback(self):
        result = self.run_raising(
            RuntimeError('token wst_eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln leaked'),
            '--debug')
        self.assertEqual(1, result.returncode)
        self.assertIn('Traceback', result.stderr)
        self.assertNotIn('eyJzdWIiOiJ4In0', result.stderr)


class TestBrokenPlugin(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())
        self.useFixture(testing.PluginDistribution(
            'broken-plugin',
            {'ntcli.commands': {'broken_cmd': 'no_such_module_xyz:Command'}}))

    def test_help_reports_one_line_and_lists_the_rest(self):
        result = self.runner.run('--help')
        self.assertEqual(0, result.returncode)
        self.assertIn('token refresh', result.stdout)
        lines = [line for line in result.stderr.splitlines()
                 if 'broken' in line]
        self.assertEqual(1, len(lines), result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_other_commands_still_run(self):
        result = self.runner.run('token', 'refresh', '-f', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('new_token', json.loads(result.stdout))

    def test_running_the_broken_command_fails_cleanly(self):
        result = self.runner.run('broken', 'cmd')
        self.assertEqual(1, result.returncode)
        self.assertIn("The command 'broken cmd' could not be loaded",
                      result.stderr)
        self.assertNotIn('Traceback', result.stderr)


class TestFormatterSets(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())

    def formats(self, *command_words):
        result = testing.run_in_process(*command_words, '--help')
        line = [ln for ln in result.stdout.splitlines()
                if '-f {' in ln][0]
        return set(line.split('{')[1].split('}')[0].split(','))

    def test_single_object_commands(self):
        self.assertEqual({'text', 'json', 'table', 'yaml', 'value', 'shell'},
                         self.formats('token', 'show'))

    def test_list_commands(self):
        self.assertEqual({'table', 'csv', 'json', 'yaml', 'value'},
                         self.formats('token', 'list'))

    def test_formatters_are_in_ntcli_namespaces(self):
        self.assertEqual('ntcli.formatter.show',
                         command.ShowOne.formatter_namespace)
        self.assertEqual('ntcli.formatter.list',
                         command.Lister.formatter_namespace)


class TestInstalledHelp(testtools.TestCase):

    def test_help_from_subprocess(self):
        runner = self.useFixture(testing.CLIRunner())
        result = runner.run('--help')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('token refresh', result.stdout)
        self.assertIn('--endpoint', result.stdout)
        self.assertEqual('', result.stderr)


class TestCommandNames(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())

    def test_plugin_cannot_take_cliffs_own_commands(self):
        self.useFixture(testing.PluginDistribution(
            'grabby-plugin', {'ntcli.commands': {
                'help': 'no_such_module_xyz:Help'}}))
        result = self.runner.run('help', 'token', 'show')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('--show-token', result.stdout)
        self.assertIn("the plugin command 'help'", result.stderr)

    def test_the_same_entry_point_twice_is_no_conflict(self):
        self.useFixture(testing.PluginDistribution(
            'ntcli-again', {'ntcli.commands': {
                'token_show': 'ntcli_token_plugin.show:ShowToken'}}))
        result = self.runner.run('--help')
        self.assertEqual(0, result.returncode)
        self.assertEqual('', result.stderr)


class TestUsageErrors(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())

    def test_two_lines(self):
        for argv in (('token', 'list', '--bogus'), ('token', 'revoke'),
                     ('--timeout', 'soon', 'token', 'show')):
            result = testing.run_in_process(*argv)
            self.assertEqual(2, result.returncode, argv)
            lines = result.stderr.splitlines()
            self.assertEqual(2, len(lines), result.stderr)
            self.assertIn('error:', lines[0])
            self.assertTrue(lines[1].startswith('Hint: See'))
