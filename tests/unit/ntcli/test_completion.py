"""The completion engine, in-process: commands, options and values.

The shells' own scripts are run for real in
tests/functional/test_shell_completion.py; these tests check what the
engine offers for each kind of word, and that it offers nothing, prints
nothing and changes nothing when a value cannot be found.
"""

import io
import os
import socket

import testtools

from ntcli import application, completion, config, testing

BASH_BREAKS = ' \t\n"\'><=;|&(:'


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class CompletionTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(testing.IsolatedHome())
        self.stderr = io.StringIO()
        self.app = application.NtcliApp(stdin=io.StringIO(),
                                        stdout=io.StringIO(),
                                        stderr=self.stderr)

    def offered(self, *words):
        result = completion.complete(self.app, list(words))
        self.assertEqual('', self.stderr.getvalue())
        return [c.value for c in result.candidates]

    def authority(self):
        return self.useFixture(testing.EmbeddedEndpoint(self.home.data_dir))


class TestCommandsAndOptions(CompletionTest):

    def test_first_words(self):
        self.assertLessEqual({'auth', 'complete', 'config', 'help', 'token',
                              'workspace'}, set(self.offered('')))
        self.assertEqual(['token'], self.offered('tok'))

    def test_next_word_of_a_command_with_its_summary(self):
        result = completion.complete(self.app, ['token', 're'])
        self.assertEqual(['refresh', 'revoke'],
                         [c.value for c in result.candidates])
        self.assertTrue(result.candidates[1].description.startswith(
            'Revoke one or more tokens'))

    def test_options_of_the_command_and_global_options(self):
        self.assertEqual(['--expires-at', '--expires-in'],
                         self.offered('token', 'refresh', '--exp'))
        self.assertEqual(['--endpoint'], self.offered('--end'))
        self.assertNotIn('--query', self.offered('complete', '--'))

    def test_format_choices_of_the_command(self):
        self.assertEqual(['csv', 'json', 'table', 'value', 'yaml'],
                         self.offered('token', 'list', '-f', ''))
        self.assertEqual(['json'], self.offered('token', 'show', '-f', 'j'))
        self.assertEqual(['--format=json', '--format=shell'],
                         self.offered('token', 'show', '--format=', )[:2])

    def test_columns_of_the_command(self):
        self.assertEqual(['JTI', 'Created', 'Expires', 'Current', 'Scope',
                          'Description'],
                         self.offered('token', 'list', '-c', ''))
        self.assertIn('Status', self.offered('token', 'list',
                                             '--show-expired', '-c', ''))
        self.assertEqual(['jti', 'revoked_at', 'status'],
                         self.offered('token', 'revoke', 'x', '-c', ''))
        self.assertEqual(['new_token', 'new_token_jti',
                          'new_token_expires_at'],
                         self.offered('token', 'refresh', '-c', 'new'))
        self.assertEqual(['--column=jti'],
                         self.offered('token', 'create', '--column=j'))
        self.assertEqual(['Created', 'Current'], self.offered(
            'token', 'list', '--sort-column', 'C'))

    def test_paths_are_left_to_the_shell(self):
        self.assertEqual(completion.DIRECTORIES, completion.complete(
            self.app, ['--config-dir', '']).kind)
        self.assertEqual(completion.FILES, completion.complete(
            self.app, ['token', 'show', '--ca-bundle', '']).kind)

    def test_a_new_name_is_not_completed(self):
        self.authority().create_workspace('team-a')
        self.assertEqual([], self.offered('workspace', 'create', ''))


