"""The CLI against a real ntcli-server: login with a user credential or a
workspace token, workspaces, refresh, list, revoke, status and --debug."""

from __future__ import annotations

import json
import os
import re
import uuid

import fixtures
import requests

from ntcli.credential_store import CredentialStore
from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_core import scopes
from ntcli_server.testing import ServerFixture
from tests.functional import base

JTI = r'jti_[0-9a-f]{32}'
ISO = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'


class RemoteTest(base.FunctionalTest):
    """ntcli in an isolated HOME, its endpoint an ntcli-server (one per
    class unless ``server_per_test``), a fresh workspace for each test."""

    server_per_test = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.server_per_test:
            cls.server = ServerFixture(workspace=None)
            cls.server.setUp()
            cls.addClassCleanup(cls.server.cleanUp)

    def setUp(self):
        super().setUp()
        if self.server_per_test:
            self.server = self.useFixture(ServerFixture(workspace=None))
        self.url = self.endpoint_url()
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_ENDPOINT',
                                                     self.url))
        self.api = HTTPEndpoint(self.server.url, EndpointOptions(timeout=10))
        self.addCleanup(self.api.close)
        self.credential = self.server.credential
        self.workspace = self.api.create_workspace(
            self.credential, f'ws-{uuid.uuid4().hex[:12]}')

    def endpoint_url(self) -> str:
        return self.server.url

    # -- helpers ----------------------------------------------------------
    def quick(self, *args, input=''):
        """Run ntcli in this process (for set-up steps: ten times faster
        than a subprocess); it must succeed."""
        result = self.runner.run_in_process(*args, input=input)
        self.assertEqual(0, result.returncode, result.stderr)
        return result

    def login(self, secret=None, quick=False):
        secret = (secret or self.credential) + '\n'
        if quick:
            return self.quick('auth', 'login', input=secret)
        return self.ntcli('auth', 'login', input=secret)

    def login_and_select(self):
        self.login(quick=True)
        self.quick('workspace', 'select', self.workspace.name)

    def stored(self):
        """The token stored for the workspace, read from disk."""
        return self.credentials().get_token(self.url, self.workspace.id)

    def token_auth(self, token) -> requests.Response:
        """What the server's ingress check says of a token."""
        return requests.get(f'{self.server.url}/v1/token_auth',
                            headers={'Authorization': f'Bearer {token}'},
                            timeout=10)

    def credentials(self):
        """The decrypted local credentials file, as ntcli reads it."""
        return CredentialStore(self.home.config_dir).read()

    def server_statuses(self):
        return {r.jti: r.status for r in self.api.list_tokens(
            self.credential, self.workspace.id, include_expired=True,
            include_revoked=True)}

    def assertNoSecrets(self, text):
        self.assertNotIn(self.credential, text)
        self.assertNotIn(self.credential[4:20], text)
        self.assertIsNone(re.search(r'wst_(?!\*)', text), text)
        self.assertNotIn('eyJ', text)


