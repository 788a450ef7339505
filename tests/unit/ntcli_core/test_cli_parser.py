"""Tests for ntcli_core.cli_parser: the parser both applications build
every parser from."""

import argparse
import io

import testtools

from ntcli import command
from ntcli.application import NtcliApp
from ntcli_core import cli_parser
from ntcli_server.cli import ServerApp
from ntcli_server.commands import base as server_base


def parser(**kwargs):
    stderr = io.StringIO()
    made = cli_parser.ArgumentParser(prog='prog', stderr=stderr, **kwargs)
    made.add_argument('--count', type=int, default=0)
    made.add_argument('name', nargs='?')
    return made, stderr


class TestUsageErrors(testtools.TestCase):

    def test_two_lines_on_the_given_stderr_and_exit_2(self):
        made, stderr = parser()
        exit_ = self.assertRaises(SystemExit, made.parse_args,
                                  ['--count', 'many'])
        self.assertEqual(2, exit_.code)
        self.assertEqual(["prog: error: argument --count: invalid int "
                          "value: 'many'", "Hint: See 'prog --help'."],
                         stderr.getvalue().splitlines())

    def test_quietly_raises_and_prints_nothing(self):
        made, stderr = parser()
        error = self.assertRaises(cli_parser.UsageProblem,
                                  made.parse_known_quietly,
                                  ['--count', 'many'])
        self.assertIn('--count', str(error))
        self.assertEqual('', stderr.getvalue())
        # and the parser reports usage errors again afterwards
        self.assertRaises(SystemExit, made.parse_args, ['--count', 'x'])
        self.assertIn('Hint:', stderr.getvalue())

    def test_quietly_over_a_namespace(self):
        made, _ = parser()
        parsed = made.parse_known_quietly(
            ['--count', '3'], argparse.Namespace(extra=True))
        self.assertEqual((3, True), (parsed.count, parsed.extra))


class TestRestAfterDoubleDash(testtools.TestCase):

    def test_the_words_after_the_first_double_dash(self):
        made, _ = parser(rest_after_double_dash='command')
        parsed = made.parse_args(['--count', '2', '--', 'env', '--count',
                                  '--', 'x'])
        self.assertEqual((2, ['env', '--count', '--', 'x']),
                         (parsed.count, parsed.command))
        self.assertIsNone(made.parse_args(['n']).command)

    def test_unknown_options_without_double_dash_are_refused(self):
        made, stderr = parser(rest_after_double_dash='command')
        self.assertRaises(SystemExit, made.parse_args, ['--bogus'])
        self.assertIn("the command to run goes after '--'",
                      stderr.getvalue())


class TestBothApplications(testtools.TestCase):
    """No parser instance is patched: both apps' parsers, global and of
    their commands, are of the one class."""

    def test_global_parsers(self):
        for app in (NtcliApp(stdout=io.StringIO(), stderr=io.StringIO()),
                    ServerApp()):
            self.assertIsInstance(app.parser, cli_parser.ArgumentParser)
            self.assertNotIn('error', vars(app.parser))

    def test_command_parsers(self):
        ntcli = NtcliApp(stdout=io.StringIO(), stderr=io.StringIO())
        commands = [(ntcli, ep.load()) for _name, ep in ntcli.command_manager]
        server = ServerApp()
        commands += [(server, ep.load())
                     for _name, ep in server.command_manager]
        self.assertGreater(len(commands), 40)
        for app, cls in commands:
            made = cls(app, None).get_parser('x')
            self.assertIsInstance(made, cli_parser.ArgumentParser, cls)
            self.assertIs(app.stderr, made.stderr, cls)
            self.assertNotIn('error', vars(made), cls)
            self.assertNotIn('parse_known_args', vars(made), cls)
        self.assertTrue(issubclass(command.ShowOne,
                                   cli_parser.ParsedCommand))
        self.assertTrue(issubclass(server_base.Lister,
                                   cli_parser.ParsedCommand))
