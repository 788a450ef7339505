"""Refresh under failure: crashes between steps, a failed revoke, a failed
store, concurrent refreshes, damaged credential files."""

import os
import subprocess

from ntcli import testing
from tests.functional import base


class TestCrashBetweenSteps(base.FunctionalTest):

    def crash_at(self, checkpoint):
        self.ntcli('token', 'refresh')
        old = self.stored()
        result = self.ntcli('token', 'refresh', expect=None,
                            env={'NTCLI_FAULT': checkpoint})
        self.assertEqual(-9, result.returncode, result.stderr)
        # no fault now: whatever is stored must work
        after = self.stored()
        self.assertEqual('active', after['status'])
        self.assertTrue(after['verified'])
        return old, after

    def statuses(self):
        return {r['JTI']: r['Status']
                for r in self.json('token', 'list', '--show-expired')}

    def test_crash_before_issue_keeps_old_token(self):
        old, after = self.crash_at('before-issue')
        self.assertEqual(old['token'], after['token'])

    def test_crash_after_issue_keeps_old_token(self):
        old, after = self.crash_at('after-issue')
        self.assertEqual(old['token'], after['token'])

    def test_crash_after_store_keeps_new_token_and_revokes_old_later(self):
        old, after = self.crash_at('after-store')
        self.assertNotEqual(old['jti'], after['jti'])
        # the command that ran since retried the revocation
        self.assertEqual('Revoked', self.statuses()[old['jti']])

    def test_crash_after_revoke_keeps_new_token(self):
        old, after = self.crash_at('after-revoke')
        self.assertNotEqual(old['jti'], after['jti'])
        self.assertEqual('Revoked', self.statuses()[old['jti']])

    def test_lock_is_not_left_behind(self):
        self.crash_at('after-store')
        self.ntcli('token', 'refresh')


