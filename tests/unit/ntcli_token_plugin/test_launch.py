"""ntcli_token_plugin.launch and the parser of token exec: what is checked
before ntcli becomes the program."""

import os
import stat

import fixtures
import testtools

from ntcli import errors, testing
from ntcli_token_plugin import exec as exec_command
from ntcli_token_plugin import launch


class TestEnvName(testtools.TestCase):

    def test_shell_variable_names(self):
        for name in ('NTCLI_TOKEN', 'API_TOKEN', '_x', 'a1'):
            self.assertEqual(name, launch.check_env_name(name))

    def test_other_names_are_refused(self):
        for name in ('', '1A', 'A-B', 'A=B', 'A B', 'Ä', 'A\n', 'A\x00',
                     'NTCLI_KEY'):
            exc = self.assertRaises(errors.UsageError,
                                    launch.check_env_name, name)
            self.assertEqual(2, exc.exit_code)


class TestChildEnvironment(testtools.TestCase):

    def test_token_set_and_key_removed(self):
        env = launch.child_environment(
            {'PATH': '/bin', 'NTCLI_KEY': 'k', 'NTCLI_TOKEN': 'old'},
            'API_TOKEN', 'wst_x')
        self.assertEqual({'PATH': '/bin', 'NTCLI_TOKEN': 'old',
                          'API_TOKEN': 'wst_x'}, env)
        env = launch.child_environment({'NTCLI_TOKEN': 'old'},
                                       'NTCLI_TOKEN', 'wst_x')
        self.assertEqual({'NTCLI_TOKEN': 'wst_x'}, env)


class TestFindProgram(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.other = self.useFixture(fixtures.TempDir()).path

    def make(self, directory, name, mode):
        path = os.path.join(directory, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n')
        os.chmod(path, mode)
        return path

    def test_first_executable_in_path(self):
        self.make(self.dir, 'tool', stat.S_IRUSR)
        wanted = self.make(self.other, 'tool', stat.S_IRWXU)
        self.assertEqual(wanted, launch.find_program(
            'tool', os.pathsep.join([self.dir, self.other])))

    def test_not_found_is_127(self):
        for name, path in (('tool', self.dir), ('', self.dir),
                           (os.path.join(self.dir, 'nope'), None)):
            exc = self.assertRaises(errors.CommandNotFound,
                                    launch.find_program, name, path)
            self.assertEqual(127, exc.exit_code)

    def test_only_a_file_that_cannot_run_is_126(self):
        path = self.make(self.dir, 'tool', stat.S_IRUSR)
        for name in ('tool', path):
            exc = self.assertRaises(errors.CommandNotExecutable,
                                    launch.find_program, name, self.dir)
            self.assertEqual(126, exc.exit_code)
            self.assertIn('Permission denied', exc.message)
        exc = self.assertRaises(errors.CommandNotExecutable,
                                launch.find_program, self.dir + '/', None)
        self.assertIn('Is a directory', exc.message)

    def test_a_directory_in_path_is_not_a_program(self):
        os.mkdir(os.path.join(self.dir, 'tool'))
        self.assertRaises(errors.CommandNotFound, launch.find_program,
                          'tool', self.dir)

    def test_empty_path_entry_is_the_current_directory(self):
        self.make(self.dir, 'tool', stat.S_IRWXU)
        cwd = os.getcwd()
        self.addCleanup(os.chdir, cwd)
        os.chdir(self.dir)
        self.assertEqual('./tool', launch.find_program('tool', ''))


class TestExecParser(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())
        self.parser = exec_command.ExecToken(None, None).get_parser(
            'ntcli token exec')

    def test_everything_after_the_double_dash_is_the_command(self):
        args = self.parser.parse_args(
            ['--env', 'API', '--', 'curl', '-v', '--env', 'x', '--', '-h'])
        self.assertEqual('API', args.env)
        self.assertEqual(['curl', '-v', '--env', 'x', '--', '-h'],
                         args.command)

    def test_defaults(self):
        args = self.parser.parse_args(['--', 'true'])
        self.assertEqual('NTCLI_TOKEN', args.env)
        self.assertIsNone(args.refresh_if_expires_within)
        self.assertEqual(['true'], args.command)

    def test_no_double_dash(self):
        self.assertIsNone(self.parser.parse_args([]).command)
        self.assertEqual([], self.parser.parse_args(['--']).command)
        stderr = self.useFixture(fixtures.StringStream('stderr')).stream
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        self.parser = exec_command.ExecToken(None, None).get_parser(
            'ntcli token exec')
        self.assertRaises(SystemExit, self.parser.parse_args, ['true'])
        stderr.seek(0)
        self.assertIn("after '--'", stderr.read())
