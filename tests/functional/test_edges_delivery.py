"""Output is part of the operation, and Ctrl-C/SIGTERM end a command with
one line: no token is left alive that nobody holds."""

import os
import subprocess

import testtools

from ntcli import testing
from tests.functional import base

HAVE_DEV_FULL = os.path.exists('/dev/full')


class DeliveryTest(base.FunctionalTest):

    def raw(self, *args, stdout=None, preexec_fn=None, env=None):
        """Run ntcli with stdout as given; stderr captured."""
        environment = self.home.env
        environment.update(env or {})
        proc = subprocess.run(
            testing.ntcli_command() + list(args), stdout=stdout,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=environment, preexec_fn=preexec_fn, timeout=60)
        return proc

    def raw_into_closed_pipe(self, *args):
        """Run ntcli writing into a pipe that nobody reads (EPIPE)."""
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            return self.raw(*args, stdout=write_end)
        finally:
            os.close(write_end)

    def live_tokens(self):
        return {t.jti for t in self.runner.embedded_endpoint().list_tokens(
            include_expired=False, include_revoked=False)}

    def assert_no_traceback(self, text):
        self.assertNotIn('Traceback', text)
        self.assertNotIn('Unexpected error', text)


class TestCreateDelivery(DeliveryTest):

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.before = self.live_tokens()

    def test_closed_stdout_creates_nothing(self):
        proc = self.raw('token', 'create', preexec_fn=lambda: os.close(1))
        self.assertEqual(2, proc.returncode, proc.stderr)
        self.assertIn('standard output is closed', proc.stderr)
        self.assertEqual(self.before, self.live_tokens())

    @testtools.skipUnless(HAVE_DEV_FULL, 'needs /dev/full')
    def test_full_disk_revokes_the_token(self):
        for fmt in ('text', 'json', 'value'):
            with open('/dev/full', 'w') as full:
                proc = self.raw('token', 'create', '-f', fmt, stdout=full)
            self.assertEqual(1, proc.returncode, proc.stderr)
            self.assert_no_traceback(proc.stderr)
            self.assertIn('could not be written to standard output',
                          proc.stderr)
            self.assertIn('No space left on device', proc.stderr)
            self.assertIn('was revoked', proc.stderr)
            self.assertEqual(self.before, self.live_tokens(), fmt)

    def test_broken_pipe_revokes_the_token(self):
        proc = self.raw_into_closed_pipe('token', 'create')
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('was revoked', proc.stderr)
        self.assertEqual(self.before, self.live_tokens())

    def test_interrupt_before_output_revokes_the_token(self):
        for kind, status in (('sigint', 130), ('sigterm', 143)):
            proc = self.raw('token', 'create', stdout=subprocess.PIPE,
                            env={'NTCLI_FAULT': f'{kind}:after-create'})
            self.assertEqual(status, proc.returncode, proc.stderr)
            self.assertEqual(1, len(proc.stderr.splitlines()), proc.stderr)
            self.assertIn('was revoked', proc.stderr)
            self.assertNotIn('wst_', proc.stdout)
            self.assertEqual(self.before, self.live_tokens(), kind)

    def test_delivered_token_stays_live(self):
        created = self.json('token', 'create')
        self.assertIn(created['jti'], self.live_tokens())


