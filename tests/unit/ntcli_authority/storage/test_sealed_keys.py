"""Tests of private signing keys at rest: signing.seal and unseal under
the node secret (NTCLI_SERVER_SECRET)."""

from __future__ import annotations

import sqlite3

import fixtures
import testtools

from ntcli_authority import errors, signing
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from tests import postgres as pg_fixture
from tests.unit.ntcli_authority import base

OWNER = Principal.local()  # the local owner may do everything

OLD = pg_fixture.TEST_SERVER_SECRET
NEW = 'bmV3LW50Y2xpLXRlc3Qtc2VjcmV0LW5vdC1yZWFsISE='
PEM = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n'


class TestSeal(testtools.TestCase):

    def secret(self, value):
        self.useFixture(fixtures.EnvironmentVariable(signing.SECRET_ENV,
                                                     value))

    def test_plain_without_secret(self):
        self.secret(None)
        self.assertFalse(signing.has_secret())
        self.assertEqual('plain:' + PEM, signing.seal(PEM))
        self.assertEqual(PEM, signing.unseal(signing.seal(PEM)))
        signing.check_secret()

    def test_encrypted_with_secret(self):
        self.secret(OLD)
        self.assertTrue(signing.has_secret())
        sealed = signing.seal(PEM)
        self.assertTrue(sealed.startswith('fernet:'))
        self.assertNotIn('PRIVATE', sealed)
        self.assertNotEqual(sealed, signing.seal(PEM))   # random IV
        self.assertEqual(PEM, signing.unseal(sealed))
        # Plain values (a single-node store moved over) still unseal.
        self.assertEqual(PEM, signing.unseal('plain:' + PEM))

    def test_rotation_first_seals_all_unseal(self):
        self.secret(OLD)
        old = signing.seal(PEM)
        self.secret(f'{NEW}, {OLD}')
        new = signing.seal(PEM)
        self.assertEqual(PEM, signing.unseal(old))
        self.assertEqual(PEM, signing.unseal(new))
        self.secret(NEW)
        self.assertEqual(PEM, signing.unseal(new))
        self.assertRaises(errors.StorageUnavailable, signing.unseal, old)

    def test_unknown_secret(self):
        self.secret(OLD)
        sealed = signing.seal(PEM)
        self.secret(NEW)
        error = self.assertRaises(errors.StorageUnavailable, signing.unseal,
                                  sealed)
        self.assertIn('NTCLI_SERVER_SECRET', str(error))
        self.assertNotIn(NEW, str(error))
        self.assertRaises(errors.StorageUnavailable, signing.unseal,
                          'fernet:garbage')

    def test_encrypted_but_no_secret(self):
        self.secret(OLD)
        sealed = signing.seal(PEM)
        self.secret(None)
        error = self.assertRaises(errors.StorageUnavailable, signing.unseal,
                                  sealed)
        self.assertIn('NTCLI_SERVER_SECRET is not set', str(error))

    def test_malformed_secret(self):
        for value in ('short', 'x' * 44, f'{OLD},nope'):
            self.secret(value)
            for call in (signing.check_secret, lambda: signing.seal(PEM)):
                error = self.assertRaises(errors.StorageUnavailable, call)
                self.assertIn('NTCLI_SERVER_SECRET is not valid', str(error))
                self.assertNotIn(value, str(error))

    def test_required(self):
        self.secret(None)
        error = self.assertRaises(errors.StorageUnavailable,
                                  signing.check_secret, required=True)
        self.assertIn('NTCLI_SERVER_SECRET', str(error))
        self.secret(' , ')
        self.assertRaises(errors.StorageUnavailable, signing.check_secret,
                          required=True)
        self.secret(OLD)
        signing.check_secret(required=True)


class TestSQLiteWithSecret(testtools.TestCase):
    """A single node may encrypt its keys too, by setting the secret."""

    def test_keys_encrypted_in_the_file(self):
        self.useFixture(fixtures.EnvironmentVariable(signing.SECRET_ENV,
                                                     OLD))
        fx = self.useFixture(base.AuthorityFixture())
        ws = fx.authority.create_workspace(OWNER, 'alpha')
        issued = fx.authority.issue(OWNER, ws.id)
        conn = sqlite3.connect(fx.path)
        self.addCleanup(conn.close)
        [(sealed,)] = conn.execute(
            'SELECT private_key FROM signing_keys').fetchall()
        self.assertTrue(sealed.startswith('fernet:'))
        other = Authority.open(fx.path, clock=fx.clock)
        self.addCleanup(other.close)
        other.validate(issued.token)
        self.assertEqual(issued.kid, other.issue(OWNER, ws.id).kid)
