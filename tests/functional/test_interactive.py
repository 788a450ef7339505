"""The interactive mode (``ntcli`` alone), typed at on a pseudo-terminal."""

import os
import stat

from ntcli import testing
from tests.functional import base, terminal
from tests.functional.test_shell_completion import NOISE

PROMPT = r'\(ntcli\) '


class TestInteractive(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.authority = self.useFixture(testing.EmbeddedEndpoint(
            self.home.data_dir))
        self.authority.create_workspace('team-a')
        self.jti = self.authority.issue_token().jti
        self.history = os.path.join(self.home.config_dir, 'shell_history')

    def start(self, *options):
        env = dict(self.home.env, TERM='dumb', INPUTRC='/dev/null')
        self.term = self.useFixture(terminal.Terminal(
            testing.ntcli_command() + list(options), env, cwd=self.home.path))
        self.term.expect(PROMPT)

    def type(self, line, pattern=PROMPT):
        mark = self.term.send(line)
        return self.term.expect(pattern, mark)

    def test_help_lists_ntcli_commands(self):
        self.start()
        shown = self.type('help\r', r'(?s)Commands:.*' + PROMPT).group(0)
        for name in ('token refresh', 'token revoke', 'workspace select',
                     'auth login', 'complete'):
            self.assertIn(name, shown)
        self.assertIn('exit or quit', shown)
        for cmd2_only in ('run_pyscript', 'shortcuts', 'macro'):
            self.assertNotIn(cmd2_only, shown)
        self.type('exit\r', '')
        self.assertEqual(0, self.term.wait())

    def test_commands_run_and_errors_are_reported(self):
        self.start()
        self.type('token list -f value -c JTI\r', rf'{self.jti}\r?\n')
        self.type('token show --bogus\r',
                  r'unrecognized arguments: --bogus\r?\nHint: .*\r?\n'
                  + PROMPT)
        self.type('no such thing\r', r"is not an ntcli command")
        self.term.send('\x04')  # Ctrl-D
        self.assertEqual(0, self.term.wait())

    def test_tab_completes_the_same_values(self):
        self.start()
        self.type('token re\t\t', r'refresh\s+revoke')
        self.type('\x15workspace select \t\t', r'default\s+team-a')
        self.type('\x15token refresh -f \t\t', r'json\s+shell\s+table')
        self.type('\x15token revoke \t', rf'token revoke {self.jti} ')
        self.type('\x15ex\t', r'exit ')
        self.term.send('\x15exit\r')
        self.assertEqual(0, self.term.wait())
        self.assertIsNone(NOISE.search(self.term.output), self.term.output)

    def test_values_follow_the_options_it_was_started_with(self):
        other = self.authority.issue_token('team-a').jti
        self.start('-w', 'team-a')
        self.type('token revoke \t', rf'token revoke {other} ')
        self.term.send('\x15exit\r')
        self.assertEqual(0, self.term.wait())

    def test_ctrl_c_gives_a_new_prompt(self):
        self.start()
        self.type('token sh\x03', r'\^C\r?\n' + PROMPT)
        self.type('exit\r', '')
        self.assertEqual(0, self.term.wait())

    def test_history_is_private_and_holds_no_token(self):
        self.start()
        self.type('token list -f value -c JTI\r', rf'{self.jti}[\s\S]*'
                  + PROMPT)
        self.type('auth login --token wst_abc.def.ghi\r')
        self.type('exit\r', '')
        self.assertEqual(0, self.term.wait())
        self.assertEqual(0o600, stat.S_IMODE(os.lstat(self.history).st_mode))
        with open(self.history) as handle:
            kept = handle.read().splitlines()
        self.assertEqual(['token list -f value -c JTI', 'exit'], kept)
        # the next session finds it: Up recalls the last line
        self.start()
        self.type('\x1b[A', r'exit')
        self.term.send('\x15exit\r')
        self.assertEqual(0, self.term.wait())
