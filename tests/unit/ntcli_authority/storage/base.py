"""Behaviour every TokenStore must show, run against each backend.

A backend's test case mixes :class:`StoreTests` in and provides
``open_store()`` (a new store object on the test's database: another
process, or another server node) and ``integrity_error`` (the driver's
exception for a duplicate primary key, which stores let through).
"""

from __future__ import annotations

from ntcli_authority import errors, models
from ntcli_authority.models import (
    AuditEvent,
    SigningKey,
    TokenRow,
    TrustPolicy,
    User,
    Workspace,
)
from ntcli_authority.storage.store import TokenStore
from ntcli_authority.storage.workspaces import ALL_OWNERS
from tests.unit.ntcli_authority import base
from tests.unit.ntcli_authority.storage.bulk import insert_tokens

WS = 'ws-1'
NOW = base.START


def signing_key(kid: str, created_at: int = base.START) -> SigningKey:
    return SigningKey(kid=kid, public_key='pub-' + kid,
                      created_at=created_at, private_key='plain:x')


def event(action: str = models.AUDIT_TOKEN_ISSUE, at: int = NOW,
          **fields) -> AuditEvent:
    return AuditEvent(at=at, action=action, outcome=models.OUTCOME_SUCCESS,
                      actor='user-1', **fields)


def policy(policy_id: str = 'tp_1', name: str = 'deploy',
           workspace_id: str = WS, **changes) -> TrustPolicy:
    values = dict(id=policy_id, workspace_id=workspace_id, name=name,
                  issuer='https://issuer.example',
                  conditions=(('ref', 'refs/heads/*'),
                              ('repository', 'acme/app')),
                  scope='servers:read', max_lifetime=3600, created_at=NOW,
                  created_by='user-1')
    values.update(changes)
    return TrustPolicy(**values)


def token(jti: str, workspace_id: str = WS, created_at: int = NOW,
          **changes) -> TokenRow:
    values = dict(jti=jti, workspace_id=workspace_id, created_at=created_at,
                  expires_at=None, kid='k')
    values.update(changes)
    return TokenRow(**values)


