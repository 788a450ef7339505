"""Tests of ntcli_core's token facts: claims, names and lifetimes."""

from __future__ import annotations

import base64
import datetime
import json

import testtools

from ntcli_core import lifetimes, names, tokens


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


def fake_token(payload: bytes, prefix: str = tokens.TOKEN_PREFIX) -> str:
    return prefix + b64(b'{"alg":"EdDSA"}') + '.' + b64(payload) + '.sig'


class TestUnverifiedClaims(testtools.TestCase):

    def test_claims_with_or_without_the_prefix(self):
        claims = {'jti': 'jti_1', 'sub': 'ws', 'iat': 1, 'scope': 'x'}
        payload = json.dumps(claims).encode()
        self.assertEqual(claims, tokens.unverified_claims(fake_token(payload)))
        self.assertEqual(claims,
                         tokens.unverified_claims(fake_token(payload, '')))

    def test_undecodable_tokens(self):
        for token in ('', 'wst_', 'wst_abc', 'wst_a.!!!.c',
                      fake_token(b'not json'), fake_token(b'[1, 2]'),
                      fake_token(b'\xff\xfe'), fake_token(b'[' * 100000)):
            error = self.assertRaises(ValueError, tokens.unverified_claims,
                                      token)
            self.assertEqual('The token cannot be decoded', str(error))

    def test_secret_prefixes(self):
        self.assertEqual(('wst_', 'ntu_', 'nts_'), tokens.SECRET_PREFIXES)


class TestNames(testtools.TestCase):

    def test_valid(self):
        for name in ('abc', 'a-1', 'a' * 32, 'default'):
            self.assertTrue(names.is_valid_name(name), name)

    def test_invalid(self):
        for name in ('ab', 'a' * 33, '1abc', '-abc', 'Abc', 'ab_c',
                     'abc\n', 'ab c', 'abç', '', None, 123, b'abc'):
            self.assertFalse(names.is_valid_name(name), repr(name))


class TestLifetimes(testtools.TestCase):

    def test_default_is_one_year(self):
        self.assertEqual(31536000, lifetimes.DEFAULT_LIFETIME)

    def test_max_covers_any_ten_calendar_years_and_no_more(self):
        longest = 0
        for year in range(1990, 2110):
            for month, day in ((1, 1), (2, 28), (3, 1), (12, 31)):
                start = datetime.date(year, month, day)
                end = datetime.date(year + 10, month, day)
                longest = max(longest, (end - start).days * lifetimes.DAY)
        self.assertEqual(3653 * lifetimes.DAY, longest)
        self.assertLessEqual(longest, lifetimes.MAX_LIFETIME)
        self.assertLess(lifetimes.MAX_LIFETIME, 11 * lifetimes.YEAR)
