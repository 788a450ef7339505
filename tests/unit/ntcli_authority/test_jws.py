"""Tests of ntcli_authority.jws against PyJWT, the reference verifier
(tests/unit/ntcli_authority/reference_jws.py): a token must mean the same
to both.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import fixtures
import testtools

from ntcli_authority import errors, jws, signing
from tests.unit.ntcli_authority import base, reference_jws, test_signing

#: The two ways to sign and verify: ntcli's own (as it is), and PyJWT's.
OWN = fixtures.Fixture
PYJWT = reference_jws.PyJWT


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


def _verdict(verifier, token: str, public_key_for) -> tuple:
    """What decode_token makes of a token, verified the ``verifier`` way:
    its claims or its error."""
    with verifier():
        try:
            return ('ok',) + signing.decode_token(token, public_key_for)
        except errors.TokenInvalid as exc:
            return ('invalid', exc.message)


def _encoded(signer, record, private_key) -> str:
    """``record`` signed the ``signer`` way."""
    with signer():
        return signing.encode_token(record, private_key)


class TestEncodingWithPyJWT(test_signing.TestEncoding):
    """signing's own encoding tests, with PyJWT signing and verifying."""

    def setUp(self):
        super().setUp()
        self.useFixture(PYJWT())


class TestSameTokens(base.SigningKeyTestCase):

    def test_byte_for_byte(self):
        for changes in ({}, {'expires_at': None}, {'scope': 'ci:deploy'},
                        {'workspace_id': 'ws-\u00e9\u4e2d'},
                        {'created_at': 0, 'expires_at': 2 ** 40}):
            record = test_signing._record(self.key.kid, **changes)
            self.assertEqual(_encoded(PYJWT, record, self.private),
                             _encoded(OWN, record, self.private))

    def test_each_accepts_the_other(self):
        record = test_signing._record(self.key.kid)
        for signer in (PYJWT, OWN):
            token = _encoded(signer, record, self.private)
            for verifier in (PYJWT, OWN):
                self.assertEqual(
                    ('ok', self.key.kid, signing.claims_of(record)),
                    _verdict(verifier, token, self.keys))

    def signed(self, header: dict, payload: bytes | str,
               header_text: str | None = None) -> str:
        """A token with these parts and a genuine signature over them."""
        if isinstance(payload, str):
            payload = payload.encode()
        if header_text is None:
            header_text = json.dumps(header)
        signing_input = (_b64(header_text.encode()) + '.' + _b64(payload))
        signature = self.private.sign(signing_input.encode())
        return 'wst_' + signing_input + '.' + _b64(signature)

    def test_same_verdicts(self):
        good = signing.encode_token(test_signing._record(self.key.kid),
                                    self.private)
        head, body, sig = good[len('wst_'):].split('.')
        claims = dict(signing.claims_of(test_signing._record(self.key.kid)))
        kid = self.key.kid
        std = {'alg': 'EdDSA', 'kid': kid, 'typ': 'JWT'}
        tokens = [
            good, good + '=', good + '==', good + '===', good + 'A',
            good[:-1], good + '.', 'wst_' + head + '.' + body,
            'wst_' + head + '==.' + body + '.' + sig,
            'wst_' + head + '.' + body + '=.' + sig,
            'wst_' + head + '.' + body + '.' + sig + '!',
            'wst_' + head + '.' + body + '.' + body,
            'wst_' + head + '..' + sig, 'wst_..', 'wst_a.b.c.d',
            'wst_' + head + '.' + body + '.' + sig + '.' + sig,
            'wst_' + head.replace('J', '*', 1) + '.' + body + '.' + sig,
            'wst_\u00e9.' + body + '.' + sig,
            self.signed(std, json.dumps(claims)),
            self.signed(std, json.dumps(claims, indent=2)),
            self.signed(std, '[1, 2]'), self.signed(std, 'not json'),
            self.signed(std, json.dumps(dict(claims, sub=7))),
            self.signed(std, json.dumps(dict(claims, jti=None))),
            self.signed(std, json.dumps(dict(claims, exp='soon'))),
            self.signed(std, json.dumps(claims).encode('utf-16')),
            self.signed(dict(std, kid=7), json.dumps(claims)),
            self.signed(dict(std, crit=['b64']), json.dumps(claims)),
            self.signed(dict(std, crit=[]), json.dumps(claims)),
            self.signed(dict(std, crit='b64'), json.dumps(claims)),
            self.signed(dict(std, crit=['exp']), json.dumps(claims)),
            self.signed(dict(std, b64=True), json.dumps(claims)),
            self.signed(dict(std, b64=True, crit=['b64']),
                        json.dumps(claims)),
            self.signed({'alg': 'EdDSA'}, json.dumps(claims)),
            self.signed(dict(std, b64=False), ''),
            self.signed(dict(std, b64=False, crit=['b64']), ''),
            self.signed(dict(std, b64=False), json.dumps(claims)),
            self.signed(dict(std, alg='EdDSA '), json.dumps(claims)),
            self.signed(std, json.dumps(claims), header_text='[1]'),
            self.signed(std, json.dumps(claims), header_text='{"alg":'),
            self.signed(std, json.dumps(claims),
                        header_text='{"alg":"EdDSA","alg":"none",'
                                    f'"kid":"{kid}"}}'),
            self.signed(std, json.dumps(claims),
                        header_text=f'{{"kid":"{kid}","alg":"EdDSA"}}'),
        ]
        for token in tokens:
            self.assertEqual(_verdict(PYJWT, token, self.keys),
                             _verdict(OWN, token, self.keys), token)

    def test_same_verdicts_on_flipped_characters(self):
        token = signing.encode_token(test_signing._record(self.key.kid),
                                     self.private)
        alphabet = 'AQgw_-.=x'
        for position in range(4, len(token)):
            for char in alphabet:
                if token[position] == char:
                    continue
                forged = token[:position] + char + token[position + 1:]
                self.assertEqual(_verdict(PYJWT, forged, self.keys),
                                 _verdict(OWN, forged, self.keys),
                                 forged)

    def test_one_spelling_per_token(self):
        # Whatever the JWS library tolerates, a token has one accepted
        # value: no suffix, padding or re-encoding of its signature passes
        # either verifier.
        good = signing.encode_token(test_signing._record(self.key.kid),
                                    self.private)
        head, body, sig = good[len('wst_'):].split('.')
        raw = base64.urlsafe_b64decode(sig + '==')
        alphabet = ('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                    '0123456789-_')
        suffixes = ['=', '==', '===', '====', '!!!!', '~~~~', '.', ' ', '\n',
                    '\x00', '%3D', 'A', 'AAAA'] + [c * n for c in '=!~'
                                                  for n in range(1, 9)]
        spellings = [good + suffix for suffix in suffixes]
        # the signature in other base64 spellings of the same bytes
        spellings += [
            f'wst_{head}.{body}.{encoded}' for encoded in (
                base64.b64encode(raw).decode(),
                base64.b64encode(raw).decode().rstrip('='),
                base64.urlsafe_b64encode(raw).decode(),
                sig[:40] + '\n' + sig[40:], sig[:40] + '=' + sig[40:])]
        # the same bytes with the unused low bits of the last character set
        last = alphabet.index(sig[-1])
        spellings += [f'wst_{head}.{body}.{sig[:-1]}{alphabet[last | bits]}'
                      for bits in range(1, 16)]
        # A signature without '+' or '/' in standard base64 (about one in
        # fifteen) is spelled the same there: that one is the good token.
        spellings = [s for s in spellings if s != good]
        for spelling in spellings:
            for verifier in (PYJWT, OWN):
                self.assertEqual('invalid', _verdict(verifier, spelling,
                                                     self.keys)[0],
                                 (verifier, spelling))
        for verifier in (PYJWT, OWN):
            self.assertEqual('ok', _verdict(verifier, good, self.keys)[0])

    def test_a_key_of_another_type_is_refused(self):
        from cryptography.hazmat.primitives.asymmetric import ed448
        token = signing.encode_token(test_signing._record(self.key.kid),
                                     self.private)
        other = ed448.Ed448PrivateKey.generate().public_key()
        self.assertRaises(errors.TokenInvalid, signing.decode_token, token,
                          lambda kid: other)


class TestKeyLoading(testtools.TestCase):

    def test_our_keys_load_as_serialization_loads_them(self):
        from cryptography.hazmat.primitives import serialization
        key = signing.generate_signing_key(base.START)
        private = jws.ed25519_private_key(signing.unseal(key.private_key))
        public = jws.ed25519_public_key(key.public_key)
        raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        expected = serialization.load_pem_public_key(key.public_key.encode())
        self.assertEqual(expected.public_bytes(*raw),
                         public.public_bytes(*raw))
        self.assertEqual(expected.public_bytes(*raw),
                         private.public_key().public_bytes(*raw))
        self.assertEqual(type(expected), type(signing.load_public_key(key)))

    def test_other_shapes_are_left_to_serialization(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed448
        other = ed448.Ed448PrivateKey.generate()
        pem = other.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.assertIsNone(jws.ed25519_public_key(pem))
        ours = signing.generate_signing_key(base.START).public_key
        for variant in (ours.replace('PUBLIC KEY', 'PRIVATE KEY'),
                        ours.replace('\n', '\n\n', 1) + 'trailer',
                        ours[:40] + '!' + ours[41:], ''):
            self.assertIsNone(jws.ed25519_public_key(variant))
        key = signing.generate_signing_key(base.START)
        key = key.__class__(kid='k', public_key=pem, created_at=base.START)
        self.assertIsInstance(signing.load_public_key(key),
                              ed448.Ed448PublicKey)


class TestImports(testtools.TestCase):

    def test_ed25519_needs_neither_pyjwt_nor_serialization(self):
        key = signing.generate_signing_key(base.START)
        code = (
            'import json, sys\n'
            'from ntcli_authority import signing\n'
            'from ntcli_authority.models import SigningKey, TokenRow\n'
            'key = SigningKey(**json.load(sys.stdin))\n'
            'record = TokenRow("jti_1", "ws", 1, None, key.kid)\n'
            'token = signing.encode_token(\n'
            '    record, signing.load_private_key(key))\n'
            'public = signing.load_public_key(key)\n'
            'signing.decode_token(token, lambda kid: public)\n'
            'print(sorted(m for m in sys.modules if m == "jwt" or\n'
            '             m.endswith("primitives.serialization")))\n')
        fields = {'kid': key.kid, 'public_key': key.public_key,
                  'private_key': key.private_key,
                  'created_at': key.created_at}
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             input=json.dumps(fields), capture_output=True,
                             text=True).stdout
        self.assertEqual('[]', out.strip())


class TestVerifiedCache(base.SigningKeyTestCase):
    """Good signatures are remembered by token and key, nothing else."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.jws._VERIFIED', jws.collections.OrderedDict()))
        self.record = test_signing._record(self.key.kid)
        self.token = signing.encode_token(self.record, self.private)

    def test_remembered_token_still_checked_for_its_key(self):
        signing.decode_token(self.token, self.keys)
        self.assertEqual(1, len(jws._VERIFIED))
        signing.decode_token(self.token, self.keys)     # from the cache
        # the same token under another key (a key replaced under the same
        # kid) is verified again, and fails
        other = signing.load_public_key(signing.generate_signing_key(0))
        self.assertRaises(errors.TokenInvalid, signing.decode_token,
                          self.token, lambda kid: other)
        # a key that is gone refuses the token before any cache
        self.assertRaises(errors.TokenInvalid, signing.decode_token,
                          self.token, lambda kid: None)

    def test_forged_signatures_not_remembered(self):
        signing.decode_token(self.token, self.keys)
        head, payload, signature = self.token.split('.')
        flipped = signature[:-2] + ('A' if signature[-2] != 'A' else 'B') \
            + signature[-1]
        forged = '.'.join((head, payload, flipped))
        for _ in range(2):
            self.assertRaises(errors.TokenInvalid, signing.decode_token,
                              forged, self.keys)
        self.assertEqual(1, len(jws._VERIFIED))

    def test_bounded(self):
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.jws.VERIFIED_CACHE_SIZE', 3))
        for jti in range(5):
            record = test_signing._record(
                self.key.kid, jti=f'jti_{jti:032x}')
            signing.decode_token(signing.encode_token(record, self.private),
                                 self.keys)
        self.assertEqual(3, len(jws._VERIFIED))

    def test_remembered_claims_cannot_be_changed_by_a_caller(self):
        _, claims = signing.decode_token(self.token, self.keys)
        claims['sub'] = 'another-workspace'
        claims['exp'] = None
        _, again = signing.decode_token(self.token, self.keys)
        self.assertEqual(self.record.workspace_id, again['sub'])
        self.assertEqual(self.record.expires_at, again['exp'])
