"""Refresh against a failing server: killed, crashed in the middle, hanging,
answering HTML or a 502. Whatever happens, a working token stays stored,
the user gets one clear error, and an unfinished revocation is finished by
the next command once the server is back."""

from __future__ import annotations

import json
import time

from ntcli_server import testing
from tests.functional.test_remote import RemoteTest


class FaultTest(RemoteTest):
    """A server of its own (so it can be killed) and a first token."""

    server_per_test = True

    def setUp(self):
        super().setUp()
        self.login_and_select()
        self.quick('token', 'refresh')
        self.first = self.stored()

    def assertOneClearError(self, result, *phrases):
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertEqual('', result.stdout)
        lines = result.stderr.splitlines()
        self.assertLessEqual(len(lines), 2, result.stderr)
        self.assertTrue(lines[-1].startswith('Hint: '), result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        for phrase in phrases:
            self.assertIn(phrase, lines[0])
        self.assertNoSecrets(result.stderr)

    def assertStillStored(self, token):
        """The stored token is ``token`` and the server accepts it."""
        self.assertEqual(token.token, self.stored().token)
        self.assertEqual(200, self.token_auth(token.token).status_code)


class TestServerKilled(FaultTest):

    def test_refresh_while_the_server_is_down(self):
        self.server.kill()
        started = time.monotonic()
        result = self.ntcli('--timeout', '120', 'token', 'refresh',
                            expect=None)
        # refused at once, not after the timeout (bound wide for slow
        # machines, still far below it)
        self.assertLess(time.monotonic() - started, 60)
        self.assertOneClearError(
            result, f'Cannot reach the endpoint at {self.url}: '
                    'connection refused')
        self.assertEqual([], self.credentials().pending_revocations(
            self.url))
        self.server.restart()
        self.assertStillStored(self.first)

    def test_client_killed_after_issue_and_server_restarted(self):
        result = self.ntcli('token', 'refresh', expect=None,
                            env={'NTCLI_FAULT': 'after-issue'})
        self.assertEqual(-9, result.returncode)
        self.server.restart()
        self.assertStillStored(self.first)

    def test_client_killed_after_store_while_the_server_dies(self):
        result = self.ntcli('token', 'refresh', expect=None,
                            env={'NTCLI_FAULT': 'after-store'})
        self.assertEqual(-9, result.returncode)
        new = self.stored()
        self.assertNotEqual(self.first.jti, new.jti)
        pending = self.credentials().pending_revocations(self.url)
        self.assertEqual([self.first.jti], [p.jti for p in pending])
        self.server.kill()
        # server down: the next command keeps the revocation pending
        result = self.ntcli('token', 'show', '-f', 'json')
        self.assertIn(f'revocation of token {self.first.jti} is still '
                      'pending', result.stderr)
        self.assertFalse(json.loads(result.stdout)['verified'])
        self.assertEqual(1, len(self.credentials().pending_revocations(
            self.url)))
        # server back: the next command finishes it
        self.server.restart()
        self.assertEqual(200, self.token_auth(self.first.token).status_code)
        result = self.ntcli('token', 'show')
        self.assertEqual('', result.stderr)
        self.assertEqual(401, self.token_auth(self.first.token).status_code)
        self.assertEqual([], self.credentials().pending_revocations(
            self.url))
        self.assertStillStored(new)


class TestServerKilledBeforeRevoke(FaultTest):
    """The server dies between issue+store and revoke, behind a proxy."""

    def endpoint_url(self):
        self.proxy = self.useFixture(testing.FaultProxy(self.server.url))
        return self.proxy.url

    def test_failed_revoke_is_retried_when_the_server_is_back(self):
        def kill_on_revoke(method, path):
            if method == 'DELETE':
                self.server.kill()
        self.proxy.before_forward = kill_on_revoke
        result = self.ntcli('token', 'refresh', '-f', 'json')
        out = json.loads(result.stdout)
        self.assertEqual(self.first.jti, out['old_token']['jti'])
        self.assertIsNone(out['old_token']['revoked_at'])
        self.assertTrue(out['old_token']['revocation_pending'])
        self.assertIn(f'the old token {self.first.jti} could not be revoked',
                      result.stderr)
        self.assertIn('will be retried', result.stderr)
        new = self.stored()
        self.assertEqual(out['new_token']['jti'], new.jti)
        pending = self.credentials().pending_revocations(self.url)
        self.assertEqual([self.first.jti], [p.jti for p in pending])
        self.proxy.before_forward = None
        self.server.restart()
        self.assertEqual(200, self.token_auth(self.first.token).status_code)
        self.ntcli('token', 'list')
        self.assertEqual(401, self.token_auth(self.first.token).status_code)
        self.assertEqual([], self.credentials().pending_revocations(
            self.url))
        self.assertStillStored(new)


class TestMisbehavingServer(FaultTest):
    """A hang, an HTML 502 and garbage, between ntcli and the server."""

    server_per_test = False          # the proxy misbehaves, not the server

    def endpoint_url(self):
        self.proxy = self.useFixture(testing.FaultProxy(self.server.url))
        return self.proxy.url

    def test_a_hanging_server_times_out(self):
        self.proxy.fail(testing.HANG)
        seen = len(self.proxy.seen)
        started = time.monotonic()
        result = self.ntcli('--timeout', '1', 'token', 'refresh',
                            expect=None)
        # The proxy hangs for 300 s: ending well before proves the 1-second
        # timeout, with room for a slow machine; the request is asked once
        # more with its key (ntcli.issues), no more.
        self.assertLess(time.monotonic() - started, 60)
        self.assertEqual(2, len(self.proxy.seen) - seen,
                         self.proxy.seen[seen:])
        self.assertEqual(1, len({r.headers['Idempotency-Key']
                                 for r in self.proxy.seen[seen:]}))
        self.assertOneClearError(
            result, f'The endpoint at {self.url} did not answer within 1 '
                    'second')
        self.assertIn('--timeout', result.stderr)
        self.proxy.clear()
        self.assertStillStored(self.first)
        self.assertEqual({self.first.jti: 'active'}, self.server_statuses())

    def test_an_html_502_is_reported_and_nothing_changes(self):
        self.proxy.seen.clear()
        self.proxy.fail(testing.HTML_502)
        result = self.ntcli('token', 'refresh', expect=None)
        self.assertOneClearError(
            result, f'The endpoint at {self.url} answered something that is '
                    'not the token API (HTTP 502, text/html)')
        # the issue was repeated with one idempotency key
        posts = [r for r in self.proxy.seen if r.method == 'POST']
        self.assertEqual(6, len(posts))     # 3 by the HTTP endpoint, twice
        self.assertEqual(1, len({p.headers['Idempotency-Key']
                                 for p in posts}))
        self.proxy.clear()
        self.assertStillStored(self.first)

    def test_garbage_is_reported_and_nothing_changes(self):
        self.proxy.fail(testing.Answer(200, b'\x00\xffgarbage', 'text/plain'))
        result = self.ntcli('token', 'refresh', expect=None)
        self.assertOneClearError(result, '(HTTP 200, text/plain)')
        self.proxy.clear()
        self.ntcli('token', 'list')     # settles the unanswered request
        self.assertStillStored(self.first)

    def test_revoke_answered_by_a_502_stays_pending(self):
        self.proxy.fail(testing.HTML_502, method='DELETE')
        result = self.ntcli('token', 'refresh')
        self.assertIn('could not be revoked yet', result.stdout)
        self.assertIn('HTTP 502, text/html', result.stderr)
        new = self.stored()
        self.assertEqual(200, self.token_auth(self.first.token).status_code)
        self.proxy.clear()
        self.ntcli('token', 'list')
        self.assertEqual(401, self.token_auth(self.first.token).status_code)
        self.assertEqual([], self.credentials().pending_revocations(
            self.url))
        self.assertStillStored(new)
