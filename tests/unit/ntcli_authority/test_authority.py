"""Tests of ntcli_authority.authority.Authority."""

from __future__ import annotations

import uuid

import fixtures
import testtools

from ntcli_authority import authority as authority_mod
from ntcli_authority import errors, signing
from ntcli_authority.access import Principal
from ntcli_authority.models import TokenRow
from ntcli_core import scopes
from tests.unit.ntcli_authority import base
from tests.unit.ntcli_authority.storage.bulk import insert_tokens

OWNER = Principal.local()  # the local owner may do everything

DAY = 86400


class AuthorityTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.fx = self.useFixture(base.AuthorityFixture())
        self.authority = self.fx.authority
        self.clock = self.fx.clock
        self.ws = self.authority.create_workspace(OWNER, 'alpha')
        self.other_ws = self.authority.create_workspace(OWNER, 'beta')

    def assertCode(self, error_class, code, status, func, *args, **kwargs):
        error = self.assertRaises(error_class, func, *args, **kwargs)
        self.assertEqual(code, error.code)
        self.assertEqual(status, error.http_status)
        return error


class TestIssue(AuthorityTestCase):

    def test_token_shape(self):
        issued = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.assertTrue(issued.token.startswith('wst_'))
        header, claims, _ = base.split(issued.token)
        self.assertEqual('EdDSA', header['alg'])
        self.assertEqual(issued.kid, header['kid'])
        self.assertEqual({'jti', 'sub', 'iat', 'exp', 'scope'}, set(claims))
        self.assertRegex(claims['jti'], r'^jti_[0-9a-f]{32}$')
        self.assertEqual(issued.jti, claims['jti'])
        self.assertEqual(self.ws.id, claims['sub'])
        self.assertEqual(base.START, claims['iat'])
        self.assertEqual(base.START + DAY, claims['exp'])
        # without a scope, the platform's default (RFC 9068 form)
        self.assertEqual('workspace:read servers:read', claims['scope'])
        self.assertEqual(scopes.DEFAULT, issued.scope)
        self.assertEqual(base.START + DAY, issued.expires_at)
        self.assertNotIn(issued.token, repr(issued))

    def test_non_expiring(self):
        issued = self.authority.issue(OWNER, self.ws.id)
        self.assertIsNone(issued.expires_at)
        self.assertNotIn('exp', base.split(issued.token)[1])

    def test_expires_at_and_scope(self):
        issued = self.authority.issue(OWNER,
                                      self.ws.id, expires_at=base.START + 99,
                                      scope=['tokens:write', 'servers:read'],
                                      description='CI')
        self.assertEqual(base.START + 99, issued.expires_at)
        canonical = ('servers:read', 'tokens:read', 'tokens:write')
        self.assertEqual(' '.join(canonical),
                         base.split(issued.token)[1]['scope'])
        self.assertEqual(canonical, issued.scope)
        info = self.authority.get_token(OWNER, self.ws.id, issued.jti)
        self.assertEqual('CI', info.description)
        self.assertEqual(canonical, info.scope)
        # one space-separated string is the same request
        again = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                     scope='tokens:write  servers:read')
        self.assertEqual(canonical, again.scope)

    def test_jtis_are_unique(self):
        jtis = {self.authority.issue(OWNER, self.ws.id).jti for _ in range(50)}
        self.assertEqual(50, len(jtis))

    def test_bad_expiry(self):
        for kwargs in ({'expires_in': 0}, {'expires_in': -5},
                       {'expires_in': '60'}, {'expires_in': True},
                       {'expires_in': 1.5},
                       {'expires_in': 11 * 366 * DAY},
                       {'expires_at': base.START},
                       {'expires_at': base.START - 1},
                       {'expires_at': base.START + 11 * 366 * DAY},
                       {'expires_in': 60, 'expires_at': base.START + 60}):
            self.assertCode(errors.InvalidRequest, 'INVALID_REQUEST', 400,
                            self.authority.issue, OWNER, self.ws.id, **kwargs)

    def test_bad_scope_and_description(self):
        for scope in ('a b', 'workspace', [], '', ' ', ['servers:admin'],
                      ['Servers:read'], ['servers:read', 7], 'servers',
                      {'servers': 'read'}, ['servers:read\n'],
                      ['x' * 65 + ':read'], ['servers:read'] * 33,
                      'servers:read\tsecrets:read'):
            self.assertCode(errors.ValidationError, 'VALIDATION_ERROR', 422,
                            self.authority.issue, OWNER, self.ws.id,
                            scope=scope)
        self.assertRaises(errors.InvalidRequest, self.authority.issue,
                          OWNER, self.ws.id, description='x' * 300)
        self.assertEqual([], self.authority.list_tokens(OWNER,
                                                        self.ws.id).tokens)

    def test_unknown_workspace(self):
        self.assertCode(errors.WorkspaceNotFound, 'WORKSPACE_NOT_FOUND', 404,
                        self.authority.issue, OWNER, str(uuid.uuid4()))

    def test_no_token_value_is_stored(self):
        issued = self.authority.issue(OWNER, self.ws.id, idempotency_key='k1')
        self.authority.store.close()
        for suffix in ('', '-wal'):
            try:
                with open(self.fx.path + suffix, 'rb') as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            # The signature is the part only the token value holds.
            self.assertNotIn(issued.token.rsplit('.', 1)[1].encode(), data)
        self.authority.store = self.fx.reopen().store


