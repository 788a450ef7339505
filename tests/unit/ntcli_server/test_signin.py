"""Tests of signing in through an identity provider on the server side:
the token-exchange endpoint (ntcli_server.exchange, ntcli_server.signin),
identities and sessions in the authority, against an issuer on 127.0.0.1
(tests.oidc.localissuer; the real OpenID Provider is in the functional
tests)."""

from __future__ import annotations

import re
import urllib.parse

import testtools
from falcon import testing

from ntcli_authority import errors, models, oidc
from ntcli_authority.access import Principal
from ntcli_authority.authority import SignInPolicy
from ntcli_authority.authority.users import name_for
from ntcli_core import oauth
from ntcli_server import exchange, signin, wsgi
from tests.oidc.localissuer import LocalIssuer, SigningKey
from tests.unit.ntcli_authority import base

ID_TOKEN = oauth.TOKEN_TYPE_ID_TOKEN

OWNER = Principal.local()  # the local owner may do everything


class SignInTestCase(testtools.TestCase):
    """An API whose provider is a LocalIssuer, with client id ``ntcli``;
    user ``alice`` (with a credential) owns workspace ``main``."""

    policy = SignInPolicy()

    def setUp(self):
        super().setUp()
        self.idp = self.useFixture(LocalIssuer())
        self.fx = self.useFixture(base.AuthorityFixture())
        self.authority = self.fx.authority
        self.settings = signin.SignInSettings(
            issuer=self.idp.url, client_id='ntcli', policy=self.policy)
        self.client = testing.TestClient(wsgi.create_app(
            lambda: self.authority, sign_in=self.settings))
        alice = self.authority.create_user(OWNER, 'alice')
        self.alice = alice.credential
        self.ws = self.authority.create_workspace(OWNER,
                                                  'main', owner=alice.user.id)

    def exchange(self, subject_token=None, *, raw=None, **params):
        form = {'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                'subject_token': subject_token or self.idp.token(
                    'ntcli', subject='alice-at-idp',
                    email='alice@example.org'),
                'subject_token_type': ID_TOKEN}
        form.update(params)
        form = {k: v for k, v in form.items() if v is not None}
        return self.client.simulate_post(
            oauth.EXCHANGE_PATH, body=raw if raw is not None
            else urllib.parse.urlencode(form),
            headers={'Content-Type': 'application/x-www-form-urlencoded'})

    def assertOAuthError(self, result, error, status=400):
        self.assertEqual(status, result.status_code, result.text)
        self.assertEqual(error, result.json['error'])
        self.assertIsInstance(result.json['error_description'], str)
        self.assertEqual('no-store', result.headers['cache-control'])
        return result.json['error_description']

    def call(self, method, path, credential):
        return self.client.simulate_request(
            method, path, headers={'Authorization': f'Bearer {credential}'})

    def sign_in_events(self):
        return [e for e in self.authority.store.list_events()
                if e.action == models.AUDIT_SIGN_IN]


