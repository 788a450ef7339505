"""Every value is checked before the first request or file change; column
names are the same in every format; nothing raw reaches the terminal."""

import json
import os

from tests.functional import base

USAGE = 2


class UsageTest(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.token = self.stored()['jti']
        self.before = self.live_tokens()

    def live_tokens(self):
        return {t.jti for t in self.runner.embedded_endpoint().list_tokens(
            include_expired=False, include_revoked=False)}

    def refused(self, *args, env=None, expect=USAGE):
        result = self.ntcli(*args, expect=expect, env=env)
        lines = result.stderr.splitlines()
        self.assertEqual(2, len(lines), result.stderr)
        self.assertTrue(lines[1].startswith('Hint: '), result.stderr)
        self.assertNotIn('Unexpected error', result.stderr)
        self.assertEqual('', result.stdout)
        # nothing was changed: no token created, the stored one kept
        self.assertEqual(self.before, self.live_tokens())
        self.assertEqual(self.token, self.stored()['jti'])
        return result


class TestColumns(UsageTest):

    def test_unknown_column_changes_nothing(self):
        for command in (('token', 'create'), ('token', 'refresh'),
                        ('token', 'show'), ('token', 'list')):
            result = self.refused(*command, '-c', 'nosuch')
            self.assertIn("Unknown column 'nosuch'", result.stderr)

    def test_column_needing_an_option(self):
        self.refused('token', 'list', '-c', 'Status')
        self.refused('token', 'list', '--sort-column', 'nosuch')
        self.ntcli('token', 'list', '--show-expired', '-c', 'Status')

    def test_refresh_columns_are_the_same_in_every_format(self):
        for fmt in ('text', 'json', 'yaml', 'table', 'value', 'shell'):
            for column in ('new_token', 'old_token_revoked_at'):
                result = self.ntcli('token', 'refresh', '-f', fmt,
                                    '-c', column)
                self.assertNotEqual('', result.stdout, (fmt, column))
        jti = self.stored()['jti']
        self.assertEqual(jti + '\n', self.ntcli(
            'token', 'show', '-f', 'value', '-c', 'jti').stdout)
        out = json.loads(self.ntcli('token', 'refresh', '-f', 'json', '-c',
                                    'new_token_jti').stdout)
        self.assertEqual({'new_token': {'jti': self.stored()['jti']}}, out)
        value = self.ntcli('token', 'refresh', '-f', 'value', '-c',
                           'new_token_jti').stdout
        self.assertEqual(self.stored()['jti'] + '\n', value)

    def test_json_shape_of_refresh_unchanged(self):
        out = self.json('token', 'refresh')
        self.assertEqual({'new_token', 'old_token', 'message'}, set(out))
        self.assertEqual({'jti', 'expires_at'}, set(out['new_token']))
        self.assertEqual({'jti', 'revoked_at'}, set(out['old_token']))


class TestNumbers(UsageTest):

    def test_non_ascii_and_huge_lifetimes(self):
        for option, value in (('--expires-in', '١٢٣'),
                              ('--expires-in', '１２３'),
                              ('--expires-in', '٣y'),
                              ('--expires-in', '9' * 5000),
                              ('--expires-at', '١٨٠٠٠٠٠٠٠٠'),
                              ('--expires-at', '9' * 400),
                              ('--expires-at', '99999-01-01')):
            for command in ('create', 'refresh'):
                result = self.refused('token', command, option, value)
                self.assertIn('Invalid expiration time', result.stderr)
                self.assertLess(len(result.stderr), 1000)

    def test_non_finite_timeouts_refused_up_front(self):
        for value in ('nan', 'inf', '-1', '0', '1e999', '٣'):
            self.refused('token', 'create', env={'NTCLI_TIMEOUT': value})
            self.ntcli('--timeout', value, 'token', 'create', expect=USAGE)
        config = os.path.join(self.home.config_dir, 'config.json')
        with open(config, 'w') as handle:
            handle.write('{"timeout": 1e999}')
        result = self.ntcli('token', 'create', expect=1)
        self.assertIn("'timeout' must be", result.stderr)
        self.assertEqual(self.before, self.live_tokens())


class TestOtherUsage(UsageTest):

    def test_counts_are_ascii_digits(self):
        for value in ('١٢', '-1', '1e3'):
            self.ntcli('token', 'history', '--limit', value, expect=USAGE)

    def test_help_for_an_unknown_command(self):
        result = self.ntcli('help', 'nosuch', expect=USAGE)
        self.assertIn("Unknown command 'nosuch'", result.stderr)
        self.assertNotIn('ValueError', result.stderr)

    def config(self, text):
        path = os.path.join(self.home.config_dir, 'config.json')
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def test_deeply_nested_config(self):
        path = self.config('[' * 100000 + ']' * 100000)
        result = self.ntcli('token', 'show', expect=1)
        self.assertIn(f'The configuration file {path} is nested too deeply',
                      result.stderr)
        self.assertNotIn('RecursionError', result.stderr)

    def test_unknown_config_version(self):
        self.config('{"version": 99}')
        result = self.ntcli('token', 'create', expect=1)
        self.assertIn('has version 99; this ntcli understands versions 1 '
                      'and 2', result.stderr)
        self.assertEqual(self.before, self.live_tokens())

    def test_control_characters_are_escaped(self):
        result = self.ntcli('workspace', 'create', 'ab\x1b[2J', expect=USAGE)
        self.assertIn("Invalid workspace name 'ab\\x1b[2J'", result.stderr)
        self.assertNotIn('\x1b', result.stderr)
        result = self.refused('-w', 'x\x1b]0;pwned\x07', 'token', 'create')
        self.assertNotIn('\x1b', result.stderr)
        self.assertNotIn('\x07', result.stderr)

    def test_workspace_name_with_newline_refused(self):
        result = self.ntcli('workspace', 'create', 'abc\n', expect=USAGE)
        self.assertIn("'abc\\x0a'", result.stderr)

    def test_bad_ntcli_key_refused_before_issuing(self):
        self.refused('token', 'create', env={'NTCLI_KEY': 'not-a-key'})


class TestShellFormat(base.FunctionalTest):

    def test_shell_output_is_safe_to_eval(self):
        import subprocess
        config_dir = os.path.join(self.home.path,
                                  'a$(touch pwned)`touch pwned2`"b\\')
        result = self.ntcli('--config-dir', config_dir, 'config', 'show',
                            '-f', 'shell', '-c', 'config_dir')
        shown = subprocess.run(
            ['sh', '-c', result.stdout + 'printf %s "$config_dir"'],
            cwd=self.home.path, capture_output=True, text=True, check=True)
        self.assertEqual(config_dir, shown.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.home.path,
                                                     'pwned')))
        self.assertFalse(os.path.exists(os.path.join(self.home.path,
                                                     'pwned2')))