class TestIdempotency(AuthorityTestCase):

    def replays(self):
        return [(e.outcome, e.actor, e.target_jti, e.detail)
                for e in self.authority.list_events(
                    OWNER, self.ws.id, actions=['token.replay']).events]

    def test_a_key_names_the_request_of_one_caller(self):
        alice = self.authority.create_user(OWNER, 'alice')
        mine = self.authority.create_workspace(OWNER, 'mine',
                                               owner=alice.user.id)
        alice_p = self.authority.authenticate(alice.credential)
        token_p = self.authority.authenticate(self.authority.issue(
            alice_p, mine.id, expires_in=DAY, scope=scopes.FULL).token)
        first = self.authority.issue(alice_p, mine.id, expires_in=DAY,
                                     idempotency_key='k')
        for other in (token_p, OWNER):
            error = self.assertCode(
                errors.IdempotencyKeyConflict, 'IDEMPOTENCY_KEY_CONFLICT',
                409, self.authority.issue, other, mine.id, expires_in=DAY,
                idempotency_key='k')
            self.assertNotIn(first.jti, str(error.to_dict()))
        again = self.authority.issue(alice_p, mine.id, expires_in=DAY,
                                     idempotency_key='k')
        self.assertEqual((first.token, True), (again.token, again.replayed))
        # the same key names another request in another workspace
        elsewhere = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                         idempotency_key='k')
        self.assertFalse(elsewhere.replayed)
        events = self.authority.list_events(
            OWNER, mine.id, actions=['token.replay']).events
        self.assertEqual(
            [('refused', token_p.jti, None, 'IDEMPOTENCY_KEY_CONFLICT'),
             ('refused', 'local', None, 'IDEMPOTENCY_KEY_CONFLICT'),
             ('success', alice.user.id, first.jti, None)],
            [(e.outcome, e.actor, e.target_jti, e.detail) for e in events])

    def test_a_replay_hands_out_no_revoked_or_expired_token(self):
        revoked = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                       idempotency_key='r')
        self.authority.revoke(OWNER, self.ws.id, revoked.jti)
        soon = self.authority.issue(OWNER, self.ws.id, expires_in=60,
                                    idempotency_key='e')
        self.clock.advance(61)
        for key, token, status in (('r', revoked, 'revoked'),
                                   ('e', soon, 'expired')):
            error = self.assertCode(
                errors.ReplayedTokenGone, 'REPLAYED_TOKEN_GONE', 410,
                self.authority.issue, OWNER, self.ws.id, expires_in=DAY,
                idempotency_key=key)
            self.assertEqual({'jti': token.jti, 'status': status},
                             error.details)
            self.assertIn(status if status == 'expired' else 'revoked',
                          error.message)
        self.assertEqual(
            [('refused', 'local', revoked.jti, 'REPLAYED_TOKEN_GONE'),
             ('refused', 'local', soon.jti, 'REPLAYED_TOKEN_GONE')],
            self.replays())
        # nothing new was issued
        self.assertEqual(2, len(self.authority.list_tokens(
            OWNER, self.ws.id, include_expired=True,
            include_revoked=True).tokens))

    def test_a_key_stored_before_callers_were_bound_replays_for_nobody(self):
        from ntcli_authority.models import TokenRow
        key, _ = self.authority.keys.primary()
        record = TokenRow(jti='jti_' + '2' * 32, workspace_id=self.ws.id,
                          created_at=base.START, expires_at=None,
                          kid=key.kid, scope='workspace:read')
        self.authority.store.add_token(record, 'old-key',
                                       idempotency_since=0)
        self.assertRaises(errors.IdempotencyKeyConflict,
                          self.authority.issue, OWNER, self.ws.id,
                          idempotency_key='old-key')

    def test_replay_returns_same_token(self):
        first = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                     idempotency_key='refresh-1')
        self.clock.advance(30)
        again = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                     idempotency_key='refresh-1')
        self.assertEqual(first.token, again.token)
        self.assertEqual(first.jti, again.jti)
        self.assertEqual(first.expires_at, again.expires_at)
        self.assertFalse(first.replayed)
        self.assertTrue(again.replayed)
        self.assertEqual(1, len(self.authority.list_tokens(OWNER,
                                                           self.ws.id).tokens))

    def test_replay_from_another_process(self):
        first = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        again = self.fx.reopen().issue(OWNER, self.ws.id,
                                          idempotency_key='k')
        self.assertEqual(first.token, again.token)

    def test_replay_after_rotation_uses_original_key(self):
        first = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        self.authority.rotate_signing_key(OWNER)
        again = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        self.assertEqual(first.token, again.token)

    def test_other_key_or_workspace_gives_new_token(self):
        first = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        self.assertNotEqual(first.jti, self.authority.issue(
            OWNER, self.ws.id, idempotency_key='k2').jti)
        self.assertNotEqual(first.jti, self.authority.issue(
            OWNER, self.other_ws.id, idempotency_key='k').jti)
        self.assertNotEqual(first.jti, self.authority.issue(OWNER,
                                                            self.ws.id).jti)

    def test_key_expires_after_a_day(self):
        first = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        self.clock.advance(DAY + 1)
        later = self.authority.issue(OWNER, self.ws.id, idempotency_key='k')
        self.assertNotEqual(first.jti, later.jti)
        self.assertFalse(later.replayed)
        # ...and the new issuance is the one replayed from now on.
        self.assertEqual(later.token, self.authority.issue(
            OWNER, self.ws.id, idempotency_key='k').token)

    def test_purge(self):
        self.authority.issue(OWNER, self.ws.id, idempotency_key='old')
        self.clock.advance(DAY + 1)
        self.authority.issue(OWNER, self.ws.id, idempotency_key='new')
        self.assertEqual(1, self.authority.purge_idempotency_keys(OWNER))

    def test_bad_key(self):
        for key in ('', 'k' * 200, 5):
            self.assertRaises(errors.InvalidRequest, self.authority.issue,
                              OWNER, self.ws.id, idempotency_key=key)


class TestValidate(AuthorityTestCase):

    def setUp(self):
        super().setUp()
        self.issued = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.header, self.claims, self.signature = base.split(
            self.issued.token)

    def assertInvalid(self, token):
        error = self.assertCode(errors.TokenInvalid, 'TOKEN_INVALID', 401,
                                self.authority.validate, token)
        if isinstance(token, str) and len(token) > 20:
            self.assertNotIn(token[4:], str(error))

    def test_valid(self):
        valid = self.authority.validate(self.issued.token, self.ws.id)
        self.assertEqual(self.issued.jti, valid.jti)
        self.assertEqual(self.ws.id, valid.workspace_id)
        self.assertEqual(base.START + DAY, valid.expires_at)
        self.assertEqual(scopes.DEFAULT, valid.scope)

    def test_alg_none(self):
        for alg in ('none', 'None'):
            self.assertInvalid(base.forge(dict(self.header, alg=alg),
                                          self.claims))
            self.assertInvalid(base.forge(dict(self.header, alg=alg),
                                          self.claims, self.signature))

    def test_hs256_with_public_key_as_secret(self):
        public_pem = self.authority.list_signing_keys(
            OWNER)[0].public_key
        for secret in (public_pem.encode(), public_pem.strip().encode()):
            self.assertInvalid(base.forge_hs256(
                dict(self.header, alg='HS256'), self.claims, secret))

    def test_other_algorithms(self):
        for alg in ('RS256', 'ES256', 'HS512', 'eddsa', ''):
            self.assertInvalid(base.forge(dict(self.header, alg=alg),
                                          self.claims, self.signature))

    def test_unknown_kid(self):
        self.assertInvalid(base.forge(dict(self.header, kid='unknown'),
                                      self.claims, self.signature))

    def test_token_of_another_authority(self):
        other = self.useFixture(base.AuthorityFixture()).authority
        ws = other.create_workspace(OWNER, 'alpha')
        self.assertInvalid(other.issue(OWNER, ws.id).token)

    def test_tampered_payload(self):
        for change in ({'sub': self.other_ws.id},
                       {'exp': base.START + 10 * DAY},
                       {'jti': 'jti_' + '0' * 32}, {'scope': 'admin'}):
            self.assertInvalid(base.forge(self.header,
                                          dict(self.claims, **change),
                                          self.signature))
        without_exp = dict(self.claims)
        del without_exp['exp']
        self.assertInvalid(base.forge(self.header, without_exp,
                                      self.signature))

    def test_garbage(self):
        for garbage in ('', 'wst_', 'garbage', 'wst_garbage', 'wst_a.b.c',
                        self.issued.token[4:], 'Bearer ' + self.issued.token,
                        self.issued.token + '.', self.issued.token[:-3],
                        None, 123):
            self.assertInvalid(garbage)

    def test_signed_but_unknown_jti(self):
        # A genuine signature over claims that were never issued (a key
        # leak, or a database restored from an old backup).
        key, private = self.authority.keys.primary()
        record = TokenRow(jti='jti_' + 'f' * 32, workspace_id=self.ws.id,
                          created_at=base.START, expires_at=None,
                          kid=key.kid)
        self.assertInvalid(signing.encode_token(record, private))

    def test_expired(self):
        self.clock.advance(DAY - 1)
        self.authority.validate(self.issued.token)
        self.clock.advance(1)
        self.assertCode(errors.TokenExpired, 'TOKEN_EXPIRED', 401,
                        self.authority.validate, self.issued.token)

    def test_revoked(self):
        self.authority.revoke(OWNER, self.ws.id, self.issued.jti)
        self.assertCode(errors.TokenRevoked, 'TOKEN_REVOKED', 401,
                        self.authority.validate, self.issued.token)

    def test_revoked_and_expired_reports_revoked(self):
        self.authority.revoke(OWNER, self.ws.id, self.issued.jti)
        self.clock.advance(2 * DAY)
        self.assertRaises(errors.TokenRevoked, self.authority.validate,
                          self.issued.token)

    def test_wrong_workspace(self):
        self.assertCode(errors.Forbidden, 'FORBIDDEN', 403,
                        self.authority.validate, self.issued.token,
                        self.other_ws.id)

    def test_codes_are_distinct(self):
        classes = [errors.TokenInvalid, errors.TokenExpired,
                   errors.TokenRevoked, errors.Forbidden]
        self.assertEqual(4, len({cls.code for cls in classes}))


