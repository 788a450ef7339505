"""``auth login`` input, ``auth status``'s exit status and ``auth token``,
as users of gh and vault expect them."""

from __future__ import annotations

from ntcli import testing
from tests.functional import base, terminal
from tests.functional.test_remote import RemoteTest


class TestLoginInput(RemoteTest):

    def assertNothingStored(self):
        self.assertIsNone(self.credentials().get_user_credential(self.url))

    def test_several_lines_are_refused(self):
        result = self.ntcli('auth', 'login', expect=2,
                            input=f'{self.credential}\n{self.credential}\n')
        self.assertIn('The credential holds several lines', result.stderr)
        self.assertNothingStored()

    def test_nul_and_control_characters_are_refused(self):
        for secret in (self.credential + '\0x', 'ntu_a\x1b[31mb'):
            result = self.ntcli('auth', 'login', expect=2,
                                input=secret + '\n')
            self.assertIn('spaces or control characters', result.stderr)
            self.assertNoSecrets(result.stderr)
        self.assertNothingStored()

    def test_a_huge_input_is_not_read_whole(self):
        # 64 MiB on stdin: refused after the first few kilobytes
        result = self.ntcli('auth', 'login', expect=2,
                            input='ntu_' + 'a' * (64 << 20))
        self.assertIn('longer than 4096 characters', result.stderr)
        self.assertNothingStored()

    def test_one_line_with_its_newline_is_accepted(self):
        self.ntcli('auth', 'login', input=f'  {self.credential}\r\n')
        self.assertEqual(self.credential,
                         self.credentials().get_user_credential(self.url))

    def test_loopback_http_gives_no_warning(self):
        result = self.ntcli('auth', 'login', input=self.credential + '\n')
        self.assertNotIn('plain http', result.stderr)

    def test_ctrl_d_at_the_prompt(self):
        term = self.useFixture(terminal.Terminal(
            testing.ntcli_command() + ['auth', 'login'],
            dict(self.home.env, NTCLI_ENDPOINT=self.url)))
        term.expect('User credential or workspace token: ')
        term.send('\x04')
        self.assertEqual(2, term.wait())
        self.assertIn('No credential given\r\nHint: ', term.output)
        self.assertNotIn('EOFError', term.output)
        self.assertNothingStored()


class TestCleartextEndpoint(base.FunctionalTest):

    def test_warned_before_the_credential_is_sent(self):
        # an address that never answers: the warning comes first
        result = self.ntcli('--endpoint', 'http://ntcli-test.invalid',
                            '--timeout', '2', 'auth', 'login', expect=None,
                            input='ntu_' + 'x' * 40 + '\n')
        self.assertIn('Warning: http://ntcli-test.invalid is plain http: '
                      'the credential is sent unencrypted', result.stderr)
        self.assertNotEqual(0, result.returncode)


class TestStatusAndToken(RemoteTest):

    def test_status_exits_1_when_logged_out(self):
        result = self.ntcli('auth', 'status', expect=1)
        self.assertIn('nobody (run ntcli auth login)', result.stdout)

    def test_status_exits_0_when_logged_in(self):
        self.login(quick=True)
        self.ntcli('auth', 'status')

    def test_token_prints_the_stored_token_alone(self):
        self.login_and_select()
        self.quick('token', 'refresh')
        result = self.ntcli('auth', 'token')
        self.assertEqual(self.stored().token + '\n', result.stdout)
        self.assertEqual('', result.stderr)

    def test_token_prefers_ntcli_token(self):
        issued = self.api.issue_token(self.credential, self.workspace.id)
        result = self.ntcli('auth', 'token',
                            env={'NTCLI_TOKEN': issued.token})
        self.assertEqual(issued.token + '\n', result.stdout)

    def test_no_token_is_an_error(self):
        self.login_and_select()
        result = self.ntcli('auth', 'token', expect=1)
        self.assertEqual('', result.stdout)
        self.assertIn('Authentication required', result.stderr)


class TestEmbeddedToken(base.FunctionalTest):

    def test_token_is_the_one_token_exec_gives(self):
        self.ntcli('token', 'refresh')
        printed = self.ntcli('auth', 'token').stdout
        self.assertEqual(self.stored()['token'] + '\n', printed)
        given = self.ntcli('token', 'exec', '--', 'sh', '-c',
                           'printf "%s\\n" "$NTCLI_TOKEN"').stdout
        self.assertEqual(printed, given)

    def test_status_exits_0_embedded(self):
        self.ntcli('auth', 'status')
