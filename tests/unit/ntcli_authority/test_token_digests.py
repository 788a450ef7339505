"""Tests of token digests: a token the authority issued is validated by
the keyed digest stored in its row, without an Ed25519 verification, and
by its signature when its row has no digest (see Tokens.validate)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import fixtures
import testtools

from ntcli_authority import dbcopy, errors, jws, signing
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_authority.models import TokenRow
from ntcli_authority.storage import open_store
from ntcli_authority.storage import schema as store_schema
from tests import postgres as pg_fixture
from tests.unit.ntcli_authority import base
from tests.unit.ntcli_authority.reference_jws import PyJWT
from tests.unit.ntcli_authority.storage import test_postgres
from tests.unit.ntcli_authority.storage.bulk import (
    insert_tokens_before_digests,
)

OWNER = Principal.local()  # the local owner may do everything
DAY = 86400
#: Every character a token segment may hold (base64url).
ALPHABET = ('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
            '0123456789-_')


def SignatureChecks() -> base.Calls:
    """Counts the Ed25519 verifications of tokens (jws.verified_claims)."""
    return base.Calls('ntcli_authority.jws.verified_claims')


def changed(token: str, index: int) -> str:
    """``token`` with the character at ``index`` replaced by another of
    its segment's alphabet."""
    old = token[index]
    new = ALPHABET[(ALPHABET.index(old) + 1) % len(ALPHABET)]
    return token[:index] + new + token[index + 1:]


def other_signature(token: str) -> str:
    """``token`` with a signature of the same claims by another key (whose
    header names the authority's key): a canonical, well-formed forgery."""
    stranger = signing.load_private_key(signing.generate_signing_key(0))
    header, claims, _ = base.split(token)
    forged = jws.sign(claims, header['kid'], stranger)
    return 'wst_' + forged


