"""Scopes through the CLI: token create --scope, refresh keeping or
changing scopes, show and list, on the embedded endpoint and a server."""

from __future__ import annotations

from ntcli_core import scopes
from tests.functional import base
from tests.functional.test_remote import RemoteTest

DEFAULT = ['workspace:read', 'servers:read']


class TestLocalScopes(base.FunctionalTest):

    def test_create_asks_for_the_default_unless_told(self):
        out = self.json('token', 'create')
        self.assertEqual(DEFAULT, out['scope'])
        text = self.ntcli('token', 'create').stdout.splitlines()
        self.assertEqual('Scope: workspace:read servers:read', text[3])
        for args in (('--scope', 'tokens:write,servers:read'),
                     ('--scope', 'tokens:write', '--scope', 'servers:read'),
                     ('--scope', 'servers:read, tokens:write')):
            out = self.json('token', 'create', *args)
            self.assertEqual(['servers:read', 'tokens:read',
                              'tokens:write'], out['scope'])

    def test_a_bad_scope_is_a_usage_error_and_issues_nothing(self):
        self.ntcli('token', 'refresh')
        before = len(self.json('token', 'list'))
        for value in ('servers:admin', 'servers', 'SERVERS:READ', ',',
                      'servers:read\x1b[2J', 'billing:read'):
            result = self.ntcli('token', 'create', '--scope', value,
                                expect=2)
            self.assertIn('Invalid scope', result.stderr)
            self.assertIn('Hint:', result.stderr)
            self.assertNotIn('\x1b', result.stderr)
            self.assertEqual('', result.stdout)
        self.assertEqual(before, len(self.json('token', 'list')))

    def test_refresh_keeps_scopes_and_narrows_on_request(self):
        self.ntcli('token', 'refresh')
        self.assertEqual(list(scopes.FULL), self.json('token', 'show')
                         ['scope'])
        self.ntcli('token', 'refresh')
        self.assertEqual(list(scopes.FULL), self.json('token', 'show')
                         ['scope'])
        # the embedded endpoint's user may narrow and widen at will
        self.ntcli('token', 'refresh', '--scope', 'servers:read')
        self.assertEqual(['servers:read'],
                         self.json('token', 'show')['scope'])
        self.ntcli('token', 'refresh')
        self.assertEqual(['servers:read'],
                         self.json('token', 'show')['scope'])
        self.ntcli('token', 'refresh', '--scope', 'secrets:write')
        self.assertEqual(['secrets:read', 'secrets:write'],
                         self.json('token', 'show')['scope'])
        self.assertIn('Scope:       secrets:write',
                      self.ntcli('token', 'show').stdout)
        # the refresh output itself is the document's
        out = self.json('token', 'refresh')
        self.assertEqual({'new_token', 'old_token', 'message'}, set(out))

    def test_a_refresh_that_keeps_the_token_says_scope_was_not_applied(
            self):
        self.ntcli('token', 'refresh')
        kept = self.json('token', 'refresh', '--if-expires-within', '7d',
                         '--scope', 'servers:read')
        self.assertIs(False, kept['refreshed'])
        result = self.ntcli('token', 'refresh', '--if-expires-within', '7d',
                            '--scope', 'servers:read,tokens:write')
        self.assertEqual(
            ['Warning: the token was not refreshed, so --scope '
             'servers:read,tokens:write was not applied: it keeps '
             'workspace:write servers:write secrets:write tokens:write. Run '
             'it without --if-expires-within to apply --scope now.'],
            result.stderr.splitlines())
        self.assertEqual(list(scopes.FULL),
                         self.json('token', 'show')['scope'])
        # the scopes it holds already: nothing to say
        result = self.ntcli('token', 'refresh', '--if-expires-within', '7d',
                            '--scope', ','.join(scopes.FULL))
        self.assertEqual('', result.stderr)
        # when it rotates, the scopes are applied, without a warning
        result = self.ntcli('token', 'refresh', '--if-expires-within',
                            '3660d', '--expires-in', '3653d', '--scope',
                            'servers:read', expect=None)
        self.assertEqual(2, result.returncode, result.stderr)
        result = self.ntcli('token', 'refresh', '--scope', 'servers:read')
        self.assertNotIn('not applied', result.stderr)
        self.assertEqual(['servers:read'],
                         self.json('token', 'show')['scope'])

    def test_list_shows_scope_and_description(self):
        self.ntcli('token', 'refresh')
        made = self.json('token', 'create', '--description', 'ci deploys',
                         '--scope', 'servers:write')['jti']
        rows = {r['JTI']: r for r in self.json('token', 'list', '--long')}
        self.assertEqual((['servers:read', 'servers:write'], 'ci deploys'),
                         (rows[made]['Scope'], rows[made]['Description']))
        stored = [r for j, r in rows.items() if j != made][0]
        self.assertEqual((list(scopes.FULL), None),
                         (stored['Scope'], stored['Description']))
        table = self.ntcli('token', 'list', '--long').stdout
        self.assertIn('Scope', table)
        self.assertIn('Description', table)
        self.assertIn('ci deploys', table)
        # people see a write for its read
        line = [x for x in table.splitlines() if made in x][0]
        self.assertIn('servers:write', line)
        self.assertNotIn('servers:read', line)


