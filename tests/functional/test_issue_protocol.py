"""The durable issue protocol (ntcli.issues) against lost answers.

A fault proxy between ntcli and a real ntcli-server forwards each issue
request, so that the server acts on it, and then drops, delays, garbles or
replaces the answer; elsewhere the server's worker is stopped (SIGSTOP)
while the request waits for it. Whatever happens, the stored token keeps
working, and once the next command has talked to the server the workspace
holds exactly the tokens the user knows of.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from ntcli.history import AuditLog
from ntcli_server import testing
from ntcli_server.testing import Forwarded
from tests.functional.test_remote import RemoteTest

POST_TOKENS = '/v1/workspaces/'


def wait_for(predicate, timeout=30.0):
    """Poll ``predicate`` until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class IssueProtocolTest(RemoteTest):
    """A first stored token; its issue and every later one go through
    ``self.proxy`` when the test sets ``through_proxy``."""

    def setUp(self):
        super().setUp()
        self.login_and_select()
        self.quick('token', 'refresh')
        self.first = self.stored()

    def active(self):
        """The JTIs the server holds as active in the workspace."""
        return {jti for jti, status in self.server_statuses().items()
                if status == 'active'}

    def pending_issues(self):
        return self.credentials().pending_issues(self.context_key())

    def context_key(self):
        keys = self.credentials().endpoint_keys()
        self.assertEqual(1, len(keys), keys)
        return keys[0]

    def history(self):
        return AuditLog(self.home.config_dir).entries()

    def assertInDoubt(self, result):
        """One clear error: the answer was lost, nothing is lost."""
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn('may have issued a token', result.stderr)
        self.assertIn('Hint:', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertNoSecrets(result.stdout + result.stderr)

    def assertSettledByTheNextCommand(self, known):
        """The next command replays the key, revokes what it produced, and
        the workspace holds exactly ``known``."""
        self.assertEqual(1, len(self.pending_issues()))
        orphans = self.active() - known
        result = self.ntcli('token', 'list')
        self.assertIn('whose answer was lost, was revoked', result.stderr)
        self.assertEqual([], self.pending_issues())
        self.assertEqual(known, self.active())
        # the token history says so
        revoked = {e['jti'] for e in self.history()
                   if e['outcome'].startswith('revoked: its answer')}
        self.assertTrue(orphans)
        self.assertLessEqual(orphans, revoked, self.history())
        self.assertNoSecrets(result.stdout + result.stderr)


class TestThroughAFaultProxy(IssueProtocolTest):
    """The answer to the issue request is lost after the server acted."""

    def endpoint_url(self):
        self.proxy = self.useFixture(testing.FaultProxy(self.server.url))
        return self.proxy.url

    def posts(self):
        return len([r for r in self.proxy.seen if r.method == 'POST'])

    def fail_issues(self, fault, times=None):
        self.proxy.fail(Forwarded(fault), method='POST', path=POST_TOKENS,
                        times=times)

    def test_refresh_dropped_delayed_garbled_or_502(self):
        for fault, args in ((testing.CLOSE, ()),
                            (testing.HANG, ('--timeout', '2')),
                            (testing.GARBLED, ()),
                            (testing.HTML_502, ())):
            self.fail_issues(fault)
            result = self.ntcli(*args, 'token', 'refresh', expect=None)
            self.assertInDoubt(result)
            # the server issued (each repeat answered with the same token)
            self.assertEqual(2, len(self.active()), fault)
            self.assertEqual(self.first.token, self.stored().token)
            self.proxy.clear()
            self.assertSettledByTheNextCommand({self.first.jti})
            self.assertEqual(self.first.token, self.stored().token)

    def test_a_lost_answer_is_completed_in_the_same_run(self):
        self.fail_issues(testing.CLOSE, times=1)
        seen = len(self.proxy.seen)
        out = json.loads(self.ntcli('token', 'refresh', '-f', 'json').stdout)
        posts = [r for r in self.proxy.seen[seen:] if r.method == 'POST']
        # one key, asked again: one token issued, and it is the stored one
        self.assertEqual(1, len({p.headers['Idempotency-Key']
                                 for p in posts}))
        new = self.stored()
        self.assertEqual(out['new_token']['jti'], new.jti)
        self.assertEqual({new.jti}, self.active())
        self.assertEqual([], self.pending_issues())

    def test_create_whose_answer_is_lost(self):
        self.fail_issues(testing.CLOSE)
        result = self.ntcli('token', 'create', '--expires-in', '3600',
                            expect=None)
        self.assertInDoubt(result)
        self.assertEqual('', result.stdout)
        self.proxy.clear()
        self.assertSettledByTheNextCommand({self.first.jti})

    def test_exec_refresh_whose_answer_is_lost(self):
        self.fail_issues(testing.HTML_502)
        marker = os.path.join(self.home.path, 'ran')
        result = self.ntcli('token', 'exec', '--refresh-if-expires-within',
                            '400d', '--expires-in', '800d', '--',
                            sys.executable, '-c',
                            f'open({marker!r}, "w").close()', expect=None)
        self.assertInDoubt(result)
        self.assertFalse(os.path.exists(marker))
        self.proxy.clear()
        self.assertSettledByTheNextCommand({self.first.jti})

    def test_a_replay_of_a_token_revoked_meanwhile_stores_nothing(self):
        # the first answer is lost; before the repeat arrives, the token it
        # issued is revoked: the repeat hands out nothing, and the stored
        # token stays (no lockout)
        self.fail_issues(testing.CLOSE, times=1)
        before = self.posts()

        def revoke_the_new_one(method, path):
            if method == 'POST' and self.posts() == before + 2:
                for jti in self.active() - {self.first.jti}:
                    self.api.revoke_token(self.credential,
                                          self.workspace.id, jti)
        self.proxy.before_forward = revoke_the_new_one
        result = self.ntcli('token', 'refresh', expect=1)
        self.assertIn('has been revoked', result.stderr)
        self.assertEqual(self.first.token, self.stored().token)
        self.assertEqual({self.first.jti}, self.active())
        self.assertEqual([], self.pending_issues())

    def test_a_replayed_token_is_kept_only_once_validated(self):
        # an endpoint that replays a token it has revoked (an older
        # server): ntcli checks a replayed token before it keeps it
        revoked = self.api.issue_token(self.credential, self.workspace.id,
                                       expires_in=3600)
        self.api.revoke_token(self.credential, self.workspace.id,
                              revoked.jti)
        body = json.dumps({
            'access_token': revoked.token, 'token_type': 'Bearer',
            'expires_in': 3600, 'jti': revoked.jti,
            'workspace_id': self.workspace.id, 'scope': ['workspace:read'],
            'expires_at': None, 'created_at': None}).encode()
        self.proxy.fail(testing.Answer(
            201, body, headers=(('Idempotent-Replayed', 'true'),)),
            method='POST', path=POST_TOKENS)
        result = self.ntcli('token', 'refresh', expect=1)
        self.assertIn('no longer valid', result.stderr)
        self.assertEqual(self.first.token, self.stored().token)
        self.assertEqual([], self.pending_issues())
        self.assertNoSecrets(result.stdout + result.stderr)


class TestWorkerStoppedMidRequest(IssueProtocolTest):
    """The server's worker is stopped (SIGSTOP) while the issue request
    waits for it; ntcli gives up after its timeout; the worker resumes and
    issues the token nobody receives."""

    server_per_test = True

    def workers(self):
        """The pids of the server's worker processes."""
        master = self.server.process.pid
        found = []
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                with open(f'/proc/{name}/stat') as stat:
                    fields = stat.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.append(int(name))
        self.assertTrue(found)
        return found

    def stopped(self, *args):
        """Run ntcli with the workers stopped; resume them; wait until the
        server has issued the token of the lost request."""
        before = self.active()
        workers = self.workers()
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        try:
            result = self.ntcli('--timeout', '2', *args, expect=None)
        finally:
            for pid in workers:
                os.kill(pid, signal.SIGCONT)
        self.assertTrue(wait_for(lambda: len(self.active()) > len(before)),
                        'the resumed worker issued nothing')
        return result

    def test_refresh(self):
        self.assertInDoubt(self.stopped('token', 'refresh'))
        self.assertEqual(self.first.token, self.stored().token)
        self.assertSettledByTheNextCommand({self.first.jti})

    def test_create(self):
        self.assertInDoubt(self.stopped('token', 'create'))
        self.assertSettledByTheNextCommand({self.first.jti})

    def test_exec_refresh_if_expires_within(self):
        self.assertInDoubt(self.stopped(
            'token', 'exec', '--refresh-if-expires-within', '400d',
            '--expires-in', '800d', '--',
            sys.executable, '-c', 'pass'))
        self.assertSettledByTheNextCommand({self.first.jti})
