"""The token commands as a user runs them: every example of the user's
document and every command of the spec, on the embedded endpoint."""

import csv
import io
import json
import time

import yaml

from tests.functional import base

JTI = r'jti_[0-9a-f]{32}'
ISO = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'


def iso_to_unix(value):
    from ntcli_core import timefmt
    return timefmt.parse_iso(value)


class TestRefresh(base.FunctionalTest):

    def test_first_refresh_says_there_was_no_old_token(self):
        result = self.ntcli('token', 'refresh')
        lines = result.stdout.splitlines()
        self.assertEqual('Token refreshed successfully.', lines[0])
        self.assertIn('there was none', lines[1])
        self.assertRegex(lines[2], rf'^New token expires: {ISO}$')
        self.assertRegex(lines[3], rf'^New token JTI: {JTI}$')
        self.assertEqual(4, len(lines))

    def test_standard_refresh_matches_the_document(self):
        self.ntcli('token', 'refresh')
        old = self.json('token', 'show')['jti']
        before = int(time.time())
        result = self.ntcli('token', 'refresh')
        lines = result.stdout.splitlines()
        self.assertEqual(['Token refreshed successfully.',
                          f'Old token ({old}) has been revoked.'], lines[:2])
        expires = iso_to_unix(lines[2].split(': ')[1])
        self.assertAlmostEqual(before + 31536000, expires, delta=5)
        new = lines[3].split(': ')[1]
        self.assertNotEqual(old, new)
        self.assertEqual(new, self.json('token', 'show')['jti'])
        self.assertEqual('', result.stderr)

    def test_custom_and_short_lifetimes(self):
        for seconds in (15552000, 86400):
            before = int(time.time())
            out = self.json('token', 'refresh', '--expires-in', str(seconds))
            self.assertAlmostEqual(
                before + seconds,
                iso_to_unix(out['new_token']['expires_at']), delta=5)

    def test_duration_units_and_expires_at(self):
        before = int(time.time())
        out = self.json('token', 'refresh', '--expires-in', '24h')
        self.assertAlmostEqual(before + 86400,
                               iso_to_unix(out['new_token']['expires_at']),
                               delta=5)
        out = self.json('token', 'refresh', '--expires-at',
                        '2030-01-01T00:00:00Z')
        self.assertEqual('2030-01-01T00:00:00Z',
                         out['new_token']['expires_at'])
        out = self.json('token', 'refresh', '--expires-at',
                        str(before + 3600))
        self.assertEqual(before + 3600,
                         iso_to_unix(out['new_token']['expires_at']))

    def test_json_output_shape(self):
        first = self.json('token', 'refresh')
        self.assertEqual({'new_token', 'old_token', 'message'}, set(first))
        self.assertIsNone(first['old_token'])
        second = self.json('token', 'refresh')
        self.assertEqual('Token refreshed successfully', second['message'])
        self.assertEqual({'jti', 'expires_at'}, set(second['new_token']))
        self.assertEqual({'jti', 'revoked_at'}, set(second['old_token']))
        self.assertEqual(first['new_token']['jti'],
                         second['old_token']['jti'])
        self.assertRegex(second['old_token']['revoked_at'], ISO)
        self.assertRegex(second['new_token']['jti'], JTI)

    def test_no_expiry_warns_and_prints_never(self):
        result = self.ntcli('token', 'refresh', '--no-expiry')
        self.assertIn('New token expires: never', result.stdout)
        self.assertIn('never expires', result.stderr)
        out = self.json('token', 'refresh', '--no-expiry')
        self.assertIsNone(out['new_token']['expires_at'])
        show = self.ntcli('token', 'show').stdout
        self.assertIn('Expires:     Never', show)

    def test_invalid_expirations_change_nothing(self):
        self.ntcli('token', 'refresh')
        before = self.stored()
        history = self.ntcli('token', 'history', '-f', 'json').stdout
        cases = [('--expires-in', '0'), ('--expires-in', '-5'),
                 ('--expires-in', 'abc'), ('--expires-in', '400000000'),
                 ('--expires-in', '11y'),
                 ('--expires-at', '2001-01-01T00:00:00Z'),
                 ('--expires-at', 'yesterday'),
                 ('--expires-at', str(int(time.time()) + 400000000)),
                 ('--expires-in', '60', '--expires-at', '2030-01-01'),
                 ('--expires-in', '60', '--no-expiry')]
        for case in cases:
            result = self.ntcli('token', 'refresh', *case, expect=2)
            self.assertIn('Invalid expiration time', result.stderr, case)
            self.assertIn('Hint:', result.stderr)
            self.assertEqual('', result.stdout)
        self.assertEqual(before, self.stored())
        self.assertEqual(history,
                         self.ntcli('token', 'history', '-f', 'json').stdout)

    def test_env_token_is_not_rotated(self):
        self.ntcli('token', 'refresh')
        token = self.stored()['token']
        result = self.ntcli('token', 'refresh', expect=1,
                            env={'NTCLI_TOKEN': token})
        self.assertIn('NTCLI_TOKEN', result.stderr)
        self.assertEqual(token, self.stored()['token'])


