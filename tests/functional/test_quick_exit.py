"""The end of the ntcli process (ntcli.quick_exit): without the interpreter's
teardown, and with nothing of it missed.

Each case runs the installed ``ntcli`` (its console script, which ends
through ``ntcli.main.run``) and, where the point is "as before", the same
installation ending the ordinary way (``sys.exit(main())``), and compares
what a caller sees: exit status, standard output, standard error, files.
"""

import os
import signal
import subprocess
import sys

from ntcli import testing
from tests.functional import base

# ntcli as the console script starts it, ending the ordinary way: the
# completion scripts' command line (ntcli.shell_scripts) before run().
ORDINARY_EXIT = ('import sys;sys.path[0]=sys.argv.pop(1);'
                 'sys.argv[0]=sys.argv.pop(1);'
                 'from ntcli.main import main;sys.exit(main())')

PLUGIN_MODULE = '''\
import atexit
import logging
import os
import signal
import sys
import threading
import time

from ntcli import command

LOG = logging.getLogger('farewell')


def _farewell():
    with open(os.environ['FAREWELL_MARKER'], 'a') as marker:
        marker.write('atexit\\n')
    LOG.warning('farewell from atexit')
    print('farewell on stdout')     # flushed after the handlers
    print('farewell on stderr', file=sys.stderr)


class Farewell(command.Command):
    """Register an atexit handler, as a plugin may."""

    def take_action(self, parsed_args):
        atexit.register(_farewell)
        self.app.stdout.write('done\\n')
        return 0


class Linger(command.Command):
    """Leave a thread that is not a daemon running."""

    def take_action(self, parsed_args):
        def finish():
            time.sleep(0.5)     # still running when the command returns
            with open(os.environ['FAREWELL_MARKER'], 'a') as marker:
                marker.write('thread\\n')
            print('thread done', flush=True)
        threading.Thread(target=finish, daemon=False).start()
        atexit.register(_farewell)
        return 0


class Interrupted(command.Command):
    """Be interrupted (Ctrl-C) while the process ends."""

    def take_action(self, parsed_args):
        atexit.register(os.kill, os.getpid(), signal.SIGINT)
        return 0
'''

PLUGIN_COMMANDS = {'farewell': 'farewell_plugin:Farewell',
                   'linger': 'farewell_plugin:Linger',
                   'interrupted': 'farewell_plugin:Interrupted'}