class TestExchange(SignInTestCase):

    def test_a_person_not_linked_is_refused_and_recorded(self):
        description = self.assertOAuthError(self.exchange(), 'invalid_grant')
        self.assertIn('ntcli-server user link', description)
        [refused] = self.sign_in_events()
        self.assertEqual(models.OUTCOME_REFUSED, refused.outcome)
        self.assertEqual(f'IDENTITY_NOT_LINKED {self.idp.url} alice-at-idp '
                         'alice@example.org', refused.detail)
        self.assertEqual([], self.authority.list_users(OWNER)[1:])

    def test_a_linked_person_gets_a_session_of_their_user(self):
        self.authority.link_identity(OWNER,
                                     'alice', self.idp.url, 'alice-at-idp')
        result = self.exchange()
        self.assertEqual(200, result.status_code, result.text)
        body = result.json
        self.assertEqual(
            {'access_token', 'issued_token_type', 'token_type',
             'expires_in', 'expires_at', 'session_id', 'user_id',
             'user_name', 'user_created'}, set(body))
        self.assertEqual(oauth.TOKEN_TYPE_SESSION, body['issued_token_type'])
        self.assertEqual(('Bearer', 8 * 3600, 'alice', False),
                         (body['token_type'], body['expires_in'],
                          body['user_name'], body['user_created']))
        self.assertTrue(body['access_token'].startswith('nts_'))
        self.assertEqual('no-store', result.headers['cache-control'])
        # the session is alice: her workspace, as with her credential
        listed = self.call('GET', '/v1/workspaces', body['access_token'])
        self.assertEqual(['main'], [w['workspace_name']
                                    for w in listed.json['workspaces']])
        issued = self.client.simulate_post(
            f'/v1/workspaces/{self.ws.id}/tokens', json={},
            headers={'Authorization': f'Bearer {body["access_token"]}'})
        self.assertEqual(201, issued.status_code)
        [event] = self.sign_in_events()
        self.assertEqual((models.OUTCOME_SUCCESS, alice_id(self)),
                         (event.outcome, event.actor))
        self.assertEqual(f'{self.idp.url} alice-at-idp alice@example.org',
                         event.detail)
        identity = self.authority.store.get_identity(self.idp.url,
                                                     'alice-at-idp')
        self.assertEqual('alice@example.org', identity.email)
        # the store keeps no session secret
        self.assertNotIn(body['access_token'],
                         repr(self.authority.store.dump()))

    def test_bad_tokens_are_refused_and_recorded(self):
        self.authority.link_identity(OWNER,
                                     'alice', self.idp.url, 'alice-at-idp')
        other = self.useFixture(LocalIssuer())
        other.keys = [SigningKey('other')]
        cases = {
            'audience': self.idp.token('another-client',
                                       subject='alice-at-idp'),
            'expired': self.idp.token('ntcli', subject='alice-at-idp',
                                      issued_at=0),
            'not_yet_valid': self.idp.token(
                'ntcli', subject='alice-at-idp',
                issued_at=4_000_000_000),
            'algorithm': self.idp.unsigned(subject='alice-at-idp'),
            'unknown_key': other.token('ntcli', subject='alice-at-idp'),
            'malformed': 'not-a-jwt',
        }
        for token in cases.values():
            self.assertOAuthError(self.exchange(token), 'invalid_grant')
        events = self.sign_in_events()
        self.assertEqual([models.OUTCOME_REFUSED] * len(cases),
                         [e.outcome for e in events])
        self.assertEqual([f'token_{r}' for r in cases],
                         [e.detail.split()[0] for e in events])
        for event in events:
            for token in cases.values():
                self.assertNotIn(token, event.detail)

    def test_the_provider_down(self):
        self.idp.down = True
        self.assertOAuthError(self.exchange(), 'temporarily_unavailable', 503)

    def test_malformed_requests(self):
        token = self.idp.token()
        cases = [
            ('invalid_request', dict(raw='{"grant_type": "x"}')),
            ('invalid_request', dict(raw='grant_type=a&grant_type=b')),
            ('invalid_request', dict(raw='subject_token=%ff')),
            ('invalid_request', dict(raw='unknown=1')),
            ('invalid_request', dict(grant_type=None)),
            ('unsupported_grant_type', dict(grant_type='password')),
            ('invalid_request', dict(subject_token_type=None)),
            ('invalid_request', dict(subject_token_type='urn:x')),
            ('invalid_request', dict(actor_token=token,
                                     actor_token_type=ID_TOKEN)),
            ('invalid_target', dict(requested_token_type='urn:x')),
        ]
        for error, kwargs in cases:
            self.assertOAuthError(self.exchange(token, **kwargs), error)
        self.assertOAuthError(self.exchange('a\x00b'), 'invalid_request')
        result = self.client.simulate_post(
            oauth.EXCHANGE_PATH,
            json={'grant_type': oauth.GRANT_TOKEN_EXCHANGE})
        self.assertOAuthError(result, 'invalid_request')

    def test_the_session_type_may_be_asked_for(self):
        self.authority.link_identity(OWNER,
                                     'alice', self.idp.url, 'alice-at-idp')
        result = self.exchange(requested_token_type=oauth.TOKEN_TYPE_SESSION)
        self.assertEqual(200, result.status_code, result.text)


def alice_id(case):
    return case.authority.get_user(OWNER, 'alice').id


class TestMetrics(SignInTestCase):

    def counts(self):
        text = self.client.simulate_get('/metrics').text
        return {k: v for k, v in re.findall(
            r'^ntcli_server_sign_ins_total\{outcome="(\w+)"\} (\S+)$',
            text, re.M) if v != '0.0'}

    def test_sign_ins_are_counted_by_outcome(self):
        self.client = testing.TestClient(wsgi.create_app(
            lambda: self.authority, sign_in=self.settings, metrics=True))
        self.exchange()                                     # not linked
        self.exchange(self.idp.token('someone-else'))       # rejected
        self.authority.link_identity(OWNER, 'alice', self.idp.url,
                                     'alice-at-idp')
        self.exchange()                                     # success
        self.exchange()
        self.assertEqual({'not_linked': '1.0', 'rejected': '1.0',
                          'success': '2.0'}, self.counts())
        self.idp.down = True
        self.client = testing.TestClient(wsgi.create_app(   # a new issuer
            lambda: self.authority, sign_in=self.settings, metrics=True))
        self.exchange()
        self.assertEqual({'provider_unavailable': '1.0'}, self.counts())