@testtools.skipUnless(HAVE_DEV_FULL, 'needs /dev/full')
class TestReportNotWritten(DeliveryTest):

    def test_refresh_says_what_was_done(self):
        self.ntcli('token', 'refresh')
        old = self.stored()['jti']
        with open('/dev/full', 'w') as full:
            proc = self.raw('token', 'refresh', '-f', 'json', stdout=full)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assert_no_traceback(proc.stderr)
        new = self.stored()['jti']
        self.assertNotEqual(old, new)
        self.assertIn(f'Token refreshed and stored (new token {new}; old '
                      f'token {old} revoked)', proc.stderr)
        self.assertIn('nothing needs to be repeated', proc.stderr)
        self.assertEqual({new}, self.live_tokens())

    def test_revoke_says_what_was_done(self):
        extra = self.json('token', 'create')['jti']
        with open('/dev/full', 'w') as full:
            proc = self.raw('token', 'revoke', extra, '--force', stdout=full)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assert_no_traceback(proc.stderr)
        self.assertIn(f'Revoked {extra}', proc.stderr)
        self.assertNotIn(extra, self.live_tokens())

    def test_read_only_command_fails_cleanly(self):
        self.ntcli('token', 'refresh')
        with open('/dev/full', 'w') as full:
            proc = self.raw('token', 'list', stdout=full)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('The output could not be written: No space left',
                      proc.stderr)
        self.assert_no_traceback(proc.stderr)


class TestSignals(DeliveryTest):

    def test_refresh_interrupted_while_storing(self):
        self.ntcli('token', 'refresh')
        old = self.stored()['jti']
        # one signal: the store step finishes first, then the command stops
        proc = self.raw('token', 'refresh', stdout=subprocess.PIPE,
                        env={'NTCLI_FAULT': 'sigint:after-issue'})
        self.assertEqual(130, proc.returncode, proc.stderr)
        self.assertEqual(1, len(proc.stderr.splitlines()), proc.stderr)
        self.assertIn('Interrupted: the new token', proc.stderr)
        new = self.stored()['jti']
        self.assertNotEqual(old, new)
        # the next command finishes the revocation of the old token
        self.ntcli('token', 'show')
        self.assertEqual({new}, self.live_tokens())

    def test_refresh_interrupted_twice_revokes_the_unstored_token(self):
        self.ntcli('token', 'refresh')
        old = self.stored()['jti']
        proc = self.raw('token', 'refresh', stdout=subprocess.PIPE,
                        env={'NTCLI_FAULT':
                             'sigterm:after-issue,sigterm:after-issue'})
        self.assertEqual(143, proc.returncode, proc.stderr)
        self.assertEqual(['Terminated: the new token was revoked; your '
                          'previous token is still stored and valid.'],
                         proc.stderr.splitlines())
        self.assertEqual(old, self.stored()['jti'])
        self.assertEqual({old}, self.live_tokens())

    def test_interrupt_while_importing(self):
        for kind, status, line in (('sigint', 130, 'Interrupted.'),
                                   ('sigterm', 143, 'Terminated.')):
            proc = self.raw('token', 'show', stdout=subprocess.PIPE,
                            env={'NTCLI_FAULT': f'{kind}:start'})
            self.assertEqual(status, proc.returncode, proc.stderr)
            self.assertEqual([line], proc.stderr.splitlines())

    def test_interrupt_during_a_command(self):
        self.ntcli('token', 'refresh')
        proc = subprocess.Popen(
            testing.ntcli_command() + ['token', 'refresh'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True,
            env=dict(self.home.env, NTCLI_FAULT='sigint:before-issue'))
        out, err = proc.communicate(timeout=60)
        self.assertEqual(130, proc.returncode, err)
        self.assertEqual(['Interrupted.'], err.splitlines())


class TestReaderGone(DeliveryTest):

    def test_what_is_answered_before_cliff_is_141_and_quiet(self):
        # --version and a Tab answered from the completion table write
        # before the application is imported; the same exit as a command
        for args in (('--version',),
                     ('complete', '--query', '--', 'token', 're')):
            proc = self.raw_into_closed_pipe(*args)
            self.assertEqual((141, ''), (proc.returncode, proc.stderr), args)

    def test_list_into_a_closed_pipe_is_141_and_quiet(self):
        self.ntcli('token', 'refresh')
        for _ in range(3):
            self.json('token', 'create')
        proc = self.raw_into_closed_pipe('token', 'list')
        self.assertEqual(141, proc.returncode, proc.stderr)
        self.assertEqual('', proc.stderr)
