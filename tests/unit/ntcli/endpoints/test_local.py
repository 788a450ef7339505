"""Tests of the embedded endpoint, ntcli.endpoints.local."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid

import fixtures
import testtools

from ntcli import errors
from ntcli.endpoints import (
    EndpointOptions,
    IssuedToken,
    Revocation,
    TokenRecord,
    Validation,
    Workspace,
    load_endpoint,
)
from ntcli.endpoints.local import LocalEndpoint
from ntcli.testing import IsolatedHome


class LocalTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.data_dir = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'data')
        self.endpoint = self.make_endpoint()
        self.ws = self.endpoint.default_workspace()

    def make_endpoint(self):
        endpoint = LocalEndpoint('local',
                                 EndpointOptions(data_dir=self.data_dir))
        self.addCleanup(endpoint.close)
        return endpoint


class TestBasics(LocalTestCase):

    def test_identity(self):
        self.assertTrue(self.endpoint.embedded)
        self.assertEqual('local', self.endpoint.key)

    def test_loaded_through_entry_point(self):
        endpoint = load_endpoint('local',
                                 EndpointOptions(data_dir=self.data_dir))
        self.addCleanup(endpoint.close)
        self.assertIsInstance(endpoint, LocalEndpoint)

    def test_database_is_private(self):
        self.assertEqual(0o700, stat.S_IMODE(os.stat(self.data_dir).st_mode))
        path = os.path.join(self.data_dir, 'authority.db')
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))

    def test_data_dir_defaults_to_platform_dir(self):
        home = self.useFixture(IsolatedHome())
        endpoint = LocalEndpoint('local', EndpointOptions())
        self.addCleanup(endpoint.close)
        endpoint.default_workspace()
        self.assertTrue(os.path.exists(
            os.path.join(home.data_dir, 'authority.db')))

    def test_unusable_data_dir(self):
        blocker = os.path.join(self.data_dir, 'file')
        with open(blocker, 'w'):
            pass
        endpoint = LocalEndpoint('local', EndpointOptions(
            data_dir=os.path.join(blocker, 'sub')))
        self.assertRaises(errors.EndpointError, endpoint.default_workspace)

    def test_imports_are_lazy(self):
        code = ('import sys, ntcli.endpoints.local; '
                'print(sorted(m for m in ("jwt", "ntcli_authority.authority", '
                '"sqlite3") if m in sys.modules))')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('[]', out.strip())


class TestWorkspaces(LocalTestCase):

    def test_default_workspace_made_once(self):
        self.assertIsInstance(self.ws, Workspace)
        self.assertEqual('default', self.ws.name)
        self.assertEqual(self.ws, self.endpoint.default_workspace())
        self.assertEqual(self.ws, self.make_endpoint().default_workspace())

    def test_create_list_delete(self):
        ws = self.endpoint.create_workspace(None, 'project-x', 'desc')
        self.assertEqual(4, uuid.UUID(ws.id).version)
        self.assertEqual(['default', 'project-x'],
                         [w.name for w in self.endpoint.list_workspaces(None)])
        token = self.endpoint.issue_token(None, ws.id)
        self.endpoint.delete_workspace(None, ws.id)
        self.assertEqual(['default'],
                         [w.name for w in self.endpoint.list_workspaces(None)])
        self.assertRaises(errors.TokenRevoked, self.endpoint.validate_token,
                          token.token)

    def test_errors_translated(self):
        error = self.assertRaises(errors.InvalidRequest,
                                  self.endpoint.create_workspace, None, 'X')
        self.assertEqual('INVALID_REQUEST', error.code)
        self.assertEqual(2, error.exit_code)
        error = self.assertRaises(errors.Conflict,
                                  self.endpoint.create_workspace, None,
                                  'default')
        self.assertEqual('WORKSPACE_EXISTS', error.code)
        self.assertRaises(errors.WorkspaceNotFound,
                          self.endpoint.delete_workspace, None,
                          str(uuid.uuid4()))


class TestTokens(LocalTestCase):

    def test_issue_validate_revoke(self):
        issued = self.endpoint.issue_token(None, self.ws.id, expires_in=3600,
                                           description='laptop')
        self.assertIsInstance(issued, IssuedToken)
        self.assertTrue(issued.token.startswith('wst_'))
        self.assertEqual(self.ws.id, issued.workspace_id)
        self.assertEqual(issued.created_at + 3600, issued.expires_at)
        self.assertEqual(('workspace:read', 'servers:read'), issued.scope)

        valid = self.endpoint.validate_token(issued.token)
        self.assertEqual(Validation(issued.jti, self.ws.id,
                                    issued.expires_at), valid)

        records = self.endpoint.list_tokens(None, self.ws.id)
        self.assertEqual([issued.jti], [r.jti for r in records])
        self.assertIsInstance(records[0], TokenRecord)
        self.assertEqual('active', records[0].status)
        self.assertEqual('laptop', records[0].description)

        revocation = self.endpoint.revoke_token(None, self.ws.id, issued.jti)
        self.assertIsInstance(revocation, Revocation)
        self.assertFalse(revocation.already_revoked)
        again = self.endpoint.revoke_token(None, self.ws.id, issued.jti)
        self.assertTrue(again.already_revoked)
        self.assertEqual(revocation.revoked_at, again.revoked_at)
        self.assertRaises(errors.TokenRevoked, self.endpoint.validate_token,
                          issued.token)
        self.assertEqual([], self.endpoint.list_tokens(None, self.ws.id))
        listed = self.endpoint.list_tokens(None, self.ws.id,
                                           include_revoked=True)
        self.assertEqual('revoked', listed[0].status)
        self.assertEqual(revocation.revoked_at, listed[0].revoked_at)

    def test_idempotency_key(self):
        first = self.endpoint.issue_token(None, self.ws.id,
                                          idempotency_key='refresh-1')
        again = self.endpoint.issue_token(None, self.ws.id,
                                          idempotency_key='refresh-1')
        self.assertEqual((first, False, True),
                         (again.replace(replayed=False), first.replayed,
                          again.replayed))

    def test_expired(self):
        issued = self.endpoint.issue_token(None, self.ws.id, expires_in=60)
        # the clock moved by the test seam every endpoint reads
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_TEST_CLOCK_OFFSET', '61'))
        error = self.assertRaises(errors.TokenExpired,
                                  self.endpoint.validate_token, issued.token)
        self.assertEqual('expired', error.status)
        listed = self.endpoint.list_tokens(None, self.ws.id,
                                           include_expired=True)
        self.assertEqual('expired', listed[0].status)

    def test_invalid_tokens(self):
        for token in ('garbage', 'wst_x.y.z', ''):
            error = self.assertRaises(errors.TokenInvalid,
                                      self.endpoint.validate_token, token)
            self.assertEqual('TOKEN_INVALID', error.code)

    def test_pages_followed(self):
        jtis = [self.endpoint.issue_token(None, self.ws.id).jti
                for _ in range(120)]
        page, cursor = self.endpoint.list_tokens_page(None, self.ws.id,
                                                      limit=50)
        self.assertEqual(50, len(page))
        self.assertIsNotNone(cursor)
        records = self.endpoint.list_tokens(None, self.ws.id)
        self.assertEqual(sorted(jtis), sorted(r.jti for r in records))

    def test_not_found(self):
        self.assertRaises(errors.TokenNotFound, self.endpoint.revoke_token,
                          None, self.ws.id, 'jti_nope')
        self.assertRaises(errors.WorkspaceNotFound, self.endpoint.issue_token,
                          None, str(uuid.uuid4()))
        self.assertRaises(errors.InvalidRequest,
                          self.endpoint.issue_token, None, self.ws.id,
                          expires_in=-1)


class TestCredentials(LocalTestCase):
    """No credential is the local user; a token is held to its rules."""

    def test_a_credential_that_is_no_token_is_refused(self):
        for credential in ('ignored', 'ntu_' + 'x' * 43, 'wst_a.b.c'):
            self.assertRaises((errors.AuthenticationRequired,
                               errors.TokenInvalid),
                              self.endpoint.list_tokens, credential,
                              self.ws.id)

    def test_a_read_only_token_cannot_issue_or_manage_workspaces(self):
        reader = self.endpoint.issue_token(None, self.ws.id, expires_in=60)
        self.assertRaises(errors.InsufficientScope, self.endpoint.issue_token,
                          reader.token, self.ws.id, expires_in=60)
        # of the workspaces, it sees its own
        self.assertEqual([self.ws.id], [
            w.id for w in self.endpoint.list_workspaces(reader.token)])
        for call in (lambda: self.endpoint.create_workspace(reader.token,
                                                            'sneaky'),
                     lambda: self.endpoint.delete_workspace(reader.token,
                                                            self.ws.id)):
            self.assertRaises(errors.Forbidden, call)
        self.assertEqual(['default'], [w.name for w in
                                       self.endpoint.list_workspaces(None)])