class TestAutoCreate(SignInTestCase):

    policy = SignInPolicy(auto_create=True)

    def test_a_new_person_gets_a_user_once(self):
        token = self.idp.token('ntcli', subject='s-1',
                               preferred_username='Carol.Smith')
        first = self.exchange(token).json
        self.assertEqual(('carol-smith', True),
                         (first['user_name'], first['user_created']))
        again = self.exchange(self.idp.token(
            'ntcli', subject='s-1', preferred_username='Carol.Smith')).json
        self.assertEqual((first['user_id'], False),
                         (again['user_id'], again['user_created']))
        # the new user has no user credential, and owns nothing yet
        user = self.authority.get_user(OWNER, 'carol-smith')
        self.assertTrue(user.credential_hash.startswith(
            models.NO_CREDENTIAL))
        listed = self.call('GET', '/v1/workspaces', first['access_token'])
        self.assertEqual([], listed.json['workspaces'])
        # another person with the same name gets another user
        other = self.exchange(self.idp.token(
            'ntcli', subject='s-2', preferred_username='carol.smith')).json
        self.assertNotEqual(first['user_id'], other['user_id'])
        self.assertTrue(other['user_name'].startswith('carol-smith-'))

    def test_names_from_claims(self):
        self.assertEqual('bob', name_for({'email': 'Bob@example.org'}))
        self.assertEqual('user', name_for({'sub': '12'}))
        self.assertEqual('x-y-z', name_for({'preferred_username': '9x y_z'}))
        self.assertEqual(32, len(name_for({'name': 'a' * 80})))


class TestSessions(SignInTestCase):

    def setUp(self):
        super().setUp()
        self.authority.link_identity(OWNER,
                                     'alice', self.idp.url, 'alice-at-idp')
        self.session = self.exchange().json['access_token']

    def test_logout_ends_the_session(self):
        result = self.call('DELETE', '/v1/auth/session', self.session)
        self.assertEqual(200, result.status_code, result.text)
        self.assertEqual('revoked', result.json['status'])
        refused = self.call('GET', '/v1/workspaces', self.session)
        self.assertEqual(401, refused.status_code)
        self.assertIn('sign in again', refused.json['error']['message'])
        self.assertIn(models.AUDIT_SESSION_REVOKE,
                      [e.action for e in self.authority.store.list_events()])

    def test_a_user_credential_is_no_session(self):
        result = self.call('DELETE', '/v1/auth/session', self.alice)
        self.assertEqual(400, result.status_code)

    def test_a_session_expires(self):
        self.fx.clock.advance(8 * 3600)
        refused = self.call('GET', '/v1/workspaces', self.session)
        self.assertEqual(401, refused.status_code)
        self.assertEqual('SESSION_EXPIRED', refused.json['error']['code'])

    def test_unlinking_ends_the_sessions(self):
        self.assertTrue(self.authority.unlink_identity(OWNER, self.idp.url,
                                                       'alice-at-idp'))
        self.assertEqual(401, self.call('GET', '/v1/workspaces',
                                        self.session).status_code)
        self.assertFalse(self.authority.unlink_identity(OWNER, self.idp.url,
                                                        'alice-at-idp'))

    def test_providers(self):
        body = self.client.simulate_get('/v1/auth/providers').json
        self.assertEqual({'providers': [{
            'issuer': self.idp.url, 'client_id': 'ntcli',
            'scopes': list(signin.DEFAULT_SCOPES),
            'token_exchange': oauth.EXCHANGE_PATH,
            'subject_token_type': ID_TOKEN,
            'requested_token_type': oauth.TOKEN_TYPE_SESSION}],
            'user_credentials': True}, body)


class TestRequireProvider(SignInTestCase):

    policy = SignInPolicy(require_provider=True)

    def test_user_credentials_are_refused(self):
        result = self.call('GET', '/v1/workspaces', self.alice)
        self.assertEqual(401, result.status_code)
        self.assertEqual('PROVIDER_REQUIRED', result.json['error']['code'])
        self.assertFalse(self.client.simulate_get(
            '/v1/auth/providers').json['user_credentials'])
        # a sign-in works
        self.authority.link_identity(OWNER,
                                     'alice', self.idp.url, 'alice-at-idp')
        session = self.exchange().json['access_token']
        self.assertEqual(200, self.call('GET', '/v1/workspaces',
                                        session).status_code)

    def test_the_local_admin_is_not_affected(self):
        # what the admin commands do: the authority, no credential
        self.authority.create_workspace(OWNER, 'other')
        self.assertEqual(2, len(self.authority.list_workspaces(OWNER)))


