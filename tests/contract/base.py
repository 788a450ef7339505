"""The endpoint contract: one set of scenarios every endpoint must pass.

The embedded endpoint and the HTTP endpoint (against a real ntcli-server)
run the same tests, so that a command behaves the same whichever endpoint
it talks to. Nothing here is mocked, and nothing is skipped: both endpoints
ask the same authority (ntcli_authority.access.RULES) about every
credential, so every access scenario runs on both. ``credential`` is the
owner of the workspaces the tests make: a user on the server, the local
owner (no credential) on the embedded endpoint.
"""

from __future__ import annotations

import re
import time
import uuid

from ntcli import errors
from ntcli_core import scopes
from ntcli_core.lifetimes import MAX_LIFETIME

JTI = re.compile(r'^jti_[0-9a-f]{32}$')
UNKNOWN_WORKSPACE = '00000000-0000-4000-8000-000000000000'


def unique_name(prefix: str = 'ws') -> str:
    return f'{prefix}-{uuid.uuid4().hex[:12]}'


def wait_until_past(ts: int) -> None:
    """Sleep until the Unix second ``ts`` has passed."""
    delay = ts + 0.05 - time.time()
    if delay > 0:
        time.sleep(delay)


class EndpointContract:
    """Scenarios for one endpoint; mix into a testtools.TestCase that
    provides :meth:`make_endpoint`, :meth:`rotate_signing_key`,
    :meth:`make_user`, ``credential`` (the owner's bearer, None for the
    embedded endpoint's local owner) and ``embedded``."""

    embedded: bool
    credential: str | None = None

    def make_endpoint(self):
        raise NotImplementedError

    def rotate_signing_key(self) -> None:
        raise NotImplementedError

    def make_user(self) -> str:
        """A new user of the authority; its credential."""
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.endpoint = self.make_endpoint()
        self.addCleanup(self.endpoint.close)
        self.workspace = self.endpoint.create_workspace(
            self.credential, unique_name())

    # -- helpers ----------------------------------------------------------
    def issue(self, **kwargs):
        kwargs.setdefault('expires_in', 3600)
        return self.endpoint.issue_token(self.credential, self.workspace.id,
                                         **kwargs)

    def listed(self, **kwargs):
        return {r.jti: r for r in self.endpoint.list_tokens(
            self.credential, self.workspace.id, **kwargs)}

    def full_token(self, **kwargs):
        """A token holding every scope, as ntcli keeps for itself."""
        return self.issue(scope=scopes.FULL, **kwargs)

    # -- workspaces -------------------------------------------------------
    def test_create_list_and_delete_a_workspace(self):
        name = unique_name()
        before = int(time.time())
        created = self.endpoint.create_workspace(self.credential, name,
                                                 'for the contract')
        self.assertEqual(name, created.name)
        self.assertRegex(created.id, r'^[0-9a-f-]{36}$')
        self.assertAlmostEqual(before, created.created_at, delta=5)
        listed = {w.id: w for w in self.endpoint.list_workspaces(
            self.credential)}
        self.assertEqual(created, listed[created.id])
        token = self.endpoint.issue_token(self.credential, created.id)
        self.endpoint.delete_workspace(self.credential, created.id)
        self.assertNotIn(created.id, [w.id for w in
                                      self.endpoint.list_workspaces(
                                          self.credential)])
        # its tokens died with it
        self.assertRaises(errors.TokenRevoked,
                          self.endpoint.validate_token, token.token)
        self.assertRaises(errors.WorkspaceNotFound,
                          self.endpoint.delete_workspace, self.credential,
                          created.id)

    def test_workspace_names_are_checked_and_unique(self):
        for bad in ('Bad', 'ab', '9lives', 'x' * 33, 'under_score'):
            self.assertRaises(errors.InvalidRequest,
                              self.endpoint.create_workspace,
                              self.credential, bad)
        exc = self.assertRaises(errors.Conflict,
                                self.endpoint.create_workspace,
                                self.credential, self.workspace.name)
        self.assertIn('already exists', exc.message)

    # -- issue ------------------------------------------------------------
    def test_issue_an_expiring_token(self):
        before = int(time.time())
        issued = self.issue(expires_in=86400, description='ci')
        self.assertTrue(issued.token.startswith('wst_'))
        self.assertRegex(issued.jti, JTI)
        self.assertEqual(self.workspace.id, issued.workspace_id)
        self.assertAlmostEqual(before, issued.created_at, delta=5)
        self.assertEqual(issued.created_at + 86400, issued.expires_at)
        self.assertEqual(scopes.DEFAULT, issued.scope)
        record = self.listed()[issued.jti]
        self.assertEqual(scopes.DEFAULT, record.scope)
        self.assertEqual(('active', issued.created_at, issued.expires_at,
                          'ci', None),
                         (record.status, record.created_at,
                          record.expires_at, record.description,
                          record.revoked_at))

    def test_issue_a_non_expiring_token(self):
        issued = self.issue(expires_in=None)
        self.assertIsNone(issued.expires_at)
        self.assertIsNone(self.endpoint.validate_token(issued.token)
                          .expires_at)
        self.assertIsNone(self.listed()[issued.jti].expires_at)

    def test_issue_with_an_expiry_time(self):
        at = int(time.time()) + 7200
        issued = self.issue(expires_in=None, expires_at=at)
        self.assertEqual(at, issued.expires_at)
        self.assertEqual(at, self.endpoint.validate_token(issued.token)
                         .expires_at)

    def test_invalid_expiries_are_refused(self):
        now = int(time.time())
        for kwargs in ({'expires_in': 0}, {'expires_in': -5},
                       {'expires_in': 11 * 366 * 86400},
                       {'expires_in': None, 'expires_at': now - 10},
                       {'expires_in': 60, 'expires_at': now + 60}):
            exc = self.assertRaises(errors.InvalidRequest, self.issue,
                                    **kwargs)
            self.assertIn('xpir', exc.message, kwargs)
        self.assertEqual({}, self.listed())

    def test_secret_shaped_descriptions_are_refused(self):
        # every token of the workspace can read a description
        secret = self.issue().token
        for text in (secret, f'ci {secret[:30]}', 'ntu_abcdefgh12345678'):
            exc = self.assertRaises(errors.InvalidRequest, self.issue,
                                    description=text)
            self.assertIn('description', exc.message)
            self.assertNotIn(secret[4:30], exc.message)
        self.assertRaises(errors.InvalidRequest,
                          self.endpoint.create_workspace, self.credential,
                          'described', 'key ntu_abcdefgh12345678')
        self.assertEqual(1, len(self.listed()))

    def test_same_idempotency_key_gives_the_same_token(self):
        first = self.issue(idempotency_key='refresh-1')
        again = self.issue(idempotency_key='refresh-1')
        other = self.issue(idempotency_key='refresh-2')
        self.assertEqual(first, again.replace(replayed=False))
        self.assertTrue(again.replayed)
        self.assertNotEqual(first.jti, other.jti)
        self.assertEqual({first.jti, other.jti}, set(self.listed()))

    # -- list -------------------------------------------------------------
    def test_an_idempotency_key_is_bound_to_its_caller(self):
        other = self.full_token()          # may issue in this workspace
        first = self.issue(idempotency_key='bound-key')
        self.assertFalse(first.replayed)
        error = self.assertRaises(
            errors.Conflict, self.endpoint.issue_token, other.token,
            self.workspace.id, expires_in=60, idempotency_key='bound-key')
        self.assertNotIn(first.jti, error.message)
        again = self.issue(idempotency_key='bound-key')
        self.assertEqual((first.token, True), (again.token, again.replayed))
        self.assertEqual({first.jti, other.jti}, set(self.listed()))
        replays = self.endpoint.list_events(self.credential,
                                            self.workspace.id,
                                            actions=['token.replay'])
        self.assertEqual([('refused', other.jti), ('success', first.jti)],
                         [(e.outcome, e.actor if e.outcome == 'refused'
                           else e.target_jti) for e in replays])

    def test_a_replay_hands_out_no_revoked_token(self):
        first = self.issue(idempotency_key='gone-key')
        self.endpoint.revoke_token(self.credential, self.workspace.id,
                                   first.jti)
        error = self.assertRaises(errors.ReplayedTokenGone, self.issue,
                                  idempotency_key='gone-key')
        self.assertEqual(first.jti, error.jti)
        self.assertIn('revoked', error.message)
        self.assertEqual({first.jti: 'revoked'}, {
            j: r.status for j, r in self.listed(include_revoked=True)
            .items()})

    def test_pages_give_every_token_exactly_once(self):
        issued = [self.issue().jti for _ in range(25)]
        seen, cursor, pages = [], None, 0
        while True:
            page, cursor = self.endpoint.list_tokens_page(
                self.credential, self.workspace.id, limit=10,
                cursor=cursor)
            pages += 1
            self.assertLessEqual(len(page), 10)
            seen.extend(r.jti for r in page)
            if not cursor:
                break
        self.assertEqual(3, pages)
        self.assertEqual(sorted(issued), sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        # list_tokens follows the pages itself
        self.assertEqual(set(issued), set(self.listed()))

    def test_listing_shows_expired_and_revoked_only_on_request(self):
        live = self.issue()
        dead = self.issue()
        short = self.issue(expires_in=1)
        self.endpoint.revoke_token(self.credential, self.workspace.id,
                                   dead.jti)
        wait_until_past(short.expires_at)
        self.assertEqual({live.jti}, set(self.listed()))
        everything = self.listed(include_expired=True, include_revoked=True)
        self.assertEqual({live.jti: 'active', dead.jti: 'revoked',
                          short.jti: 'expired'},
                         {j: r.status for j, r in everything.items()})
        self.assertEqual({live.jti, short.jti},
                         set(self.listed(include_expired=True)))
        self.assertEqual({live.jti, dead.jti},
                         set(self.listed(include_revoked=True)))
        self.assertRaises(errors.TokenExpired,
                          self.endpoint.validate_token, short.token)

    def test_bad_list_arguments_are_refused(self):
        self.assertRaises(errors.InvalidRequest,
                          self.endpoint.list_tokens_page, self.credential,
                          self.workspace.id, cursor='not-a-cursor')
        self.assertRaises(errors.InvalidRequest,
                          self.endpoint.list_tokens_page, self.credential,
                          self.workspace.id, limit=0)

    # -- revoke -----------------------------------------------------------
    def test_revoke_is_idempotent(self):
        token = self.issue()
        before = int(time.time())
        first = self.endpoint.revoke_token(self.credential,
                                           self.workspace.id, token.jti)
        self.assertEqual((token.jti, self.workspace.id, False),
                         (first.jti, first.workspace_id,
                          first.already_revoked))
        self.assertAlmostEqual(before, first.revoked_at, delta=5)
        again = self.endpoint.revoke_token(self.credential,
                                           self.workspace.id, token.jti)
        self.assertTrue(again.already_revoked)
        self.assertEqual(first.revoked_at, again.revoked_at)
        self.assertRaises(errors.TokenRevoked,
                          self.endpoint.validate_token, token.token)
        record = self.listed(include_revoked=True)[token.jti]
        self.assertEqual(('revoked', first.revoked_at),
                         (record.status, record.revoked_at))

    def test_revoke_after_a_grace_period(self):
        token = self.full_token()
        before = int(time.time())
        # the token itself asks, as a refresh without a user credential does
        retiring = self.endpoint.revoke_token(
            None if self.embedded else token.token, self.workspace.id,
            token.jti, grace=3600)
        self.assertEqual((True, False), (retiring.retiring,
                                         retiring.already_revoked))
        self.assertAlmostEqual(before + 3600, retiring.revoked_at, delta=5)
        valid = self.endpoint.validate_token(token.token)
        self.assertEqual(retiring.revoked_at, valid.revoked_at)
        record = self.listed()[token.jti]
        self.assertEqual(('active', retiring.revoked_at),
                         (record.status, record.revoked_at))
        # a longer grace postpones nothing
        later = self.endpoint.revoke_token(self.credential,
                                           self.workspace.id, token.jti,
                                           grace=7200)
        self.assertEqual((True, True, retiring.revoked_at),
                         (later.retiring, later.already_revoked,
                          later.revoked_at))
        # a revoke without grace ends it at once
        now = self.endpoint.revoke_token(self.credential, self.workspace.id,
                                         token.jti)
        self.assertEqual((False, False), (now.retiring, now.already_revoked))
        self.assertAlmostEqual(before, now.revoked_at, delta=5)
        self.assertRaises(errors.TokenRevoked,
                          self.endpoint.validate_token, token.token)
        self.assertIsNone(self.endpoint.validate_token(
            self.issue().token).revoked_at)

    def test_a_grace_period_is_bounded(self):
        from ntcli_core.lifetimes import MAX_GRACE
        token = self.issue()
        for grace in (-1, MAX_GRACE + 1):
            self.assertRaises(errors.InvalidRequest,
                              self.endpoint.revoke_token, self.credential,
                              self.workspace.id, token.jti, grace=grace)
        self.assertEqual(('active', None), (
            self.listed()[token.jti].status,
            self.listed()[token.jti].revoked_at))

    def test_revoke_an_unknown_token(self):
        exc = self.assertRaises(errors.TokenNotFound,
                                self.endpoint.revoke_token, self.credential,
                                self.workspace.id, 'jti_' + '0' * 32)
        self.assertEqual(f"Token with JTI 'jti_{'0' * 32}' not found",
                         exc.message)

    def test_a_token_of_another_workspace_is_not_found_here(self):
        token = self.issue()
        other = self.endpoint.create_workspace(self.credential,
                                               unique_name())
        self.assertRaises(errors.TokenNotFound, self.endpoint.revoke_token,
                          self.credential, other.id, token.jti)
        self.endpoint.validate_token(token.token)

    def test_unknown_workspace(self):
        for call in (
                lambda: self.endpoint.issue_token(self.credential,
                                                  UNKNOWN_WORKSPACE),
                lambda: self.endpoint.list_tokens(self.credential,
                                                  UNKNOWN_WORKSPACE),
                lambda: self.endpoint.revoke_token(
                    self.credential, UNKNOWN_WORKSPACE, 'jti_' + '0' * 32),
                lambda: self.endpoint.delete_workspace(self.credential,
                                                       UNKNOWN_WORKSPACE)):
            self.assertRaises(errors.WorkspaceNotFound, call)

    # -- validate ---------------------------------------------------------
    def test_validate_an_active_token(self):
        token = self.issue()
        valid = self.endpoint.validate_token(token.token)
        self.assertEqual((token.jti, self.workspace.id, token.expires_at),
                         (valid.jti, valid.workspace_id, valid.expires_at))

    def test_validate_rejects_garbage_and_forgeries(self):
        token = self.issue().token
        head, body, signature = token.split('.')
        forged = '.'.join([head, body, signature[::-1]])
        for bad in ('garbage', 'wst_', 'wst_a.b.c', forged,
                    token.replace('wst_', 'xyz_')):
            self.assertRaises(errors.TokenInvalid,
                              self.endpoint.validate_token, bad)

    def test_old_tokens_survive_a_signing_key_rotation(self):
        old = self.issue()
        self.rotate_signing_key()
        new = self.issue()
        self.assertEqual(old.jti, self.endpoint.validate_token(old.token).jti)
        self.assertEqual(new.jti, self.endpoint.validate_token(new.token).jti)

    # -- access (endpoints with credentials) ------------------------------
    def test_unknown_user_credential(self):
        for bearer in ('ntu_' + 'x' * 43, 'garbage'):
            self.assertRaises(errors.AuthenticationRequired,
                              self.endpoint.list_workspaces, bearer)
        self.assertRaises(errors.TokenInvalid, self.endpoint.list_workspaces,
                          'wst_' + 'x' * 43)

    def test_a_user_may_not_touch_another_users_workspace(self):
        stranger = self.make_user()
        token = self.issue()
        self.assertEqual([], self.endpoint.list_workspaces(stranger))
        for call in (
                lambda: self.endpoint.issue_token(stranger,
                                                  self.workspace.id),
                lambda: self.endpoint.list_tokens(stranger,
                                                  self.workspace.id),
                lambda: self.endpoint.revoke_token(
                    stranger, self.workspace.id, token.jti),
                lambda: self.endpoint.list_events(stranger,
                                                  self.workspace.id),
                lambda: self.endpoint.delete_workspace(stranger,
                                                       self.workspace.id)):
            self.assertRaises(errors.Forbidden, call)
        self.endpoint.validate_token(token.token)
        # its own workspace is its own
        own = self.endpoint.create_workspace(stranger, unique_name())
        self.assertEqual([own.id], [w.id for w in
                                    self.endpoint.list_workspaces(stranger)])
        self.endpoint.issue_token(stranger, own.id, expires_in=60)

    def test_workspace_token_works_in_its_own_workspace(self):
        bearer = self.full_token()
        issued = self.endpoint.issue_token(bearer.token, self.workspace.id,
                                           expires_in=60)
        self.assertIn(issued.jti, {r.jti for r in self.endpoint.list_tokens(
            bearer.token, self.workspace.id)})
        # and revokes itself, the last step of a refresh
        revoked = self.endpoint.revoke_token(bearer.token, self.workspace.id,
                                             bearer.jti)
        self.assertEqual(bearer.jti, revoked.jti)
        self.assertRaises(errors.TokenRevoked, self.endpoint.list_tokens,
                          bearer.token, self.workspace.id)

    def test_workspace_token_may_not_revoke_another_token(self):
        bearer = self.full_token()
        victim = self.issue()
        self.assertRaises(errors.Forbidden, self.endpoint.revoke_token,
                          bearer.token, self.workspace.id, victim.jti)
        self.endpoint.validate_token(victim.token)

    def test_workspace_token_may_not_issue_a_non_expiring_token(self):
        # Else a stolen workspace token could mint a permanent one.
        bearer = self.full_token()
        error = self.assertRaises(errors.Forbidden, self.endpoint.issue_token,
                                  bearer.token, self.workspace.id)
        self.assertIn('needs a user credential', error.message)
        self.assertEqual({bearer.jti}, set(self.listed()))
        # one that expires, up to ten years, it may issue
        ten_years = MAX_LIFETIME
        issued = self.endpoint.issue_token(bearer.token, self.workspace.id,
                                           expires_in=ten_years)
        self.assertEqual(ten_years, issued.expires_at - issued.created_at)
        self.assertRaises(errors.InvalidRequest, self.endpoint.issue_token,
                          bearer.token, self.workspace.id,
                          expires_in=ten_years + 1)
        # the user still may issue a non-expiring one
        self.assertIsNone(self.endpoint.issue_token(
            self.credential, self.workspace.id).expires_at)

    def test_workspace_token_may_not_touch_another_workspace(self):
        bearer = self.full_token()
        other = self.endpoint.create_workspace(self.credential,
                                               unique_name())
        theirs = self.endpoint.issue_token(self.credential, other.id)
        for call in (
                lambda: self.endpoint.issue_token(bearer.token, other.id),
                lambda: self.endpoint.list_tokens(bearer.token, other.id),
                lambda: self.endpoint.revoke_token(bearer.token, other.id,
                                                   theirs.jti),
                lambda: self.endpoint.issue_token(bearer.token,
                                                  UNKNOWN_WORKSPACE),
                lambda: self.endpoint.list_events(bearer.token, other.id),
                lambda: self.endpoint.create_workspace(bearer.token,
                                                       unique_name()),
                lambda: self.endpoint.delete_workspace(bearer.token,
                                                       self.workspace.id),
                lambda: self.endpoint.delete_workspace(bearer.token,
                                                       other.id)):
            self.assertRaises(errors.Forbidden, call)
        # of the workspaces, it sees its own
        self.assertEqual([self.workspace.id], [
            w.id for w in self.endpoint.list_workspaces(bearer.token)])
        self.endpoint.validate_token(theirs.token)

    def test_a_revoked_token_is_no_credential(self):
        bearer = self.full_token()
        self.endpoint.revoke_token(self.credential, self.workspace.id,
                                   bearer.jti)
        self.assertRaises(errors.TokenRevoked, self.endpoint.issue_token,
                          bearer.token, self.workspace.id)

    # -- scopes -------------------------------------------------------------
    def test_scopes_are_granted_in_canonical_form(self):
        issued = self.issue(scope=['tokens:write', 'servers:read'])
        canonical = ('servers:read', 'tokens:read', 'tokens:write')
        self.assertEqual(canonical, issued.scope)
        self.assertEqual(canonical, self.listed()[issued.jti].scope)
        self.assertEqual(scopes.FULL, self.full_token().scope)

    def test_unknown_scopes_are_refused(self):
        for scope in (['servers:admin'], ['billing:read'], [],
                      ['servers:read\x1b[31m'], ['SERVERS:READ']):
            self.assertRaises(errors.InvalidRequest, self.issue,
                              scope=scope)
        self.assertEqual({}, self.listed())

    def test_a_token_without_tokens_write_cannot_issue(self):
        reader = self.issue()
        error = self.assertRaises(errors.InsufficientScope,
                                  self.endpoint.issue_token, reader.token,
                                  self.workspace.id, expires_in=60,
                                  scope=['workspace:read'])
        self.assertIn('tokens:write', error.message)
        self.assertEqual({reader.jti}, set(self.listed()))
        # but it lists its workspace's tokens and revokes itself
        self.assertEqual({reader.jti}, {r.jti for r in self.endpoint
                                        .list_tokens(reader.token,
                                                     self.workspace.id)})
        self.endpoint.revoke_token(reader.token, self.workspace.id,
                                   reader.jti)
        self.assertRaises(errors.TokenRevoked, self.endpoint.validate_token,
                          reader.token)

    def test_a_token_grants_only_scopes_it_holds(self):
        issuer = self.issue(scope=['tokens:write', 'servers:read'])
        child = self.endpoint.issue_token(issuer.token, self.workspace.id,
                                          expires_in=60,
                                          scope=['servers:read'])
        self.assertEqual(('servers:read',), child.scope)
        for wanted in (['servers:write'], ['secrets:read'], None):
            self.assertRaises(errors.InsufficientScope,
                              self.endpoint.issue_token, issuer.token,
                              self.workspace.id, expires_in=60,
                              scope=wanted)
        self.assertEqual({issuer.jti, child.jti}, set(self.listed()))
        # the owner grants whatever it likes
        self.assertEqual(scopes.FULL, self.endpoint.issue_token(
            self.credential, self.workspace.id, expires_in=60,
            scope=scopes.FULL).scope)

    def test_a_full_token_renews_itself_with_its_scopes(self):
        # what 'ntcli token refresh' does without a user credential
        old = self.full_token()
        new = self.endpoint.issue_token(old.token, self.workspace.id,
                                        expires_in=3600, scope=old.scope)
        self.assertEqual(scopes.FULL, new.scope)
        self.endpoint.revoke_token(old.token, self.workspace.id, old.jti)
        self.assertEqual(new.jti,
                         self.endpoint.validate_token(new.token).jti)

    # -- the audit trail --------------------------------------------------
    def test_the_audit_trail_tells_what_happened_to_the_tokens(self):
        first = self.issue()
        self.issue(idempotency_key='contract-key')
        self.issue(idempotency_key='contract-key')
        for _ in range(2):
            self.endpoint.revoke_token(self.credential, self.workspace.id,
                                       first.jti)
        events = self.endpoint.list_events(self.credential,
                                           self.workspace.id)
        self.assertEqual(
            ['workspace.create', 'token.issue', 'token.issue',
             'token.replay', 'token.revoke', 'token.revoke'],
            [e.action for e in events])
        self.assertEqual(['success'] * 5 + ['unchanged'],
                         [e.outcome for e in events])
        self.assertEqual(first.jti, events[1].target_jti)
        self.assertEqual(first.jti, events[-1].target_jti)
        ids = [e.id for e in events]
        self.assertEqual(sorted(set(ids)), ids)
        revokes = self.endpoint.list_events(
            self.credential, self.workspace.id, actions=['token.revoke'],
            since=events[0].time)
        self.assertEqual(events[-2:], revokes)
        page, cursor = self.endpoint.list_events_page(
            self.credential, self.workspace.id, limit=4)
        self.assertEqual(events[:4], page)
        rest, end = self.endpoint.list_events_page(
            self.credential, self.workspace.id, limit=4, cursor=cursor)
        self.assertEqual((events[4:], None), (rest, end))

    def test_the_audit_trail_of_an_unknown_workspace(self):
        self.assertRaises(errors.WorkspaceNotFound, self.endpoint.list_events,
                          self.credential, UNKNOWN_WORKSPACE)

    def test_only_the_owner_reads_the_audit_trail(self):
        # not a token of the workspace, whatever its scopes...
        for scope in (None, scopes.FULL):
            bearer = self.issue(scope=scope)
            self.assertRaises(errors.Forbidden, self.endpoint.list_events,
                              bearer.token, self.workspace.id)
            self.assertRaises(errors.Forbidden,
                              self.endpoint.list_events_page, bearer.token,
                              self.workspace.id)
        # ...nor one of another workspace
        other = self.endpoint.create_workspace(self.credential,
                                               unique_name())
        theirs = self.endpoint.issue_token(self.credential, other.id,
                                           expires_in=60, scope=scopes.FULL)
        self.assertRaises(errors.Forbidden, self.endpoint.list_events_page,
                          theirs.token, self.workspace.id)
        self.assertTrue(self.endpoint.list_events(self.credential,
                                                  self.workspace.id))

    def test_a_read_only_token_creates_no_token_and_no_workspace(self):
        reader = self.issue(scope=['workspace:read', 'servers:read'])
        victim = self.issue()
        for call in (
                lambda: self.endpoint.issue_token(
                    reader.token, self.workspace.id, expires_in=60,
                    scope=['tokens:write']),
                lambda: self.endpoint.revoke_token(
                    reader.token, self.workspace.id, victim.jti),
                lambda: self.endpoint.create_workspace(reader.token,
                                                       unique_name()),
                lambda: self.endpoint.delete_workspace(reader.token,
                                                       self.workspace.id)):
            self.assertRaises(errors.Forbidden, call)
        self.assertEqual({reader.jti, victim.jti}, set(self.listed()))
        self.endpoint.validate_token(victim.token)
