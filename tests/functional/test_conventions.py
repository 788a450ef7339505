"""The conventions users bring from other CLIs (cliff's global options, a
usage error for what cannot be used, Ctrl-C) hold as the help says."""

import contextlib
import json
import os
import signal
import subprocess

from ntcli import testing
from tests.functional import base

USAGE = 2


class TestVerbosity(base.FunctionalTest):
    """-q, -v, --log-file and --debug, as ``ntcli --help`` says."""

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')

    def test_quiet_leaves_out_the_report_of_what_was_done(self):
        before = self.stored()['jti']
        result = self.ntcli('-q', 'token', 'refresh')
        self.assertEqual(('', ''), (result.stdout, result.stderr))
        self.assertNotEqual(before, self.stored()['jti'])   # it was done
        self.ntcli('workspace', 'create', 'other')
        result = self.ntcli('-q', 'workspace', 'select', 'other')
        self.assertEqual(('', ''), (result.stdout, result.stderr))
        self.ntcli('-q', 'workspace', 'select', 'default')

    def test_quiet_prints_what_was_asked_for(self):
        result = self.ntcli('-q', 'token', 'refresh', '-f', 'json')
        self.assertEqual(self.stored()['jti'],
                         json.loads(result.stdout)['new_token']['jti'])
        result = self.ntcli('-q', 'token', 'list', '-f', 'value', '-c',
                            'jti')
        self.assertEqual(self.stored()['jti'], result.stdout.strip())

    def test_verbose_adds_debug_lines(self):
        plain = self.ntcli('token', 'list')
        self.assertEqual('', plain.stderr)
        for flag in ('-v', '-vv', '--debug'):
            result = self.ntcli(flag, 'token', 'list')
            self.assertIn('token list: exit status 0', result.stderr, flag)
            self.assertEqual(plain.stdout, result.stdout)

    def test_debug_carries_no_stevedore_lines(self):
        for flag in ('--debug', '-vv'):
            result = self.ntcli(flag, 'token', 'list')
            self.assertNotIn('found extension', result.stderr)
            self.assertNotIn('EntryPoint(', result.stderr)

    def test_the_log_file_gets_the_log_without_debug(self):
        log = os.path.join(self.home.path, 'ntcli.log')
        result = self.ntcli('--log-file', log, 'token', 'list')
        self.assertEqual('', result.stderr)
        with open(log, encoding='utf-8') as handle:
            lines = handle.read().splitlines()
        self.assertTrue(any('DEBUG' in line and 'token list' in line
                            for line in lines), lines)
        self.assertEqual(0o600, os.stat(log).st_mode & 0o777)

    def test_help_says_what_they_do(self):
        text = ' '.join(self.ntcli('--help').stdout.split())
        self.assertIn('-v adds the debug lines', text)
        self.assertIn('no report of what was done', text)
        self.assertIn('debug ones included', text)


class TestUnusableArguments(base.FunctionalTest):
    """What cannot be used is a usage error (exit 2, two lines), found
    before anything is done."""

    def refused(self, *args):
        result = self.ntcli(*args, expect=USAGE)
        lines = result.stderr.splitlines()
        self.assertEqual(2, len(lines), result.stderr)
        self.assertTrue(lines[1].startswith('Hint: '), result.stderr)
        self.assertNotIn('Unexpected error', result.stderr)
        self.assertNotIn('could not be loaded', result.stderr)
        self.assertEqual('', result.stdout)
        # stevedore's cache of entry points is the only file written
        self.assertEqual([], [path for path in self.files_under_home()
                              if '/.cache/python-entrypoints/' not in path])
        return lines

    def test_arguments_that_are_not_utf8(self):
        for args in (('token', 'show', b'\xff'), (b'caf\xe9',),
                     ('-w', b'ws\xc3', 'token', 'list'),
                     ('--endpoint', b'http://h\xe9st', 'token', 'list')):
            argv = [os.fsdecode(a) if isinstance(a, bytes) else a
                    for a in args]
            lines = self.refused(*argv)
            self.assertIn('is not valid UTF-8', lines[0])
            self.assertNotIn('UnicodeEncodeError', lines[0])

    def test_a_bad_endpoint(self):
        for value in ('foo', 'ftp://example.com', "x'y", '\x01', 'x\\y',
                      'http://exa mple.com', 'http://x\ty', 'LOCAL'):
            lines = self.refused('--endpoint', value, 'token', 'list')
            self.assertRegex(lines[0], r'^(Unknown endpoint|Invalid '
                                       r'endpoint URL) ')
            self.assertTrue(lines[0].isprintable(), lines[0])


class TestInterrupt(base.FunctionalTest):
    """Ctrl-C at any moment from ntcli's first line: exit 130, one line."""

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.jti = self.stored()['jti']

    def assertInterrupted(self, returncode, stdout, stderr):
        self.assertEqual((130, 'Interrupted.\n'), (returncode, stderr),
                         stdout)

    def test_at_each_step_of_the_start(self):
        for step in ('entry', 'start'):
            result = self.ntcli('token', 'refresh', expect=None,
                                env={'NTCLI_FAULT': f'sigint:{step}'})
            self.assertInterrupted(result.returncode, result.stdout,
                                   result.stderr)
            self.assertEqual('', result.stdout)
            self.assertEqual(self.jti, self.stored()['jti'], step)

    def test_at_any_moment(self):
        # stopped at its first line, ntcli is let go and interrupted after
        # a delay: the start, the imports, the command, the end
        env = self.home.env
        env['NTCLI_FAULT'] = 'stop:entry'
        outcomes = set()
        for delay_ms in range(0, 400, 8):
            proc = subprocess.Popen(
                testing.ntcli_command() + ['token', 'list', '-f', 'json'],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
            self.assertTrue(os.WIFSTOPPED(status))
            proc.send_signal(signal.SIGCONT)
            if delay_ms:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(delay_ms / 1000)
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
            if proc.returncode == 0:
                self.assertEqual('', stderr)
                self.assertEqual(self.jti, json.loads(stdout)[0]['JTI'])
            elif proc.returncode == -signal.SIGINT:
                # after the work and its output, as the process ends: it
                # dies of the signal (the shell's 130), saying nothing
                self.assertEqual('', stderr)
                self.assertEqual(self.jti, json.loads(stdout)[0]['JTI'])
            else:
                self.assertInterrupted(proc.returncode, stdout, stderr)
            outcomes.add(proc.returncode)
        self.assertIn(130, outcomes)
