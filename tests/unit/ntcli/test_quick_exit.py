"""ntcli.quick_exit: which way a process ends.

Each case is a small Python process ending with ``sys.exit(finish(...))``
and holding an object whose finalizer writes ``teardown``: the line shows
that the interpreter's teardown ran (the ordinary way), its absence that
the process ended at once. tests/functional/test_quick_exit.py checks that
ntcli ends either way as it did before.
"""

import os
import subprocess
import sys

import testtools

PROGRAM = '''
import os
import sys
from ntcli.quick_exit import finish


class Collected:
    def __del__(self, write=os.write):
        write(2, b'teardown\\n')


collected = Collected()
{before}
sys.exit(finish({status}))
'''


def end(before='', status='3', *options):
    """Run the program (stdout buffered); its exit status and stderr."""
    env = dict(os.environ)
    env.pop('PYTHONUNBUFFERED', None)
    proc = subprocess.run(
        [sys.executable, *options, '-c',
         PROGRAM.format(before=before, status=status)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env,
        timeout=60)
    return proc.returncode, proc.stderr


class TestFinish(testtools.TestCase):

    def test_ends_at_once_after_the_handlers_and_flushes(self):
        code, stderr = end(
            'import atexit\n'
            "atexit.register(print, 'handler', file=sys.stderr)\n"
            "sys.stdout.write('unflushed')")
        self.assertEqual((3, 'handler\n'), (code, stderr))

    def test_the_ordinary_way_while_a_thread_is_not_a_daemon(self):
        code, stderr = end(
            'import threading, time\n'
            'threading.Thread(target=time.sleep, args=(0.2,)).start()')
        self.assertEqual((3, 'teardown\n'), (code, stderr))

    def test_daemon_threads_are_not_waited_for(self):
        code, stderr = end(
            'import threading, time\n'
            'threading.Thread(target=time.sleep, args=(60,), '
            'daemon=True).start()')
        self.assertEqual((3, ''), (code, stderr))

    def test_the_ordinary_way_under_a_tracer_or_a_profiler(self):
        for hook in ('settrace', 'setprofile'):
            code, stderr = end(f'sys.{hook}(lambda *args: None)')
            self.assertEqual((3, 'teardown\n'), (code, stderr), hook)

    def test_the_ordinary_way_for_a_status_that_is_not_a_number(self):
        code, stderr = end(status="'message'")
        self.assertEqual(1, code)
        self.assertEqual('message\nteardown\n', stderr)

    def test_the_ordinary_way_when_stdout_cannot_be_flushed(self):
        code, stderr = end(
            'import os\n'
            'read_end, write_end = os.pipe()\n'
            'os.close(read_end)\n'
            'os.dup2(write_end, 1)\n'
            "sys.stdout.write('x')")
        # the interpreter reports the failure and exits 120, as it would
        # have without finish()
        self.assertEqual(120, code)
        self.assertIn('teardown\n', stderr)