class DigestTests:
    """Token digests on one kind of store; mixed into a TestCase that
    provides ``open_authority()`` (another process on the same database
    each time) and ``sql(statement, *params)`` on that database."""

    def open_authority(self) -> Authority:
        raise NotImplementedError

    def sql(self, statement: str, *params: object) -> list[tuple]:
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.authority = self.open_authority()
        self.ws = self.authority.create_workspace(OWNER, 'alpha')
        self.issued = self.authority.issue(OWNER, self.ws.id,
                                           expires_in=DAY)
        self.checks = self.useFixture(SignatureChecks())

    def digest_of(self, jti: str) -> str | None:
        return self.sql('SELECT digest FROM tokens WHERE jti = %s', jti)[0][0]

    def drop_digest(self, jti: str) -> None:
        self.sql('UPDATE tokens SET digest = NULL WHERE jti = %s', jti)

    def assertRefused(self, authority: Authority, token: str,
                      message: str = jws.BAD_SIGNATURE) -> None:
        error = self.assertRaises(errors.TokenInvalid, authority.validate,
                                  token)
        self.assertEqual(message, error.message)
        self.assertNotIn(token[4:], str(error))

    def test_an_issued_token_is_stored_with_its_digest(self):
        key = self.authority.keys.private_key(self.issued.kid)
        self.assertEqual(
            signing.token_digest(signing.digest_key_of(key),
                                 self.issued.token),
            self.digest_of(self.issued.jti))
        # a secret-derived value, kept out of what the authority tells
        info = self.authority.get_token(OWNER, self.ws.id, self.issued.jti)
        self.assertNotIn('digest', info.as_dict())
        row = self.authority.store.get_token(self.issued.jti)
        self.assertNotIn(row.digest, repr(row))

    def test_it_validates_without_a_signature_check(self):
        for authority in (self.authority, self.open_authority()):
            self.assertEqual(self.issued.jti,
                             authority.validate(self.issued.token).jti)
        self.assertEqual(0, self.checks.calls)

    def test_a_replay_hands_out_the_token_of_the_stored_digest(self):
        first = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                     idempotency_key='k-1')
        digest = self.digest_of(first.jti)
        again = self.open_authority().issue(OWNER, self.ws.id,
                                            expires_in=DAY,
                                            idempotency_key='k-1')
        self.assertEqual((first.token, True), (again.token, again.replayed))
        self.assertEqual(digest, self.digest_of(first.jti))
        self.open_authority().validate(again.token)
        self.assertEqual(0, self.checks.calls)

    def test_any_one_character_changed_is_refused(self):
        token = self.issued.token
        fresh = self.open_authority()
        accepted = []
        for index in range(len('wst_'), len(token)):
            if token[index] != '.':
                try:
                    fresh.validate(changed(token, index))
                    accepted.append(index)
                except errors.TokenInvalid:
                    pass
        self.assertEqual([], accepted)
        # those the digest refused say what a bad signature says
        signature = token.rindex('.') + 1
        self.assertRefused(fresh, changed(token, signature))
        self.assertRefused(fresh, changed(token, len(token) - 2))
        fresh.validate(token)

    def test_a_forgery_of_a_real_token_is_refused(self):
        forged = other_signature(self.issued.token)
        self.assertNotEqual(self.issued.token, forged)
        self.assertRefused(self.open_authority(), forged)
        self.assertEqual(0, self.checks.calls)    # the digest decided
        self.drop_digest(self.issued.jti)
        self.assertRefused(self.open_authority(), forged)
        self.assertEqual(1, self.checks.calls)    # the signature did

    def test_a_row_without_digest_is_checked_by_signature(self):
        # a token issued before digests
        self.drop_digest(self.issued.jti)
        fresh = self.open_authority()
        self.assertEqual(self.issued.jti,
                         fresh.validate(self.issued.token).jti)
        self.assertEqual(1, self.checks.calls)
        self.assertRefused(fresh, changed(self.issued.token,
                                          len(self.issued.token) - 2))
        self.assertRefused(fresh, base.forge(
            *base.split(self.issued.token)[:2],
            base.split(other_signature(self.issued.token))[2]))

    def test_a_key_whose_private_part_is_gone_is_checked_by_signature(self):
        # as after a retirement: the public key still verifies
        self.sql('UPDATE signing_keys SET private_key = NULL WHERE kid = %s',
                 self.issued.kid)
        fresh = self.open_authority()
        self.assertEqual(self.issued.jti,
                         fresh.validate(self.issued.token).jti)
        self.assertEqual(1, self.checks.calls)
        self.assertRefused(fresh, other_signature(self.issued.token))

    def test_a_retired_key_follows_the_rules_it_followed(self):
        self.authority.rotate_signing_key(OWNER)
        self.authority.revoke(OWNER, self.ws.id, self.issued.jti)
        self.assertEqual([self.issued.kid],
                         self.authority.retire_signing_keys(OWNER))
        for authority in (self.authority, self.open_authority()):
            self.assertRaises(errors.TokenRevoked, authority.validate,
                              self.issued.token)
            self.assertRefused(authority, other_signature(self.issued.token))

    def test_a_changed_row_is_not_valid(self):
        # a digest that matches vouches for the string, the row still
        # has to hold the token's claims
        self.sql('UPDATE tokens SET scope = %s WHERE jti = %s',
                 'tokens:write', self.issued.jti)
        self.assertRefused(self.open_authority(), self.issued.token,
                           'The token is not known to this authority')

    def test_pyjwt_verifies_issued_tokens(self):
        public = self.authority.keys.public_key(self.issued.kid)
        with PyJWT():
            kid, claims = signing.decode_token(
                self.issued.token, self.authority.keys.public_key)
            self.assertEqual((self.issued.kid, self.issued.jti),
                             (kid, claims['jti']))
            self.assertRaises(errors.TokenInvalid, jws.verified_claims,
                              other_signature(self.issued.token)[4:],
                              public)


