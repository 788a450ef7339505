"""Tests of ntcli_authority.oidc: discovery, keys and JWT verification,
against an issuer on 127.0.0.1 (tests.oidc.localissuer)."""

from __future__ import annotations

import sys
import time
from unittest import mock

import testtools

from ntcli_authority import errors, oidc
from tests.oidc.localissuer import LocalIssuer, SigningKey


class TestIssuer(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.local = self.useFixture(LocalIssuer())
        self.issuer = oidc.Issuer(self.local.url, timeout=2)

    def assertRejected(self, reason, token, **kwargs):
        kwargs.setdefault('audience', 'ntcli')
        error = self.assertRaises(oidc.TokenRejected, self.issuer.verify,
                                  token, **kwargs)
        self.assertEqual(reason, error.reason)
        self.assertEqual({'reason': reason}, error.details)
        self.assertNotIn(token, error.message)
        return error

    def test_a_genuine_token_gives_its_claims(self):
        token = self.local.token('ntcli', subject='alice-1',
                                 email='alice@example.org')
        verified = self.issuer.verify(token, audience='ntcli')
        self.assertEqual(self.local.url, verified.issuer)
        self.assertEqual('alice-1', verified.subject)
        self.assertEqual('alice@example.org', verified.email)
        self.assertEqual(verified.issued_at + 300, verified.expires_at)

    def test_keys_are_fetched_once_and_cached(self):
        for _ in range(3):
            self.issuer.verify(self.local.token(), audience='ntcli')
        self.assertEqual(1, self.local.hits['/jwks'])
        self.assertEqual(1, self.local.hits[
            '/.well-known/openid-configuration'])

    def test_metadata(self):
        metadata = self.issuer.metadata()
        self.assertEqual(self.local.url + '/jwks', metadata.jwks_uri)
        self.assertIsNone(metadata.device_authorization_endpoint)
        self.assertEqual(('RS256', 'ES256', 'PS256'),
                         metadata.signing_algorithms)

    def test_an_elliptic_curve_key(self):
        key = SigningKey('ec-1', 'ES256')
        self.local.keys.append(key)
        self.issuer.verify(self.local.token(key=key), audience='ntcli')

    def test_another_audience_is_refused(self):
        self.assertRejected('audience', self.local.token('someone-else'))

    def test_one_of_several_audiences_is_enough(self):
        token = self.local.token(['other', 'ntcli'])
        self.assertEqual('user-1', self.issuer.verify(
            token, audience='ntcli').subject)

    def test_an_id_token_with_several_audiences_needs_azp(self):
        token = self.local.token(['other', 'ntcli'])
        error = self.assertRaises(oidc.TokenRejected,
                                  self.issuer.verify_id_token, token,
                                  client_id='ntcli')
        self.assertEqual('audience', error.reason)
        token = self.local.token(['other', 'ntcli'], azp='ntcli')
        self.issuer.verify_id_token(token, client_id='ntcli')

    def test_an_id_token_issued_to_another_client_is_refused(self):
        token = self.local.token('ntcli', azp='another-client')
        error = self.assertRaises(oidc.TokenRejected,
                                  self.issuer.verify_id_token, token,
                                  client_id='ntcli')
        self.assertEqual('audience', error.reason)

    def test_the_nonce_must_match(self):
        token = self.local.token(nonce='n-1')
        self.issuer.verify_id_token(token, client_id='ntcli', nonce='n-1')
        error = self.assertRaises(oidc.TokenRejected,
                                  self.issuer.verify_id_token, token,
                                  client_id='ntcli', nonce='n-2')
        self.assertEqual('nonce', error.reason)
        error = self.assertRaises(
            oidc.TokenRejected, self.issuer.verify_id_token,
            self.local.token(), client_id='ntcli', nonce='n-1')
        self.assertEqual('nonce', error.reason)

    def test_an_expired_token_is_refused_after_the_leeway(self):
        now = time.time()
        within = self.local.token(issued_at=now - 330, lifetime=300)
        self.issuer.verify(within, audience='ntcli')      # 30 s late: leeway
        self.assertRejected('expired', self.local.token(
            issued_at=now - 400, lifetime=300))

    def test_a_token_from_the_future_is_refused(self):
        now = time.time()
        self.issuer.verify(self.local.token(issued_at=now + 30),
                           audience='ntcli')
        self.assertRejected('not_yet_valid',
                            self.local.token(issued_at=now + 600))
        self.assertRejected('not_yet_valid', self.local.token(
            nbf=int(now) + 600))

    def test_the_clock_is_the_issuers(self):
        token = self.local.token()
        late = oidc.Issuer(self.local.url, clock=lambda: time.time() + 3600)
        error = self.assertRaises(oidc.TokenRejected, late.verify, token,
                                  audience='ntcli')
        self.assertEqual('expired', error.reason)

    def test_max_age(self):
        token = self.local.token(issued_at=time.time() - 200, lifetime=3600)
        self.issuer.verify(token, audience='ntcli', max_age=300)
        self.assertRejected('expired', token, max_age=60)

    def test_required_claims(self):
        for claim in ('iat', 'exp', 'sub', 'iss', 'aud'):
            error = self.assertRejected('malformed',
                                        self.local.token(**{claim: None}))
            self.assertIn(claim, error.message)

    def test_claims_that_are_not_times(self):
        self.assertRejected('malformed', self.local.token(exp=True))
        self.assertRejected('malformed', self.local.token(iat='yesterday'))
        self.assertRejected('malformed', self.local.token(sub=''))

    def test_another_issuer_is_refused(self):
        other = self.useFixture(LocalIssuer())
        # signed with a key this issuer does not publish, and naming the
        # other issuer: either is enough
        self.assertRejected('signature', other.token())    # same kid
        other.keys = [SigningKey('other-1')]
        self.assertRejected('unknown_key', other.token())
        # this issuer's key, another issuer's name
        self.assertRejected('issuer', self.local.token(iss=other.url))

    def test_alg_none_is_refused(self):
        self.assertRejected('algorithm', self.local.unsigned())
        self.assertEqual(0, self.local.hits['/jwks'])

    def test_hmac_keyed_with_the_public_key_is_refused(self):
        self.assertRejected('algorithm', self.local.hmac_with_public_key())

    def test_an_algorithm_the_provider_does_not_list(self):
        key = SigningKey('rs512', 'RS512')
        self.local.keys.append(key)
        self.assertRejected('algorithm', self.local.token(key=key))

    def test_an_algorithm_that_does_not_fit_the_key(self):
        # an RSA key, a header claiming ES256
        token = self.local.token()
        header, rest = token.split('.', 1)
        import base64
        import json
        forged = base64.urlsafe_b64encode(json.dumps(
            {'alg': 'ES256', 'kid': 'key-1'}).encode()).decode().rstrip('=')
        self.assertRejected('algorithm', forged + '.' + rest)

    def test_a_bad_signature_is_refused(self):
        token = self.local.token()
        header, payload, signature = token.split('.')
        other = self.local.token(subject='mallory').split('.')[1]
        self.assertRejected('signature', f'{header}.{other}.{signature}')

    def test_a_key_in_the_header_is_not_used(self):
        intruder = SigningKey('key-1')
        token = self.local.token(key=intruder, headers={
            'jwk': intruder.jwk(), 'jku': 'http://127.0.0.1:1/jwks'})
        self.assertRejected('signature', token)

    def test_an_unknown_kid_refetches_the_keys_at_a_bounded_rate(self):
        self.issuer = oidc.Issuer(self.local.url, jwks_cooldown=0)
        self.issuer.verify(self.local.token(), audience='ntcli')
        self.assertEqual(1, self.local.hits['/jwks'])
        # rotated in at the provider: found by one refetch
        rotated = SigningKey('key-2')
        self.local.keys.append(rotated)
        self.issuer.verify(self.local.token(key=rotated), audience='ntcli')
        self.assertEqual(2, self.local.hits['/jwks'])

        # with the cooldown, forged kids cause no refetch at all
        cooled = oidc.Issuer(self.local.url, jwks_cooldown=3600)
        cooled.verify(self.local.token(), audience='ntcli')
        fetched = self.local.hits['/jwks']
        for n in range(20):
            forged = SigningKey(f'forged-{n}', 'ES256')
            error = self.assertRaises(
                oidc.TokenRejected, cooled.verify,
                self.local.token(key=forged), audience='ntcli')
            self.assertEqual('unknown_key', error.reason)
        self.assertEqual(fetched, self.local.hits['/jwks'])

    def test_garbage_is_malformed(self):
        for garbage in ('', 'abc', 'a.b.c', 'x' * 20000, None, 42,
                        '\x00.\x00.\x00'):
            self.assertRaises(oidc.TokenRejected, self.issuer.verify,
                              garbage, audience='ntcli')

    def test_the_provider_down(self):
        self.local.down = True
        error = self.assertRaises(oidc.ProviderUnavailable,
                                  self.issuer.verify, self.local.token(),
                                  audience='ntcli')
        self.assertIn('HTTP 503', error.message)
        self.assertEqual(503, error.http_status)
        # remembered for a moment: no second request
        self.assertRaises(oidc.ProviderUnavailable, self.issuer.verify,
                          self.local.token(), audience='ntcli')
        self.assertEqual(1, self.local.hits[
            '/.well-known/openid-configuration'])

    def test_the_provider_slow(self):
        self.local.delay = 2
        slow = oidc.Issuer(self.local.url, timeout=0.5)
        error = self.assertRaises(oidc.ProviderUnavailable, slow.metadata)
        self.assertIn('could not be fetched', error.message)

    def test_the_provider_unreachable(self):
        gone = LocalIssuer()
        gone.setUp()
        url = gone.url
        gone.cleanUp()
        error = self.assertRaises(oidc.ProviderUnavailable,
                                  oidc.Issuer(url, timeout=1).metadata)
        self.assertIn('could not be fetched', error.message)

    def test_a_discovery_document_naming_another_issuer(self):
        local = self.useFixture(LocalIssuer(
            {'issuer': 'https://elsewhere.example'}))
        error = self.assertRaises(oidc.ProviderUnavailable,
                                  oidc.Issuer(local.url).metadata)
        self.assertIn('names another issuer', error.message)

    def test_a_discovery_document_with_a_plain_http_endpoint(self):
        local = self.useFixture(LocalIssuer(
            {'jwks_uri': 'http://keys.example/jwks'}))
        error = self.assertRaises(oidc.ProviderUnavailable,
                                  oidc.Issuer(local.url).metadata)
        self.assertIn('must use https', error.message)


class TestWithoutPyJWT(testtools.TestCase):
    """PyJWT is an extra: without it, an issuer says which one, and before
    it fetches anything."""

    def test_an_issuer_names_the_extra(self):
        local = self.useFixture(LocalIssuer())
        with mock.patch.dict(sys.modules, {'jwt': None}):
            error = self.assertRaises(oidc.PyJWTMissing, oidc.Issuer,
                                      local.url)
        self.assertEqual('PYJWT_MISSING', error.code)
        self.assertIn('PyJWT, which is not installed', error.message)
        self.assertIn("the 'oidc' extra", error.message)
        self.assertEqual({}, dict(local.hits))


class TestSettings(testtools.TestCase):

    def test_issuer_urls(self):
        for good in ('https://idp.example/realms/team',
                     'http://127.0.0.1:8080', 'http://[::1]:5556/dex',
                     'http://localhost:3000'):
            oidc.Issuer(good)
        for bad in ('http://idp.example', 'ftp://idp.example', 'idp',
                    'https://user:pw@idp.example', 'https://idp.example/#x',
                    'https://idp.example/\n', '', 'https://:99999'):
            self.assertRaises(errors.InvalidRequest, oidc.Issuer, bad)

    def test_unsafe_algorithms_cannot_be_allowed(self):
        for algorithms in (['none'], ['HS256'], ['RS256', 'HS512'], []):
            self.assertRaises(ValueError, oidc.Issuer,
                              'https://idp.example', algorithms=algorithms)

    def test_the_cache_shares_issuers(self):
        cache = oidc.IssuerCache(timeout=1)
        first = cache.get('https://idp.example')
        self.assertIs(first, cache.get('https://idp.example'))
        self.assertEqual(1, first.timeout)
        self.assertIsNot(first, cache.get('https://other.example'))
