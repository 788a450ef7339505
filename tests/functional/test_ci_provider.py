"""``ntcli auth login --ci`` with an ID token of a real OpenID Provider
(oidc-provider, the sign-in tests' provider): the server verifies it through
the provider's own discovery document and keys."""

from __future__ import annotations

import json

import requests

from ntcli_server.testing import ServerFixture
from tests.functional import base
from tests.oidc import fixtures as oidc_fixtures

DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'


class TestRealProvider(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        missing = oidc_fixtures.node_missing()
        if missing:
            self.skipTest(missing)
        self.provider = self.useFixture(oidc_fixtures.OpenIDProvider())
        # the provider's ID tokens are meant for its client, ntcli
        self.server = self.useFixture(ServerFixture(
            serve_args=['--ci-audience', oidc_fixtures.CLIENT_ID]))
        self.server.admin(
            'trust', 'create', 'main', 'robot', '--issuer',
            self.provider.issuer, '--claim', 'sub=deploy-robot',
            '--claim', 'email=deploy-robot@example.org',
            '--scope', 'servers:read', '--max-lifetime', '300')

    def id_token(self, login):
        """An ID token of ``login``, by the device grant."""
        metadata = self.provider.metadata()
        started = requests.post(
            metadata['device_authorization_endpoint'],
            data={'client_id': oidc_fixtures.CLIENT_ID,
                  'scope': 'openid email'}, timeout=10).json()
        oidc_fixtures.Person(self.provider, login).approve_device(
            started['verification_uri_complete'])
        tokens = requests.post(
            metadata['token_endpoint'],
            data={'grant_type': DEVICE_GRANT,
                  'device_code': started['device_code'],
                  'client_id': oidc_fixtures.CLIENT_ID}, timeout=10).json()
        return tokens['id_token']

    def login(self, token, expect):
        return self.ntcli('auth', 'login', '--oidc-token-env', 'ROBOT_TOKEN',
                          env={'NTCLI_ENDPOINT': self.server.url,
                               'ROBOT_TOKEN': token}, expect=expect)

    def test_exchanged_once_and_only_for_the_trusted_subject(self):
        token = self.id_token('deploy-robot')
        result = self.login(token, 0)
        self.assertIn('(from the variable ROBOT_TOKEN; trust policy robot;',
                      result.stdout)
        shown = self.json('token', 'show',
                          env={'NTCLI_ENDPOINT': self.server.url})
        self.assertEqual(['servers:read'], shown['scope'])
        # the provider's ID tokens have no jti: their claims identify them
        again = self.login(token, 1)
        self.assertIn('already exchanged', again.stderr)
        other = self.login(self.id_token('someone-else'), 1)
        # conditions are checked in claim-name order: email before sub
        self.assertIn("the claim 'email' ('someone-else@example.org') does "
                      'not match', other.stderr)
        events = json.loads(self.server.admin(
            'audit', 'list', '--action', 'token.exchange', '-f', 'json'))
        self.assertEqual(['success', 'refused', 'refused'],
                         [e['outcome'] for e in events])
