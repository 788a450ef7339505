"""token exec: the program gets the token in its environment and nothing
else of ntcli; stdin, stdout, stderr, signals and exit status are its own."""

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

from ntcli import testing
from tests.functional import base

HOUR = 3600
DAY = 86400

# Reports what the program was given, then waits for a line on stdin (so
# that the test can look at the running process) unless told not to.
PROBE = textwrap.dedent('''
    import hashlib, json, os, sys
    facts = {'pid': os.getpid(), 'argv': sys.argv[1:]}
    for name in ('NTCLI_TOKEN', 'API_TOKEN', 'NTCLI_KEY'):
        value = os.environ.get(name)
        facts[name] = value and hashlib.sha256(value.encode()).hexdigest()
    fds = {}
    for fd in os.listdir('/proc/self/fd'):
        try:
            fds[fd] = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            pass          # the descriptor that listed the directory
    facts['fds'] = fds
    print(json.dumps(facts), flush=True)
    if os.environ.get('PROBE_WAIT'):
        sys.stdin.readline()
''')

# Says which signal it got, after saying it is ready for one.
CATCHER = textwrap.dedent('''
    import os, signal, sys
    def caught(signum, frame):
        print(f'caught {signum}', flush=True)
        sys.exit(0)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, caught)
    print(f'ready {os.getpid()}', flush=True)
    while True:
        signal.pause()
''')


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


