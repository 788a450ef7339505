"""Tests of ntcli_authority.signing: keys, seal, token encoding."""

from __future__ import annotations

import os

import fixtures
import testtools

from ntcli_authority import errors, signing
from ntcli_authority.models import TokenRow
from ntcli_authority.storage import open_store
from tests.unit.ntcli_authority import base


def _record(kid: str, **changes) -> TokenRow:
    values = dict(jti='jti_' + 'ab' * 16, workspace_id='ws-1',
                  created_at=base.START, expires_at=base.START + 60, kid=kid)
    values.update(changes)
    return TokenRow(**values)


class TestKeys(testtools.TestCase):

    def test_generated_key_is_sealed_and_loadable(self):
        key = signing.generate_signing_key(base.START)
        self.assertTrue(key.private_key.startswith('plain:'))
        self.assertIn('BEGIN PUBLIC KEY', key.public_key)
        self.assertIsNotNone(signing.load_private_key(key))
        self.assertIsNotNone(signing.load_public_key(key))
        self.assertNotIn('PRIVATE', repr(key))

    def test_seal_round_trip(self):
        self.assertEqual('pem', signing.unseal(signing.seal('pem')))

    def test_unknown_seal_scheme(self):
        self.assertRaises(errors.StorageUnavailable, signing.unseal,
                          'vault:xyz')

    def test_kids_differ(self):
        one = signing.generate_signing_key(base.START)
        two = signing.generate_signing_key(base.START)
        self.assertNotEqual(one.kid, two.kid)


class TestEncoding(base.SigningKeyTestCase):

    def test_round_trip(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        kid, claims = signing.decode_token(token, self.keys)
        self.assertEqual(self.key.kid, kid)
        self.assertEqual({'jti': 'jti_' + 'ab' * 16, 'sub': 'ws-1',
                          'iat': base.START, 'exp': base.START + 60,
                          'scope': 'workspace'}, claims)
        header, _, _ = base.split(token)
        self.assertEqual('EdDSA', header['alg'])
        self.assertEqual(self.key.kid, header['kid'])

    def test_signing_is_deterministic(self):
        record = _record(self.key.kid)
        self.assertEqual(signing.encode_token(record, self.private),
                         signing.encode_token(record, self.private))

    def test_no_exp_claim_without_expiry(self):
        token = signing.encode_token(_record(self.key.kid, expires_at=None),
                                     self.private)
        self.assertNotIn('exp', base.split(token)[1])

    def assertInvalid(self, token):
        self.assertRaises(errors.TokenInvalid, signing.decode_token, token,
                          self.keys)

    def test_rejects_missing_prefix(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        self.assertInvalid(token[len('wst_'):])

    def test_rejects_garbage(self):
        for garbage in ('', 'wst_', 'wst_abc', 'wst_a.b.c', 'wst_...',
                        None, 42, b'wst_x', 'wst_' + 'A' * 5000):
            self.assertInvalid(garbage)

    def test_rejects_alg_none(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        header, claims, _ = base.split(token)
        for alg in ('none', 'None', 'NONE'):
            header['alg'] = alg
            self.assertInvalid(base.forge(header, claims))

    def test_rejects_hs256_with_public_key_as_secret(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        header, claims, _ = base.split(token)
        header['alg'] = 'HS256'
        self.assertInvalid(base.forge_hs256(header, claims,
                                            self.key.public_key.encode()))

    def test_rejects_unknown_kid(self):
        other = signing.generate_signing_key(base.START)
        token = signing.encode_token(_record(other.kid),
                                     signing.load_private_key(other))
        self.assertInvalid(token)

    def test_rejects_kid_swapped_to_known_key(self):
        other = signing.generate_signing_key(base.START)
        token = signing.encode_token(_record(other.kid),
                                     signing.load_private_key(other))
        header, claims, signature = base.split(token)
        header['kid'] = self.key.kid
        self.assertInvalid(base.forge(header, claims, signature))

    def test_rejects_missing_kid(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        header, claims, signature = base.split(token)
        del header['kid']
        self.assertInvalid(base.forge(header, claims, signature))

    def test_rejects_tampered_payload(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        header, claims, signature = base.split(token)
        claims['sub'] = 'ws-2'
        self.assertInvalid(base.forge(header, claims, signature))

    def test_rejects_tampered_signature(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        flipped = 'A' if token[-5] != 'A' else 'B'
        self.assertInvalid(token[:-5] + flipped + token[-4:])

    def test_rejects_malformed_claims(self):
        for changes in ({'jti': 'abc'}, {'workspace_id': 7},
                        {'created_at': 'yesterday'}, {'scope': None}):
            record = _record(self.key.kid, **changes)
            token = signing.encode_token(record, self.private)
            self.assertInvalid(token)

    def test_error_message_carries_no_token(self):
        token = signing.encode_token(_record(self.key.kid), self.private)
        error = self.assertRaises(errors.TokenInvalid, signing.decode_token,
                                  token + 'x', self.keys)
        self.assertNotIn(token[10:40], str(error))


class TestKeyRing(testtools.TestCase):

    def setUp(self):
        super().setUp()
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'a.db')
        self.store = open_store(path)
        self.addCleanup(self.store.close)
        self.ring = signing.KeyRing(self.store, lambda: base.START)

    def test_primary_made_once(self):
        key, private = self.ring.primary()
        self.assertIsNotNone(private)
        again = signing.KeyRing(self.store, lambda: base.START).primary()[0]
        self.assertEqual(key.kid, again.kid)
        self.assertEqual(1, len(self.store.list_signing_keys()))

    def test_rotate(self):
        old = self.ring.primary()[0]
        new = self.ring.rotate()
        self.assertNotEqual(old.kid, new.kid)
        self.assertEqual(new.kid, self.ring.primary()[0].kid)
        self.assertIsNotNone(self.ring.public_key(old.kid))
        self.assertEqual(new.kid, self.store.get_primary_signing_key().kid)

    def test_rotation_elsewhere_is_seen_after_ttl(self):
        old = self.ring.primary()[0]
        other = signing.KeyRing(self.store, lambda: base.START)
        new = other.rotate()
        self.assertEqual(old.kid, self.ring.primary()[0].kid)
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.signing.KeyRing.PRIMARY_TTL', 0.0))
        self.assertEqual(new.kid, self.ring.primary()[0].kid)

    def test_unknown_kid(self):
        self.assertIsNone(self.ring.public_key('nope'))
        self.assertIsNone(self.ring.private_key('nope'))