class TestShow(base.FunctionalTest):

    def test_without_a_token(self):
        result = self.ntcli('token', 'show', expect=1)
        self.assertIn('Authentication required. Try running ntcli token '
                      'refresh', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_text_layout(self):
        jti = self.json('token', 'refresh')['new_token']['jti']
        lines = self.ntcli('token', 'show').stdout.splitlines()
        self.assertEqual('Workspace Token Information', lines[0])
        self.assertEqual('─' * 27, lines[1])
        self.assertEqual(f'JTI:         {jti}', lines[2])
        self.assertRegex(lines[3], r'^Created:     \d{4}-\d\d-\d\d '
                                   r'\d\d:\d\d:\d\d UTC$')
        self.assertRegex(lines[4], r'^Expires:     .* UTC$')
        self.assertEqual('Status:      Active', lines[5])
        self.assertRegex(lines[6], r'^Workspace:   [0-9a-f-]{36}$')
        # the first token ntcli keeps holds every scope
        self.assertEqual('Scope:       workspace:write servers:write '
                         'secrets:write tokens:write', lines[7])
        self.assertEqual(['', 'Token is valid and ready to use.'],
                         lines[8:])
        self.assertNotIn('wst_', ''.join(lines))

    def test_json(self):
        self.ntcli('token', 'refresh', '--expires-in', '172800')
        out = self.json('token', 'show')
        for key in ('jti', 'created_at', 'expires_at', 'status',
                    'workspace_id', 'is_valid', 'days_until_expiry'):
            self.assertIn(key, out)
        self.assertEqual('active', out['status'])
        self.assertTrue(out['is_valid'])
        self.assertIn(out['days_until_expiry'], (1, 2))
        self.assertNotIn('token', out)

    def test_show_token_warns(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('token', 'show', '--show-token')
        self.assertRegex(result.stdout, r'Token:       wst_\S+')
        self.assertIn('secret', result.stderr)

    def test_revoked_token_status(self):
        jti = self.json('token', 'refresh')['new_token']['jti']
        self.ntcli('token', 'revoke', jti, '--force')
        out = self.json('token', 'show')
        self.assertEqual('revoked', out['status'])
        self.assertFalse(out['is_valid'])
        self.assertIn('Status:      Revoked',
                      self.ntcli('token', 'show').stdout)

    def test_env_token_is_shown(self):
        self.ntcli('token', 'refresh')
        created = self.json('token', 'create')
        out = self.json('token', 'show', env={'NTCLI_TOKEN':
                                              created['token']})
        self.assertEqual(created['jti'], out['jti'])


class TestCreate(base.FunctionalTest):

    def test_create_is_printed_and_not_stored(self):
        self.ntcli('token', 'refresh')
        stored = self.stored()
        result = self.ntcli('token', 'create', '--expires-in', '7776000',
                            '--description', 'ci pipeline')
        lines = result.stdout.splitlines()
        self.assertRegex(lines[0], r'^New token created: wst_\S+$')
        self.assertRegex(lines[1], rf'^Token JTI: {JTI}$')
        self.assertRegex(lines[2], rf'^Expires: {ISO}$')
        self.assertEqual(stored['token'], self.stored()['token'])
        jti = lines[1].split(': ')[1]
        listed = self.json('token', 'list')
        self.assertIn(jti, [row['JTI'] for row in listed])

    def test_json_shape(self):
        out = self.json('token', 'create', '--no-expiry')
        self.assertEqual({'token', 'jti', 'expires_at', 'scope'}, set(out))
        self.assertEqual(['workspace:read', 'servers:read'], out['scope'])
        self.assertIsNone(out['expires_at'])
        self.assertTrue(out['token'].startswith('wst_'))


class TestList(base.FunctionalTest):

    def test_current_marker_and_expired(self):
        first = self.json('token', 'refresh')['new_token']['jti']
        second = self.json('token', 'refresh')['new_token']['jti']
        extra = self.json('token', 'create')['jti']
        rows = self.json('token', 'list')
        self.assertEqual({second: True, extra: False},
                         {r['JTI']: r['Current'] for r in rows})
        self.assertEqual({'JTI', 'Expires', 'Current'}, set(rows[0]))
        rows = self.json('token', 'list', '--long')
        self.assertEqual({'JTI', 'Created', 'Expires', 'Current', 'Scope',
                          'Description'}, set(rows[0]))
        table = self.ntcli('token', 'list').stdout
        self.assertIn('✓', table)
        rows = self.json('token', 'list', '--show-expired')
        status = {r['JTI']: r['Status'] for r in rows}
        self.assertEqual('Revoked', status[first])
        self.assertEqual('Active', status[second])

    def test_never_expiring_shows_never(self):
        self.ntcli('token', 'refresh', '--no-expiry')
        self.assertIn('Never', self.ntcli('token', 'list').stdout)

    def test_empty_workspace_hint(self):
        self.ntcli('workspace', 'create', 'empty-space')
        result = self.ntcli('-w', 'empty-space', 'token', 'list')
        self.assertEqual('', result.stdout.strip())
        self.assertIn('ntcli token refresh', result.stderr)
        self.assertEqual([], self.json('-w', 'empty-space', 'token',
                                       'list'))

    def test_csv_and_yaml_round_trip(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'create')
        as_json = self.json('token', 'list')
        rows = list(csv.DictReader(io.StringIO(
            self.ntcli('token', 'list', '-f', 'csv').stdout)))
        self.assertEqual([r['JTI'] for r in as_json],
                         [r['JTI'] for r in rows])
        self.assertEqual([r['Expires'] for r in as_json],
                         [r['Expires'] for r in rows])
        parsed = yaml.safe_load(
            self.ntcli('token', 'list', '-f', 'yaml').stdout)
        self.assertEqual(as_json, parsed)
        show = yaml.safe_load(self.ntcli('token', 'show', '-f',
                                         'yaml').stdout)
        self.assertEqual(self.json('token', 'show')['jti'], show['jti'])


class TestRevoke(base.FunctionalTest):

    def test_revoke_with_force(self):
        self.ntcli('token', 'refresh')
        jti = self.json('token', 'create')['jti']
        result = self.ntcli('token', 'revoke', jti, '--force')
        self.assertEqual(f'Token {jti} revoked successfully.\n',
                         result.stdout)
        rows = self.json('token', 'list')
        self.assertNotIn(jti, [r['JTI'] for r in rows])

    def test_json_shape_and_several(self):
        self.ntcli('token', 'refresh')
        one = self.json('token', 'create')['jti']
        two = self.json('token', 'create')['jti']
        out = self.json('token', 'revoke', one, '--force')
        self.assertEqual({'jti', 'revoked_at', 'status'}, set(out))
        self.assertEqual('revoked', out['status'])
        three = self.json('token', 'create')['jti']
        out = self.json('token', 'revoke', two, three, '--force')
        self.assertEqual([two, three], [o['jti'] for o in out])

    def test_several_in_text_and_table(self):
        self.ntcli('token', 'refresh')
        one, two = (self.json('token', 'create')['jti'] for _ in range(2))
        text = self.ntcli('token', 'revoke', one, two, '--force')
        self.assertEqual(f'Token {one} revoked successfully.\n'
                         f'Token {two} revoked successfully.\n', text.stdout)
        value = self.ntcli('token', 'revoke', one, two, '--force',
                           '-f', 'value', '-c', 'jti', '-c', 'status')
        self.assertEqual(f'{one} revoked\n{two} revoked\n', value.stdout)
        table = self.ntcli('token', 'revoke', one, two, '--force',
                           '-f', 'table').stdout
        self.assertRegex(table, rf'{one} .*\| already revoked')
        self.assertRegex(table, rf'{two} .*\| already revoked')

    def test_each_failure_is_reported_and_counted(self):
        self.ntcli('token', 'refresh')
        one, two = (self.json('token', 'create')['jti'] for _ in range(2))
        result = self.ntcli('token', 'revoke', one, 'jti_nope', two,
                            'jti_gone', '--force', expect=1)
        self.assertEqual('', result.stdout)
        self.assertEqual(
            ["Failed to revoke token 'jti_nope': Token with JTI 'jti_nope' "
             'not found',
             "Failed to revoke token 'jti_gone': Token with JTI 'jti_gone' "
             'not found',
             '2 of 4 tokens failed to revoke',
             "Hint: The other 2 were revoked. Run 'ntcli token list "
             "--show-expired' to see the tokens of this workspace."],
            result.stderr.splitlines())
        listed = [r['JTI'] for r in self.json('token', 'list')]
        self.assertNotIn(one, listed)
        self.assertNotIn(two, listed)
        none = self.ntcli('token', 'revoke', 'jti_a', 'jti_b', '--force',
                          expect=1)
        self.assertEqual('2 of 2 tokens failed to revoke',
                         none.stderr.splitlines()[-1])

    def test_non_interactive_without_force_fails_fast(self):
        self.ntcli('token', 'refresh')
        jti = self.json('token', 'create')['jti']
        result = self.ntcli('token', 'revoke', jti, expect=2, timeout=20)
        self.assertIn('--force', result.stderr)
        self.assertIn(jti, [r['JTI'] for r in self.json('token', 'list')])

    def test_unknown_jti(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('token', 'revoke', 'jti_nope', '--force',
                            expect=1)
        self.assertIn("Token with JTI 'jti_nope' not found", result.stderr)

    def test_revoking_twice_is_not_an_error(self):
        self.ntcli('token', 'refresh')
        jti = self.json('token', 'create')['jti']
        first = self.json('token', 'revoke', jti, '--force')
        result = self.ntcli('token', 'revoke', jti, '--force', '-f', 'json')
        self.assertEqual(first, json.loads(result.stdout))
        self.assertIn('already revoked', result.stderr)
        text = self.ntcli('token', 'revoke', jti, '--force')
        self.assertEqual(f"Token {jti} was already revoked "
                         f"(at {first['revoked_at']}).\n", text.stdout)

    def test_revoking_the_stored_token_warns(self):
        jti = self.json('token', 'refresh')['new_token']['jti']
        result = self.ntcli('token', 'revoke', jti, '--force')
        self.assertIn('ntcli token refresh', result.stderr)
        # and refresh gets the user going again
        self.ntcli('token', 'refresh')
        self.assertEqual('active', self.json('token', 'show')['status'])


class TestWorkspaces(base.FunctionalTest):

    def test_create_list_select_delete(self):
        out = self.json('workspace', 'create', 'team-a')
        self.assertEqual('team-a', out['workspace_name'])
        names = [w['Name'] for w in self.json('workspace', 'list')]
        self.assertIn('team-a', names)
        self.ntcli('workspace', 'select', 'team-a')
        refreshed = self.json('token', 'refresh')
        self.assertEqual(out['workspace_id'],
                         self.json('token', 'show')['workspace_id'])
        rows = self.json('workspace', 'list')
        self.assertTrue([r for r in rows if r['Name'] == 'team-a'][0]
                        ['Selected'])
        self.ntcli('workspace', 'delete', 'team-a', '--force')
        self.assertNotIn('team-a', [w['Name'] for w in
                                    self.json('workspace', 'list')])
        self.assertTrue(refreshed['new_token']['jti'])

    def test_invalid_name(self):
        for name in ('Ab', 'x', '1abc', 'has_underscore', 'a' * 33):
            result = self.ntcli('workspace', 'create', name, expect=2)
            self.assertIn('Invalid workspace name', result.stderr)

    def test_unknown_workspace(self):
        result = self.ntcli('-w', 'nowhere', 'token', 'list', expect=1)
        self.assertIn("Workspace 'nowhere' not found", result.stderr)


class TestAuthAndHistory(base.FunctionalTest):

    def test_status_says_where_secrets_live(self):
        self.ntcli('token', 'refresh')
        out = self.json('auth', 'status')
        self.assertEqual('local', out['endpoint'])
        self.assertTrue(out['who'].startswith('local user'))
        self.assertEqual('active', out['token_status'])
        self.assertIn('credentials.key', out['key_source'])
        self.assertTrue(out['credentials_file'].endswith('credentials.enc'))

    def test_logout_revoke(self):
        jti = self.json('token', 'refresh')['new_token']['jti']
        self.ntcli('auth', 'logout', '--revoke')
        self.ntcli('token', 'show', expect=1)
        rows = self.json('token', 'list', '--show-expired')
        self.assertEqual('Revoked',
                         [r for r in rows if r['JTI'] == jti][0]['Status'])

    def test_history_has_no_token_values(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'refresh')
        created = self.json('token', 'create')
        self.ntcli('token', 'revoke', created['jti'], '--force')
        rows = self.json('token', 'history')
        self.assertEqual(['refresh', 'refresh', 'create', 'revoke'],
                         [r['Action'] for r in rows])
        text = self.ntcli('token', 'history').stdout
        self.assertNotIn('wst_', text)
        self.assertNotIn(created['token'][4:], text)


class TestNoPlaintextOnDisk(base.FunctionalTest):

    def test_full_cycle_leaves_no_token_on_disk(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'refresh', '--expires-in', '3600')
        created = self.json('token', 'create')
        stored = self.stored()
        self.ntcli('token', 'show')
        self.ntcli('token', 'list')
        secrets = []
        for token in (created['token'], stored['token']):
            secrets.append(token.encode())
            secrets.append(token.split('.')[1].encode())   # JWT payload
        checked = 0
        for path in self.files_under_home():
            with open(path, 'rb') as f:
                data = f.read()
            checked += 1
            for secret in secrets:
                self.assertNotIn(secret, data, path)
        self.assertGreater(checked, 3)
        for path in self.files_under_home():
            with open(path, errors='replace') as f:
                self.assertNotIn('wst_', f.read(), path)


class TestFlatFormats(base.FunctionalTest):

    def test_refresh_in_shell_and_value_formats(self):
        self.ntcli('token', 'refresh')
        old = self.json('token', 'show')['jti']
        out = self.ntcli('token', 'refresh', '-f', 'shell').stdout
        values = dict(line.split('=', 1) for line in out.splitlines())
        self.assertEqual(f'"{old}"', values['old_token_jti'])
        self.assertRegex(values['new_token_jti'], rf'^"{JTI}"$')
        self.assertRegex(values['new_token_expires_at'], rf'^"{ISO}"$')
        self.assertNotIn('{', out)
        jti = self.ntcli('token', 'refresh', '-f', 'value', '-c',
                         'new_token_jti').stdout.strip()
        self.assertEqual(jti, self.json('token', 'show')['jti'])


class TestUndecodableToken(base.FunctionalTest):

    def test_garbage_env_token(self):
        self.ntcli('token', 'refresh')
        env = {'NTCLI_TOKEN': 'wst_garbage'}
        lines = self.ntcli('token', 'show', env=env).stdout.splitlines()
        self.assertEqual('JTI:         unknown', lines[2])
        self.assertEqual('Created:     unknown', lines[3])
        self.assertEqual('Expires:     unknown', lines[4])
        self.assertEqual('Status:      Invalid', lines[5])
        self.assertIn('NTCLI_TOKEN', lines[-1])
        out = self.json('token', 'show', env=env)
        self.assertEqual(('invalid', False), (out['status'], out['is_valid']))


class TestUnknownWorkspaceId(base.FunctionalTest):

    def test_unknown_id_is_named_with_a_hint(self):
        self.ntcli('token', 'refresh')
        missing = '6f45d1f9-3a90-436e-b2dd-796220c43c92'
        result = self.ntcli('-w', missing, 'token', 'list', expect=1)
        self.assertIn(f'Workspace not found: {missing}', result.stderr)
        self.assertIn('ntcli workspace list', result.stderr)
