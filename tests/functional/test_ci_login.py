"""``ntcli auth login --ci`` against a real ntcli-server and an issuer that
signs like GitHub Actions: GitHub Actions, GitLab and a token file, the
negative cases through the CLI, and nothing long-lived or secret left."""

from __future__ import annotations

import json
import os

from ntcli_server.testing import ServerFixture, free_port
from tests.functional import base
from tests.oidc.github_actions import GitHubActions


class CILoginTest(base.FunctionalTest):
    """A server accepting CI tokens for its own URL, a workspace ``main``
    with a trust policy for pushes to main of acme/app, and the CI."""

    def setUp(self):
        super().setUp()
        port = free_port()
        self.url = f'http://127.0.0.1:{port}'
        self.actions = self.useFixture(GitHubActions(self.url))
        self.server = self.useFixture(ServerFixture(
            port=port, serve_args=['--ci-audience', self.url]))
        self.policy_id = self.server.admin(
            'trust', 'create', 'main', 'deploy', '--issuer',
            self.actions.url, '--claim', 'repository_owner_id=4242',
            '--claim', 'repository=acme/app', '--claim',
            'ref=refs/heads/main', '--scope', 'servers:write',
            '--max-lifetime', '900').strip()

    def login(self, *args, env=None, expect=0):
        environment = {'NTCLI_ENDPOINT': self.url, 'NTCLI_KEY': None,
                       **(env or {})}
        return self.ntcli('auth', 'login', *args, env=environment,
                          expect=expect)

    def assertNothingSecretLeft(self, *results, tokens=()):
        """No token in any output, nor in plaintext in any file."""
        for result in results:
            for token in tokens:
                self.assertNotIn(token, result.stdout + result.stderr)
            self.assertNotIn('wst_', result.stdout + result.stderr)
        for path in self.files_under_home():
            with open(path, 'rb') as f:
                data = f.read()
            self.assertNotIn(b'wst_', data, path)
            for token in tokens:
                self.assertNotIn(token.encode(), data, path)

    def exchanges(self):
        out = self.server.admin('audit', 'list', '--action',
                                'token.exchange', '-f', 'json')
        return [(e['outcome'], json.loads(e['detail']))
                for e in json.loads(out)]


