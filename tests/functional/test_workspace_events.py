"""``ntcli workspace events``: the endpoint's audit trail of a workspace,
on the embedded endpoint and on a server shared by two machines."""

from __future__ import annotations

import csv
import io

from tests.functional import base, test_remote


class TestEmbedded(base.FunctionalTest):

    def test_refreshes_show_as_issue_and_revoke(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'refresh')
        events = self.json('workspace', 'events')
        self.assertEqual(['workspace.create', 'token.issue', 'token.issue',
                          'token.revoke'], [e['Action'] for e in events])
        self.assertEqual({'local'}, {e['Actor'] for e in events})
        self.assertEqual(events[1]['JTI'], events[3]['JTI'])
        revokes = self.json('workspace', 'events', '--action',
                            'token.revoke')
        self.assertEqual(events[3:], revokes)

    def test_bad_since_is_usage(self):
        result = self.ntcli('workspace', 'events', '--since', 'yesterday',
                            expect=2)
        self.assertIn('not an ISO-8601 time', result.stderr)
        self.assertNotIn('Traceback', result.stderr)


class TestRemote(test_remote.RemoteTest):

    def test_a_team_member_sees_what_other_machines_did(self):
        self.login_and_select()
        self.ntcli('token', 'refresh')
        # another machine, with the same user, revokes that token
        jti = self.stored().jti
        self.api.revoke_token(self.credential, self.workspace.id, jti)
        result = self.ntcli('workspace', 'events', '-f', 'csv')
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        self.assertEqual(['workspace.create', 'token.issue', 'token.revoke'],
                         [r['Action'] for r in rows])
        self.assertEqual([jti, jti], [r['JTI'] for r in rows[1:]])
        self.assertEqual({'127.0.0.1'}, {r['Client'] for r in rows})
        self.assertTrue(rows[1]['User Agent'].startswith('ntcli'),
                        rows[1]['User Agent'])
        self.assertNotEqual(rows[1]['Request ID'], rows[2]['Request ID'])
        self.assertNoSecrets(result.stdout)

    def test_a_workspace_token_may_not_read_it(self):
        token = self.api.issue_token(self.credential, self.workspace.id,
                                     expires_in=600)
        self.ntcli('auth', 'login', input=token.token + '\n')
        result = self.ntcli('workspace', 'events', expect=1)
        self.assertIn('user credential', result.stderr)
