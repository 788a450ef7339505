"""The endpoint contract on the embedded endpoint (a fresh data dir)."""

import fixtures
import testtools

from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.local import LocalEndpoint
from ntcli_authority.access import Principal
from tests.contract import base

OWNER = Principal.local()  # the local owner may do everything


class TestLocalEndpoint(base.EndpointContract, testtools.TestCase):

    embedded = True

    def make_endpoint(self):
        data_dir = self.useFixture(fixtures.TempDir()).path
        return LocalEndpoint('local', EndpointOptions(data_dir=data_dir))

    def rotate_signing_key(self):
        self.endpoint.authority.rotate_signing_key(OWNER)

    def make_user(self):
        return self.endpoint.authority.create_user(
            OWNER, base.unique_name('user')).credential

    def test_no_credential_is_the_local_owner(self):
        # who holds the database may do everything, in every workspace
        stranger = self.make_user()
        theirs = self.endpoint.create_workspace(stranger, base.unique_name())
        issued = self.endpoint.issue_token(None, theirs.id)
        self.assertEqual({self.workspace.id, theirs.id},
                         {w.id for w in self.endpoint.list_workspaces(None)})
        self.endpoint.revoke_token(None, theirs.id, issued.jti)
        self.endpoint.delete_workspace(None, theirs.id)
