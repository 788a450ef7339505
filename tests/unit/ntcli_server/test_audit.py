"""The server's audit trail through the token API: what each request
records, that nothing secret is recorded, that no change happens without
its record, and GET /v1/workspaces/{id}/events."""

from __future__ import annotations

import sqlite3

import fixtures

from ntcli_authority import models
from ntcli_authority.access import Principal
from ntcli_server import refusals
from tests.unit.ntcli_server import test_wsgi

OWNER = Principal.local()  # the local owner may do everything

UA = 'ntcli/9.9 (audit test)'


class AuditTestCase(test_wsgi.APITestCase):

    #: Whether the signing key exists before the test (else the first
    #: issue makes it, and that is recorded too).
    premade_key = True

    def setUp(self):
        super().setUp()
        self.alice_id = self.authority.get_user(OWNER, 'alice').id
        if self.premade_key:
            self.authority.rotate_signing_key(OWNER)
        self.first = len(self.authority.store.list_events())

    def call(self, method, path, credential=None, **kwargs):
        headers = kwargs.setdefault('headers', {})
        headers.setdefault('User-Agent', UA)
        return super().call(method, path, credential, **kwargs)

    def new_events(self):
        return self.authority.store.list_events()[self.first:]

    def audit_rows(self):
        """Every column of every audit row, as the database has it."""
        conn = sqlite3.connect(self.fx.path)
        self.addCleanup(conn.close)
        return conn.execute('SELECT * FROM audit_events').fetchall()

    def assertNoSecretIn(self, rows, *secrets):
        text = repr(rows)
        for secret in secrets:
            self.assertNotIn(secret, text)
            # not even a recognizable part of it
            self.assertNotIn(secret[-24:], text)


