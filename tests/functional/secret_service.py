"""A real Secret Service for tests: gnome-keyring-daemon on a private D-Bus
session bus, both from the distribution's packages (.ci/run installs them).
Tests that use it are skipped, with the reason, where they are missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import fixtures

PACKAGES = 'gnome-keyring dbus (apt-get install gnome-keyring dbus)'
PASSWORD = 'ntcli-test-keyring'

# Run in a subprocess with the session's environment: lock the default
# collection, or read ntcli's entry (keyring and secretstorage are the
# libraries ntcli itself uses).
LOCK = '''
import secretstorage
connection = secretstorage.dbus_init()
secretstorage.get_default_collection(connection).lock()
'''
READ = '''
import sys, keyring
print(keyring.get_password('ntcli', sys.argv[1]) or '')
'''


def missing() -> str | None:
    """Why no Secret Service can run here, or None when one can.

    Tests call it (``self.skipTest``) before they use the fixture: since
    fixtures 4.3 a skip raised inside a fixture's ``_setUp`` is reported
    as a SetupError, a failure, not as a skip.
    """
    absent = [tool for tool in ('dbus-daemon', 'gnome-keyring-daemon',
                                'dbus-send') if not shutil.which(tool)]
    if absent:
        return f'no {", ".join(absent)} here: needs {PACKAGES}'
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "needs the 'keyring' extra (keyring, secretstorage)"
    return None


class SecretService(fixtures.Fixture):
    """gnome-keyring-daemon, unlocked, on a bus of its own, in ``home``;
    check :func:`missing` first.

    ``env`` is the environment for ntcli runs that should use it.
    """

    def __init__(self, home) -> None:
        super().__init__()
        self.home = home
        self.daemon: subprocess.Popen | None = None

    def _setUp(self) -> None:
        reason = missing()
        if reason:
            raise RuntimeError(f'no Secret Service: {reason}')
        base = self.useFixture(fixtures.TempDir()).path
        runtime = os.path.join(base, 'run')
        os.mkdir(runtime, 0o700)
        self.env = dict(self.home.env, XDG_RUNTIME_DIR=runtime,
                        PYTHON_KEYRING_BACKEND=(
                            'keyring.backends.SecretService.Keyring'))
        bus = subprocess.Popen(
            ['dbus-daemon', '--session', '--nofork', '--print-address=1',
             f'--address=unix:path={os.path.join(base, "bus")}'],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, env=self.env)
        self.addCleanup(self._stop, bus)
        self.env['DBUS_SESSION_BUS_ADDRESS'] = bus.stdout.readline().strip()
        self.start(unlock=True)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(30)

    def _owned(self) -> bool:
        return subprocess.run(
            ['dbus-send', '--session', '--print-reply',
             '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
             'org.freedesktop.DBus.NameHasOwner',
             'string:org.freedesktop.secrets'],
            env=self.env, capture_output=True, text=True,
            timeout=30).stdout.strip().endswith('true')

    def start(self, unlock: bool) -> None:
        """(Re)start the daemon; ``unlock`` gives it the password, as a
        desktop login does."""
        previous = getattr(self, 'daemon', None)
        if previous is not None:
            # stopped first: a daemon that replaces a running one may
            # inherit its locked state instead of unlocking
            self._stop(previous)
        args = ['gnome-keyring-daemon', '--foreground', '--replace',
                '--components=secrets']
        if unlock:
            args.append('--unlock')
        self.daemon = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=self.env)
        self.addCleanup(self._stop, self.daemon)
        self.daemon.stdin.write(PASSWORD.encode() if unlock else b'')
        self.daemon.stdin.close()
        deadline = time.monotonic() + 30
        while not self._owned():
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise RuntimeError('gnome-keyring-daemon did not start')
            time.sleep(0.05)
        if unlock:
            # answers a lookup (the first one, on a busy machine, can take
            # longer than ntcli's own 3 s limit), so the test does not race;
            # the daemon it replaces may still answer (locked) for a moment
            deadline = time.monotonic() + 30
            while True:
                try:
                    self.entry(self.home.config_dir)
                    break
                except subprocess.CalledProcessError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def lock(self) -> None:
        subprocess.run([sys.executable, '-c', LOCK], env=self.env,
                       check=True, timeout=30)

    def kill(self) -> None:
        self.daemon.kill()
        self.daemon.wait(30)

    def freeze(self) -> None:
        self.daemon.send_signal(signal.SIGSTOP)

    def entry(self, config_dir: str) -> str:
        """ntcli's key entry for ``config_dir``, as stored in the keyring."""
        return subprocess.run(
            [sys.executable, '-c', READ,
             'credentials-key:' + os.path.abspath(config_dir)],
            env=self.env, capture_output=True, text=True, check=True,
            timeout=30).stdout.strip()