class TestUserLogin(RemoteTest):

    def test_login_select_refresh_and_status(self):
        result = self.ntcli('--endpoint', self.url, 'auth', 'login',
                            input=self.credential + '\n')
        self.assertIn(f'Logged in to {self.url} with a user credential',
                      result.stdout)
        self.assertIn(f"The context '127.0.0.1' now keeps what is stored "
                      f'for {self.url}.', result.stderr)
        self.assertNoSecrets(result.stdout + result.stderr)
        self.assertEqual(self.credential,
                         self.credentials().get_user_credential(self.url))
        result = self.ntcli('workspace', 'select', self.workspace.name)
        self.assertEqual(f"Workspace '{self.workspace.name}' selected "
                         f'({self.workspace.id}).\n', result.stdout)
        self.quick('token', 'refresh')
        status = self.json('auth', 'status')
        self.assertEqual('user tester', status['who'])
        self.assertEqual((self.url, False, 'stored', self.workspace.name,
                          self.workspace.id, 'active', self.stored().jti),
                         (status['endpoint'], status['embedded'],
                          status['user_credential'], status['workspace'],
                          status['workspace_id'], status['token_status'],
                          status['token_jti']))

    def test_refresh_revokes_the_old_token_at_the_server(self):
        self.login_and_select()
        first = self.ntcli('token', 'refresh').stdout.splitlines()
        self.assertEqual('Token refreshed successfully.', first[0])
        self.assertIn('there was none', first[1])
        old = self.stored()
        self.assertEqual(200, self.token_auth(old.token).status_code)
        result = self.ntcli('token', 'refresh')
        lines = result.stdout.splitlines()
        self.assertEqual(['Token refreshed successfully.',
                          f'Old token ({old.jti}) has been revoked.'],
                         lines[:2])
        self.assertRegex(lines[2], rf'^New token expires: {ISO}$')
        self.assertRegex(lines[3], rf'^New token JTI: {JTI}$')
        self.assertEqual('', result.stderr)
        answer = self.token_auth(old.token)
        self.assertEqual(401, answer.status_code)
        self.assertEqual('TOKEN_REVOKED', answer.json()['error']['code'])
        new = self.stored()
        self.assertEqual(lines[3].split(': ')[1], new.jti)
        answer = self.token_auth(new.token)
        self.assertEqual(200, answer.status_code)
        self.assertEqual(self.workspace.id, answer.headers['X-Workspace-Id'])
        self.assertEqual(new.jti, answer.headers['X-Token-Jti'])
        out = self.json('token', 'refresh', '--expires-in', '86400')
        self.assertEqual({'new_token', 'old_token', 'message'}, set(out))
        self.assertEqual(new.jti, out['old_token']['jti'])
        self.assertRegex(out['old_token']['revoked_at'], ISO)
        self.assertEqual({new.jti: 'revoked', old.jti: 'revoked',
                          out['new_token']['jti']: 'active'},
                         self.server_statuses())
        out = json.loads(self.quick('token', 'refresh', '--no-expiry', '-f',
                                    'json').stdout)
        self.assertIsNone(out['new_token']['expires_at'])
        self.assertIsNone(self.token_auth(self.stored().token)
                          .json()['expires_at'])

    def test_list_create_and_revoke(self):
        self.login_and_select()
        self.quick('token', 'refresh')
        stored = self.stored()
        created = json.loads(self.quick(
            'token', 'create', '--expires-in', '3600', '-f', 'json').stdout)
        rows = {r['JTI']: r for r in self.json('token', 'list')}
        self.assertEqual({stored.jti, created['jti']}, set(rows))
        self.assertIs(True, rows[stored.jti]['Current'])
        self.assertIs(False, rows[created['jti']]['Current'])
        result = self.ntcli('token', 'revoke', created['jti'], '--force')
        self.assertEqual(f"Token {created['jti']} revoked successfully.\n",
                         result.stdout)
        again = self.ntcli('token', 'revoke', created['jti'], '--force')
        self.assertIn('already revoked', again.stdout)
        self.assertEqual(401, self.token_auth(created['token']).status_code)
        table = self.ntcli('token', 'list', '--show-expired').stdout
        self.assertRegex(table, rf"{created['jti']} .*\| Revoked")
        self.assertRegex(table, rf'{stored.jti} .*✓ .*\| Active')
        missing = self.ntcli('token', 'revoke', 'jti_' + '0' * 32,
                             '--force', expect=1)
        self.assertIn(f"Token with JTI 'jti_{'0' * 32}' not found",
                      missing.stderr)

    def test_workspace_commands(self):
        self.login(quick=True)
        name = f'ws-{uuid.uuid4().hex[:12]}'
        created = self.json('workspace', 'create', name, '--select')
        self.assertEqual(name, created['workspace_name'])
        names = [w['Name'] for w in self.json('workspace', 'list')]
        self.assertIn(name, names)
        self.assertIn(self.workspace.name, names)
        self.quick('token', 'refresh')
        token = self.credentials().get_token(self.url, created['workspace_id'])
        result = self.ntcli('workspace', 'delete', name, '--force')
        self.assertIn('deleted', result.stdout)
        self.assertNotIn(name, [w.name for w in
                                self.api.list_workspaces(self.credential)])
        self.assertEqual(401, self.token_auth(token.token).status_code)
        taken = self.ntcli('workspace', 'create', self.workspace.name,
                           expect=1)
        self.assertIn('already exists', taken.stderr)

    def test_debug_traces_without_secrets(self):
        self.login_and_select()
        result = self.ntcli('--debug', 'token', 'refresh')
        self.assertIn('Token refreshed successfully.', result.stdout)
        trace = result.stderr
        self.assertIn(f'HTTP POST {self.url}/v1/workspaces/'
                      f'{self.workspace.id}/tokens -> 201', trace)
        self.assertIn('Authorization: Bearer ***', trace)
        self.assertRegex(trace, r'-> 201 \(\d+ ms\)')
        self.assertNoSecrets(result.stdout + trace)
        result = self.ntcli('--debug', 'token', 'revoke', 'jti_nope',
                            '--force', expect=1)
        self.assertIn(f'HTTP DELETE {self.url}/v1/workspaces/', result.stderr)
        self.assertIn('-> 404', result.stderr)
        self.assertIn('TOKEN_NOT_FOUND', result.stderr)
        self.assertNoSecrets(result.stderr)
        # and the server's own log holds no secret either
        log = self.server.log()
        self.assertIn('"POST /v1/workspaces/', log)
        self.assertNoSecrets(log)
        self.assertNotIn(self.stored().token[4:], log)

    def test_verbose_and_the_log_file_trace_without_debug(self):
        self.login_and_select()
        quiet = self.ntcli('token', 'list')
        self.assertNotIn('HTTP GET', quiet.stderr)
        result = self.ntcli('-v', 'token', 'list')
        self.assertIn(f'HTTP GET {self.url}/v1/workspaces/'
                      f'{self.workspace.id}/tokens', result.stderr)
        self.assertIn('Authorization: Bearer ***', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        # the libraries' debug lines come with -vv only
        self.assertNotIn('Starting new HTTP connection', result.stderr)
        result = self.ntcli('-vv', 'token', 'list')
        self.assertIn('Starting new HTTP connection', result.stderr)
        self.assertIn('HTTP GET', result.stderr)
        self.assertNoSecrets(result.stderr)
        log = os.path.join(self.home.path, 'ntcli.log')
        result = self.ntcli('--log-file', log, 'token', 'refresh')
        self.assertNotIn('HTTP POST', result.stderr)
        with open(log, encoding='utf-8') as handle:
            written = handle.read()
        self.assertIn(f'HTTP POST {self.url}/v1/workspaces/', written)
        self.assertIn('DEBUG', written)
        self.assertEqual(0o600, os.stat(log).st_mode & 0o777)
        self.assertNoSecrets(result.stdout + result.stderr + written)
        self.assertNotIn(self.stored().token[4:], written)


class TestWorkspaceTokenLogin(RemoteTest):

    def test_refresh_with_the_token_as_its_own_bearer(self):
        # a token that refreshes itself holds tokens:write (ntcli asks for
        # every scope for the first token it keeps)
        issued = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600, scope=scopes.FULL)
        result = self.login(issued.token)
        self.assertIn(f'with a token of workspace {self.workspace.id}',
                      result.stdout)
        self.assertNoSecrets(result.stdout + result.stderr)
        self.assertIsNone(self.credentials().get_user_credential(self.url))
        self.assertEqual(200, self.token_auth(issued.token).status_code)
        out = self.json('token', 'refresh')
        self.assertEqual(issued.jti, out['old_token']['jti'])
        self.assertRegex(out['old_token']['revoked_at'], ISO)
        answer = self.token_auth(issued.token)
        self.assertEqual(401, answer.status_code)
        self.assertEqual('TOKEN_REVOKED', answer.json()['error']['code'])
        new = self.stored()
        self.assertEqual(out['new_token']['jti'], new.jti)
        self.assertEqual(200, self.token_auth(new.token).status_code)
        self.assertEqual({issued.jti: 'revoked', new.jti: 'active'},
                         self.server_statuses())
        status = self.json('auth', 'status')
        self.assertEqual(('none', self.workspace.id, 'active', new.jti),
                         (status['user_credential'], status['workspace_id'],
                          status['token_status'], status['token_jti']))
        self.assertEqual(f'workspace token {new.jti} of workspace '
                         f'{self.workspace.id}', status['who'])
        # the stored token lists its workspace
        rows = json.loads(self.quick('token', 'list', '--show-expired',
                                     '-f', 'json').stdout)
        self.assertEqual({issued.jti: 'Revoked', new.jti: 'Active'},
                         {r['JTI']: r['Status'] for r in rows})

    def test_a_workspace_token_cannot_revoke_others(self):
        issued = self.api.issue_token(self.credential, self.workspace.id)
        other = self.api.issue_token(self.credential, self.workspace.id)
        self.login(issued.token, quick=True)
        result = self.ntcli('token', 'revoke', other.jti, '--force',
                            expect=1)
        self.assertIn('may revoke only itself; use a user credential',
                      result.stderr)
        self.assertEqual(200, self.token_auth(other.token).status_code)

    def test_a_revoked_stored_token(self):
        issued = self.api.issue_token(self.credential, self.workspace.id)
        self.login(issued.token, quick=True)
        self.api.revoke_token(self.credential, self.workspace.id, issued.jti)
        show = self.json('token', 'show')
        self.assertEqual(('revoked', False), (show['status'],
                                              show['is_valid']))
        result = self.ntcli('token', 'list', expect=1)
        self.assertIn('revoked', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_no_credential_at_all(self):
        result = self.ntcli('-w', self.workspace.id, 'token', 'list',
                            expect=1)
        self.assertEqual('Authentication required. Try running ntcli token '
                         'refresh', result.stderr.splitlines()[0])
        bad = self.ntcli('auth', 'login', input='ntu_not-a-real-one\n',
                         expect=1)
        self.assertIn('The credential was not accepted', bad.stderr)
        self.assertNotIn('not-a-real-one', bad.stderr)
        self.assertIsNone(self.credentials().get_user_credential(self.url))


class TestWorkspaceSelection(RemoteTest):
    """What login selects, on a server of this test's own."""

    server_per_test = True

    def test_the_only_workspace_is_selected_at_login(self):
        result = self.login()
        self.assertIn(f"Workspace '{self.workspace.name}' selected.",
                      result.stdout)
        self.ntcli('token', 'refresh')
        self.assertEqual('active', self.json('token', 'show')['status'])

    def test_no_workspace_selected(self):
        self.api.create_workspace(self.credential, 'second-space')
        result = self.login()
        self.assertIn("Select one with 'ntcli workspace select NAME'",
                      result.stdout)
        result = self.ntcli('token', 'refresh', expect=1)
        self.assertIn('No workspace selected', result.stderr)
        self.assertIn('ntcli workspace select', result.stderr)
        self.assertIsNone(self.stored())


class TestLoginRefused(RemoteTest):

    def test_wrong_user_credential(self):
        result = self.ntcli('auth', 'login', input='ntu_not-a-real-one\n',
                            expect=1)
        self.assertIn(f'The credential was not accepted by {self.url}',
                      result.stderr)
        self.assertNotIn('ntu_not-a-real-one', result.stderr)
        self.assertIsNone(self.credentials().get_user_credential(self.url))

    def test_revoked_workspace_token(self):
        issued = self.api.issue_token(self.credential, self.workspace.id)
        self.api.revoke_token(self.credential, self.workspace.id, issued.jti)
        result = self.ntcli('auth', 'login', input=issued.token + '\n',
                            expect=1)
        self.assertIn('The workspace token was not accepted', result.stderr)
        self.assertIn('revoked', result.stderr)
        self.assertNoSecrets(result.stderr)


class TestRefreshWithoutExpiryNeedsAUser(RemoteTest):
    """A workspace token may not mint a non-expiring token, even for its
    own refresh: the server says FORBIDDEN, the CLI says why and what to
    do, and the stored token is left as it was."""

    def test_refresh_no_expiry_with_only_a_workspace_token(self):
        issued = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600, scope=scopes.FULL)
        self.login(issued.token, quick=True)
        self.assertIsNone(self.credentials().get_user_credential(self.url))
        before = self.stored()
        result = self.ntcli('token', 'refresh', '--no-expiry', expect=1)
        self.assertEqual('', result.stdout)
        error = result.stderr.splitlines()[-1]
        self.assertIn('A workspace token cannot issue a token that never '
                      'expires', error)
        self.assertIn('needs a user credential', error)
        self.assertIn('expires (within ten years)', error)
        self.assertNotIn('Traceback', result.stderr)
        self.assertNoSecrets(result.stdout + result.stderr)
        # nothing changed: the same token is stored, still valid, and
        # the server issued nothing; no revocation is pending
        self.assertEqual(before, self.stored())
        self.assertEqual(200, self.token_auth(issued.token).status_code)
        self.assertEqual({issued.jti: 'active'}, self.server_statuses())
        self.assertEqual([], self.credentials().pending_revocations())
        # a refresh with an expiry is what the message asks for: it works
        out = self.json('token', 'refresh', '--expires-in', '30d')
        self.assertEqual(issued.jti, out['old_token']['jti'])
        self.assertRegex(out['new_token']['expires_at'], ISO)
        self.assertEqual({issued.jti: 'revoked',
                          out['new_token']['jti']: 'active'},
                         self.server_statuses())

    def test_a_user_credential_may_refresh_without_expiry(self):
        self.login_and_select()
        self.quick('token', 'refresh', '--no-expiry')
        self.assertIsNone(self.stored().expires_at)
