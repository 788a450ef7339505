"""Third-party plugins as a user meets them.

The example plugin (examples/ntcli-hello-plugin) is made installed beside
ntcli from its own setup.cfg, without pip (tests run in parallel on one
venv): its commands are in --help and in completion, run with every output
format and report errors through ntcli. A plugin that fails to import, a
plugin with a bug and a plugin that claims a built-in command's name leave
the rest of ntcli working.
"""

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

import fixtures
import yaml

from ntcli import testing
from tests.functional import base

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLE = os.path.join(TOP, 'examples', 'ntcli-hello-plugin')
DAY = 86400

BROKEN_MODULE = 'raise RuntimeError("hello_broken is broken on purpose")\n'
EXITING_MODULE = 'import sys\nsys.exit(3)\n'
BUGGY_MODULE = '''\
from ntcli import command


class Buggy(command.ShowOne):
    """A command with a bug."""

    def take_action(self, parsed_args):
        return {}['missing']
'''
HIJACK_MODULE = '''\
import os

from ntcli import command

open(os.environ['HIJACK_MARKER'], 'w').close()


class Refresh(command.Command):
    """Not the real token refresh."""

    def take_action(self, parsed_args):
        self.app.stdout.write('hijacked\\n')
'''


def help_groups(text):
    """``ntcli --help``'s command list as {group: {command: summary}}."""
    groups, group = {}, None
    for line in text.split('\nCommands:\n', 1)[1].splitlines():
        if re.match(r'^  \S.*:$', line):
            group = groups.setdefault(line.strip()[:-1], {})
        elif line.startswith('    '):
            name, summary = re.split(r'\s{2,}', line.strip(), maxsplit=1)
            group[name] = summary
    return groups


def completion_words(result):
    """The words ``ntcli complete --query`` offers."""
    kind, *lines = result.stdout.splitlines()
    assert kind == 'words', result
    return [line.split('\t')[0] for line in lines]


