"""The command base classes, as tools that build parsers without an app
see them (cliff's Sphinx extension builds each parser with ``app`` None)."""

import testtools

from ntcli import application, testing
from ntcli.commands.complete import CompleteCommand


def registered_commands():
    """{name: class} of every command on ``ntcli.commands``, and the app's
    own ``help`` and ``complete``."""
    manager = application.CommandManager()
    found = {name: ep.load() for name, ep in manager}
    found.update(help=application.HelpCommand,
                 complete=CompleteCommand)
    return found


class TestParsersWithoutAnApp(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.IsolatedHome())

    def test_every_command_builds_its_parser_with_no_app(self):
        commands = registered_commands()
        self.assertIn('token revoke', commands)
        for name, factory in sorted(commands.items()):
            command = factory(None, None)
            parser = command.get_parser(f'ntcli {name}')
            usage = parser.format_help()
            self.assertIn(f'ntcli {name}', usage, name)
            for action in parser._actions:
                if action.option_strings and action.help != '==SUPPRESS==':
                    self.assertTrue(action.help, (name, action.dest))

    def test_a_usage_error_without_an_app_goes_to_stderr(self):
        stderr = self.useFixture(testing.fixtures.StringStream('stderr'))
        self.useFixture(testing.fixtures.MonkeyPatch('sys.stderr',
                                                     stderr.stream))
        command = registered_commands()['token revoke'](None, None)
        parser = command.get_parser('ntcli token revoke')
        error = self.assertRaises(SystemExit, parser.parse_args, [])
        self.assertEqual(2, error.code)
        self.assertIn('ntcli token revoke: error:', stderr.getDetails()[
            'stderr'].as_text())
