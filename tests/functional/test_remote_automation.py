"""Conditional refresh, --check and token exec against a real ntcli-server,
up and down."""

from __future__ import annotations

import hashlib
import sys

from tests.functional.test_remote import RemoteTest
from tests.functional.test_remote_faults import FaultTest

PRINT_TOKEN_HASH = ('import hashlib, os; print(hashlib.sha256('
                    "os.environ['API_TOKEN'].encode()).hexdigest())")


class TestAgainstTheServer(RemoteTest):

    def setUp(self):
        super().setUp()
        self.login_and_select()
        self.quick('token', 'refresh')
        self.first = self.stored()

    def test_kept_while_valid_rotated_once_revoked_at_the_server(self):
        out = self.json('token', 'refresh', '--if-expires-within', '7d')
        self.assertEqual({'refreshed': False, 'jti': self.first.jti},
                         {k: out[k] for k in ('refreshed', 'jti')})
        self.assertEqual(self.first.token, self.stored().token)
        self.ntcli('token', 'show', '--check', '7d')
        self.api.revoke_token(self.credential, self.workspace.id,
                              self.first.jti)
        self.ntcli('token', 'show', '--check', '7d', expect=12)
        out = self.json('token', 'refresh', '--if-expires-within', '7d')
        self.assertEqual(self.first.jti, out['old_token']['jti'])
        new = self.stored()
        self.assertEqual(out['new_token']['jti'], new.jti)
        self.assertEqual(200, self.token_auth(new.token).status_code)
        self.ntcli('token', 'show', '--check', '7d')

    def test_exec_hands_over_a_token_the_server_accepts(self):
        result = self.ntcli('token', 'exec', '--env', 'API_TOKEN', '--',
                            sys.executable, '-c', PRINT_TOKEN_HASH)
        self.assertEqual(
            hashlib.sha256(self.first.token.encode()).hexdigest() + '\n',
            result.stdout)
        self.assertNoSecrets(result.stderr)


class TestServerDown(FaultTest):

    def test_nothing_changes_and_check_says_unknown(self):
        self.server.kill()
        result = self.ntcli('token', 'refresh', '--if-expires-within', '7d',
                            expect=1)
        self.assertIn('Cannot reach the endpoint', result.stderr)
        self.assertEqual(self.first.token, self.stored().token)
        self.ntcli('token', 'show', '--check', '7d', expect=15)
        # what is known locally comes first: it expires within two years
        self.ntcli('token', 'show', '--check', '2y', expect=10)
        self.server.restart()
        self.assertStillStored(self.first)