class TestSigningKeys(AuthorityTestCase):

    def test_rotation_keeps_old_tokens_valid(self):
        old = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        new_kid = self.authority.rotate_signing_key(OWNER)
        self.assertNotEqual(old.kid, new_kid)
        new = self.authority.issue(OWNER, self.ws.id)
        self.assertEqual(new_kid, new.kid)
        self.assertEqual(new_kid, base.split(new.token)[0]['kid'])
        self.authority.validate(old.token)
        self.authority.validate(new.token)
        # Another process (a server node) verifies both too.
        other = self.fx.reopen()
        other.validate(old.token)
        other.validate(new.token)
        keys = self.authority.list_signing_keys(OWNER)
        self.assertEqual({old.kid: False, new_kid: True},
                         {k.kid: k.is_primary for k in keys})
        self.assertTrue(all(k.private_key is None for k in keys))

    def test_retire_only_keys_without_live_tokens(self):
        old = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.authority.rotate_signing_key(OWNER)
        self.assertEqual([], self.authority.retire_signing_keys(OWNER))
        self.clock.advance(DAY)
        self.assertEqual([old.kid], self.authority.retire_signing_keys(OWNER))
        # Its public key stays, so its tokens still say why they fail.
        self.assertRaises(errors.TokenExpired, self.authority.validate,
                          old.token)
        self.assertEqual([], self.authority.retire_signing_keys(OWNER))

    def test_non_expiring_token_keeps_its_key(self):
        old = self.authority.issue(OWNER, self.ws.id)
        self.authority.rotate_signing_key(OWNER)
        self.clock.advance(3650 * DAY)
        self.assertEqual([], self.authority.retire_signing_keys(OWNER))
        self.authority.revoke(OWNER, self.ws.id, old.jti)
        self.assertEqual([old.kid], self.authority.retire_signing_keys(OWNER))


class TestSigningKeysOfRunningNodes(AuthorityTestCase):
    """A node (this authority) that signed with a key, while the admin CLI
    (another process) rotates and retires keys."""

    def setUp(self):
        super().setUp()
        self.admin = self.fx.reopen()
        self.first = self.authority.issue(OWNER, self.ws.id, expires_in=DAY,
                                          idempotency_key='k-1')

    def test_a_rotated_primary_signs_the_next_token(self):
        new_kid = self.admin.rotate_signing_key(OWNER)
        issued = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.assertEqual(new_kid, issued.kid)
        self.assertEqual(new_kid, base.split(issued.token)[0]['kid'])
        self.admin.validate(issued.token)
        self.assertEqual(
            1, len(self.authority.list_tokens(OWNER, self.ws.id).tokens) - 1)

    def test_a_retired_key_signs_nothing(self):
        self.authority.revoke(OWNER, self.ws.id, self.first.jti)
        new_kid = self.admin.rotate_signing_key(OWNER)
        self.assertEqual([self.first.kid],
                         self.admin.retire_signing_keys(OWNER))
        # A new token: the new primary's.
        issued = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.assertEqual(new_kid, issued.kid)
        self.assertEqual({new_kid}, {
            t.kid for t in self.admin.store.list_tokens(
                self.ws.id, now=self.clock.now, include_revoked=True)
            if t.jti != self.first.jti})
        # A replay of a token of the retired key (revoked, as a retired
        # key signed no live token): refused, not re-signed.
        self.clock.advance(1)
        self.assertCode(errors.ReplayedTokenGone, 'REPLAYED_TOKEN_GONE', 410,
                        self.authority.issue, OWNER, self.ws.id,
                        expires_in=DAY, idempotency_key='k-1')


