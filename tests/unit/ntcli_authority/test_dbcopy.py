"""Tests of ntcli_authority.dbcopy between SQLite files (PostgreSQL as the
target is tested end to end in tests.functional.test_db_copy)."""

from __future__ import annotations

import os

import fixtures
import testtools

from ntcli_authority import dbcopy, errors, oidc
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority

OWNER = Principal.local()  # the local owner may do everything


class TestCopy(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.source = os.path.join(self.dir, 'one-node.db')
        with Authority.open(self.source) as authority:
            user = authority.create_user(OWNER, 'alice')
            ws = authority.create_workspace(OWNER, 'main', owner=user.user.id)
            self.tokens = [authority.issue(OWNER, ws.id, expires_in=3600)
                           for _ in range(3)]
            authority.revoke(OWNER, ws.id, self.tokens[0].jti)
            authority.issue(OWNER, ws.id, expires_in=60, idempotency_key='k')
            self.policy = authority.create_trust_policy(
                OWNER, ws.id, 'deploy',
                issuer='https://token.actions.githubusercontent.com',
                conditions={'repository': 'acme/app'})
            authority.link_identity(OWNER, 'alice', 'https://idp.example',
                                    'a-1')
            self.session = authority.sign_in(oidc.VerifiedToken(
                issuer='https://idp.example', subject='a-1', claims={},
                expires_at=0, issued_at=0))
            self.events = authority.store.list_events()

    def test_everything_is_copied_and_checked(self):
        target = os.path.join(self.dir, 'copy.db')
        report = dbcopy.copy_database(self.source, target)
        self.assertEqual({'users': 1, 'workspaces': 1, 'signing_keys': 1,
                          'tokens': 4, 'idempotency_keys': 1,
                          'audit_events': len(self.events),
                          'trust_policies': 1,
                          'exchanged_subject_tokens': 0,
                          'identities': 1, 'sessions': 1}, report.counts)
        self.assertEqual((3, 3), (report.live_tokens, report.validated))
        with Authority.open(target, create=False) as copy:
            for issued in self.tokens[1:]:
                self.assertEqual(issued.jti, copy.validate(issued.token).jti)
            self.assertRaises(errors.TokenRevoked, copy.validate,
                              self.tokens[0].token)
            self.assertEqual([self.policy],
                             copy.store.list_trust_policies())
            self.assertEqual('alice',
                             copy.authenticate(self.session.token).user_name)
            self.assertEqual([e.replace(id=None) for e in self.events],
                             [e.replace(id=None)
                              for e in copy.store.list_events()])

    def test_a_non_empty_target_is_refused_unless_replaced(self):
        target = os.path.join(self.dir, 'copy.db')
        dbcopy.copy_database(self.source, target)
        with Authority.open(target) as copy:
            copy.create_user(OWNER, 'bob')
        error = self.assertRaises(errors.DatabaseNotEmpty,
                                  dbcopy.copy_database, self.source, target)
        self.assertEqual(2, error.details['users'])
        report = dbcopy.copy_database(self.source, target, replace=True)
        self.assertEqual(1, report.counts['users'])

    def test_a_copy_that_does_not_validate_is_reported(self):
        target = os.path.join(self.dir, 'copy.db')
        original = dbcopy._validate_sample

        def tampered(tokens, src, dst, size):
            # the copy differs from its source: a live token is revoked
            live = [t for t in tokens if t['revoked_at'] is None]
            for token in live:
                dst.revoke_token(token['workspace_id'], token['jti'], 1)
            return original(tokens, src, dst, size)
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.dbcopy._validate_sample', tampered))
        error = self.assertRaises(dbcopy.VerificationFailed,
                                  dbcopy.copy_database, self.source, target,
                                  sample=10)
        self.assertIn('does not validate on the copy', error.message)

    def test_the_same_database_is_refused(self):
        self.assertRaises(errors.InvalidRequest, dbcopy.copy_database,
                          self.source, self.source)

    def test_a_missing_source_creates_nothing(self):
        from ntcli_authority.errors import DatabaseMissing
        target = os.path.join(self.dir, 'copy.db')
        self.assertRaises(DatabaseMissing, dbcopy.copy_database,
                          self.source + '.nope', target)
        self.assertFalse(os.path.exists(target))
        self.assertFalse(os.path.exists(self.source + '.nope'))