class TestWithoutProvider(testtools.TestCase):

    def test_no_provider(self):
        fx = self.useFixture(base.AuthorityFixture())
        client = testing.TestClient(wsgi.create_app(lambda: fx.authority))
        self.assertEqual({'providers': [], 'user_credentials': True},
                         client.simulate_get('/v1/auth/providers').json)
        result = client.simulate_post(
            oauth.EXCHANGE_PATH, body=urllib.parse.urlencode({
                'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                'subject_token': 'x',
                'subject_token_type': ID_TOKEN}),
            headers={'Content-Type': 'application/x-www-form-urlencoded'})
        self.assertEqual(400, result.status_code)
        self.assertEqual('invalid_request', result.json['error'])


class TestDispatch(testtools.TestCase):
    """Several exchanges on one endpoint: each found by what it issues or
    by what it accepts."""

    class Fake:
        def __init__(self, issued, accepted):
            self.issued_token_type = issued
            self.subject_token_types = accepted

    def request(self, subject_type, requested=None):
        return exchange.ExchangeRequest('t', subject_type, requested, None,
                                        None, None, models.Origin())

    def test_choose(self):
        session = self.Fake('urn:session', (ID_TOKEN,))
        workspace = self.Fake('urn:workspace', (oauth.TOKEN_TYPE_JWT,
                                                ID_TOKEN))
        both = [session, workspace]
        self.assertIs(session, exchange.choose(both, self.request(ID_TOKEN)))
        self.assertIs(workspace, exchange.choose(
            both, self.request(oauth.TOKEN_TYPE_JWT)))
        self.assertIs(workspace, exchange.choose(
            both, self.request(ID_TOKEN, 'urn:workspace')))
        error = self.assertRaises(
            exchange.ExchangeError, exchange.choose, both,
            self.request(oauth.TOKEN_TYPE_JWT, 'urn:session'))
        self.assertEqual('invalid_request', error.error)
        error = self.assertRaises(exchange.ExchangeError, exchange.choose,
                                  both, self.request(ID_TOKEN, 'urn:other'))
        self.assertEqual('invalid_target', error.error)


class TestSettings(testtools.TestCase):

    def parse(self, *argv):
        import argparse
        parser = argparse.ArgumentParser()
        signin.add_options(parser)
        return signin.settings_from(parser.parse_args(argv))

    def test_settings(self):
        self.assertIsNone(self.parse())
        settings = self.parse('--oidc-issuer', 'https://idp.example',
                              '--oidc-client-id', 'ntcli',
                              '--session-lifetime', '1d', '--oidc-require')
        self.assertEqual(86400, settings.policy.session_lifetime)
        self.assertTrue(settings.policy.require_provider)
        self.assertFalse(settings.policy.auto_create)
        for argv in (['--oidc-issuer', 'https://idp.example'],
                     ['--oidc-client-id', 'x'], ['--oidc-require'],
                     ['--oidc-issuer', 'http://idp.example',
                      '--oidc-client-id', 'x'],
                     ['--oidc-issuer', 'https://idp.example',
                      '--oidc-client-id', 'x', '--oidc-scopes', 'email']):
            self.assertRaises(ValueError, self.parse, *argv)
        for bad in ('0', '-5', '10y', '8x', '', '1e3', '100000000'):
            self.assertRaises(SystemExit, self.parse,
                              '--session-lifetime', bad)

    def test_the_environment(self):
        import fixtures
        self.useFixture(fixtures.EnvironmentVariable(
            signin.ENV_ISSUER, 'https://idp.example'))
        self.useFixture(fixtures.EnvironmentVariable(
            signin.ENV_CLIENT_ID, 'cli'))
        self.useFixture(fixtures.EnvironmentVariable(
            signin.ENV_AUTO_CREATE, 'yes'))
        settings = self.parse()
        self.assertEqual(('https://idp.example', 'cli', True),
                         (settings.issuer, settings.client_id,
                          settings.policy.auto_create))


class TestVerifiedSignIn(testtools.TestCase):
    """Authority.sign_in's own checks."""

    def test_a_subject_with_control_characters(self):
        fx = self.useFixture(base.AuthorityFixture())
        fx.authority.sign_in_policy = SignInPolicy(auto_create=True)
        verified = oidc.VerifiedToken(issuer='https://idp.example',
                                      subject='a\nb', claims={},
                                      expires_at=0, issued_at=0)
        self.assertRaises(errors.InvalidRequest, fx.authority.sign_in,
                          verified)
