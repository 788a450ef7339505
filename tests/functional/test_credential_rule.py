"""Which credential a command acts with (one rule, docs/user/configuration)
and that the endpoint, not the command, decides what it may do: the
defects of issue 24, reproduced through the installed ntcli."""

from __future__ import annotations

from ntcli_core import scopes
from tests.functional import base
from tests.functional.test_remote import RemoteTest

READ_ONLY = ['workspace:read', 'servers:read']


class TestEmbeddedEndpointObeysTheToken(base.FunctionalTest):
    """NTCLI_TOKEN on the embedded endpoint is that token, not the local
    owner."""

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.stored_jti = self.json('token', 'show')['jti']
        self.reader = self.json('token', 'create', '--scope',
                                ','.join(READ_ONLY))
        self.as_reader = {'NTCLI_TOKEN': self.reader['token']}

    def jtis(self):
        return {row['JTI'] for row in self.json('token', 'list',
                                                '--show-expired')}

    def test_a_read_only_token_creates_no_stronger_token(self):
        before = self.jtis()
        result = self.ntcli('token', 'create', '--scope', 'tokens:write',
                            env=self.as_reader, expect=1)
        self.assertIn('tokens:write', result.stderr)
        self.assertEqual('', result.stdout)
        self.assertEqual(before, self.jtis())

    def test_a_read_only_token_revokes_only_itself(self):
        result = self.ntcli('token', 'revoke', '--force', self.stored_jti,
                            env=self.as_reader, expect=1)
        self.assertIn('may revoke only itself', result.stderr)
        self.assertEqual('active', self.json('token', 'show')['status'])
        self.ntcli('token', 'revoke', '--force', self.reader['jti'],
                   env=self.as_reader)
        rows = {r['JTI']: r for r in self.json('token', 'list',
                                               '--show-expired')}
        self.assertEqual('Revoked', rows[self.reader['jti']]['Status'])

    def test_a_token_manages_no_workspace(self):
        self.ntcli('workspace', 'create', 'team-b', env=self.as_reader,
                   expect=1)
        self.ntcli('workspace', 'delete', '--force', 'default',
                   env=self.as_reader, expect=1)
        names = [w['Name'] for w in self.json('workspace', 'list')]
        self.assertEqual(['default'], names)
        # what it may see of the workspaces is its own
        self.assertEqual(['default'], [w['Name'] for w in self.json(
            'workspace', 'list', env=self.as_reader)])

    def test_a_token_of_another_workspace_reads_no_audit_trail(self):
        self.ntcli('workspace', 'create', 'team-a')
        self.ntcli('workspace', 'create', 'team-b')
        team_a = {w['Name']: w['ID'] for w in
                  self.json('workspace', 'list')}['team-a']
        theirs = self.json('-w', 'team-b', 'token', 'create', '--scope',
                           ','.join(scopes.FULL))['token']
        result = self.ntcli('-w', team_a, 'workspace', 'events',
                            env={'NTCLI_TOKEN': theirs}, expect=1)
        self.assertIn('cannot read the audit trail', result.stderr)
        self.assertEqual('', result.stdout)
        # the local owner reads it
        self.assertTrue(self.json('-w', 'team-a', 'workspace', 'events'))

    def test_without_a_workspace_the_token_acts_on_its_own(self):
        self.ntcli('workspace', 'create', 'team-b')
        issued = self.json('-w', 'team-b', 'token', 'create', '--scope',
                           ','.join(scopes.FULL))
        listed = self.json('token', 'list',
                           env={'NTCLI_TOKEN': issued['token']})
        self.assertEqual([issued['jti']], [r['JTI'] for r in listed])


class TestRemoteCommandsAgreeOnTheCredential(RemoteTest):
    """With a user credential stored and NTCLI_TOKEN set, every command
    acts as the token (revoke as much as create)."""

    def test_revoke_acts_as_the_token_like_create(self):
        self.login_and_select()
        reader = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600, scope=READ_ONLY)
        victim = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600)
        as_reader = {'NTCLI_TOKEN': reader.token}
        self.ntcli('token', 'create', env=as_reader, expect=1)
        result = self.ntcli('token', 'revoke', '--force', victim.jti,
                            env=as_reader, expect=1)
        self.assertIn('may revoke only itself', result.stderr)
        self.assertEqual('active', self.server_statuses()[victim.jti])
        self.assertNoSecrets(result.stdout + result.stderr)
        # without NTCLI_TOKEN, the stored user credential
        self.ntcli('token', 'revoke', '--force', victim.jti)
        self.assertEqual('revoked', self.server_statuses()[victim.jti])

    def test_auth_status_names_the_credential_the_rule_picks(self):
        self.login_and_select()
        reader = self.api.issue_token(self.credential, self.workspace.id,
                                      expires_in=3600, scope=READ_ONLY)
        self.assertEqual('user tester', self.json('auth', 'status')['who'])
        who = self.json('auth', 'status',
                        env={'NTCLI_TOKEN': reader.token})['who']
        self.assertEqual(f'workspace token {reader.jti} of workspace '
                         f'{self.workspace.id}', who)