class TestValues(CompletionTest):

    def test_workspace_names(self):
        authority = self.authority()
        authority.workspace()
        for name in ('team-a', 'team-b'):
            authority.create_workspace(name)
        self.assertEqual(['default', 'team-a', 'team-b'],
                         self.offered('-w', ''))
        self.assertEqual(['team-a', 'team-b'],
                         self.offered('workspace', 'select', 'te'))
        self.assertEqual(['team-b'],
                         self.offered('workspace', 'delete', 'team-b'))
        self.assertEqual(['team-a', 'team-b'],
                         self.offered('token', 'list', '--workspace', 't'))

    def test_workspace_names_seen_on_a_remote_endpoint(self):
        url = 'https://tokens.example.com'
        with config.Config.update(self.home.config_dir) as cfg:
            cfg.add_context('tokens', endpoint=url, key=url)
            cfg.remember_workspace('tokens', 'id-1', 'ops')
        self.assertEqual(['ops'], self.offered('--endpoint', url, '-w', ''))
        self.assertEqual(['ops'], self.offered('--context', 'tokens', '-w',
                                               ''))

    def test_jtis_of_the_workspace(self):
        authority = self.authority()
        live = authority.issue_token().jti
        revoked = authority.issue_token().jti
        authority.revoke_token(revoked)
        authority.create_workspace('team-a')
        other = authority.issue_token('team-a').jti
        self.assertEqual([live], self.offered('token', 'revoke', ''))
        self.assertEqual([other],
                         self.offered('-w', 'team-a', 'token', 'revoke', ''))
        self.assertEqual([other],
                         self.offered('token', 'revoke', '-w', 'team-a', ''))
        second = authority.issue_token().jti
        self.assertEqual([second], self.offered('token', 'revoke', live, ''))

    def test_endpoints_already_used(self):
        with config.Config.update(self.home.config_dir) as cfg:
            for name, url in (('tokens', 'https://tokens.example.com'),
                              ('dev', 'http://127.0.0.1:8080')):
                cfg.add_context(name, endpoint=url, key=url)
        self.assertEqual(['http://127.0.0.1:8080', 'https://tokens.example.com',
                          'local'], self.offered('--endpoint', ''))
        self.assertEqual(['--endpoint=https://tokens.example.com'],
                         self.offered('--endpoint=https'))

    def test_an_unreachable_endpoint_offers_nothing_silently(self):
        url = f'http://127.0.0.1:{closed_port()}'
        result = testing.run_in_process(
            'complete', '--query', '--', '--endpoint', url, 'token',
            'revoke', '', env=dict(self.home.env, NTCLI_TOKEN='wst_x.y.z'))
        self.assertEqual((0, 'words\n', ''),
                         (result.returncode, result.stdout, result.stderr))

    def test_a_fresh_home_stays_untouched(self):
        before = sorted(os.listdir(self.home.path))
        for words in (['token', 'revoke', ''], ['-w', ''],
                      ['workspace', 'select', ''], ['--endpoint', '']):
            self.assertEqual([], [v for v in self.offered(*words)
                                  if v != 'local'])
        self.assertEqual(before, sorted(os.listdir(self.home.path)))

    def test_a_broken_config_offers_nothing(self):
        os.makedirs(self.home.config_dir, exist_ok=True)
        with open(os.path.join(self.home.config_dir, 'config.json'),
                  'w') as handle:
            handle.write('{not json')
        self.assertEqual([], self.offered('-w', ''))


class TestTheQuery(CompletionTest):
    """What ``ntcli complete --query`` prints for the shell scripts."""

    def test_a_line_as_bash_gives_it(self):
        with config.Config.update(self.home.config_dir) as cfg:
            url = 'https://tokens.example.com'
            cfg.add_context('tokens', endpoint=url, key=url)
        text = completion.answer(self.app, ['ntcli --endpoint https://tok'],
                                 line=True, breaks=BASH_BREAKS)
        # bash replaces only what follows the last ':' of the word
        self.assertEqual('words\n//tokens.example.com\n', text)
        text = completion.answer(self.app, ['ntcli token show --format=j'],
                                 line=True, breaks=BASH_BREAKS)
        self.assertEqual('words\njson\n', text)

    def test_quotes_in_the_line(self):
        self.authority().create_workspace('team-a')
        text = completion.answer(self.app, ["ntcli -w 'te"], line=True)
        self.assertEqual('words\nteam-a\n', text)
        text = completion.answer(self.app, ['ntcli token '], line=True)
        self.assertIn('\nrefresh\t', text)

    def test_descriptions_follow_a_tab(self):
        text = completion.answer(self.app, ['token', 'refresh', '--no-'])
        self.assertEqual('words\n--no-expiry\tIssue a token that never '
                         'expires (use with caution)\n', text)