class QuickExitTest(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.useFixture(testing.PluginDistribution(
            'farewell-plugin', {'ntcli.commands': PLUGIN_COMMANDS},
            modules={'farewell_plugin.py': PLUGIN_MODULE}))
        self.marker = os.path.join(self.home.path, 'marker')
        self.env = dict(self.home.env, FAREWELL_MARKER=self.marker)

    def run_ntcli(self, *args, ordinary=False, stdout=subprocess.PIPE,
                  preexec_fn=None, env=None):
        """Run the installed ntcli, or with ``ordinary`` the same
        installation ending the ordinary way; stderr captured."""
        script = testing.ntcli_command()[0]
        if ordinary:
            argv = [sys.executable, '-c', ORDINARY_EXIT,
                    os.path.dirname(script), script]
        else:
            argv = [script]
        return subprocess.run(
            argv + list(args), stdout=stdout, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, env=env or self.env,
            preexec_fn=preexec_fn, timeout=60)

    def marked(self):
        try:
            with open(self.marker) as marker:
                return marker.read().splitlines()
        except FileNotFoundError:
            return []

    def assertSameEnd(self, *args, **kwargs):
        """The installed ntcli ends as the ordinary exit does."""
        quick = self.run_ntcli(*args, **kwargs)
        ordinary = self.run_ntcli(*args, ordinary=True, **kwargs)
        self.assertEqual(
            (ordinary.returncode, ordinary.stdout, ordinary.stderr),
            (quick.returncode, quick.stdout, quick.stderr), args)
        return quick


class TestHandlers(QuickExitTest):

    def test_atexit_handlers_run_and_their_output_is_flushed(self):
        proc = self.run_ntcli('farewell')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('done\nfarewell on stdout\n', proc.stdout)
        self.assertIn('farewell on stderr\n', proc.stderr)
        self.assertEqual(['atexit'], self.marked())

    def test_a_log_file_is_complete(self):
        log = os.path.join(self.home.path, 'ntcli.log')
        proc = self.run_ntcli('--log-file', log, 'farewell')
        self.assertEqual(0, proc.returncode, proc.stderr)
        with open(log) as handle:
            lines = handle.read().splitlines()
        self.assertIn('farewell: exit status 0', lines[-2])
        # logged by the plugin's handler, after the command
        self.assertIn('farewell from atexit', lines[-1])

    def test_a_thread_that_is_not_a_daemon_is_waited_for(self):
        proc = self.run_ntcli('linger')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('thread done\nfarewell on stdout\n', proc.stdout)
        # first the thread, then the handlers: the interpreter's order
        self.assertEqual(['thread', 'atexit'], self.marked())

    def test_ctrl_c_in_a_handler_ends_as_before(self):
        proc = self.assertSameEnd('interrupted')
        self.assertEqual(128 + signal.SIGINT, proc.returncode)
        self.assertEqual('Interrupted.\n', proc.stderr)


class TestExitStatus(QuickExitTest):

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        # the first Tab makes the completion table through the
        # application; the next ones answer from it, as both runs below do
        self.ntcli('complete', '--query', '--', 'token', 're')

    def test_statuses_as_before(self):
        for args, status in ((('token', 'show'), 0),
                             (('token', 'list', '-f', 'json'), 0),
                             (('--version',), 0),
                             (('complete', '--query', '--', 'token', 're'),
                              0),
                             (('token', 'revoke', '--force', 'jti_x'), 1),
                             (('token', 'show', '--no-such-option'), 2),
                             (('no-such-command',), 2)):
            proc = self.assertSameEnd(*args)
            self.assertEqual(status, proc.returncode, (args, proc.stderr))

    def test_interrupted_as_before(self):
        for fault in ('sigint:start', 'sigint:before-issue'):
            env = dict(self.env, NTCLI_FAULT=fault)
            proc = self.assertSameEnd('token', 'refresh', env=env)
            self.assertEqual(130, proc.returncode)
            self.assertEqual('Interrupted.\n', proc.stderr)

    def test_closed_stdout_as_before(self):
        # started with '>&-'
        for args in (('token', 'show'), ('token', 'create'), ('--version',),
                     ('farewell',),
                     ('complete', '--query', '--', 'token', 're')):
            self.assertSameEnd(*args, stdout=None,
                               preexec_fn=lambda: os.close(1))

    def test_closed_pipe_as_before(self):
        # '| head -c0': a reader gone before anything is written, with
        # stdout's buffer (flushed at exit) and without it
        for unbuffered in ('', '1'):
            env = dict(self.env, PYTHONUNBUFFERED=unbuffered)
            for args, status in ((('token', 'show'), 141),
                                 (('token', 'list'), 141),
                                 (('--version',), None),
                                 (('farewell',), None),
                                 (('complete', '--query', '--', 'token',
                                   're'), None)):
                read_end, write_end = os.pipe()
                os.close(read_end)
                try:
                    proc = self.assertSameEnd(*args, stdout=write_end,
                                              env=env)
                finally:
                    os.close(write_end)
                if status is not None:
                    self.assertEqual(status, proc.returncode, proc.stderr)
                    self.assertEqual('', proc.stderr)

    def test_the_database_is_closed(self):
        # its -wal file checkpointed and removed, as when the interpreter
        # collected the connection: nothing left for the next run
        for args in (('token', 'refresh'), ('token', 'list'),
                     ('token', 'show')):
            proc = self.run_ntcli(*args)
            self.assertEqual(0, proc.returncode, proc.stderr)
            self.assertEqual(['authority.db'],
                             sorted(os.listdir(self.home.data_dir)), args)
