"""Tab from the completion table, without starting the application: the
same answers as the application's, a new table whenever the plugin set
changes, and nothing of cliff imported.

``quick`` is what ``ntcli complete --query`` answers before cliff is
imported (None: the application must start); ``slow`` is the application's
answer, which makes the table and keeps the values it looked up.
"""

import io
import os

import testtools

from ntcli import (
    application,
    completion,
    completion_cache,
    completion_quick,
    completion_table,
    testing,
)

BASH_BREAKS = ' \t\n"\'><=;|&(:'

PLUGIN = '''
from cliff.command import Command


class Hello(Command):
    """Say hello. Politely."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--loud', action='store_true',
                            help='Say it loudly.')
        return parser

    def take_action(self, parsed_args):
        return 0
'''


class TableTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(testing.IsolatedHome())
        # a stale value would be refreshed by a process of its own: not
        # from a test process; what it is asked is recorded instead
        self.refreshes = []
        self.patch(completion_cache, 'refresh_in_background',
                   lambda options, argv: self.refreshes.append(argv))

    def slow(self, *words, line=False, breaks=None):
        stderr = io.StringIO()
        app = application.NtcliApp(stdin=io.StringIO(), stdout=io.StringIO(),
                                   stderr=stderr)
        text = completion.answer(app, list(words), line=line, breaks=breaks)
        self.assertEqual('', stderr.getvalue())
        return text

    def quick(self, *words, line=False, breaks=None):
        argv = ['complete', '--query']
        if line:
            argv.append('--line')
        if breaks is not None:
            argv += ['--breaks', breaks]
        return completion_quick.answer([*argv, '--', *words])

    def offered(self, text):
        return [row.split('\t')[0] for row in text.splitlines()[1:]]


class TestTheSameAnswers(TableTest):

    def test_no_table_yet_starts_the_application(self):
        self.assertIsNone(self.quick('token', 're'))
        self.slow('token', 're')
        self.assertEqual(self.slow('token', 're'), self.quick('token', 're'))

    def test_names_choices_columns_and_paths(self):
        authority = self.useFixture(testing.EmbeddedEndpoint(
            self.home.data_dir))
        authority.workspace()
        authority.create_workspace('team-a')
        lines = [
            [''], ['tok'], ['token', 're'], ['token', ''],
            ['token', 'refresh', '--exp'], ['token', 'refresh', '--no-'],
            ['--end'], ['-'], ['complete', '--'],
            ['token', 'list', '-f', ''], ['token', 'show', '--format='],
            ['token', 'list', '-c', ''],
            ['token', 'list', '--show-expired', '-c', ''],
            ['token', 'list', '--sort-column', 'C'],
            ['token', 'revoke', 'x', '-c', ''],
            ['token', 'create', '--column=j'],
            ['--config-dir', ''], ['token', 'show', '--ca-bundle', ''],
            ['workspace', 'create', ''], ['help', ''],
            ['-w', ''], ['workspace', 'select', 'te'], ['context', 'use', ''],
            ['--endpoint', ''], ['token', 'revoke', ''],
            ['token', 'list', '-w', 't'],
        ]
        for words in lines:
            self.slow(*words)      # the table, and the values, kept
        for words in lines:
            self.assertEqual(self.slow(*words), self.quick(*words), words)
        self.assertEqual(['default', 'team-a'], self.offered(
            self.quick('workspace', 'select', '')))
        self.assertIn('Status', self.offered(self.quick(
            'token', 'list', '--show-expired', '-c', '')))
        self.assertEqual('dirs\n', self.quick('--config-dir', ''))

    def test_lines_as_bash_gives_them(self):
        for line in ('ntcli token show --format=j', 'ntcli tok',
                     "ntcli token list -f 'js", 'ntcli token '):
            self.slow(line, line=True, breaks=BASH_BREAKS)
            self.assertEqual(
                self.slow(line, line=True, breaks=BASH_BREAKS),
                self.quick(line, line=True, breaks=BASH_BREAKS), line)
        self.assertEqual('words\njson\n', self.quick(
            'ntcli token show --format=j', line=True, breaks=BASH_BREAKS))

    def test_anything_but_a_query_is_left_to_the_application(self):
        self.slow('token', 're')
        for argv in (['complete'], ['complete', '--shell', 'bash'],
                     ['complete', '--refresh', '--query', '--', 'tok'],
                     ['complete', '--query', '--odd', '--', 'tok'],
                     ['token', 'show']):
            self.assertIsNone(completion_quick.answer(argv), argv)


class TestANewTable(TableTest):
    """The table is made again when the plugin set changes."""

    def install(self):
        return self.useFixture(testing.PluginDistribution(
            'ntcli-hello', {'ntcli.commands': {
                'hello_there': 'ntcli_hello_plugin:Hello'}},
            modules={'ntcli_hello_plugin.py': PLUGIN}))

    def forget(self, plugin):
        """What a new process would see (each Tab is one): stevedore keeps
        entry points for the life of a process, by namespace and by
        sys.path."""
        from stevedore import _cache
        _cache._c._internal.clear()
        testing.ImportPath(plugin.path)._forget_modules()

    def test_installing_and_removing_a_plugin(self):
        self.slow('')
        self.assertNotIn('hello', self.offered(self.quick('')))
        plugin = self.install()
        self.assertIsNone(self.quick(''))        # out of date
        self.slow('')
        self.assertIn('hello', self.offered(self.quick('')))
        self.assertEqual('words\nthere\tSay hello\n',
                         self.quick('hello', ''))
        self.assertEqual('words\n--loud\tSay it loudly\n',
                         self.quick('hello', 'there', '--l'))
        # uninstalled: its metadata gone
        info = os.path.join(plugin.path, 'ntcli_hello-0.1.dist-info')
        for name in os.listdir(info):
            os.unlink(os.path.join(info, name))
        os.rmdir(info)
        self.forget(plugin)
        self.assertIsNone(self.quick(''))
        self.slow('')
        self.assertNotIn('hello', self.offered(self.quick('')))

    def test_a_changed_entry_point_set(self):
        plugin = self.install()
        self.slow('')
        self.assertIn('hello', self.offered(self.quick('')))
        path = os.path.join(plugin.path, 'ntcli_hello-0.1.dist-info',
                            'entry_points.txt')
        with open(path, 'w') as handle:
            handle.write('[ntcli.commands]\n'
                         'greet = ntcli_hello_plugin:Hello\n')
        # an hour later: stevedore's cache key keeps modification times
        # as 32-bit floats (about two minutes apart at best)
        later = os.stat(path).st_mtime_ns + 3600 * 10**9
        os.utime(path, ns=(later, later))
        self.forget(plugin)
        self.assertIsNone(self.quick(''))
        self.slow('')
        offered = self.offered(self.quick(''))
        self.assertIn('greet', offered)
        self.assertNotIn('hello', offered)

    def test_a_changed_command_source(self):
        plugin = self.install()
        self.slow('hello', 'there', '--')
        self.assertIsNotNone(self.quick('hello', 'there', '--'))
        source = os.path.join(plugin.path, 'ntcli_hello_plugin.py')
        later = os.stat(source).st_mtime_ns + 10**10
        os.utime(source, ns=(later, later))
        self.assertIsNone(self.quick('hello', 'there', '--'))

    def test_a_new_ntcli_version(self):
        self.slow('')
        self.patch(completion_table.ntcli, '__version__', '99.0')
        self.assertIsNone(self.quick(''))
