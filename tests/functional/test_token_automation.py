"""token refresh --if-expires-within and token show --check, as cron jobs
and monitoring checks run them."""

import json
import subprocess
import time

from ntcli import testing
from ntcli_core import timefmt
from tests.functional import base

HOUR = 3600
DAY = 86400


class AutomationTest(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.authority = self.runner.embedded_endpoint()

    def store_issued(self, **kwargs):
        """Store a token issued with ``kwargs`` as the workspace token."""
        issued = self.authority.issue_token(**kwargs)
        self.home.store_token(issued)
        return issued

    def statuses(self):
        return {r.jti: r.status for r in self.authority.list_tokens()}


class TestConditionalRefresh(AutomationTest):

    def test_token_expiring_within_the_window_is_rotated(self):
        old = self.store_issued(expires_in=HOUR)
        result = self.ntcli('token', 'refresh', '--if-expires-within', '1d')
        lines = result.stdout.splitlines()
        # the seed's four lines, unchanged
        self.assertEqual('Token refreshed successfully.', lines[0])
        self.assertEqual(f'Old token ({old.jti}) has been revoked.',
                         lines[1])
        self.assertRegex(lines[2], r'^New token expires: \S+Z$')
        self.assertRegex(lines[3], r'^New token JTI: jti_\w+$')
        self.assertEqual(4, len(lines))
        self.assertEqual('revoked', self.statuses()[old.jti])

    def test_json_when_rotated_is_the_refresh_shape(self):
        old = self.store_issued(expires_in=HOUR)
        out = self.json('token', 'refresh', '--if-expires-within', '86400')
        self.assertEqual(['new_token', 'old_token', 'message'], list(out))
        self.assertEqual(old.jti, out['old_token']['jti'])
        self.assertNotIn('refreshed', out)

    def test_token_valid_beyond_the_window_is_kept(self):
        kept = self.store_issued(expires_in=30 * DAY)
        result = self.ntcli('token', 'refresh', '--if-expires-within', '7d')
        self.assertEqual(
            ['Token not refreshed: it is valid and does not expire within '
             '7 days.', f'Token JTI: {kept.jti}',
             f'Token expires: {timefmt.iso(kept.expires_at)}'],
            result.stdout.splitlines())
        self.assertEqual('', result.stderr)
        self.assertEqual({kept.jti: 'active'}, self.statuses())
        self.assertEqual(kept.jti, self.stored()['jti'])

    def test_json_when_kept(self):
        kept = self.store_issued(expires_in=30 * DAY)
        out = self.json('token', 'refresh', '--if-expires-within', '7d')
        self.assertEqual({
            'refreshed': False, 'jti': kept.jti,
            'expires_at': timefmt.iso(kept.expires_at),
            'message': 'Token not refreshed: it is valid and does not '
                       'expire within 7 days'}, out)

    def test_a_non_expiring_token_never_expires_within(self):
        kept = self.store_issued(expires_in=None)
        out = self.json('token', 'refresh', '--if-expires-within', '300d')
        self.assertFalse(out['refreshed'])
        self.assertIsNone(out['expires_at'])
        self.assertEqual('Token not refreshed: it is valid and does not '
                         'expire', out['message'])
        self.assertEqual(kept.jti, self.stored()['jti'])

    def test_a_token_revoked_at_the_endpoint_is_rotated(self):
        old = self.store_issued(expires_in=30 * DAY)
        self.authority.revoke_token(old.jti)
        out = self.json('token', 'refresh', '--if-expires-within', '7d')
        self.assertEqual(old.jti, out['old_token']['jti'])
        self.assertEqual('active', self.stored()['status'])

    def test_without_a_stored_token_one_is_issued(self):
        out = self.json('token', 'refresh', '--if-expires-within', '7d')
        self.assertIsNone(out['old_token'])
        self.assertEqual(out['new_token']['jti'], self.stored()['jti'])

    def test_the_new_lifetime_applies_when_rotated(self):
        self.store_issued(expires_in=HOUR)
        out = self.json('token', 'refresh', '--if-expires-within', '1d',
                        '--expires-in', '2d')
        expires = timefmt.parse_iso(out['new_token']['expires_at'])
        self.assertGreater(expires, time.time() + DAY)
        self.assertLess(expires, time.time() + 3 * DAY)

    def test_invalid_windows_change_nothing(self):
        kept = self.store_issued(expires_in=HOUR)
        for value in ('0', '-5', 'soon', '', '11y', '7\x1bd', '1e3',
                      '\u0663d', '99999999999999999999y'):
            result = self.ntcli('token', 'refresh', '--if-expires-within',
                                value, expect=2)
            self.assertIn('Invalid duration for --if-expires-within',
                          result.stderr, value)
            self.assertNotIn('\x1b', result.stderr)
            self.assertNotIn('Traceback', result.stderr)
        self.assertEqual({kept.jti: 'active'}, self.statuses())

    def test_a_window_the_new_token_would_not_outlast_is_refused(self):
        kept = self.store_issued(expires_in=HOUR)
        for args in (('--if-expires-within', '2y'),
                     ('--if-expires-within', '30d', '--expires-in', '30d'),
                     ('--if-expires-within', '30d', '--expires-at',
                      str(int(time.time()) + 10 * DAY))):
            result = self.ntcli('token', 'refresh', *args, expect=2)
            self.assertIn('every run would rotate it again', result.stderr)
        self.ntcli('token', 'refresh', '--if-expires-within', '20y',
                   expect=2)
        self.ntcli('token', 'refresh', '--if-expires-within', '2y',
                   '--no-expiry', expect=0)
        self.assertNotEqual(kept.jti, self.stored()['jti'])

    def test_the_env_token_is_not_rotated(self):
        self.ntcli('token', 'refresh')
        created = self.json('token', 'create')
        result = self.ntcli('token', 'refresh', '--if-expires-within', '7d',
                            env={'NTCLI_TOKEN': created['token']}, expect=1)
        self.assertIn('NTCLI_TOKEN', result.stderr)


class TestConcurrentConditionalRefresh(AutomationTest):

    def test_runs_started_together_rotate_once(self):
        old = self.store_issued(expires_in=HOUR)
        command = testing.ntcli_command() + [
            'token', 'refresh', '--if-expires-within', '1d', '-f', 'json']
        procs = [subprocess.Popen(command, env=self.home.env,
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        outputs = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, stderr)
            outputs.append(json.loads(stdout))
        rotated = [o for o in outputs if 'new_token' in o]
        kept = [o for o in outputs if 'refreshed' in o]
        self.assertEqual(1, len(rotated), outputs)
        self.assertEqual(3, len(kept), outputs)
        new_jti = rotated[0]['new_token']['jti']
        self.assertEqual({new_jti}, {o['jti'] for o in kept})
        self.assertEqual({old.jti: 'revoked', new_jti: 'active'},
                         self.statuses())


class TestCheck(AutomationTest):

    def check(self, *args, expect, env=None):
        return self.ntcli('token', 'show', '--check', *args, expect=expect,
                          env=env)

    def test_valid_token(self):
        self.store_issued(expires_in=30 * DAY)
        self.check(expect=0)
        self.check('7d', expect=0)
        self.ntcli('token', 'show', '--check=7d', expect=0)

    def test_output_is_that_of_show(self):
        self.store_issued(expires_in=HOUR)
        for fmt in ('text', 'json'):
            plain = self.ntcli('token', 'show', '-f', fmt)
            checked = self.ntcli('token', 'show', '-f', fmt, '--check',
                                 expect=0)
            self.assertEqual(plain.stdout, checked.stdout)
            self.assertEqual('', checked.stderr)

    def test_expiring_within_the_duration(self):
        issued = self.store_issued(expires_in=HOUR)
        result = self.check('1d', expect=10)
        self.assertIn('Token is valid and ready to use.', result.stdout)
        self.assertIn('expires within 1 day', result.stderr)
        self.assertIn(timefmt.iso(issued.expires_at), result.stderr)
        self.check('30m', expect=0)

    def test_a_non_expiring_token_never_expires_within(self):
        self.store_issued(expires_in=None)
        self.check('10y', expect=0)

    def test_expired(self):
        self.store_issued(expires_in=1)
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(1)
            if self.json('token', 'show')['status'] == 'expired':
                break
        result = self.check(expect=11)
        self.assertIn('Status:      Expired', result.stdout)
        self.check('7d', expect=11)

    def test_revoked(self):
        issued = self.store_issued(expires_in=HOUR)
        self.authority.revoke_token(issued.jti)
        result = self.check('7d', expect=12)
        self.assertIn('Status:      Revoked', result.stdout)

    def test_invalid(self):
        result = self.check(expect=13, env={'NTCLI_TOKEN': 'wst_garbage'})
        self.assertIn('Status:      Invalid', result.stdout)

    def test_no_token(self):
        result = self.check(expect=14)
        self.assertIn('Authentication required. Try running ntcli token '
                      'refresh', result.stderr)
        # without --check, the usual failure status
        self.ntcli('token', 'show', expect=1)

    def test_endpoint_unreachable(self):
        token = self.authority.issue_token(expires_in=HOUR).token
        env = {'NTCLI_TOKEN': token, 'NTCLI_ENDPOINT': 'http://127.0.0.1:9',
               'NTCLI_TIMEOUT': '5'}
        result = self.check(expect=15, env=env)
        self.assertIn('(not verified)', result.stdout)
        # what is known to be wrong comes before what is not known
        self.check('1d', expect=10, env=env)

    def test_the_duration_swallows_nothing_else(self):
        self.store_issued(expires_in=30 * DAY)
        out = json.loads(self.ntcli('token', 'show', '--check', '-f',
                                    'json', expect=0).stdout)
        self.assertEqual('active', out['status'])
        result = self.ntcli('token', 'show', '--check', 'json', expect=2)
        self.assertIn("Invalid duration for --check: 'json'", result.stderr)
        for value in ('0', '-1', '11y', 'x'):
            self.ntcli('token', 'show', f'--check={value}', expect=2)

