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