class TestRecords(AuditTestCase):

    def test_issue_and_revoke_over_http_record_exactly_their_events(self):
        result = self.call('POST', self.tokens_path(), self.alice, json={},
                           headers={'X-Request-Id': 'req-issue'})
        self.assertEqual(201, result.status_code)
        issued = result.json
        result = self.call('DELETE',
                           self.tokens_path() + '/' + issued['jti'],
                           self.alice, headers={'X-Request-Id': 'req-revoke'})
        self.assertEqual(200, result.status_code)
        self.assertEqual([
            models.AuditEvent(
                at=self.clock.now, action='token.issue', outcome='success',
                actor=self.alice_id, workspace_id=self.ws.id,
                target_jti=issued['jti'], client='127.0.0.1',
                request_id='req-issue', user_agent=UA),
            models.AuditEvent(
                at=self.clock.now, action='token.revoke', outcome='success',
                actor=self.alice_id, workspace_id=self.ws.id,
                target_jti=issued['jti'], client='127.0.0.1',
                request_id='req-revoke', user_agent=UA)],
            [e.replace(id=None) for e in self.new_events()])
        user_hash = self.authority.get_user(OWNER, 'alice').credential_hash
        self.assertNoSecretIn(self.audit_rows(), issued['access_token'],
                              issued['access_token'].split('.')[-1],
                              self.alice, self.bob, user_hash)

    def test_a_workspace_token_is_the_actor_by_its_jti(self):
        own = self.issue(scope='tokens:write', expires_in=3600)
        self.first = len(self.authority.store.list_events())
        self.call('DELETE', self.tokens_path() + '/' + own['jti'],
                  own['access_token'])
        [revoke] = self.new_events()
        self.assertEqual((own['jti'], own['jti']),
                         (revoke.actor, revoke.target_jti))

    def test_replay_repeated_revoke_and_workspaces(self):
        for _ in range(2):
            self.call('POST', self.tokens_path(), self.alice, json={},
                      headers={'Idempotency-Key': 'k-1'})
        jti = self.new_events()[0].target_jti
        for _ in range(2):
            self.call('DELETE', self.tokens_path() + '/' + jti, self.alice)
        created = self.call('POST', '/v1/workspaces', self.alice,
                            json={'name': 'ci-builds'}).json
        self.call('DELETE', '/v1/workspaces/' + created['workspace_id'],
                  self.alice)
        self.assertEqual(
            [('token.issue', 'success', jti),
             ('token.replay', 'success', jti),
             ('token.revoke', 'success', jti),
             ('token.revoke', 'unchanged', jti),
             ('workspace.create', 'success', None),
             ('workspace.delete', 'success', None)],
            [(e.action, e.outcome, e.target_jti) for e in self.new_events()])
        self.assertEqual(created['workspace_id'],
                         self.new_events()[-1].workspace_id)
        self.assertEqual('tokens_revoked=0', self.new_events()[-1].detail)

    def test_refused_credentials_are_recorded_without_them(self):
        token = self.issue()
        self.call('DELETE', self.tokens_path() + '/' + token['jti'],
                  self.alice)
        self.first = len(self.authority.store.list_events())
        # four clients (one client's refusals are aggregated: see below)
        self.call('GET', self.tokens_path(), token['access_token'],
                  remote_addr='192.0.2.1')
        self.call('GET', self.tokens_path(), 'ntu_not-a-real-credential',
                  remote_addr='192.0.2.2')
        self.call('GET', '/v1/workspaces/' + 'x' * 200 + '/tokens',
                  'wst_forged.token.value', remote_addr='192.0.2.3')
        self.call('GET', '/v1/workspaces', headers={
            'User-Agent': 'evil\x1b[2J' + 'a' * 1000},
            remote_addr='192.0.2.4')
        events = self.new_events()
        self.assertEqual(
            [('auth.refused', 'refused', token['jti'], self.ws.id,
              'TOKEN_REVOKED'),
             ('auth.refused', 'refused', None, self.ws.id,
              'AUTHENTICATION_REQUIRED'),
             ('auth.refused', 'refused', None, None, 'TOKEN_INVALID'),
             ('auth.refused', 'refused', None, None,
              'AUTHENTICATION_REQUIRED')],
            [(e.action, e.outcome, e.actor, e.workspace_id, e.detail)
             for e in events])
        self.assertEqual('evil[2J' + 'a' * 249, events[-1].user_agent)
        self.assertNoSecretIn(self.audit_rows(), token['access_token'],
                              'ntu_not-a-real-credential',
                              'wst_forged.token.value')

    def test_one_address_adds_one_event_a_minute(self):
        now = [1000.0]
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_server.refusals.time.monotonic', lambda: now[0]))
        self.first = len(self.authority.store.list_events())
        for number in range(50):
            self.call('GET', self.tokens_path(), f'ntu_guess-{number}',
                      remote_addr='198.51.100.7',
                      headers={'User-Agent': 'x' * 256})
        self.call('GET', self.tokens_path(), 'ntu_other',
                  remote_addr='198.51.100.8')
        self.assertEqual(
            [('198.51.100.7', 'AUTHENTICATION_REQUIRED'),
             ('198.51.100.8', 'AUTHENTICATION_REQUIRED')],
            [(e.client, e.detail) for e in self.new_events()])
        now[0] += refusals.WINDOW
        self.call('GET', self.tokens_path(), 'ntu_guess-again',
                  remote_addr='198.51.100.7')
        self.assertEqual(('198.51.100.7',
                          'AUTHENTICATION_REQUIRED (+49 not recorded)'),
                         (self.new_events()[-1].client,
                          self.new_events()[-1].detail))
        self.assertEqual(3, len(self.new_events()))

    def test_token_auth_refusals_are_metrics_not_events(self):
        self.call('GET', '/v1/token_auth', 'wst_forged.token.value')
        self.assertEqual([], self.new_events())


class TestFirstSigningKey(AuditTestCase):

    premade_key = False

    def test_it_is_recorded_with_the_issue_that_made_it(self):
        issued = self.call('POST', self.tokens_path(), self.alice, json={},
                           headers={'X-Request-Id': 'first'}).json
        key, issue = self.new_events()
        self.assertEqual(('signing_key.rotate', 'first', self.alice_id),
                         (key.action, key.request_id, key.actor))
        self.assertEqual(self.authority.list_signing_keys(OWNER)[0].kid,
                         key.detail)
        self.assertEqual(('token.issue', issued['jti']),
                         (issue.action, issue.target_jti))
        self.call('POST', self.tokens_path(), self.alice, json={})
        self.assertEqual('token.issue', self.new_events()[-1].action)