class TestSQLite(DigestTests, testtools.TestCase):

    def open_authority(self) -> Authority:
        if not hasattr(self, 'path'):
            self.path = os.path.join(
                self.useFixture(fixtures.TempDir()).path, 'a.db')
        authority = Authority.open(self.path)
        self.addCleanup(authority.close)
        return authority

    def sql(self, statement: str, *params: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            rows = conn.execute(statement.replace('%s', '?'),
                                params).fetchall()
            conn.commit()
        return rows


class TestPostgres(DigestTests, test_postgres.PostgresTestCase):
    """On PostgreSQL, where the private keys are sealed with the node
    secret."""

    def open_authority(self) -> Authority:
        authority = Authority.open(self.dsn)
        self.addCleanup(authority.close)
        return authority

    def sql(self, statement: str, *params: object) -> list[tuple]:
        cursor = self.raw().execute(statement, params)
        return cursor.fetchall() if cursor.description else []

    def test_the_private_keys_are_sealed(self):
        self.assertTrue(all(
            row[0].startswith('fernet:')
            for row in self.sql('SELECT private_key FROM signing_keys')))


class UpgradeTests:
    """A database of schema version 8 (before digests), upgraded: its
    tokens validate by their signature, new ones by their digest."""

    def open_store_at(self):
        """A new store on the test's database."""
        raise NotImplementedError

    def test_tokens_of_the_previous_version_still_validate(self):
        before = fixtures.MonkeyPatch(
            'ntcli_authority.storage.schema.MIGRATIONS',
            store_schema.MIGRATIONS[:8])
        with before, Authority(self.open_store_at(),
                               clock=base.FakeClock()) as old:
            self.assertEqual(8, old.store.schema_version())
            ws = old.create_workspace(OWNER, 'alpha')
            key, private = old.keys.primary()
            records = [TokenRow(jti=f'jti_{i:032x}', workspace_id=ws.id,
                                created_at=base.START,
                                expires_at=base.START + DAY, kid=key.kid)
                       for i in range(2)]
            insert_tokens_before_digests(old.store, records)
            tokens = [signing.encode_token(r, private) for r in records]
        checks = self.useFixture(SignatureChecks())
        with Authority(self.open_store_at(), clock=base.FakeClock()) as new:
            self.assertEqual(store_schema.SCHEMA_VERSION,
                             new.store.schema_version())
            self.assertEqual([None, None], [new.store.get_token(r.jti).digest
                                            for r in records])
            for record, token in zip(records, tokens, strict=True):
                self.assertEqual(record.jti, new.validate(token).jti)
            self.assertEqual(2, checks.calls)
            self.assertRaises(errors.TokenInvalid, new.validate,
                              other_signature(tokens[0]))
            issued = new.issue(OWNER, ws.id, expires_in=DAY)
            self.assertIsNotNone(new.store.get_token(issued.jti).digest)
            calls = checks.calls
            new.validate(issued.token)
            self.assertEqual(calls, checks.calls)


class TestSQLiteUpgrade(UpgradeTests, testtools.TestCase):

    def open_store_at(self):
        if not hasattr(self, 'path'):
            self.path = os.path.join(
                self.useFixture(fixtures.TempDir()).path, 'v8.db')
        return open_store(self.path)


class TestPostgresUpgrade(UpgradeTests, test_postgres.PostgresTestCase):

    def open_store_at(self):
        return open_store(self.dsn)


class TestCopyToPostgres(test_postgres.PostgresTestCase):
    """``db copy`` from a single node's SQLite file to PostgreSQL keeps
    every digest, which validates on the copy (its keys re-sealed)."""

    def test_digests_are_copied(self):
        source = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'one-node.db')
        # a single node's file: its keys are not sealed
        with fixtures.EnvironmentVariable(signing.SECRET_ENV), \
                Authority.open(source) as authority:
            ws = authority.create_workspace(OWNER, 'alpha')
            issued = [authority.issue(OWNER, ws.id, expires_in=DAY)
                      for _ in range(3)]
            digests = {t.jti: authority.store.get_token(t.jti).digest
                       for t in issued}
        self.assertEqual(pg_fixture.TEST_SERVER_SECRET,
                         os.environ[signing.SECRET_ENV])
        report = dbcopy.copy_database(source, self.dsn)
        self.assertEqual(3, report.validated)
        checks = self.useFixture(SignatureChecks())
        with Authority.open(self.dsn, create=False) as copy:
            self.assertEqual(digests, {
                t.jti: copy.store.get_token(t.jti).digest for t in issued})
            for token in issued:
                self.assertEqual(token.jti, copy.validate(token.token).jti)
        self.assertEqual(0, checks.calls)