class TestFailedRevoke(base.FunctionalTest):

    def test_failed_revoke_keeps_new_token_and_retries(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        result = self.ntcli('token', 'refresh', '-f', 'json',
                            env={'NTCLI_FAULT': 'fail:revoke'})
        import json
        out = json.loads(result.stdout)
        self.assertEqual(old['jti'], out['old_token']['jti'])
        self.assertIsNone(out['old_token']['revoked_at'])
        self.assertTrue(out['old_token']['revocation_pending'])
        self.assertIn('could not be revoked', result.stderr)
        self.assertIn('will be retried', result.stderr)
        self.assertEqual(out['new_token']['jti'], self.stored()['jti'])
        # the next command that talks to the endpoint retries it
        rows = {r['JTI']: r['Status']
                for r in self.json('token', 'list', '--show-expired')}
        self.assertEqual('Revoked', rows[old['jti']])
        history = self.json('token', 'history')
        self.assertIn('revoked (retried)', [h['Outcome'] for h in history])

    def test_text_output_says_revocation_is_pending(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('token', 'refresh',
                            env={'NTCLI_FAULT': 'fail:revoke'})
        self.assertIn('could not be revoked yet', result.stdout)

    def test_persistent_failure_keeps_the_pending_revocation(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        self.ntcli('token', 'refresh', env={'NTCLI_FAULT': 'fail:revoke'})
        result = self.ntcli('token', 'show',
                            env={'NTCLI_FAULT': 'fail:revoke'})
        self.assertIn('still pending', result.stderr)
        rows = {r['JTI']: r['Status']
                for r in self.json('token', 'list', '--show-expired')}
        self.assertEqual('Revoked', rows[old['jti']])


class TestFailedStore(base.FunctionalTest):

    def test_old_token_stays_and_new_token_is_revoked(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        before = set(r['JTI'] for r in
                     self.json('token', 'list', '--show-expired'))
        result = self.ntcli('token', 'refresh', expect=1,
                            env={'NTCLI_FAULT': 'fail:write'})
        # the issue request cannot be written down first (ntcli.issues):
        # nothing is asked for
        self.assertIn('No space left on device', result.stderr)
        self.assertIn('the previous credentials are unchanged',
                      result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertEqual('', result.stdout)
        self.assertEqual(old['token'], self.stored()['token'])
        self.assertEqual('active', self.stored()['status'])
        rows = self.json('token', 'list', '--show-expired')
        self.assertEqual(before, {r['JTI'] for r in rows})
        # no temporary files left behind
        leftovers = [p for p in self.files_under_home()
                     if p.endswith('.tmp')]
        self.assertEqual([], leftovers)


class TestConcurrentRefresh(base.FunctionalTest):

    def test_eight_concurrent_refreshes(self):
        self.ntcli('token', 'refresh')
        env = self.home.env
        procs = [subprocess.Popen(
            testing.ntcli_command() + ['token', 'refresh', '-f', 'json'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, stdin=subprocess.DEVNULL) for _ in range(8)]
        import json
        issued = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, err)
            self.assertEqual('', err)
            issued.append(json.loads(out)['new_token']['jti'])
        self.assertEqual(8, len(set(issued)))
        stored = self.stored()
        self.assertEqual('active', stored['status'])
        self.assertIn(stored['jti'], issued)
        rows = self.json('token', 'list', '--show-expired')
        active = [r['JTI'] for r in rows if r['Status'] == 'Active']
        self.assertEqual([stored['jti']], active)
        self.assertEqual(9, len(rows))


class TestDamagedCredentials(base.FunctionalTest):

    def credentials_path(self):
        return os.path.join(self.home.config_dir, 'credentials.enc')

    def test_tampered_file_is_reported_and_left_alone(self):
        self.ntcli('token', 'refresh')
        path = self.credentials_path()
        with open(path, 'rb') as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        with open(path, 'wb') as f:
            f.write(bytes(data))
        for args in (('token', 'show'), ('token', 'refresh'),
                     ('token', 'list')):
            result = self.ntcli(*args, expect=1)
            self.assertIn(path, result.stderr)
            self.assertIn('ntcli auth logout', result.stderr)
            self.assertNotIn('Traceback', result.stderr)
        with open(path, 'rb') as f:
            self.assertEqual(bytes(data), f.read())

    def test_logout_moves_bad_file_aside_and_start_over(self):
        self.ntcli('token', 'refresh')
        path = self.credentials_path()
        with open(path, 'wb') as f:
            f.write(b'{"tokens": "plaintext?"}')
        result = self.ntcli('auth', 'logout')
        self.assertIn('moved to', result.stdout)
        moved = [p for p in os.listdir(self.home.config_dir)
                 if p.startswith('credentials.enc.bad-')]
        self.assertEqual(1, len(moved))
        self.ntcli('token', 'refresh')
        self.assertEqual('active', self.stored()['status'])

    def test_wrong_key(self):
        self.ntcli('token', 'refresh')
        from cryptography.fernet import Fernet
        result = self.ntcli('token', 'show', expect=1,
                            env={'NTCLI_KEY': Fernet.generate_key().decode()})
        self.assertIn('credentials.enc', result.stderr)


class TestStatusWithDamagedCredentials(base.FunctionalTest):

    def test_status_still_says_where_things_are(self):
        self.ntcli('token', 'refresh')
        path = os.path.join(self.home.config_dir, 'credentials.enc')
        with open(path, 'wb') as f:
            f.write(b'not fernet')
        # shown in full, and non-zero: no command can use these credentials
        result = self.ntcli('auth', 'status', '-f', 'json', expect=1)
        import json
        out = json.loads(result.stdout)
        self.assertEqual(path, out['credentials_file'])
        self.assertIn('unreadable', out['token_status'])
        self.assertIn(path, result.stderr)


class TestClosedStdout(base.FunctionalTest):

    def closed(self, *args):
        """ntcli run with its stdout closed (cron, '>&-')."""
        return subprocess.run(
            testing.ntcli_command() + list(args),
            stdout=None, stderr=subprocess.PIPE, text=True,
            env=self.home.env, stdin=subprocess.DEVNULL,
            close_fds=True, preexec_fn=lambda: os.close(1))

    def test_commands_that_only_show_succeed_quietly(self):
        self.ntcli('token', 'refresh')
        marker = os.path.join(self.home.path, 'ran')
        for args in (('token', 'list'), ('token', 'show'),
                     ('token', 'list', '--max-width', '20'),
                     ('token', 'show', '--max-width', '20'),
                     ('token', 'list', '--fit-width'),
                     ('token', 'exec', '--', 'touch', marker)):
            proc = self.closed(*args)
            self.assertEqual((0, ''), (proc.returncode, proc.stderr), args)
        self.assertTrue(os.path.exists(marker))

    def test_refresh_with_stdout_closed_succeeds(self):
        self.ntcli('token', 'refresh')
        old = self.stored()['jti']
        proc = subprocess.run(
            testing.ntcli_command() + ['token', 'refresh'],
            stdout=None, stderr=subprocess.PIPE, text=True,
            env=self.home.env, stdin=subprocess.DEVNULL,
            close_fds=True, preexec_fn=lambda: os.close(1))
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertNotEqual(old, self.stored()['jti'])