class TestGitHubActions(CILoginTest):

    def test_one_line_then_every_command_works(self):
        env = {**self.actions.job_environment(), 'NTCLI_WORKSPACE': 'main'}
        result = self.login('--ci', env=env)
        self.assertRegex(result.stdout, (
            rf'^Logged in to {self.url} with a token of workspace main for '
            r'this CI job \(from GitHub Actions; trust policy deploy; '
            r'expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.\n$'))
        # the runner was asked for a token meant for this server
        self.assertEqual([self.url], self.actions.audiences)
        shown = self.json('token', 'show', env={'NTCLI_ENDPOINT': self.url})
        self.assertEqual('active', shown['status'])
        self.assertEqual(self.server.workspace_id, shown['workspace_id'])
        self.assertEqual(['servers:read', 'servers:write'], shown['scope'])
        # token exec hands it to a program, as with any stored token
        run = self.ntcli('token', 'exec', '--', 'sh', '-c',
                         'case "$NTCLI_TOKEN" in wst_*) echo has-token;; '
                         'esac', env={'NTCLI_ENDPOINT': self.url})
        self.assertEqual('has-token\n', run.stdout)
        self.assertNothingSecretLeft(result, run)
        # and the job may end it before it expires
        self.ntcli('auth', 'logout', '--revoke',
                   env={'NTCLI_ENDPOINT': self.url})
        revoked = json.loads(self.server.admin(
            'audit', 'list', '--action', 'token.revoke', '-f', 'json'))
        self.assertEqual([shown['jti']],
                         [e['target_jti'] for e in revoked])
        [(outcome, detail)] = self.exchanges()
        self.assertEqual('success', outcome)
        self.assertEqual(self.actions.url, detail['issuer'])
        self.assertEqual('repo:acme/app:ref:refs/heads/main',
                         detail['subject'])
        self.assertEqual({'acme/app', 'refs/heads/main', 'deploy',
                          '8675309'},
                         {detail['claims'][k] for k in (
                             'repository', 'ref', 'workflow', 'run_id')})

    def test_the_workspace_is_found_by_the_policy(self):
        result = self.login('--ci', env=self.actions.job_environment())
        self.assertIn(f'token of workspace {self.server.workspace_id} ',
                      result.stdout)

    def test_fewer_scopes(self):
        self.login('--ci', '--scope', 'servers:read',
                   env=self.actions.job_environment())
        shown = self.json('token', 'show', env={'NTCLI_ENDPOINT': self.url})
        self.assertEqual(['servers:read'], shown['scope'])

    def test_without_the_id_token_permission(self):
        result = self.login('--ci', env={'GITHUB_ACTIONS': 'true'},
                            expect=2)
        self.assertIn('cannot request an ID token', result.stderr)
        self.assertIn('id-token: write', result.stderr)

    def test_a_branch_the_policy_does_not_trust(self):
        token = self.actions.token(
            self.url, ref='refs/heads/feature',
            sub='repo:acme/app:ref:refs/heads/feature')
        result = self.login('--ci', env={'NTCLI_ID_TOKEN': token},
                            expect=1)
        self.assertIn("trust policy 'deploy': the claim 'ref' "
                      "('refs/heads/feature') does not match", result.stderr)
        self.assertNothingSecretLeft(result, tokens=[token])
        self.assertEqual([('refused', 'refs/heads/feature')], [
            (outcome, detail['claims']['ref'])
            for outcome, detail in self.exchanges()])

    def test_a_token_for_another_audience(self):
        token = self.actions.token('https://github.com/acme')
        result = self.login('--ci', env={'NTCLI_ID_TOKEN': token},
                            expect=1)
        self.assertIn('another audience', result.stderr)
        self.assertNothingSecretLeft(result, tokens=[token])

    def test_a_replayed_token(self):
        token = self.actions.token(self.url)
        first = self.login('--ci', env={'NTCLI_ID_TOKEN': token})
        again = self.login('--ci', env={'NTCLI_ID_TOKEN': token}, expect=1)
        self.assertIn('already exchanged', again.stderr)
        self.assertNothingSecretLeft(first, again, tokens=[token])

    def test_a_policy_just_removed(self):
        self.server.admin('trust', 'delete', 'main', 'deploy')
        result = self.login('--ci', env=self.actions.job_environment(),
                            expect=1)
        self.assertIn('No trust policy trusts the issuer', result.stderr)


class TestOtherCIs(CILoginTest):

    def test_gitlab_id_tokens_variable(self):
        token = self.actions.token(self.url)
        result = self.login('--ci', env={'GITLAB_CI': 'true',
                                         'NTCLI_ID_TOKEN': token})
        self.assertIn('(from the variable NTCLI_ID_TOKEN; trust policy '
                      'deploy;', result.stdout)
        self.assertNothingSecretLeft(result, tokens=[token])

    def test_gitlab_without_id_tokens(self):
        result = self.login('--ci', env={'GITLAB_CI': 'true'}, expect=2)
        self.assertIn('This GitLab job has no ID token in NTCLI_ID_TOKEN',
                      result.stderr)
        self.assertIn(f'aud: {self.url}', result.stderr)

    def test_a_projected_token_file_behind_a_symlink(self):
        # the kubelet's layout: token -> ..data/token, renewed by a swap
        token = self.actions.token(self.url)
        directory = os.path.join(self.home.path, 'sa')
        os.makedirs(os.path.join(directory, '..data'))
        with open(os.path.join(directory, '..data', 'token'), 'w') as f:
            f.write(token)
        os.symlink('..data/token', os.path.join(directory, 'token'))
        result = self.login('--oidc-token-file',
                            os.path.join(directory, 'token'))
        self.assertIn('(from the token file', result.stdout)
        self.assertNotIn(token, result.stdout + result.stderr)

    def test_nothing_found(self):
        result = self.login('--ci', env={'GITHUB_ACTIONS': None,
                                         'GITLAB_CI': None,
                                         'NTCLI_ID_TOKEN': None}, expect=2)
        self.assertIn('No CI identity token found', result.stderr)
        self.assertIn('--oidc-token-file', result.stderr)

    def test_bad_input_changes_nothing(self):
        for args, message in (
                (('--oidc-token-file', '/nonexistent/token'),
                 'cannot be read'),
                (('--oidc-token-file', '/dev/null'), 'not a regular file'),
                (('--oidc-token-env', 'NO_SUCH_VARIABLE'), 'is not set'),
                (('--oidc-token-env', 'BAD NAME'), 'a variable name'),
                (('--ci', '--token', 'x'), 'exclude each other'),
                (('--ci', '--scope', 'nope:read'), 'Invalid scope'),
                (('--scope', 'servers:read'), 'go with --ci')):
            result = self.login(*args, env={'NTCLI_ID_TOKEN': 'a.b.c'},
                                expect=2)
            self.assertIn(message, result.stderr, args)
        result = self.login('--ci', env={'NTCLI_ID_TOKEN': 'not a jwt'},
                            expect=2)
        self.assertIn('does not hold a JWT', result.stderr)
        self.assertEqual([], self.exchanges())
        self.assertFalse(os.path.exists(self.home.config_dir))