class TestRemoteScopes(RemoteTest):

    def test_the_first_token_holds_every_scope_and_refreshes_itself(self):
        self.login_and_select()
        self.ntcli('token', 'refresh')
        stored = self.stored()
        self.assertEqual(scopes.FULL, stored.scope)
        # with only that token (no user credential) it still refreshes
        token = stored.token
        self.ntcli('auth', 'logout')
        self.login(token, quick=True)
        out = self.json('token', 'refresh')
        self.assertEqual(stored.jti, out['old_token']['jti'])
        self.assertEqual(scopes.FULL, self.stored().scope)

    def test_a_token_cannot_widen_itself(self):
        issued = self.api.issue_token(
            self.credential, self.workspace.id, expires_in=3600,
            scope=['tokens:write', 'servers:read'])
        self.login(issued.token, quick=True)
        before = self.stored()
        result = self.ntcli('token', 'refresh', '--scope', 'secrets:write',
                            expect=1)
        self.assertIn('secrets:read secrets:write', result.stderr)
        self.assertIn('Hint:', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertEqual(before, self.stored())
        self.assertEqual({issued.jti: 'active'}, self.server_statuses())
        # narrowing works, and warns that it cannot refresh itself again
        result = self.ntcli('token', 'refresh', '--scope', 'servers:read')
        self.assertIn('cannot refresh itself', result.stderr)
        self.assertEqual(('servers:read',), self.stored().scope)
        result = self.ntcli('token', 'refresh', expect=1)
        self.assertIn('tokens:write', result.stderr)

    def test_a_read_only_token_cannot_refresh_itself(self):
        issued = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600)
        self.login(issued.token, quick=True)
        result = self.ntcli('token', 'refresh', expect=1)
        self.assertIn('tokens:write', result.stderr)
        self.assertEqual({issued.jti: 'active'}, self.server_statuses())

    def test_a_user_widens_and_creates_any_scope(self):
        self.login_and_select()
        self.ntcli('token', 'refresh', '--scope', 'servers:read')
        self.assertEqual(('servers:read',), self.stored().scope)
        self.ntcli('token', 'refresh', '--scope', 'secrets:write,tokens:write')
        self.assertEqual(('secrets:read', 'secrets:write', 'tokens:read',
                          'tokens:write'), self.stored().scope)
        out = self.json('token', 'create')
        self.assertEqual(DEFAULT, out['scope'])
        rows = {r['JTI']: r for r in self.json('token', 'list', '-c', 'JTI',
                                               '-c', 'Scope')}
        self.assertEqual(DEFAULT, rows[out['jti']]['Scope'])
        show = self.json('token', 'show')
        self.assertEqual(list(self.stored().scope), show['scope'])