class ExecTest(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.authority = self.runner.embedded_endpoint()

    def script(self, name, text):
        path = os.path.join(self.home.path, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def exec_argv(self, *options_and_command):
        return testing.ntcli_command() + ['token', 'exec',
                                          *options_and_command]

    def probe(self, *options, env=None, expect=0):
        result = self.ntcli('token', 'exec', *options, '--',
                            sys.executable, self.script('probe.py', PROBE),
                            'one', 'two', env=env, expect=expect)
        return json.loads(result.stdout), result

    def store_issued(self, **kwargs):
        issued = self.authority.issue_token(**kwargs)
        self.home.store_token(issued)
        return issued


class TestEnvironment(ExecTest):

    def test_the_program_gets_the_stored_token_and_its_arguments(self):
        self.ntcli('token', 'refresh')
        token = self.stored()['token']
        facts, result = self.probe()
        self.assertEqual(sha256(token), facts['NTCLI_TOKEN'])
        self.assertEqual(['one', 'two'], facts['argv'])
        self.assertEqual('', result.stderr)
        self.assertNotIn(token, result.stdout)

    def test_another_variable_name(self):
        self.ntcli('token', 'refresh')
        token = self.stored()['token']
        facts, _ = self.probe('--env', 'API_TOKEN')
        self.assertEqual(sha256(token), facts['API_TOKEN'])
        self.assertIsNone(facts['NTCLI_TOKEN'])

    def test_invalid_variable_names(self):
        self.ntcli('token', 'refresh')
        for name in ('', '1TOKEN', 'A-B', 'A=B', 'A B', 'TÖKEN', 'A\x1bB',
                     'NTCLI_KEY'):
            result = self.ntcli('token', 'exec', '--env', name, '--',
                                'true', expect=2)
            self.assertNotIn('\x1b', result.stderr)
            self.assertIn('--env', result.stderr)

    def test_names_the_loader_shell_or_runtime_act_on_are_refused(self):
        self.ntcli('token', 'refresh')
        token = self.stored()['token']
        for name in ('LD_PRELOAD', 'ld_library_path', 'BASH_ENV', 'PATH',
                     'HOME', 'ENV', 'IFS', 'PYTHONSTARTUP', 'DYLD_INSERT_'
                     'LIBRARIES', 'NODE_OPTIONS'):
            result = self.ntcli('token', 'exec', '--env', name, '--', 'sh',
                                '-c', 'echo ran', expect=2)
            self.assertIn('cannot carry the token', result.stderr)
            self.assertEqual('', result.stdout)
            self.assertNotIn(token[4:40], result.stderr)

    def test_a_script_whose_interpreter_is_missing_is_126(self):
        self.ntcli('token', 'refresh')
        script = self.script('run.sh', '#!/no/such/interpreter\necho hi\n')
        os.chmod(script, stat.S_IRWXU)
        result = self.ntcli('token', 'exec', '--', script, expect=126)
        self.assertIn('bad interpreter', result.stderr)

    def test_ntcli_key_is_not_passed_on(self):
        from ntcli import keychain
        key = keychain.generate_key().decode()
        env = {'NTCLI_KEY': key}
        self.ntcli('token', 'refresh', env=env)
        facts, _ = self.probe(env=env)
        self.assertIsNone(facts['NTCLI_KEY'])
        self.assertIsNotNone(facts['NTCLI_TOKEN'])

    def test_the_env_token_is_passed_under_the_name_asked(self):
        self.ntcli('token', 'refresh')
        created = self.json('token', 'create')
        facts, _ = self.probe('--env', 'API_TOKEN',
                              env={'NTCLI_TOKEN': created['token']})
        self.assertEqual(sha256(created['token']), facts['API_TOKEN'])

    def test_no_file_of_ntcli_stays_open_and_sigpipe_is_default(self):
        self.ntcli('token', 'refresh')
        facts, _ = self.probe('--refresh-if-expires-within', '1d')
        targets = list(facts['fds'].values())
        for target in targets:
            self.assertFalse(target.startswith(self.home.path), targets)
        self.assertLessEqual(set(facts['fds']), {'0', '1', '2'})
        # Python ignores SIGPIPE for itself; a program that is not Python
        # must get it as its caller had it (not ignored, here)
        status = self.ntcli('token', 'exec', '--', 'grep', '^SigIgn:',
                            '/proc/self/status').stdout
        ignored = int(status.split()[1], 16)
        self.assertFalse(ignored & (1 << (signal.SIGPIPE - 1)), status)

    def test_without_a_token(self):
        result = self.ntcli('token', 'exec', '--', 'true', expect=1)
        self.assertIn('Authentication required. Try running ntcli token '
                      'refresh', result.stderr)

    def test_an_expired_stored_token_is_not_handed_out(self):
        self.store_issued(expires_in=1)
        time.sleep(2)
        result = self.ntcli('token', 'exec', '--', 'true', expect=1)
        self.assertIn('has expired', result.stderr)
        self.assertIn('--refresh-if-expires-within', result.stderr)
        # with a refresh, it is replaced first
        self.probe('--refresh-if-expires-within', '1h')

    def test_an_expired_env_token_is_not_handed_out(self):
        expired = self.authority.issue_token(expires_in=1).token
        time.sleep(2)
        result = self.ntcli('token', 'exec', '--', 'true', expect=1,
                            env={'NTCLI_TOKEN': expired})
        self.assertIn('The token in NTCLI_TOKEN has expired', result.stderr)


class TestRefreshFirst(ExecTest):

    def test_a_token_expiring_within_the_window_is_rotated_first(self):
        old = self.store_issued(expires_in=HOUR)
        facts, result = self.probe('--refresh-if-expires-within', '1d')
        new = self.stored()
        self.assertNotEqual(old.jti, new['jti'])
        self.assertEqual(sha256(new['token']), facts['NTCLI_TOKEN'])
        self.assertIn(f"Token refreshed: new token {new['jti']}",
                      result.stderr)
        statuses = {r.jti: r.status for r in self.authority.list_tokens()}
        self.assertEqual('revoked', statuses[old.jti])

    def test_a_token_valid_beyond_the_window_is_used_as_it_is(self):
        old = self.store_issued(expires_in=30 * DAY)
        facts, result = self.probe('--refresh-if-expires-within', '7d')
        self.assertEqual(sha256(old.token), facts['NTCLI_TOKEN'])
        self.assertEqual('', result.stderr)

    def test_the_lifetime_options_need_a_refresh(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('token', 'exec', '--expires-in', '1d', '--',
                            'true', expect=2)
        self.assertIn('--refresh-if-expires-within', result.stderr)

    def test_the_token_is_in_no_output_even_with_debug(self):
        self.store_issued(expires_in=HOUR)
        result = self.ntcli('--debug', 'token', 'exec',
                            '--refresh-if-expires-within', '1d', '--',
                            'true')
        token = self.stored()['token']
        self.assertNotIn(token, result.stdout + result.stderr)
        self.assertNotIn(token.split('.')[1], result.stdout + result.stderr)


class TestCommandLine(ExecTest):

    def setUp(self):
        super().setUp()
        self.old = self.store_issued(expires_in=HOUR)

    def assert_not_rotated(self):
        self.assertEqual(self.old.jti, self.stored()['jti'])

    def test_a_missing_command_is_127_and_rotates_nothing(self):
        result = self.ntcli('token', 'exec', '--refresh-if-expires-within',
                            '1d', '--', 'no-such-command-here', expect=127)
        self.assertIn("'no-such-command-here': command not found",
                      result.stderr)
        self.ntcli('token', 'exec', '--', './no-such-file', expect=127)
        self.ntcli('token', 'exec', '--', '', expect=127)
        self.assert_not_rotated()

    def test_a_command_that_cannot_run_is_126(self):
        plain = self.script('plain.txt', 'not a program\n')
        result = self.ntcli('token', 'exec', '--refresh-if-expires-within',
                            '1d', '--', plain, expect=126)
        self.assertIn('Permission denied', result.stderr)
        result = self.ntcli('token', 'exec', '--', self.home.path,
                            expect=126)
        self.assertIn('Is a directory', result.stderr)
        # found in PATH but not executable: as a shell says it
        result = self.ntcli('token', 'exec', '--', 'plain.txt', expect=126,
                            env={'PATH': self.home.path})
        self.assertIn('Permission denied', result.stderr)
        # executable but not a program the kernel can start
        os.chmod(plain, stat.S_IRWXU)
        result = self.ntcli('token', 'exec', '--', plain, expect=126)
        self.assertIn('Exec format error', result.stderr)
        self.assert_not_rotated()

    def test_the_command_goes_after_a_double_dash(self):
        result = self.ntcli('token', 'exec', 'true', expect=2)
        self.assertIn("after '--'", result.stderr)
        result = self.ntcli('token', 'exec', '--', expect=2)
        self.assertIn('No command to run', result.stderr)
        self.ntcli('token', 'exec', expect=2)

    def test_options_after_the_double_dash_are_the_programs(self):
        result = self.ntcli('token', 'exec', '--', sys.executable,
                            self.script('probe.py', PROBE), '-v', '--debug',
                            '--help', '-w', 'x', '--', '-f', 'json')
        self.assertEqual(['-v', '--debug', '--help', '-w', 'x', '--', '-f',
                          'json'], json.loads(result.stdout)['argv'])

    def test_not_in_the_interactive_shell(self):
        result = self.ntcli(input='token exec -- true\n', expect=None)
        self.assertIn('interactive shell', result.stdout + result.stderr)


class TestProcess(ExecTest):

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.token = self.stored()['token']

    def start(self, *command, **kwargs):
        proc = subprocess.Popen(
            self.exec_argv('--', *command), env=self.home.env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, **kwargs)
        self.addCleanup(self._reap, proc)
        return proc

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

    def test_the_token_is_in_no_process_argv(self):
        env = dict(self.home.env, PROBE_WAIT='1')
        proc = subprocess.Popen(
            self.exec_argv('--', sys.executable,
                           self.script('probe.py', PROBE)),
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.addCleanup(self._reap, proc)
        facts = json.loads(proc.stdout.readline())
        # ntcli became the program: nothing of it is left running
        self.assertEqual(proc.pid, facts['pid'])
        secrets = [self.token.encode(), self.token.split('.')[1].encode()]
        # the program has it, in its environment...
        with open(f'/proc/{proc.pid}/environ', 'rb') as f:
            self.assertIn(secrets[0], f.read())
        # ...and no process has it in its command line
        seen = 0
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmdline = f.read()
            except OSError:
                continue      # gone, or not ours to read
            seen += 1
            for secret in secrets:
                self.assertNotIn(secret, cmdline, pid)
        self.assertGreater(seen, 2)
        stdout, stderr = proc.communicate('\n', timeout=60)
        self.assertEqual(0, proc.returncode, stderr)
        self.assertNotIn(self.token, stdout + stderr)
        for path in self.files_under_home():
            with open(path, 'rb') as f:
                data = f.read()
            for secret in secrets:
                self.assertNotIn(secret, data, path)

    def test_signals_reach_the_program(self):
        catcher = self.script('catcher.py', CATCHER)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            proc = self.start(sys.executable, catcher)
            ready = proc.stdout.readline().split()
            self.assertEqual(['ready', str(proc.pid)], ready)
            os.kill(proc.pid, signum)
            stdout, stderr = proc.communicate(timeout=60)
            self.assertEqual(f'caught {int(signum)}\n', stdout, stderr)
            self.assertEqual(0, proc.returncode)

    def test_exit_status_and_death_by_signal(self):
        proc = self.start('sh', '-c', 'exit 42')
        proc.communicate(timeout=60)
        self.assertEqual(42, proc.returncode)
        proc = self.start('sh', '-c', 'kill -TERM $$')
        proc.communicate(timeout=60)
        self.assertEqual(-signal.SIGTERM, proc.returncode)
        # a shell sees 128+N, as for any program killed by signal N
        # SIGHUP at its default, whatever this test inherited (under nohup
        # it is ignored, and an ignored signal stays ignored across exec)
        shell = subprocess.run(
            ['sh', '-c', '"$@"; echo "status $?"', 'sh',
             *self.exec_argv('--', 'sh', '-c', 'kill -HUP $$')],
            env=self.home.env, capture_output=True, text=True, timeout=60,
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
        self.assertEqual(f'status {128 + signal.SIGHUP}\n', shell.stdout)

    def test_stdin_stdout_stderr_are_the_programs(self):
        proc = self.start('sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3')
        stdout, stderr = proc.communicate('hello\n', timeout=60)
        self.assertEqual('HELLO\n', stdout)
        self.assertEqual('oops\n', stderr)
        self.assertEqual(3, proc.returncode)