class StoreTests:
    """The TokenStore contract; mixed into a testtools.TestCase."""

    integrity_error: type = Exception
    schema_version: int = 0

    def open_store(self) -> TokenStore:
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.store = self.open_store()
        self.addCleanup(self.store.close)

    def add_workspace(self, workspace_id: str = WS, name: str = 'alpha',
                      owner: str | None = None) -> Workspace:
        workspace = Workspace(workspace_id, name, NOW, owner=owner)
        self.store.create_workspace(workspace)
        return workspace

    # -- schema -----------------------------------------------------------
    def test_schema_version(self):
        self.assertEqual(self.schema_version, self.store.schema_version())

    # -- signing keys -----------------------------------------------------
    def test_ensure_primary_keeps_first(self):
        first = self.store.ensure_primary_signing_key(signing_key('a'))
        second = self.store.ensure_primary_signing_key(signing_key('b'))
        self.assertEqual('a', first.kid)
        self.assertTrue(first.is_primary)
        self.assertEqual('a', second.kid)
        self.assertEqual(['a'],
                         [k.kid for k in self.store.list_signing_keys()])

    def test_add_primary_demotes_previous(self):
        self.assertIsNone(self.store.get_primary_signing_key())
        self.store.ensure_primary_signing_key(signing_key('a'))
        self.store.add_primary_signing_key(signing_key('b', base.START + 1))
        self.assertEqual('b', self.store.get_primary_signing_key().kid)
        old = self.store.get_signing_key('a')
        self.assertFalse(old.is_primary)
        self.assertEqual('plain:x', old.private_key)
        self.assertEqual('pub-a', old.public_key)
        self.assertEqual([('a', False), ('b', True)],
                         [(k.kid, k.is_primary)
                          for k in self.store.list_signing_keys()])
        self.assertIsNone(self.store.get_signing_key('nope'))

    def test_new_tokens_only_of_the_primary(self):
        from ntcli_authority.storage.queries import PrimaryKeyChanged
        self.add_workspace()
        self.store.ensure_primary_signing_key(signing_key('a'))
        self.store.add_token(token('jti_1', kid='a'), 'key-1')
        self.store.add_primary_signing_key(signing_key('b', base.START + 1))
        self.assertRaises(PrimaryKeyChanged, self.store.add_token,
                          token('jti_2', kid='a'), 'key-2')
        self.assertIsNone(self.store.get_token('jti_2'))
        # A replay stores nothing new: it names the key that signed it.
        stored, replayed = self.store.add_token(token('jti_3', kid='b'),
                                                'key-1')
        self.assertEqual(('jti_1', 'a', True),
                         (stored.jti, stored.kid, replayed))
        self.store.add_token(token('jti_4', kid='b'), 'key-4')
        self.assertEqual('b', self.store.get_token('jti_4').kid)

    def test_retire_unused_signing_keys(self):
        self.add_workspace()
        self.store.ensure_primary_signing_key(signing_key('old'))
        insert_tokens(self.store, [
            token('jti_live', kid='old', expires_at=NOW + 10),
            token('jti_gone', kid='older', revoked_at=NOW)])
        self.store.add_primary_signing_key(signing_key('older', NOW - 1))
        self.store.add_primary_signing_key(signing_key('new', NOW + 1))
        # 'older' signed only a revoked token; 'old' a live one.
        self.assertEqual(['older'],
                         self.store.retire_unused_signing_keys(NOW))
        retired = self.store.get_signing_key('older')
        self.assertIsNone(retired.private_key)
        self.assertEqual(NOW, retired.retired_at)
        self.assertEqual('pub-older', retired.public_key)
        self.assertEqual(['old'],
                         self.store.retire_unused_signing_keys(NOW + 10))
        self.assertEqual([], self.store.retire_unused_signing_keys(NOW + 99))
        self.assertEqual('plain:x',
                         self.store.get_signing_key('new').private_key)

    # -- workspaces -------------------------------------------------------
    def test_workspaces(self):
        ws = Workspace('ws-1', 'alpha', NOW, description='first', owner='u')
        self.store.create_workspace(ws)
        self.assertEqual(ws, self.store.get_workspace('ws-1'))
        self.assertEqual(ws, self.store.get_workspace_by_name('alpha'))
        self.assertIsNone(self.store.get_workspace('alpha'))
        self.assertIsNone(self.store.get_workspace_by_name('beta'))
        error = self.assertRaises(errors.WorkspaceExists,
                                  self.store.create_workspace,
                                  Workspace('ws-2', 'alpha', NOW))
        self.assertEqual({'workspace_name': 'alpha'}, error.details)
        self.assertIsNone(self.store.get_workspace('ws-2'))

    def test_list_workspaces_by_owner(self):
        self.store.create_workspace(Workspace('1', 'bbb', 1, owner='u'))
        self.store.create_workspace(Workspace('2', 'aaa', 1))
        self.assertEqual(['aaa', 'bbb'], [w.name for w in
                                          self.store.list_workspaces()])
        self.assertEqual(['aaa', 'bbb'], [w.name for w in self.store
                                          .list_workspaces(ALL_OWNERS)])
        self.assertEqual(['bbb'], [w.name for w in
                                   self.store.list_workspaces('u')])
        self.assertEqual(['aaa'], [w.name for w in
                                   self.store.list_workspaces(None)])

    def test_names_sort_bytewise(self):
        for i, name in enumerate(['b-b', 'bb', 'a-z', 'ab1', 'ab']):
            self.store.create_workspace(Workspace(str(i), name, 1))
        self.assertEqual(['a-z', 'ab', 'ab1', 'b-b', 'bb'],
                         [w.name for w in self.store.list_workspaces()])

    def test_delete_workspace(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        insert_tokens(self.store, [token('jti_a'), token('jti_b'),
                               token('jti_old', revoked_at=NOW - 5),
                               token('jti_other', 'ws-2')])
        self.store.add_token(token('jti_c'), 'key-1')
        self.assertEqual(3, self.store.delete_workspace(WS, NOW + 1))
        self.assertIsNone(self.store.get_workspace(WS))
        # Token rows stay, revoked; an earlier revocation keeps its time.
        self.assertEqual(NOW + 1, self.store.get_token('jti_a').revoked_at)
        self.assertEqual(NOW - 5, self.store.get_token('jti_old').revoked_at)
        self.assertIsNone(self.store.get_token('jti_other').revoked_at)
        self.assertRaises(errors.WorkspaceNotFound,
                          self.store.delete_workspace, WS, NOW + 2)
        # The idempotency key went with it: a new workspace with the same
        # id (not that ids are reused) replays nothing.
        self.add_workspace(name='alpha-again')
        _, replayed = self.store.add_token(token('jti_d'), 'key-1')
        self.assertFalse(replayed)

    # -- tokens -----------------------------------------------------------
    def test_add_and_get_token(self):
        self.add_workspace()
        record = token('jti_a', expires_at=NOW + 60, scope='read',
                       description='CI', kid='kid-1')
        self.assertEqual((record, False), self.store.add_token(record))
        self.assertEqual(record, self.store.get_token('jti_a'))
        self.assertIsNone(self.store.get_token('jti_b'))

    def test_add_token_unknown_workspace(self):
        self.assertRaises(errors.WorkspaceNotFound, self.store.add_token,
                          token('jti_a'))
        self.assertRaises(errors.WorkspaceNotFound, self.store.add_token,
                          token('jti_a'), 'key')
        self.assertIsNone(self.store.get_token('jti_a'))

    def test_duplicate_jti(self):
        self.add_workspace()
        self.store.add_token(token('jti_a'))
        self.assertRaises(self.integrity_error, self.store.add_token,
                          token('jti_a', description='again'))
        self.assertIsNone(self.store.get_token('jti_a').description)

    def test_failed_transaction_leaves_nothing(self):
        ws = Workspace('1', 'aaa', 1)
        self.store.create_workspace(ws)
        records = [TokenRow('jti_a', '1', 1, None, 'k'),
                   TokenRow('jti_a', '1', 1, None, 'k')]
        self.assertRaises(self.integrity_error, insert_tokens, self.store,
                          records)
        self.assertIsNone(self.store.get_token('jti_a'))

    def test_idempotency_key(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        first, replayed = self.store.add_token(token('jti_a'), 'k',
                                               idempotency_since=NOW - 10)
        self.assertFalse(replayed)
        again, replayed = self.store.add_token(
            token('jti_b', created_at=NOW + 5), 'k',
            idempotency_since=NOW - 5)
        self.assertTrue(replayed)
        self.assertEqual(first, again)
        self.assertIsNone(self.store.get_token('jti_b'))
        # Another workspace, another key: independent.
        self.assertFalse(self.store.add_token(token('jti_c', 'ws-2'), 'k')[1])
        self.assertFalse(self.store.add_token(token('jti_d'), 'k2')[1])
        # Once stale, the key is taken over by the next issuance...
        later, replayed = self.store.add_token(
            token('jti_e', created_at=NOW + 100), 'k',
            idempotency_since=NOW + 1)
        self.assertFalse(replayed)
        self.assertEqual('jti_e', later.jti)
        # ...which is replayed from then on.
        replay, replayed = self.store.add_token(
            token('jti_f', created_at=NOW + 101), 'k',
            idempotency_since=NOW + 1)
        self.assertEqual(('jti_e', True), (replay.jti, replayed))

    def test_purge_idempotency_keys(self):
        self.add_workspace()
        self.store.add_token(token('jti_a', created_at=NOW), 'old')
        self.store.add_token(token('jti_b', created_at=NOW + 10), 'new')
        self.assertEqual(1, self.store.purge_idempotency_keys(NOW + 10))
        self.assertEqual(0, self.store.purge_idempotency_keys(NOW + 10))
        self.assertFalse(self.store.add_token(token('jti_c'), 'old')[1])
        self.assertTrue(self.store.add_token(token('jti_d'), 'new')[1])

    def test_list_tokens(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        insert_tokens(self.store, [
            token('jti_active'), token('jti_forever', expires_at=None),
            token('jti_expired', expires_at=NOW + 5),
            token('jti_revoked', revoked_at=NOW + 1),
            token('jti_both', expires_at=NOW + 5, revoked_at=NOW + 1),
            token('jti_other', 'ws-2')])

        def jtis(**kwargs):
            return {r.jti for r in self.store.list_tokens(WS, now=NOW + 5,
                                                          **kwargs)}

        active = {'jti_active', 'jti_forever'}
        self.assertEqual(active, jtis())
        self.assertEqual(active | {'jti_expired'},
                         jtis(include_expired=True))
        self.assertEqual(active | {'jti_revoked', 'jti_both'},
                         jtis(include_revoked=True))
        self.assertEqual(5, len(jtis(include_expired=True,
                                     include_revoked=True)))
        self.assertEqual([], self.store.list_tokens('ws-3', now=NOW))

    def test_list_tokens_pages_in_created_then_jti_order(self):
        self.add_workspace()
        # Ties on created_at, and JTIs whose order depends on byte-wise
        # comparison (upper case sorts before lower case).
        records = [token(jti, created_at=created)
                   for jti, created in [('jti_b', NOW), ('jti_B', NOW),
                                        ('jti_a', NOW), ('jti_0', NOW + 1),
                                        ('jti_Z', NOW + 1), ('jti_z', NOW)]]
        insert_tokens(self.store, records)
        expected = ['jti_B', 'jti_a', 'jti_b', 'jti_z', 'jti_0', 'jti_Z']
        listed = self.store.list_tokens(WS, now=NOW, limit=100)
        self.assertEqual(expected, [r.jti for r in listed])
        seen, after = [], None
        while True:
            page = self.store.list_tokens(WS, now=NOW, after=after, limit=2)
            if not page:
                break
            self.assertLessEqual(len(page), 2)
            seen.extend(r.jti for r in page)
            after = (page[-1].created_at, page[-1].jti)
        self.assertEqual(expected, seen)

    def test_revoke_token(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        insert_tokens(self.store, [token('jti_a'), token('jti_other', 'ws-2')])
        record, already = self.store.revoke_token(WS, 'jti_a', NOW + 1)
        self.assertFalse(already)
        self.assertEqual(NOW + 1, record.revoked_at)
        self.assertEqual('jti_a', record.jti)
        record, already = self.store.revoke_token(WS, 'jti_a', NOW + 9)
        self.assertTrue(already)
        self.assertEqual(NOW + 1, record.revoked_at)
        self.assertEqual(NOW + 1, self.store.get_token('jti_a').revoked_at)
        for jti in ('jti_none', 'jti_other'):
            error = self.assertRaises(errors.TokenNotFound,
                                      self.store.revoke_token, WS, jti, NOW)
            self.assertEqual({'jti': jti}, error.details)
        self.assertIsNone(self.store.get_token('jti_other').revoked_at)
        self.assertRaises(errors.WorkspaceNotFound, self.store.revoke_token,
                          'ws-9', 'jti_a', NOW)

    # -- users ------------------------------------------------------------
    def test_revoke_at_a_later_time(self):
        self.add_workspace()
        insert_tokens(self.store, [token('jti_a', expires_at=NOW + 99),
                               token('jti_b')])
        record, already = self.store.revoke_token(WS, 'jti_a', NOW,
                                                  at=NOW + 50)
        self.assertFalse(already)
        self.assertEqual(NOW + 50, record.retires_at)
        self.assertIsNone(record.revoked_at)
        # retiring: still active until then, revoked from then on
        self.assertEqual(['jti_a', 'jti_b'], [
            r.jti for r in self.store.list_tokens(WS, now=NOW + 49)])
        self.assertEqual(['jti_b'], [
            r.jti for r in self.store.list_tokens(WS, now=NOW + 50)])
        self.assertEqual(['jti_a', 'jti_b'], [
            r.jti for r in self.store.list_tokens(WS, now=NOW + 50,
                                                  include_revoked=True)])
        # never later, sooner is a change, now ends it
        self.assertTrue(self.store.revoke_token(WS, 'jti_a', NOW,
                                                at=NOW + 60)[1])
        self.assertFalse(self.store.revoke_token(WS, 'jti_a', NOW,
                                                 at=NOW + 40)[1])
        record, already = self.store.revoke_token(WS, 'jti_a', NOW + 1)
        self.assertFalse(already)
        self.assertEqual(NOW + 1, record.revoked_at)
        self.assertEqual(NOW + 40, record.retires_at)
        self.assertEqual(NOW + 1, record.revocation)
        # past its grace, a token is revoked: nothing left to change
        insert_tokens(self.store, [token('jti_c')])
        self.store.revoke_token(WS, 'jti_c', NOW, at=NOW + 5)
        self.assertTrue(self.store.revoke_token(WS, 'jti_c', NOW + 5)[1])
        self.assertIsNone(self.store.get_token('jti_c').revoked_at)
        # deleting the workspace ends a grace too
        self.store.revoke_token(WS, 'jti_b', NOW, at=NOW + 50)
        self.assertEqual(2, self.store.delete_workspace(WS, NOW + 2))
        self.assertEqual(NOW + 2, self.store.get_token('jti_b').revoked_at)

    def test_expiring_tokens(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        insert_tokens(self.store, [
            token('jti_10', expires_at=NOW + 10),
            token('jti_20', 'ws-2', expires_at=NOW + 20),
            token('jti_30', expires_at=NOW + 30, retires_at=NOW + 25),
            token('jti_gone', expires_at=NOW + 15, revoked_at=NOW - 1),
            token('jti_over', expires_at=NOW + 15, retires_at=NOW),
            token('jti_past', expires_at=NOW),
            token('jti_never', retires_at=NOW + 5)])
        self.assertEqual(['jti_10', 'jti_20', 'jti_30'], [
            r.jti for r in self.store.list_expiring_tokens(NOW, NOW + 30,
                                                           10)])
        self.assertEqual(['jti_10'], [
            r.jti for r in self.store.list_expiring_tokens(NOW, NOW + 30,
                                                           1)])
        self.assertEqual(({10: 1, 20: 2, 100: 3}, 2),
                         self.store.count_expiring_tokens(NOW, (100, 10, 20)))
        self.assertEqual(({}, 2), self.store.count_expiring_tokens(NOW, ()))
        self.assertEqual(({5: 0}, 0),
                         self.store.count_expiring_tokens(NOW + 30, (5,)))

    def test_users(self):
        alice = User('u1', 'alice', NOW, 'hash-a')
        bob = User('u2', 'bob', NOW, 'hash-b')
        self.store.create_user(bob)
        self.store.create_user(alice)
        self.assertEqual(alice, self.store.get_user('u1'))
        self.assertEqual(alice, self.store.get_user_by_name('alice'))
        self.assertEqual(bob, self.store.get_user_by_credential_hash('hash-b'))
        self.assertIsNone(self.store.get_user('alice'))
        self.assertIsNone(self.store.get_user_by_name('carol'))
        self.assertIsNone(self.store.get_user_by_credential_hash('hash-c'))
        self.assertEqual([alice, bob], self.store.list_users())
        error = self.assertRaises(errors.UserExists, self.store.create_user,
                                  User('u3', 'alice', NOW, 'hash-c'))
        self.assertEqual({'user_name': 'alice'}, error.details)
        self.assertEqual(2, len(self.store.list_users()))

    # -- several store objects on one database ----------------------------
    def test_changes_are_seen_by_another_store(self):
        other = self.open_store()
        self.addCleanup(other.close)
        self.add_workspace()
        self.store.add_token(token('jti_a'))
        self.assertEqual('alpha', other.get_workspace(WS).name)
        other.revoke_token(WS, 'jti_a', NOW + 1)
        self.assertEqual(NOW + 1, self.store.get_token('jti_a').revoked_at)
        self.store.ensure_primary_signing_key(signing_key('a'))
        self.assertEqual('a', other.ensure_primary_signing_key(
            signing_key('b')).kid)
        other.add_primary_signing_key(signing_key('c'))
        self.assertEqual('c', self.store.get_primary_signing_key().kid)
        self.assertEqual(self.schema_version, other.schema_version())

    def test_one_statement_reads_run_outside_a_transaction(self):
        self.add_workspace(owner='u1')
        self.store.add_token(token('jti_a'))
        self.store.create_user(User('u1', 'alice', NOW, 'hash-a'))
        self.store.ensure_primary_signing_key(signing_key('a'))

        def refuse(*args, **kwargs):
            raise AssertionError('a one-statement read began a transaction')

        self.store.dialect.transaction = refuse
        self.assertEqual('jti_a', self.store.get_token('jti_a').jti)
        self.assertEqual('alpha', self.store.get_workspace(WS).name)
        self.assertEqual(['alpha'], [w.name for w in
                                     self.store.list_workspaces('u1')])
        self.assertEqual(['jti_a'], [t.jti for t in self.store.list_tokens(
            WS, now=NOW)])
        self.assertEqual('alice', self.store.get_user_by_credential_hash(
            'hash-a').name)
        self.assertEqual('a', self.store.get_signing_key('a').kid)
        self.assertEqual(self.schema_version, self.store.schema_version())

    def test_a_read_left_unfinished_sees_later_changes(self):
        # A statement stepped short of its last row must not keep reading
        # the snapshot it began in: a revocation committed by another
        # connection is seen by the next read at once.
        other = self.open_store()
        self.addCleanup(other.close)
        self.add_workspace()
        insert_tokens(self.store, [token('jti_a'), token('jti_b')])
        held = self.store.dialect.statement(
            lambda tx: tx.execute('SELECT jti FROM tokens ORDER BY jti'))
        self.assertIsNone(self.store.get_token('jti_a').revoked_at)
        other.revoke_token(WS, 'jti_a', NOW + 1)
        self.assertEqual(NOW + 1, self.store.get_token('jti_a').revoked_at)
        del held

    # -- the audit trail --------------------------------------------------
    def break_audit_trail(self):
        """Make every audit write fail from now on."""
        self.store.dialect.transaction(
            lambda tx: tx.execute('DROP TABLE audit_events'), write=True)

    def test_changes_record_their_event(self):
        self.store.create_user(User('u1', 'alice', NOW, 'h'),
                               event(models.AUDIT_USER_CREATE))
        ws = Workspace(WS, 'alpha', NOW)
        self.store.create_workspace(ws, event(models.AUDIT_WORKSPACE_CREATE,
                                              workspace_id=WS))
        self.store.add_token(token('jti_1'), 'key-1',
                             audit=event(workspace_id=WS, target_jti='jti_1'))
        # a replay records nothing here: the authority records it once it
        # has decided whether to hand the token out
        self.store.add_token(token('jti_2'), 'key-1',
                             audit=event(workspace_id=WS, target_jti='jti_2'))
        revoke = event(models.AUDIT_TOKEN_REVOKE, workspace_id=WS,
                       target_jti='jti_1')
        self.store.revoke_token(WS, 'jti_1', NOW + 1, revoke)
        self.store.revoke_token(WS, 'jti_1', NOW + 2, revoke)
        self.store.add_primary_signing_key(
            signing_key('k2'), event(models.AUDIT_KEY_ROTATE, detail='k2'))
        self.store.delete_workspace(WS, NOW + 3,
                                    event(models.AUDIT_WORKSPACE_DELETE,
                                          workspace_id=WS))
        self.store.record_event(event(models.AUDIT_AUTH_REFUSED,
                                      detail='TOKEN_REVOKED'))
        found = self.store.list_events()
        self.assertEqual(
            [(models.AUDIT_USER_CREATE, None, None, None),
             (models.AUDIT_WORKSPACE_CREATE, WS, None, None),
             (models.AUDIT_TOKEN_ISSUE, WS, 'jti_1', None),
             (models.AUDIT_TOKEN_REVOKE, WS, 'jti_1', None),
             (models.AUDIT_TOKEN_REVOKE, WS, 'jti_1', None),
             (models.AUDIT_KEY_ROTATE, None, None, 'k2'),
             (models.AUDIT_WORKSPACE_DELETE, WS, None, 'tokens_revoked=0'),
             (models.AUDIT_AUTH_REFUSED, None, None, 'TOKEN_REVOKED')],
            [(e.action, e.workspace_id, e.target_jti, e.detail)
             for e in found])
        self.assertEqual(models.OUTCOME_UNCHANGED, found[4].outcome)
        ids = [e.id for e in found]
        self.assertEqual(sorted(set(ids)), ids)

    def test_a_refused_change_records_nothing(self):
        self.add_workspace()
        self.assertRaises(errors.WorkspaceExists, self.store.create_workspace,
                          Workspace('ws-2', 'alpha', NOW),
                          event(models.AUDIT_WORKSPACE_CREATE))
        self.assertRaises(errors.TokenNotFound, self.store.revoke_token, WS,
                          'jti_none', NOW, event(models.AUDIT_TOKEN_REVOKE))
        self.assertRaises(errors.WorkspaceNotFound, self.store.add_token,
                          token('jti_1', 'ws-none'), audit=event())
        self.assertEqual([], self.store.list_events())

    def test_no_change_without_its_event(self):
        self.add_workspace()
        self.store.add_token(token('jti_1'))
        self.break_audit_trail()
        self.assertRaises(errors.StorageUnavailable, self.store.add_token,
                          token('jti_2'), audit=event())
        self.assertRaises(errors.StorageUnavailable, self.store.revoke_token,
                          WS, 'jti_1', NOW, event(models.AUDIT_TOKEN_REVOKE))
        self.assertRaises(errors.StorageUnavailable,
                          self.store.create_workspace,
                          Workspace('ws-2', 'beta', NOW), event())
        self.assertRaises(errors.StorageUnavailable,
                          self.store.delete_workspace, WS, NOW, event())
        self.assertIsNone(self.store.get_token('jti_2'))
        self.assertIsNone(self.store.get_token('jti_1').revoked_at)
        self.assertIsNone(self.store.get_workspace_by_name('beta'))
        self.assertIsNotNone(self.store.get_workspace(WS))

    def test_list_events_filters_and_pages(self):
        for i, (action, ws) in enumerate([
                (models.AUDIT_TOKEN_ISSUE, WS),
                (models.AUDIT_TOKEN_REVOKE, WS),
                (models.AUDIT_TOKEN_ISSUE, 'ws-2'),
                (models.AUDIT_AUTH_REFUSED, None),
                (models.AUDIT_TOKEN_ISSUE, WS)]):
            self.store.record_event(event(action, at=NOW + i,
                                          workspace_id=ws))
        every = self.store.list_events()
        self.assertEqual(5, len(every))
        self.assertEqual([NOW, NOW + 1, NOW + 4],
                         [e.at for e in self.store.list_events(
                             workspace_id=WS)])
        self.assertEqual([NOW + 4], [e.at for e in self.store.list_events(
            workspace_id=WS, since=NOW + 2)])
        self.assertEqual([NOW + 1, NOW + 3], [
            e.at for e in self.store.list_events(actions=(
                models.AUDIT_TOKEN_REVOKE, models.AUDIT_AUTH_REFUSED))])
        page = self.store.list_events(after_id=every[1].id, limit=2)
        self.assertEqual([e.id for e in every[2:4]], [e.id for e in page])

    def test_purge_events_in_batches(self):
        for i in range(7):
            self.store.record_event(event(at=NOW + i))
        self.assertEqual(2, self.store.purge_events(NOW + 5, 2))
        self.assertEqual(3, self.store.purge_events(NOW + 5, 10))
        self.assertEqual(0, self.store.purge_events(NOW + 5, 10))
        self.assertEqual([NOW + 5, NOW + 6],
                         [e.at for e in self.store.list_events()])

    # -- identities and sessions -----------------------------------------
    def identity(self, user_id: str = 'u1', subject: str = 'sub-1'
                 ) -> models.Identity:
        return models.Identity(issuer='https://idp.example', subject=subject,
                               user_id=user_id, created_at=NOW)

    def session(self, session_id: str = 'ses_1', user_id: str = 'u1',
                expires_at: int = NOW + 3600) -> models.Session:
        return models.Session(id=session_id, user_id=user_id,
                              issuer='https://idp.example', subject='sub-1',
                              created_at=NOW, expires_at=expires_at,
                              secret_hash='hash-' + session_id)

    def test_identities(self):
        self.store.create_user(User('u1', 'alice', NOW, 'h1'))
        self.store.add_identity(self.identity(), event(
            models.AUDIT_IDENTITY_LINK))
        found = self.store.get_identity('https://idp.example', 'sub-1')
        self.assertEqual('u1', found.user_id)
        self.assertIsNone(self.store.get_identity('https://idp.example',
                                                  'SUB-1'))
        self.assertRaises(errors.IdentityExists, self.store.add_identity,
                          self.identity())
        self.assertRaises(errors.UserNotFound, self.store.add_identity,
                          self.identity('nobody', 'sub-2'))
        self.assertEqual([found], self.store.list_identities('u1'))
        self.assertEqual([], self.store.list_identities('u2'))
        self.assertTrue(self.store.remove_identity('https://idp.example',
                                                   'sub-1'))
        self.assertFalse(self.store.remove_identity('https://idp.example',
                                                    'sub-1'))
        self.assertEqual([], self.store.list_identities())

    def test_a_user_created_with_its_identity(self):
        self.store.create_user_with_identity(
            User('u1', 'alice', NOW, '!x'), self.identity(),
            event(models.AUDIT_USER_CREATE),
            event(models.AUDIT_IDENTITY_LINK))
        self.assertEqual('alice', self.store.get_user('u1').name)
        self.assertEqual([models.AUDIT_USER_CREATE,
                          models.AUDIT_IDENTITY_LINK],
                         [e.action for e in self.store.list_events()])
        # the same identity again: nothing of the second user stays
        self.assertRaises(errors.UserExists,
                          self.store.create_user_with_identity,
                          User('u2', 'bob', NOW, '!y'), self.identity('u2'))
        self.assertIsNone(self.store.get_user('u2'))

    def test_sessions(self):
        self.store.create_user_with_identity(
            User('u1', 'alice', NOW, '!x'), self.identity())
        self.store.add_session(self.session(), 'alice@example.org',
                               event(models.AUDIT_SIGN_IN))
        found = self.store.get_session_by_hash('hash-ses_1')
        self.assertEqual(('ses_1', 'u1', None),
                         (found.id, found.user_id, found.revoked_at))
        identity = self.store.get_identity('https://idp.example', 'sub-1')
        self.assertEqual(('alice@example.org', NOW),
                         (identity.email, identity.last_sign_in_at))
        self.assertTrue(self.store.revoke_session('ses_1', NOW + 5))
        self.assertFalse(self.store.revoke_session('ses_1', NOW + 9))
        self.assertEqual(NOW + 5,
                         self.store.get_session_by_hash('hash-ses_1')
                         .revoked_at)
        self.store.add_session(self.session('ses_2'), None)
        self.store.add_session(self.session('ses_3', expires_at=NOW + 10),
                               None)
        self.assertEqual(1, self.store.revoke_user_sessions('u1', NOW + 20))
        self.assertEqual(1, self.store.purge_sessions(NOW + 11))
        self.assertIsNone(self.store.get_session_by_hash('hash-ses_3'))
    # -- trust policies and exchanged tokens --------------------------------
    def test_trust_policies_kept_listed_and_deleted(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        first = policy(description='from main')
        self.store.add_trust_policy(first, event(
            models.AUDIT_TRUST_CREATE, workspace_id=WS))
        self.store.add_trust_policy(policy('tp_2', 'other', 'ws-2',
                                           issuer='https://other.example'))
        self.assertEqual([first],
                         self.store.list_trust_policies(workspace_id=WS))
        self.assertEqual(['tp_2'], [
            p.id for p in self.store.list_trust_policies(
                issuer='https://other.example')])
        self.assertEqual(2, len(self.store.list_trust_policies()))
        self.assertEqual([models.AUDIT_TRUST_CREATE],
                         [e.action for e in self.store.list_events()])
        self.assertEqual(first, self.store.delete_trust_policy(WS, 'tp_1'))
        self.assertEqual([], self.store.list_trust_policies(workspace_id=WS))
        # only in its own workspace
        self.assertRaises(errors.TrustPolicyNotFound,
                          self.store.delete_trust_policy, WS, 'tp_2')

    def test_trust_policy_names_are_unique_per_workspace(self):
        self.add_workspace()
        self.add_workspace('ws-2', 'beta')
        self.store.add_trust_policy(policy())
        self.store.add_trust_policy(policy('tp_2', workspace_id='ws-2'))
        self.assertRaises(errors.TrustPolicyExists,
                          self.store.add_trust_policy, policy('tp_3'))
        self.assertRaises(errors.WorkspaceNotFound,
                          self.store.add_trust_policy,
                          policy('tp_4', workspace_id='ws-9'))

    def test_deleting_a_workspace_deletes_its_trust_policies(self):
        self.add_workspace()
        self.store.add_trust_policy(policy())
        self.store.delete_workspace(WS, NOW)
        self.assertEqual([], self.store.list_trust_policies())

    def test_an_exchanged_subject_token_is_accepted_once(self):
        self.add_workspace()
        self.store.add_trust_policy(policy())
        self.store.add_exchanged_token(token('jti-1'), 'tp_1', 'digest-1',
                                       NOW + 300, NOW, event(
                                           models.AUDIT_TOKEN_EXCHANGE))
        self.assertEqual('jti-1', self.store.get_token('jti-1').jti)
        error = self.assertRaises(
            errors.SubjectTokenRejected, self.store.add_exchanged_token,
            token('jti-2'), 'tp_1', 'digest-1', NOW + 300, NOW)
        self.assertEqual({'reason': 'replayed'}, error.details)
        self.assertIsNone(self.store.get_token('jti-2'))
        self.assertEqual(1, len(self.store.list_events()))
        # once it has expired it is forgotten (and no verifier accepts it)
        self.store.add_exchanged_token(token('jti-3'), 'tp_1', 'digest-1',
                                       NOW + 900, NOW + 301)

    def test_no_token_for_a_removed_trust_policy(self):
        self.add_workspace()
        self.store.add_trust_policy(policy())
        self.store.delete_trust_policy(WS, 'tp_1')
        self.assertRaises(errors.NoMatchingPolicy,
                          self.store.add_exchanged_token, token('jti-1'),
                          'tp_1', 'digest-1', NOW + 300, NOW)
        self.assertIsNone(self.store.get_token('jti-1'))
        # nor for a policy of another workspace
        self.add_workspace('ws-2', 'beta')
        self.store.add_trust_policy(policy('tp_2', workspace_id='ws-2'))
        self.assertRaises(errors.NoMatchingPolicy,
                          self.store.add_exchanged_token, token('jti-1'),
                          'tp_2', 'digest-1', NOW + 300, NOW)