class TestWorkspaces(AuthorityTestCase):

    def test_create(self):
        ws = self.authority.create_workspace(OWNER, 'gamma-1', 'third')
        self.assertEqual(4, uuid.UUID(ws.id).version)
        self.assertEqual('gamma-1', ws.name)
        self.assertEqual('third', ws.description)
        self.assertIsNone(ws.owner)
        self.assertEqual(base.START, ws.created_at)

    def test_names(self):
        for good in ('abc', 'a-1', 'a' * 32, 'my-workspace-2'):
            self.authority.create_workspace(OWNER, good)
        for bad in ('ab', 'a' * 33, '1abc', '-abc', 'ABC', 'a_b', 'a b',
                    'añb', '', None, 'abc\n'):
            self.assertCode(errors.InvalidRequest, 'INVALID_REQUEST', 400,
                            self.authority.create_workspace, OWNER, bad)

    def test_duplicate(self):
        self.assertCode(errors.WorkspaceExists, 'WORKSPACE_EXISTS', 409,
                        self.authority.create_workspace, OWNER, 'alpha')

    def test_list_and_get(self):
        self.assertEqual(['alpha', 'beta'], [
            w.name for w in self.authority.list_workspaces(OWNER)])
        self.assertEqual(self.ws, self.authority.get_workspace(OWNER,
                                                               self.ws.id))
        self.assertEqual(self.ws, self.authority.get_workspace(OWNER, 'alpha'))
        self.assertCode(errors.WorkspaceNotFound, 'WORKSPACE_NOT_FOUND', 404,
                        self.authority.get_workspace, OWNER, 'nope')
        self.assertRaises(errors.WorkspaceNotFound,
                          self.authority.get_workspace, OWNER,
                          str(uuid.uuid4()))

    def test_list_by_owner(self):
        user = self.authority.create_user(OWNER, 'alice').user
        owned = self.authority.create_workspace(OWNER, 'owned', owner=user.id)
        self.assertEqual([owned], self.authority.list_workspaces(OWNER,
                                                                 user.id))
        local = self.authority.list_workspaces(OWNER, None)
        self.assertEqual(['alpha', 'beta'], [w.name for w in local])

    def test_delete_revokes_tokens(self):
        tokens = [self.authority.issue(OWNER, self.ws.id) for _ in range(3)]
        kept = self.authority.issue(OWNER, self.other_ws.id)
        self.assertEqual(3, self.authority.delete_workspace(OWNER, self.ws.id))
        self.assertRaises(errors.WorkspaceNotFound,
                          self.authority.get_workspace, OWNER, self.ws.id)
        for issued in tokens:
            self.assertRaises(errors.TokenRevoked, self.authority.validate,
                              issued.token)
        self.authority.validate(kept.token)
        self.assertCode(errors.WorkspaceNotFound, 'WORKSPACE_NOT_FOUND', 404,
                        self.authority.delete_workspace, OWNER, self.ws.id)
        # The name is free again, for a new workspace with a new id.
        again = self.authority.create_workspace(OWNER, 'alpha')
        self.assertNotEqual(self.ws.id, again.id)
        self.assertEqual([], self.authority.list_tokens(OWNER,
                                                        again.id).tokens)


class TestListAndRevoke(AuthorityTestCase):

    def test_statuses_and_filters(self):
        active = self.authority.issue(OWNER, self.ws.id)
        expiring = self.authority.issue(OWNER, self.ws.id, expires_in=10)
        revoked = self.authority.issue(OWNER, self.ws.id)
        self.authority.issue(OWNER, self.other_ws.id)
        self.authority.revoke(OWNER, self.ws.id, revoked.jti)
        self.clock.advance(10)

        def listed(**kwargs):
            page = self.authority.list_tokens(OWNER, self.ws.id, **kwargs)
            return {t.jti: t.status for t in page.tokens}

        self.assertEqual({active.jti: 'active'}, listed())
        self.assertEqual({active.jti: 'active', expiring.jti: 'expired'},
                         listed(include_expired=True))
        self.assertEqual({active.jti: 'active', revoked.jti: 'revoked'},
                         listed(include_revoked=True))
        self.assertEqual(3, len(listed(include_expired=True,
                                       include_revoked=True)))

    def test_pages(self):
        issued = []
        for _ in range(7):
            issued.append(self.authority.issue(OWNER, self.ws.id).jti)
            self.clock.advance(1)
        seen, cursor, pages = [], None, 0
        while True:
            page = self.authority.list_tokens(OWNER, self.ws.id, limit=3,
                                              cursor=cursor)
            seen.extend(t.jti for t in page.tokens)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        self.assertEqual(issued, seen)
        self.assertEqual(3, pages)

    def test_exact_page_has_no_next_cursor(self):
        for _ in range(3):
            self.authority.issue(OWNER, self.ws.id)
        page = self.authority.list_tokens(OWNER, self.ws.id, limit=3)
        self.assertEqual(3, len(page.tokens))
        self.assertIsNone(page.next_cursor)

    def test_bad_arguments(self):
        for cursor in ('!!!', 'e30', 'WzEsMl0'):
            self.assertRaises(errors.InvalidRequest,
                              self.authority.list_tokens, OWNER, self.ws.id,
                              cursor=cursor)
        for limit in (0, -1, 1001, '5'):
            self.assertRaises(errors.InvalidRequest,
                              self.authority.list_tokens, OWNER, self.ws.id,
                              limit=limit)
        self.assertRaises(errors.WorkspaceNotFound,
                          self.authority.list_tokens, OWNER, str(uuid.uuid4()))

    def test_revoke_twice_keeps_first_time(self):
        issued = self.authority.issue(OWNER, self.ws.id)
        first = self.authority.revoke(OWNER, self.ws.id, issued.jti)
        self.assertFalse(first.already_revoked)
        self.assertEqual(base.START, first.revoked_at)
        self.assertEqual('revoked', first.token.status)
        self.clock.advance(100)
        second = self.authority.revoke(OWNER, self.ws.id, issued.jti)
        self.assertTrue(second.already_revoked)
        self.assertEqual(base.START, second.revoked_at)

    def test_revoke_unknown_or_foreign(self):
        foreign = self.authority.issue(OWNER, self.other_ws.id)
        for jti in ('jti_unknown', foreign.jti):
            error = self.assertCode(errors.TokenNotFound, 'TOKEN_NOT_FOUND',
                                    404, self.authority.revoke, OWNER,
                                    self.ws.id, jti)
            self.assertIn(jti, str(error))
        self.authority.validate(foreign.token)
        self.assertRaises(errors.TokenNotFound, self.authority.get_token,
                          OWNER, self.ws.id, foreign.jti)