class TestNoChangeWithoutItsRecord(AuditTestCase):

    def test_issue_and_revoke_fail_with_503_and_change_nothing(self):
        token = self.issue()
        conn = sqlite3.connect(self.fx.path)
        conn.execute('DROP TABLE audit_events')
        conn.commit()
        conn.close()
        self.assertError(self.call('POST', self.tokens_path(), self.alice,
                                   json={}), 503, 'STORAGE_UNAVAILABLE')
        self.assertError(self.call('DELETE',
                                   self.tokens_path() + '/' + token['jti'],
                                   self.alice), 503, 'STORAGE_UNAVAILABLE')
        self.assertError(self.call('POST', '/v1/workspaces', self.alice,
                                   json={'name': 'other'}), 503,
                         'STORAGE_UNAVAILABLE')
        tokens = self.authority.list_tokens(OWNER, self.ws.id,
                                            include_revoked=True).tokens
        self.assertEqual([(token['jti'], 'active')],
                         [(t.jti, t.status) for t in tokens])
        self.assertEqual(['main'], [
            w.name for w in self.authority.list_workspaces(OWNER)])


class TestEventsEndpoint(AuditTestCase):

    def events_path(self, ws_id=None):
        return f'/v1/workspaces/{ws_id or self.ws.id}/events'

    def test_the_owner_reads_the_trail_in_pages(self):
        jtis = [self.issue()['jti'] for _ in range(3)]
        self.call('DELETE', self.tokens_path() + '/' + jtis[0], self.alice)
        seen, cursor = [], None
        while True:
            params = {'limit': '2', **({'cursor': cursor} if cursor else {})}
            body = self.call('GET', self.events_path(), self.alice,
                             params=params).json
            self.assertEqual(self.ws.id, body['workspace_id'])
            self.assertEqual(len(body['events']), body['count'])
            seen += body['events']
            cursor = body['next_cursor']
            if cursor is None:
                break
        self.assertEqual(
            ['workspace.create', 'token.issue', 'token.issue', 'token.issue',
             'token.revoke'], [e['action'] for e in seen])
        self.assertEqual({'id', 'time', 'action', 'outcome', 'actor',
                          'workspace_id', 'target_jti', 'client',
                          'request_id', 'user_agent', 'detail'},
                         set(seen[-1]))
        self.assertEqual(jtis[0], seen[-1]['target_jti'])
        self.assertRegex(seen[-1]['time'], test_wsgi.ISO)

    def test_filters(self):
        self.issue()
        self.clock.advance(100)
        jti = self.issue()['jti']
        self.call('DELETE', self.tokens_path() + '/' + jti, self.alice)
        body = self.call('GET', self.events_path(), self.alice,
                         params={'since': str(self.clock.now)}).json
        self.assertEqual(['token.issue', 'token.revoke'],
                         [e['action'] for e in body['events']])
        body = self.call('GET', self.events_path(), self.alice,
                         params={'action': 'token.revoke'}).json
        self.assertEqual([jti], [e['target_jti'] for e in body['events']])
        body = self.call('GET', self.events_path(), self.alice, params={
            'action': ['token.revoke', 'workspace.create']}).json
        self.assertEqual(['workspace.create', 'token.revoke'],
                         [e['action'] for e in body['events']])

    def test_only_the_owner(self):
        token = self.issue(scope='tokens:write')['access_token']
        self.assertError(self.call('GET', self.events_path(), self.bob),
                         403, 'FORBIDDEN')
        self.assertError(self.call('GET', self.events_path(), token),
                         403, 'FORBIDDEN')
        self.assertError(self.call('GET', self.events_path()), 401,
                         'AUTHENTICATION_REQUIRED')
        self.assertError(self.call('GET', self.events_path('nope'),
                                   self.alice), 404, 'WORKSPACE_NOT_FOUND')

    def test_bad_queries(self):
        for params, code in (({'action': 'token.steal'}, 'INVALID_REQUEST'),
                             ({'cursor': 'abc'}, 'INVALID_REQUEST'),
                             ({'limit': '0'}, 'INVALID_REQUEST'),
                             ({'since': 'yesterday'}, 'VALIDATION_ERROR')):
            result = self.call('GET', self.events_path(), self.alice,
                               params=params)
            self.assertEqual(code, result.json['error']['code'], params)