class TestOwnerCommands(CILoginTest):
    """The workspace's owner manages its trust policies with ntcli."""

    def test_create_list_show_delete_then_log_in_with_it(self):
        env = {'NTCLI_ENDPOINT': self.url}
        self.ntcli('auth', 'login', input=self.server.credential, env=env)
        self.ntcli('workspace', 'select', 'main', env=env)
        self.server.admin('trust', 'delete', 'main', 'deploy')
        created = self.json(
            'trust', 'create', 'feature-builds', '--issuer',
            self.actions.url, '--claim', 'repository_id=123456789',
            '--claim', 'ref=refs/heads/*', '--scope', 'servers:read',
            '--max-lifetime', '600', env=env)
        self.assertEqual({'repository_id': '123456789',
                          'ref': 'refs/heads/*'}, created['Conditions'])
        self.assertEqual(['servers:read'], created['Scope'])
        self.assertEqual(600, created['Max Lifetime'])
        listed = self.ntcli('trust', 'list', env=env).stdout
        self.assertIn('ref=refs/heads/*, repository_id=123456789', listed)
        shown = self.json('trust', 'show', 'feature-builds', env=env)
        self.assertEqual(created['ID'], shown['ID'])
        token = self.actions.token(self.url, ref='refs/heads/wip')
        result = self.login('--ci', env={'NTCLI_ID_TOKEN': token,
                                         'NTCLI_WORKSPACE': 'main'})
        self.assertIn('trust policy feature-builds;', result.stdout)
        deleted = self.ntcli('trust', 'delete', 'feature-builds', env=env)
        self.assertEqual(f"Trust policy 'feature-builds' ({created['ID']}) "
                         'deleted.\n', deleted.stdout)
        self.assertEqual([], self.json('trust', 'list', env=env))
        missing = self.ntcli('trust', 'delete', 'feature-builds', env=env,
                             expect=1)
        self.assertIn("Trust policy 'feature-builds' not found",
                      missing.stderr)
        refused = self.ntcli('trust', 'create', 'all', '--issuer',
                             self.actions.url, '--claim', 'ref=*',
                             env=env, expect=2)
        self.assertIn('At least one condition must be exact',
                      refused.stderr)


class TestUndelivered(CILoginTest):

    def test_a_token_that_cannot_be_kept_is_revoked(self):
        # the credentials file cannot be written: a directory in its place
        os.makedirs(os.path.join(self.home.config_dir, 'credentials.enc'))
        result = self.login('--ci', env=self.actions.job_environment(),
                            expect=1)
        self.assertNotIn('wst_', result.stdout + result.stderr)
        [(outcome, detail)] = self.exchanges()
        self.assertEqual('success', outcome)
        issued = json.loads(self.server.admin(
            'audit', 'list', '--action', 'token.exchange', '-f',
            'json'))[0]['target_jti']
        revoked = json.loads(self.server.admin(
            'audit', 'list', '--action', 'token.revoke', '-f', 'json'))
        self.assertEqual([issued], [e['target_jti'] for e in revoked])