class TestGrace(AuthorityTestCase):
    """A revocation at a later time: a rotated token retiring."""

    def setUp(self):
        super().setUp()
        self.old = self.authority.issue(OWNER, self.ws.id, expires_in=30 * DAY)

    def listed(self, **kwargs):
        page = self.authority.list_tokens(OWNER, self.ws.id, **kwargs)
        return {t.jti: (t.status, t.revoked_at) for t in page.tokens}

    def test_valid_until_the_grace_ends_then_refused(self):
        result = self.authority.revoke(OWNER,
                                       self.ws.id, self.old.jti, grace=3600)
        self.assertFalse(result.already_revoked)
        self.assertEqual(base.START + 3600, result.revoked_at)
        self.assertEqual('active', result.token.status)
        self.authority.validate(self.old.token)
        self.assertEqual({self.old.jti: ('active', base.START + 3600)},
                         self.listed())
        self.clock.advance(3599)
        self.authority.validate(self.old.token)
        self.clock.advance(1)
        self.assertCode(errors.TokenRevoked, 'TOKEN_REVOKED', 401,
                        self.authority.validate, self.old.token)
        self.assertEqual({}, self.listed())
        self.assertEqual({self.old.jti: ('revoked', base.START + 3600)},
                         self.listed(include_revoked=True))
        self.assertEqual('revoked', self.authority.get_token(
            OWNER, self.ws.id, self.old.jti).status)

    def test_another_process_refuses_it_after_the_grace(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=60)
        other = self.fx.reopen()
        other.validate(self.old.token)
        self.clock.advance(60)
        self.assertRaises(errors.TokenRevoked, other.validate,
                          self.old.token)

    def test_revoke_without_grace_ends_it_at_once(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=3600)
        self.clock.advance(10)
        now = self.authority.revoke(OWNER, self.ws.id, self.old.jti)
        self.assertFalse(now.already_revoked)
        self.assertEqual(base.START + 10, now.revoked_at)
        self.assertEqual('revoked', now.token.status)
        self.assertRaises(errors.TokenRevoked, self.authority.validate,
                          self.old.token)

    def test_a_revocation_is_never_postponed(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=600)
        later = self.authority.revoke(OWNER,
                                      self.ws.id, self.old.jti, grace=3600)
        self.assertTrue(later.already_revoked)
        self.assertEqual(base.START + 600, later.revoked_at)
        sooner = self.authority.revoke(OWNER,
                                       self.ws.id, self.old.jti, grace=60)
        self.assertFalse(sooner.already_revoked)
        self.assertEqual(base.START + 60, sooner.revoked_at)
        self.clock.advance(60)
        gone = self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=60)
        self.assertTrue(gone.already_revoked)
        self.assertEqual(base.START + 60, gone.revoked_at)
        revoked = self.authority.issue(OWNER, self.ws.id)
        self.authority.revoke(OWNER, self.ws.id, revoked.jti)
        self.assertTrue(self.authority.revoke(
            OWNER, self.ws.id, revoked.jti, grace=60).already_revoked)

    def test_grace_zero_is_a_plain_revocation(self):
        result = self.authority.revoke(OWNER,
                                       self.ws.id, self.old.jti, grace=0)
        self.assertEqual('revoked', result.token.status)
        self.assertEqual(base.START, result.revoked_at)

    def test_grace_is_bounded(self):
        from ntcli_core.lifetimes import MAX_GRACE
        for grace in (-1, MAX_GRACE + 1, 1.5, '60', True, 2 ** 70):
            self.assertCode(errors.InvalidRequest, 'INVALID_REQUEST', 400,
                            self.authority.revoke, OWNER, self.ws.id,
                            self.old.jti, grace=grace)
        self.authority.validate(self.old.token)
        self.assertEqual({self.old.jti: ('active', None)}, self.listed())
        result = self.authority.revoke(OWNER, self.ws.id, self.old.jti,
                                       grace=MAX_GRACE)
        self.assertEqual(base.START + MAX_GRACE, result.revoked_at)

    def test_the_audit_trail_says_when(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=3600)
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=7200)
        self.authority.revoke(OWNER, self.ws.id, self.old.jti)
        events = [(e.action, e.outcome, e.target_jti, e.detail)
                  for e in self.authority.list_events(OWNER, self.ws.id).events
                  if e.action in ('token.retire', 'token.revoke')]
        self.assertEqual([
            ('token.retire', 'success', self.old.jti,
             'revoked_at=2023-11-14T23:13:20Z'),
            ('token.retire', 'unchanged', self.old.jti,
             'revoked_at=2023-11-15T00:13:20Z'),
            ('token.revoke', 'success', self.old.jti, None)], events)

    def test_deleting_the_workspace_ends_the_grace(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=3600)
        self.assertEqual(1, self.authority.delete_workspace(OWNER, self.ws.id))
        self.assertRaises(errors.TokenRevoked, self.authority.validate,
                          self.old.token)

    def test_a_retiring_token_keeps_its_signing_key(self):
        self.authority.revoke(OWNER, self.ws.id, self.old.jti, grace=3600)
        self.authority.rotate_signing_key(OWNER)
        self.assertEqual([], self.authority.retire_signing_keys(OWNER))
        self.authority.validate(self.old.token)
        self.clock.advance(3600)
        self.assertEqual([self.old.kid],
                         self.authority.retire_signing_keys(OWNER))


class TestExpiring(AuthorityTestCase):
    """What the operator sees coming: tokens expiring within a window."""

    def test_list_and_count(self):
        soon = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        later = self.authority.issue(OWNER,
                                     self.other_ws.id, expires_in=10 * DAY)
        self.authority.issue(OWNER, self.ws.id, expires_in=100 * DAY)
        self.authority.issue(OWNER, self.ws.id)                      # never
        revoked = self.authority.issue(OWNER, self.ws.id, expires_in=DAY)
        self.authority.revoke(OWNER, self.ws.id, revoked.jti)
        retiring = self.authority.issue(OWNER, self.ws.id, expires_in=2 * DAY)
        self.authority.revoke(OWNER, self.ws.id, retiring.jti, grace=3600)
        expired = self.authority.issue(OWNER, self.ws.id, expires_in=5)
        self.clock.advance(5)
        self.assertNotIn(expired.jti, [
            r.jti for r in self.authority.list_expiring(OWNER, 30 * DAY)])
        self.assertEqual(
            [soon.jti, retiring.jti, later.jti],
            [r.jti for r in self.authority.list_expiring(OWNER, 30 * DAY)])
        self.assertEqual([soon.jti], [
            r.jti for r in self.authority.list_expiring(OWNER,
                                                        30 * DAY, limit=1)])
        self.assertEqual(
            ({DAY: 1, 7 * DAY: 2, 30 * DAY: 3}, 1),
            self.authority.count_expiring(OWNER, (DAY, 7 * DAY, 30 * DAY)))
        self.clock.advance(3600)
        self.assertEqual(
            ({DAY: 1, 7 * DAY: 1, 30 * DAY: 2}, 0),
            self.authority.count_expiring(OWNER, (DAY, 7 * DAY, 30 * DAY)))
        self.assertEqual(({}, 0), self.authority.count_expiring(OWNER, ()))

    def test_bad_window(self):
        for within in (0, -1, 11 * 366 * DAY, '1d', None):
            self.assertRaises(errors.InvalidRequest,
                              self.authority.list_expiring, OWNER, within)