class PluginTest(base.FunctionalTest):
    """The example plugin installed in an isolated HOME."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # setuptools writes the example's metadata once per class
        cls.metadata_dir = tempfile.mkdtemp(prefix='ntcli-hello-')
        cls.addClassCleanup(shutil.rmtree, cls.metadata_dir, True)

    def setUp(self):
        super().setUp()
        self.useFixture(testing.PluginSourceTree(
            EXAMPLE, metadata_dir=self.metadata_dir))
        self.authority = self.runner.embedded_endpoint()

    def assertFailsCleanly(self, result, status, first_line=None):
        """Exit ``status``, one or two lines on stderr, nothing else."""
        self.assertEqual(status, result.returncode, str(result))
        lines = result.stderr.splitlines()
        self.assertIn(len(lines), (1, 2), result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertEqual('', result.stdout)
        if first_line is not None:
            self.assertEqual(first_line, lines[0])
        return lines


class TestDiscovery(PluginTest):

    def test_help_lists_the_plugin_commands(self):
        result = self.ntcli('--help')
        self.assertEqual('', result.stderr)
        groups = help_groups(result.stdout)
        self.assertEqual(
            {'hello': 'Greet, and show the workspace and whether a token is '
                      'stored for it',
             'hello tokens':
             "List the workspace's live tokens and the days each has left"},
            groups['hello'])
        listed = {name: summary for group in groups.values()
                  for name, summary in group.items()}
        self.assertEqual('Greet, and show the workspace and whether a token '
                         'is stored for it', listed['hello'])
        self.assertIn('token refresh', groups['token'])

    def test_single_word_command_is_listed_in_its_group(self):
        # a one-word command joins the group of the commands sharing its
        # first word, rather than 'other:'
        groups = help_groups(self.ntcli('--help').stdout)
        self.assertIn('hello', groups['hello'])

    def test_command_help(self):
        result = self.ntcli('hello', '--help')
        self.assertIn('--name NAME', result.stdout)
        self.assertIn('Who to greet', result.stdout)
        self.assertIn('{json,shell,table,text,value,yaml}', result.stdout)
        result = self.ntcli('help', 'hello', 'tokens')
        self.assertIn('--within DAYS', result.stdout)
        self.assertIn('{csv,json,table,value,yaml}', result.stdout)

    def completions(self, *words):
        result = self.ntcli('complete', '--query', '--', *words)
        self.assertEqual('', result.stderr)
        return completion_words(result)

    def test_completion_includes_the_plugin_commands(self):
        self.assertIn('hello', self.completions(''))
        self.assertIn('tokens', self.completions('hello', ''))
        self.assertIn('--require-token', self.completions('hello', '--'))
        self.assertEqual(['--within'],
                         self.completions('hello', 'tokens', '--wi'))

    def test_completion_of_a_command_that_is_also_a_group(self):
        # cliff's own completion depended on the order of the entry points:
        # 'hello tokens' before 'hello' lost 'hello tokens'
        self.useFixture(testing.PluginDistribution(
            'hello-reordered', {'ntcli.commands': {
                'hello_tokens': 'ntcli_hello.commands:HelloTokens',
                'hello': 'ntcli_hello.commands:Hello'}}))
        self.assertNotIn('hello_tokens', self.completions(''))
        self.assertEqual(['tokens'], self.completions('hello', 't'))
        self.assertEqual(['--within'],
                         self.completions('hello', 'tokens', '--wi'))


class TestShowFormats(PluginTest):
    """``hello`` (a ShowOne) in every single-object format."""

    def setUp(self):
        super().setUp()
        self.workspace = self.authority.workspace()
        self.token = self.authority.issue_token()
        self.runner.home.store_token(self.token)
        self.expected = {
            'greeting': 'Hello, world!', 'workspace': 'default',
            'workspace_id': self.workspace.id, 'endpoint': 'local',
            'token_stored': True, 'token_jti': self.token.jti}

    def hello(self, fmt, *args):
        result = self.ntcli('hello', '-f', fmt, *args)
        self.assertEqual('', result.stderr)
        return result.stdout

    def test_text_is_the_default_with_the_plugin_layout(self):
        lines = ['Hello, world!',
                 f'Workspace:     default ({self.workspace.id})',
                 'Endpoint:      local',
                 f'Stored token:  {self.token.jti}']
        self.assertEqual(lines, self.hello('text').splitlines())
        self.assertEqual(lines, self.ntcli('hello').stdout.splitlines())

    def test_text_with_columns_uses_the_generic_layout(self):
        self.assertEqual(['Greeting:   Hello, world!',
                          'Workspace:  default'],
                         self.hello('text', '-c', 'greeting',
                                    '-c', 'workspace').splitlines())

    def test_json(self):
        self.assertEqual(self.expected,
                         self.ntcli('hello', '-f', 'json').json())

    def test_yaml(self):
        self.assertEqual(self.expected, yaml.safe_load(self.hello('yaml')))

    def test_table(self):
        rows = dict(re.findall(r'^\| (\S+) +\| (.*?) +\|$',
                               self.hello('table'), re.M))
        rows.pop('Field')
        self.assertEqual({k: str(v) for k, v in self.expected.items()}, rows)

    @staticmethod
    def machine(value):
        """A value as the machine formats print it (booleans as JSON)."""
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return str(value)

    def test_value(self):
        self.assertEqual([self.machine(v) for v in self.expected.values()],
                         self.hello('value').splitlines())

    def test_shell(self):
        pairs = dict(re.findall(r'^(\w+)="(.*)"$', self.hello('shell'),
                                re.M))
        self.assertEqual(
            {k: self.machine(v) for k, v in self.expected.items()}, pairs)
        prefixed = self.hello('shell', '--prefix', 'hi_', '-c', 'workspace')
        self.assertEqual('hi_workspace="default"\n', prefixed)


class TestListFormats(PluginTest):
    """``hello tokens`` (a Lister) in every list format."""

    def setUp(self):
        super().setUp()
        self.soon = self.authority.issue_token(expires_in=10 * DAY)
        self.never = self.authority.issue_token(expires_in=None)
        revoked = self.authority.issue_token()
        self.authority.revoke_token(revoked.jti)
        self.rows = sorted([(self.soon.jti, 10), (self.never.jti, None)])

    def tokens(self, fmt):
        result = self.ntcli('hello', 'tokens', '-f', fmt)
        self.assertEqual('', result.stderr)
        return result.stdout

    def test_table_is_the_default(self):
        out = self.ntcli('hello', 'tokens').stdout
        self.assertEqual(out, self.tokens('table'))
        rows = re.findall(r'^\| (jti_\w+) +\| (\S+) +\|$', out, re.M)
        self.assertEqual(
            sorted((jti, 'never' if days is None else str(days))
                   for jti, days in self.rows), sorted(rows))
        self.assertIn('| JTI ', out)
        self.assertIn('| Days left |', out)

    def test_csv(self):
        rows = list(csv.reader(io.StringIO(self.tokens('csv'))))
        self.assertEqual(['JTI', 'Days left'], rows[0])
        # absent values are empty in flat formats
        self.assertEqual(sorted([jti, '' if days is None else str(days)]
                                for jti, days in self.rows),
                         sorted(rows[1:]))

    def test_json(self):
        data = self.ntcli('hello', 'tokens', '-f', 'json').json()
        self.assertEqual([{'JTI': jti, 'Days left': days}
                          for jti, days in self.rows],
                         sorted(data, key=lambda row: row['JTI']))

    def test_yaml(self):
        data = yaml.safe_load(self.tokens('yaml'))
        self.assertEqual([{'JTI': jti, 'Days left': days}
                          for jti, days in self.rows],
                         sorted(data, key=lambda row: row['JTI']))

    def test_value(self):
        self.assertEqual(sorted(f"{jti} {'' if days is None else days}"
                                for jti, days in self.rows),
                         sorted(self.tokens('value').splitlines()))

    def test_empty_list_keeps_machine_output_clean(self):
        self.authority.create_workspace('empty')
        result = self.ntcli('-w', 'empty', 'hello', 'tokens', '-f', 'json')
        self.assertEqual([], result.json())
        self.assertEqual(
            "Warning: no matching tokens in workspace 'empty'.\n",
            result.stderr)


class TestErrors(PluginTest):
    """The plugin's failures go through ntcli's error handling."""

    def test_usage_error_exits_2_with_a_hint(self):
        lines = self.assertFailsCleanly(
            self.ntcli('hello', '--name', '', expect=None), 2,
            "Invalid name ''")
        self.assertTrue(lines[1].startswith('Hint: '))
        self.assertFailsCleanly(
            self.ntcli('hello', 'tokens', '--within=-2', expect=None), 2,
            'Invalid number of days: -2')

    def test_failed_operation_exits_1(self):
        self.assertFailsCleanly(
            self.ntcli('hello', '--require-token', expect=None), 1,
            "No token is stored for workspace 'default'")

    def test_core_errors_reach_the_user_unchanged(self):
        self.assertFailsCleanly(
            self.ntcli('-w', 'no-such-space', 'hello', 'tokens', expect=None),
            1, "Workspace 'no-such-space' not found")

    def test_bad_option_value_is_a_usage_error(self):
        result = self.ntcli('hello', 'tokens', '--within', 'soon',
                            expect=2)
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn("argument --within: invalid int value: 'soon'",
                      result.stderr)
        self.assertEqual('', result.stdout)

    def test_a_bug_in_a_plugin_shows_no_traceback(self):
        self.useFixture(testing.PluginDistribution(
            'buggy-plugin', {'ntcli.commands': {'buggy': 'hello_buggy:Buggy'}},
            modules={'hello_buggy.py': BUGGY_MODULE}))
        lines = self.assertFailsCleanly(self.ntcli('buggy', expect=None), 1,
                                        "Unexpected error: KeyError: "
                                        "'missing'")
        self.assertIn('--debug', lines[1])
        debug = self.ntcli('--debug', 'buggy', expect=1)
        self.assertIn('Traceback', debug.stderr)


class TestBrokenPlugin(PluginTest):
    """A plugin that raises on import, installed beside the example."""

    def setUp(self):
        super().setUp()
        self.useFixture(testing.PluginDistribution(
            'broken-plugin',
            {'ntcli.commands': {'broken_hello': 'hello_broken:Broken'}},
            modules={'hello_broken.py': BROKEN_MODULE}))

    def test_help_reports_it_in_one_line(self):
        result = self.ntcli('--help')
        lines = result.stderr.splitlines()
        self.assertEqual(1, len(lines), result.stderr)
        self.assertIn("'broken hello'", lines[0])
        self.assertIn('hello_broken is broken on purpose', lines[0])
        listed = {name for group in help_groups(result.stdout).values()
                  for name in group}
        self.assertLessEqual({'hello', 'hello tokens', 'token refresh'},
                             listed)
        self.assertNotIn('broken hello', listed)

    def test_everything_else_works(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('hello', '-f', 'json')
        self.assertEqual('', result.stderr)
        self.assertTrue(result.json()['token_stored'])
        self.assertEqual(1, len(self.ntcli('hello', 'tokens',
                                           '-f', 'json').json()))

    def test_running_it_fails_cleanly(self):
        lines = self.assertFailsCleanly(
            self.ntcli('broken', 'hello', expect=None), 1)
        self.assertIn("The command 'broken hello' could not be loaded",
                      lines[0])
        self.assertIn('RuntimeError: hello_broken is broken on purpose',
                      lines[0])

    def test_completion_still_works(self):
        # cliff's own completion stopped at the first command that failed
        # to load; ntcli's offers the rest, and says nothing at the prompt
        result = self.ntcli('complete', '--query', '--', '')
        self.assertEqual('', result.stderr)
        self.assertIn('hello', completion_words(result))
        result = self.ntcli('complete', '--query', '--', 'broken', 'hello',
                            '-')
        self.assertEqual(('words\n', ''), (result.stdout, result.stderr))


class TestExitingPlugin(PluginTest):
    """A plugin whose module calls sys.exit() when it is imported."""

    def setUp(self):
        super().setUp()
        self.useFixture(testing.PluginDistribution(
            'exiting-plugin',
            {'ntcli.commands': {'exiting_hello': 'hello_exiting:Exiting'}},
            modules={'hello_exiting.py': EXITING_MODULE}))

    def test_help_works_with_one_warning_naming_it(self):
        for args in (('--help',), ('help',)):
            result = self.ntcli(*args)
            lines = result.stderr.splitlines()
            self.assertEqual(1, len(lines), result.stderr)
            self.assertTrue(lines[0].startswith('Warning: '), lines[0])
            self.assertIn("'exiting hello'", lines[0])
            self.assertIn("'hello_exiting:Exiting'", lines[0])
            self.assertIn('SystemExit: 3', lines[0])
            self.assertIn('token refresh', help_groups(result.stdout)['token'])

    def test_other_commands_work(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('hello', '-f', 'json')
        self.assertEqual('', result.stderr)
        self.assertTrue(result.json()['token_stored'])

    def test_running_it_fails_cleanly(self):
        lines = self.assertFailsCleanly(
            self.ntcli('exiting', 'hello', expect=None), 1)
        self.assertIn("The command 'exiting hello' could not be loaded",
                      lines[0])

    def test_it_is_listed_with_its_distribution(self):
        rows = self.ntcli('plugin', 'list', '-f', 'json').json()
        self.assertIn({'Name': 'exiting hello', 'Kind': 'command',
                       'Distribution': 'exiting-plugin', 'Version': '0.1',
                       'Status': 'ok'}, rows)
        example = {(r['Name'], r['Distribution']) for r in rows}
        self.assertIn(('hello tokens', 'ntcli-hello-plugin'), example)
        self.assertIn(('token refresh', 'ntcli'), example)
        self.assertIn(('local', 'ntcli'), example)


class TestNameCollision(PluginTest):
    """A plugin that registers 'token refresh', a built-in command."""

    def setUp(self):
        super().setUp()
        self.marker = os.path.join(self.home.path, 'hijack-imported')
        self.useFixture(fixtures.EnvironmentVariable('HIJACK_MARKER',
                                                     self.marker))
        self.useFixture(testing.PluginDistribution(
            'hijack-plugin',
            {'ntcli.commands': {'token_refresh': 'hello_hijack:Refresh'}},
            modules={'hello_hijack.py': HIJACK_MODULE}))

    def assertWarnsOfTheIgnoredPlugin(self, stderr):
        lines = [line for line in stderr.splitlines()
                 if 'hello_hijack' in line]
        self.assertEqual(1, len(lines), stderr)
        self.assertTrue(lines[0].startswith('Warning: '), lines[0])
        self.assertIn("'token refresh'", lines[0])
        self.assertIn("'hello_hijack:Refresh' is ignored", lines[0])

    def test_the_builtin_runs_and_the_plugin_is_named(self):
        result = self.ntcli('token', 'refresh', '-f', 'json')
        self.assertIn('new_token', result.json())
        self.assertNotIn('hijacked', result.stdout)
        self.assertWarnsOfTheIgnoredPlugin(result.stderr)
        self.assertFalse(os.path.exists(self.marker),
                         'the ignored plugin was imported')

    def test_help_warns_once(self):
        for args in (('--help',), ('help',)):
            result = self.ntcli(*args)
            self.assertWarnsOfTheIgnoredPlugin(result.stderr)
            self.assertEqual(1, len(result.stderr.splitlines()),
                             result.stderr)
            self.assertTrue(help_groups(result.stdout)['token'][
                'token refresh'].startswith('Rotate the workspace token'))
            self.assertFalse(os.path.exists(self.marker))

    def test_plugin_list_marks_it_ignored(self):
        rows = self.ntcli('plugin', 'list', '--kind', 'command', '--long',
                          '-f', 'json').json()
        hijack = [r for r in rows if r['Distribution'] == 'hijack-plugin']
        self.assertEqual([{'Name': 'token refresh', 'Kind': 'command',
                           'Distribution': 'hijack-plugin',
                           'Version': '0.1',
                           'Status': 'ignored: the name is taken',
                           'Entry Point': 'hello_hijack:Refresh'}], hijack)
        builtin = [r for r in rows if r['Name'] == 'token refresh'
                   and r['Distribution'] == 'ntcli']
        self.assertEqual('ok', builtin[0]['Status'])
        self.assertFalse(os.path.exists(self.marker))

    def test_other_commands_do_not_warn(self):
        self.assertEqual('', self.ntcli('hello').stderr)


class TestExampleTestSuite(PluginTest):
    """The example's own tests pass against the plugin as installed here."""

    def test_stestr_run_in_the_example(self):
        copy = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'plugin')
        shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(
            '.stestr', '__pycache__', '*.egg-info', 'build'))
        proc = subprocess.run(
            [sys.executable, '-m', 'stestr', 'run', '--concurrency', '1'],
            cwd=copy, capture_output=True, text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r'- Passed: [1-9]\d*')
        self.assertRegex(proc.stdout, r'- Failed: 0')