class TestManyTokens(AuthorityTestCase):

    def test_ten_thousand_tokens(self):
        key, _ = self.authority.keys.primary()
        real = []
        for _ in range(10):
            real.append(self.authority.issue(OWNER, self.ws.id))
            self.clock.advance(1)
        # The rest in bulk, many sharing a second so that ties on
        # created_at are exercised.
        bulk = [TokenRow(jti=f'jti_{i:032x}', workspace_id=self.ws.id,
                         created_at=base.START + i // 100,
                         expires_at=None, kid=key.kid)
                for i in range(9990)]
        self.assertEqual(9990, insert_tokens(self.authority.store, bulk))
        self.authority.revoke(OWNER, self.ws.id, real[3].jti)
        self.assertRaises(errors.TokenRevoked, self.authority.validate,
                          real[3].token)
        self.authority.validate(real[7].token, self.ws.id)
        self.authority.revoke(OWNER, self.ws.id, bulk[5000].jti)

        def walk(**kwargs):
            seen, cursor = [], None
            while True:
                page = self.authority.list_tokens(OWNER,
                                                  self.ws.id, limit=1000,
                                                  cursor=cursor, **kwargs)
                self.assertLessEqual(len(page.tokens), 1000)
                seen.extend(t.jti for t in page.tokens)
                cursor = page.next_cursor
                if cursor is None:
                    return seen

        everything = walk(include_revoked=True)
        self.assertEqual(10000, len(everything))
        self.assertEqual(10000, len(set(everything)))
        active = walk()
        self.assertEqual(9998, len(set(active)))
        self.assertNotIn(real[3].jti, active)
        self.assertNotIn(bulk[5000].jti, active)


class TestUsers(AuthorityTestCase):

    def test_create_user(self):
        new = self.authority.create_user(OWNER, 'alice')
        self.assertRegex(new.credential, r'^ntu_[A-Za-z0-9_-]{43}$')
        self.assertNotIn(new.credential, repr(new))
        stored = self.authority.get_user(OWNER, 'alice')
        self.assertEqual(new.user.id, stored.id)
        self.assertNotIn(new.credential, stored.credential_hash)
        self.assertEqual(64, len(stored.credential_hash))
        self.assertEqual(stored, self.authority.get_user(OWNER, new.user.id))
        self.assertEqual(['alice'],
                         [u.name for u in self.authority.list_users(OWNER)])

    def test_duplicate_and_bad_names(self):
        self.authority.create_user(OWNER, 'alice')
        self.assertCode(errors.UserExists, 'USER_EXISTS', 409,
                        self.authority.create_user, OWNER, 'alice')
        self.assertRaises(errors.InvalidRequest, self.authority.create_user,
                          OWNER, 'Al')
        self.assertRaises(errors.UserNotFound, self.authority.get_user,
                          OWNER, 'bob')

    def test_authenticate_user(self):
        new = self.authority.create_user(OWNER, 'alice')
        principal = self.authority.authenticate(new.credential)
        self.assertEqual('user', principal.kind)
        self.assertEqual(new.user.id, principal.user_id)

    def test_authenticate_rejects(self):
        self.authority.create_user(OWNER, 'alice')
        for bearer in (None, '', 'ntu_' + 'x' * 43, 'something', 'ntu_'):
            self.assertCode(errors.AuthenticationRequired,
                            'AUTHENTICATION_REQUIRED', 401,
                            self.authority.authenticate, bearer)

    def test_authenticate_workspace_token(self):
        issued = self.authority.issue(OWNER, self.ws.id, expires_in=10)
        principal = self.authority.authenticate(issued.token)
        self.assertEqual(Principal('workspace', workspace_id=self.ws.id,
                                   jti=issued.jti, scope=scopes.DEFAULT),
                         principal)
        self.assertRaises(errors.TokenInvalid, self.authority.authenticate,
                          issued.token[:-2])
        self.clock.advance(10)
        self.assertRaises(errors.TokenExpired, self.authority.authenticate,
                          issued.token)
        other = self.authority.issue(OWNER, self.ws.id)
        self.authority.revoke(OWNER, self.ws.id, other.jti)
        self.assertRaises(errors.TokenRevoked, self.authority.authenticate,
                          other.token)


class TestScopes(AuthorityTestCase):
    """Scoped tokens: no escalation, and tokens from before scopes."""

    def setUp(self):
        super().setUp()
        self.alice = self.authority.create_user(OWNER, 'alice')
        self.mine = self.authority.create_workspace(OWNER, 'mine',
                                                    owner=self.alice.user.id)
        self.alice_p = self.authority.authenticate(self.alice.credential)

    def token_principal(self, scope):
        issued = self.authority.issue(OWNER, self.mine.id, expires_in=DAY,
                                      scope=scope)
        return self.authority.authenticate(issued.token)

    def legacy_token(self):
        """A token as issued before scopes existed: scope 'workspace'."""
        key, private_key = self.authority.keys.primary()
        record = TokenRow(jti='jti_' + '1' * 32,
                          workspace_id=self.mine.id,
                          created_at=base.START, expires_at=None,
                          kid=key.kid, scope='workspace')
        self.authority.store.add_token(record, None,
                                       idempotency_since=base.START)
        return signing.encode_token(record, private_key)

    def test_a_user_grants_any_scope_in_its_workspace(self):
        issued = self.authority.issue(self.alice_p, self.mine.id,
                                          expires_in=DAY, scope=scopes.FULL)
        self.assertEqual(scopes.FULL, issued.scope)
        # and the default when it names none
        self.assertEqual(scopes.DEFAULT, self.authority.issue(
            self.alice_p, self.mine.id, expires_in=DAY).scope)

    def test_a_token_needs_tokens_write_to_issue(self):
        reader = self.token_principal(None)
        error = self.assertCode(errors.InsufficientScope,
                                'INSUFFICIENT_SCOPE', 403,
                                self.authority.issue, reader,
                                self.mine.id, expires_in=DAY,
                                scope=['workspace:read'])
        self.assertIn('tokens:write', error.message)

    def test_a_token_grants_only_what_it_holds(self):
        issuer = self.token_principal(['tokens:write', 'servers:read'])
        issued = self.authority.issue(issuer, self.mine.id,
                                          expires_in=DAY,
                                          scope=['servers:read'])
        self.assertEqual(('servers:read',), issued.scope)
        before = len(self.authority.list_tokens(OWNER, self.mine.id).tokens)
        for wanted in (['servers:write'], ['secrets:read'], None):
            # None is the default, workspace:read servers:read: too much
            error = self.assertCode(errors.InsufficientScope,
                                    'INSUFFICIENT_SCOPE', 403,
                                    self.authority.issue, issuer,
                                    self.mine.id, expires_in=DAY,
                                    scope=wanted)
            self.assertTrue(error.details['missing'])
        self.assertEqual(before, len(
            self.authority.list_tokens(OWNER, self.mine.id).tokens))

    def test_a_replay_cannot_launder_scopes(self):
        # the user issued a full token under a key; a weaker token that
        # replays the key must not receive it, and the audit trail says it
        # was refused (it once said "token.replay success" first)
        first = self.authority.issue(self.alice_p, self.mine.id,
                                     expires_in=DAY, scope=scopes.FULL,
                                     idempotency_key='k')
        issuer = self.token_principal(['tokens:write', 'servers:read'])
        self.assertRaises(errors.IdempotencyKeyConflict,
                          self.authority.issue, issuer, self.mine.id,
                          expires_in=DAY, scope=['servers:read'],
                          idempotency_key='k')
        reader = self.token_principal(None)
        self.assertRaises(errors.InsufficientScope, self.authority.issue,
                          reader, self.mine.id, expires_in=DAY,
                          scope=['servers:read'], idempotency_key='k')
        replays = self.authority.list_events(
            OWNER, self.mine.id, actions=['token.replay']).events
        self.assertEqual([('refused', issuer.jti, None,
                           'IDEMPOTENCY_KEY_CONFLICT')],
                         [(e.outcome, e.actor, e.target_jti, e.detail)
                          for e in replays])
        self.assertNotIn(first.jti, [e.target_jti for e in replays])

    def test_tokens_from_before_scopes_hold_every_scope(self):
        token = self.legacy_token()
        valid = self.authority.validate(token)
        self.assertEqual(scopes.FULL, valid.scope)
        principal = self.authority.authenticate(token)
        issued = self.authority.issue(principal, self.mine.id,
                                          expires_in=DAY, scope=scopes.FULL)
        self.assertEqual(scopes.FULL, issued.scope)
        listed = {t.jti: t for t in self.authority.list_tokens(
            OWNER, self.mine.id).tokens}
        self.assertEqual(scopes.FULL, listed[valid.jti].scope)

    def test_a_stored_scope_that_cannot_be_read_grants_nothing(self):
        record = self.authority.store.get_token(
            self.authority.issue(OWNER, self.mine.id).jti)
        from ntcli_authority.models import held_scopes
        self.assertEqual((), held_scopes('servers:root'))
        self.assertEqual((), held_scopes(''))
        self.assertEqual(scopes.DEFAULT, held_scopes(record.scope))

    def test_list_without_limit_gives_every_token(self):
        jtis = {self.authority.issue(OWNER,
                                     self.mine.id).jti for _ in range(12)}
        self.patch(authority_mod, 'MAX_PAGE', 5)
        page = self.authority.list_tokens(OWNER, self.mine.id, limit=None)
        self.assertEqual(jtis, {t.jti for t in page.tokens})
        self.assertEqual(12, len(page.tokens))
        self.assertIsNone(page.next_cursor)


class TestEveryOperationIsAuthorized(AuthorityTestCase):
    """Every public operation of the authority takes its caller first and
    refuses one without the right (ntcli_authority.access.RULES), with
    nothing changed; the caller with the right succeeds."""

    # They take a credential, not a caller: authenticating it is their job.
    # The exchange takes an external issuer's token: the trust policies it
    # matches are its authorization (ntcli_authority.trust).
    # sign_in takes a person a provider vouched for; record_* record the
    # refusal of one who is not let in.
    NO_CALLER = frozenset({'validate', 'authenticate', 'record_refusal',
                           'exchange', 'sign_in', 'record_sign_in_refusal',
                           'open', 'close', 'now'})

    def setUp(self):
        super().setUp()
        self.alice = self.authority.create_user(OWNER, 'alice')
        self.bob = self.authority.create_user(OWNER, 'bob')
        self.mine = self.authority.create_workspace(OWNER, 'mine',
                                                    owner=self.alice.user.id)
        self.alice_p = self.authority.authenticate(self.alice.credential)
        self.bob_p = self.authority.authenticate(self.bob.credential)
        self.full = self.authority.issue(OWNER, self.mine.id, expires_in=DAY,
                                         scope=scopes.FULL)
        self.full_p = self.authority.authenticate(self.full.token)
        self.reader = self.authority.issue(OWNER, self.mine.id,
                                           expires_in=DAY)
        self.reader_p = self.authority.authenticate(self.reader.token)
        # a full token of a workspace of alice's, not this one
        theirs = self.authority.create_workspace(OWNER, 'theirs',
                                                 owner=self.alice.user.id)
        self.foreign_p = self.authority.authenticate(self.authority.issue(
            OWNER, theirs.id, expires_in=DAY, scope=scopes.FULL).token)
        self.nobody = Principal('nobody')
        self.authority.create_trust_policy(
            OWNER, self.mine.id, 'standing', issuer='https://ci.example',
            conditions={'repository': 'acme/app'})

    def operations(self):
        """Each operation: a call of it by a principal, the principals
        with the right, those without."""
        a, ws = self.authority, self.mine.id
        admin_only = ([OWNER], [self.alice_p, self.full_p, self.nobody])
        owner_or_token = ([OWNER, self.alice_p, self.full_p, self.reader_p],
                          [self.bob_p, self.foreign_p, self.nobody])
        owner_only = ([OWNER, self.alice_p],
                      [self.bob_p, self.full_p, self.foreign_p, self.nobody])
        return {
            'create_workspace': (
                lambda p: a.create_workspace(p, 'w' + uuid.uuid4().hex[:8]),
                [OWNER, self.alice_p], [self.full_p, self.nobody]),
            'list_workspaces': (lambda p: a.list_workspaces(p),
                                [OWNER, self.alice_p, self.full_p],
                                [self.nobody]),
            'get_workspace': (lambda p: a.get_workspace(p, 'mine'),
                              *owner_or_token),
            'delete_workspace': (lambda p: a.delete_workspace(p, ws),
                                 *owner_only),
            'issue': (lambda p: a.issue(p, ws, expires_in=60,
                                        scope=['servers:read']),
                      [OWNER, self.alice_p, self.full_p],
                      [self.bob_p, self.reader_p, self.foreign_p,
                       self.nobody]),
            'list_tokens': (lambda p: a.list_tokens(p, ws), *owner_or_token),
            'get_token': (lambda p: a.get_token(p, ws, self.reader.jti),
                          *owner_or_token),
            'revoke': (lambda p: a.revoke(p, ws, self.reader.jti),
                       [OWNER, self.alice_p, self.reader_p],
                       [self.bob_p, self.full_p, self.foreign_p,
                        self.nobody]),
            'list_events': (lambda p: a.list_events(p, ws), *owner_only),
            'link_identity': (
                lambda p: a.link_identity(p, 'bob', 'https://idp.example',
                                          'b-' + uuid.uuid4().hex[:8]),
                *admin_only),
            'unlink_identity': (
                lambda p: a.unlink_identity(p, 'https://idp.example', 'b-1'),
                *admin_only),
            'list_identities': (lambda p: a.list_identities(p),
                                *admin_only),
            'purge_sessions': (lambda p: a.purge_sessions(p), *admin_only),
            'end_session': (lambda p: a.end_session(p), [],
                            [self.full_p, self.nobody]),
            'list_expiring': (lambda p: a.list_expiring(p, 86400),
                              *admin_only),
            'count_expiring': (lambda p: a.count_expiring(p, [86400]),
                               *admin_only),
            'create_trust_policy': (
                lambda p: a.create_trust_policy(
                    p, ws, 't' + uuid.uuid4().hex[:8],
                    issuer='https://ci.example', scope=['servers:read'],
                    conditions={'repository': 'acme/app'}),
                [OWNER, self.alice_p, self.full_p],
                [self.bob_p, self.reader_p, self.foreign_p, self.nobody]),
            'list_trust_policies': (lambda p: a.list_trust_policies(p, ws),
                                    [OWNER, self.alice_p, self.full_p],
                                    [self.bob_p, self.reader_p,
                                     self.foreign_p, self.nobody]),
            'get_trust_policy': (
                lambda p: a.get_trust_policy(p, ws, 'standing'),
                [OWNER, self.alice_p, self.full_p],
                [self.bob_p, self.reader_p, self.foreign_p, self.nobody]),
            'delete_trust_policy': (
                lambda p: a.delete_trust_policy(p, ws, 'standing'),
                [OWNER, self.alice_p],
                [self.bob_p, self.reader_p, self.foreign_p, self.nobody]),
            'purge_events': (lambda p: a.purge_events(p, 1), *admin_only),
            'purge_idempotency_keys': (
                lambda p: a.purge_idempotency_keys(p), *admin_only),
            'create_user': (
                lambda p: a.create_user(p, 'u' + uuid.uuid4().hex[:8]),
                *admin_only),
            'get_user': (lambda p: a.get_user(p, 'bob'), *admin_only),
            'list_users': (lambda p: a.list_users(p), *admin_only),
            'rotate_signing_key': (lambda p: a.rotate_signing_key(p),
                                   *admin_only),
            'retire_signing_keys': (lambda p: a.retire_signing_keys(p),
                                    *admin_only),
            'list_signing_keys': (lambda p: a.list_signing_keys(p),
                                  *admin_only),
        }

    def state(self):
        """Everything an operation could change, read from the store."""
        store = self.authority.store
        return (store.list_workspaces(authority_mod.ALL_OWNERS),
                store.list_users(), store.list_signing_keys(),
                store.list_trust_policies(),
                [store.list_tokens(w.id, now=0, include_expired=True,
                                   include_revoked=True, after=None,
                                   limit=1000)
                 for w in store.list_workspaces(authority_mod.ALL_OWNERS)],
                store.list_events(workspace_id=None, since=None, actions=(),
                                  after_id=None, limit=10000))

    def test_every_public_operation_takes_its_caller_first(self):
        public = {name for name in dir(authority_mod.Authority)
                  if not name.startswith('_')
                  and callable(getattr(authority_mod.Authority, name))}
        self.assertEqual(sorted(public - self.NO_CALLER),
                         sorted(self.operations()))
        import inspect
        for name in self.operations():
            parameters = list(inspect.signature(
                getattr(authority_mod.Authority, name)).parameters)
            self.assertEqual(['self', 'principal'], parameters[:2], name)

    def test_a_caller_without_the_right_is_refused_and_nothing_changes(self):
        for name, (call, _, refused) in self.operations().items():
            for principal in refused:
                before = self.state()
                self.assertRaises(errors.Forbidden, call, principal)
                self.assertEqual(before, self.state(),
                                 f'{name} by {principal}')

    def test_a_caller_with_the_right_succeeds(self):
        for name, (call, allowed, _) in self.operations().items():
            if name in ('delete_workspace', 'revoke', 'delete_trust_policy'):
                continue        # once only: below
            for principal in allowed:
                call(principal)
        self.authority.delete_trust_policy(self.alice_p, self.mine.id,
                                           'standing')
        self.authority.revoke(self.reader_p, self.mine.id, self.reader.jti)
        self.authority.revoke(self.alice_p, self.mine.id, self.full.jti)
        self.authority.delete_workspace(self.alice_p, self.mine.id)

    def test_each_sees_only_its_own_workspaces(self):
        self.authority.create_workspace(self.bob_p, 'bobs')
        self.assertEqual(['bobs'], [w.name for w in
                                    self.authority.list_workspaces(
                                        self.bob_p)])
        self.assertEqual(['mine', 'theirs'], [
            w.name for w in self.authority.list_workspaces(self.alice_p)])
        self.assertEqual(['mine'], [w.name for w in
                                    self.authority.list_workspaces(
                                        self.reader_p)])
        self.assertEqual(['alpha', 'beta', 'bobs', 'mine', 'theirs'], [
            w.name for w in self.authority.list_workspaces(OWNER)])

    def test_a_user_creates_workspaces_for_itself_only(self):
        created = self.authority.create_workspace(self.bob_p, 'bobs')
        self.assertEqual(self.bob.user.id, created.owner)
        self.assertRaises(errors.Forbidden, self.authority.create_workspace,
                          self.bob_p, 'stolen', owner=self.alice.user.id)

    def test_no_probing_of_which_workspaces_exist(self):
        for call in (
                lambda: self.authority.list_tokens(self.full_p,
                                                   str(uuid.uuid4())),
                lambda: self.authority.get_workspace(self.full_p, 'alpha'),
                lambda: self.authority.get_workspace(self.full_p,
                                                     'no-such')):
            self.assertRaises(errors.Forbidden, call)
        self.assertRaises(errors.WorkspaceNotFound,
                          self.authority.list_tokens, self.alice_p,
                          str(uuid.uuid4()))

    def test_the_audit_trail_names_the_caller(self):
        self.authority.revoke(self.reader_p, self.mine.id, self.reader.jti)
        self.authority.issue(self.alice_p, self.mine.id, expires_in=60)
        events = self.authority.list_events(OWNER, self.mine.id).events
        self.assertEqual([(self.reader.jti, 'token.revoke'),
                          (self.alice.user.id, 'token.issue')],
                         [(e.actor, e.action) for e in events[-2:]])


class TestOpen(testtools.TestCase):

    def test_system_clock_by_default(self):
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_core.clock.time.time', lambda: 1234.9))
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_TEST_CLOCK_OFFSET'))
        path = self.useFixture(fixtures.TempDir()).join('a.db')
        with authority_mod.Authority.open(path) as authority:
            self.assertEqual(1234, authority.now())

    def test_the_test_seam_moves_the_system_clock(self):
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_core.clock.time.time', lambda: 1234.9))
        path = self.useFixture(fixtures.TempDir()).join('a.db')
        with authority_mod.Authority.open(path) as authority:
            for offset, now in (('86400', 1234 + 86400), ('-34', 1200),
                                ('1e3', 1234), ('', 1234),
                                (str(10 ** 12), 1234)):
                self.useFixture(fixtures.EnvironmentVariable(
                    'NTCLI_TEST_CLOCK_OFFSET', offset))
                self.assertEqual(now, authority.now())
