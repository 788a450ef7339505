"""The direct Secret Service path of ntcli.keychain, against a real GNOME
Keyring on a private D-Bus session bus (skipped where either is not
installed)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import fixtures
import testtools

from ntcli import secretservice
from ntcli.testing import IsolatedHome

NEEDED = ('dbus-daemon', 'gnome-keyring-daemon')
HAVE_KEYRING = (importlib.util.find_spec('keyring') is not None
                and importlib.util.find_spec('secretstorage') is not None)

PROBE = '''
import json, sys
from ntcli import keychain
chain = keychain.KeyChain(sys.argv[1])
chain.fernet(create=True)
print(json.dumps([chain.source, chain.describe(), 'keyring' in sys.modules]))
'''

READ_WITH_KEYRING = '''
import sys, keyring
print(keyring.get_password('ntcli', sys.argv[1]) or '')
'''


class SecretServiceSession(fixtures.Fixture):
    """A session bus and an unlocked GNOME Keyring in ``home``."""

    def __init__(self, home: IsolatedHome) -> None:
        super().__init__()
        self.home = home

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=os.environ.copy(),
                                start_new_session=True, **kwargs)
        self.addCleanup(self._stop, proc)
        return proc

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def _setUp(self) -> None:
        runtime = os.path.join(self.home.path, 'run')
        os.makedirs(runtime, mode=0o700)
        self.useFixture(fixtures.EnvironmentVariable('XDG_RUNTIME_DIR',
                                                     runtime))
        self.useFixture(fixtures.EnvironmentVariable('PYTHON_KEYRING_BACKEND'))
        bus = self._spawn(['dbus-daemon', '--session', '--nofork',
                           '--print-address=1'], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
        address = bus.stdout.readline().strip()
        if not address:
            raise RuntimeError('dbus-daemon gave no address')
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS', address))
        daemon = self._spawn(['gnome-keyring-daemon', '--foreground',
                              '--unlock', '--components=secrets'],
                             stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        daemon.stdin.write(b'test-password')
        daemon.stdin.close()


@testtools.skipUnless(sys.platform.startswith('linux')
                      and all(shutil.which(name) for name in NEEDED)
                      and HAVE_KEYRING,
                      'needs Linux, dbus-daemon, gnome-keyring-daemon, '
                      'keyring and secretstorage')
class TestRealSecretService(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.useFixture(SecretServiceSession(self.home))

    def run_python(self, code: str, *args: str,
                   env: dict[str, str] | None = None) -> str:
        proc = subprocess.run([sys.executable, '-c', code, *args],
                              env=env or dict(os.environ),
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)
        return proc.stdout.strip()

    def test_key_kept_without_importing_keyring_and_found_by_keyring(self):
        import json
        config_dir = self.home.config_dir
        source, described, imported = json.loads(
            self.run_python(PROBE, config_dir))
        self.assertEqual('keyring', source)
        self.assertEqual('OS keyring (SecretService)', described)
        self.assertFalse(imported, 'the direct path imported keyring')
        # keyring itself reads what the direct path wrote
        stored = self.run_python(READ_WITH_KEYRING,
                                 'credentials-key:'
                                 + os.path.abspath(config_dir))
        self.assertEqual(44, len(stored))
        # and a second process reads the same key back
        again = json.loads(self.run_python(PROBE, config_dir))
        self.assertEqual(['keyring', described, False], again)

    def test_written_by_keyring_read_in_two_calls(self):
        # keyring writes the key (as an older ntcli did); the direct path
        # reads it, and a second read of the same process costs exactly
        # SearchItems and GetSecret on the session already open
        import json
        config_dir = self.home.config_dir
        self.run_python(WRITE_WITH_KEYRING, 'credentials-key:'
                        + os.path.abspath(config_dir))
        first, second, same, imported = json.loads(
            self.run_python(COUNT_CALLS, config_dir))
        self.assertEqual(2, second)
        self.assertGreater(first, second)
        self.assertTrue(same, 'the direct path read another key')
        self.assertFalse(imported, 'the direct path imported keyring')

    def test_locked_keyring_as_through_keyring(self):
        # Nobody can answer the unlock prompt here: the direct path must
        # end as keyring's own SecretService backend does.
        import json
        config_dir = self.home.config_dir
        self.run_python(PROBE, config_dir)     # the key goes in, unlocked
        direct = json.loads(self.run_python(LOCK_AND_PROBE, config_dir))
        through_keyring = json.loads(self.run_python(
            LOCK_AND_PROBE, config_dir, env=dict(
                os.environ, PYTHON_KEYRING_BACKEND=(
                    'keyring.backends.SecretService.Keyring'))))
        self.assertEqual(through_keyring, direct)
        self.assertNotEqual('read', direct[1])

    def test_configured_keyring_backend_is_left_to_keyring(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'PYTHON_KEYRING_BACKEND', 'keyring.backends.fail.Keyring'))
        self.assertFalse(secretservice.applies(os.environ))
        self.useFixture(fixtures.EnvironmentVariable(
            'PYTHON_KEYRING_BACKEND'))
        self.assertTrue(secretservice.applies(os.environ))
        config = os.path.join(os.environ['XDG_CONFIG_HOME'],
                              'python_keyring')
        os.makedirs(config)
        with open(os.path.join(config, 'keyringrc.cfg'), 'w') as handle:
            handle.write('[backend]\n'
                         'default-keyring=keyring.backends.fail.Keyring\n')
        self.assertFalse(secretservice.applies(os.environ))

    def test_no_service_on_the_bus(self):
        # a bus without a Secret Service: connect() says so, no error
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS', 'unix:path=/nonexistent/bus'))
        self.assertIsNone(secretservice.SecretService.connect())


LOCK_AND_PROBE = '''
import json, sys
import secretstorage
connection = secretstorage.dbus_init()
secretstorage.get_default_collection(connection).lock()
from ntcli import keychain
chain = keychain.KeyChain(sys.argv[1])
try:
    chain.fernet()
    outcome = 'read'
except Exception as exc:
    outcome = type(exc).__name__ + ': ' + str(exc)
print(json.dumps([chain.source, outcome]))
'''


WRITE_WITH_KEYRING = '''
import sys, keyring
from cryptography.fernet import Fernet
keyring.get_keyring().set_password('ntcli', sys.argv[1],
                                   Fernet.generate_key().decode())
'''

COUNT_CALLS = '''
import json, os, sys
from jeepney.io import blocking
calls = [0]
original = blocking.DBusConnection.send_and_get_reply
def counted(self, *args, **kwargs):
    calls[0] += 1
    return original(self, *args, **kwargs)
blocking.DBusConnection.send_and_get_reply = counted
from ntcli import keychain
chain = keychain.KeyChain(sys.argv[1])
first_keys = chain.keys()
first = calls[0]
second_keys = chain.keys()
second = calls[0] - first
import secretstorage
connection = secretstorage.dbus_init()
stored = next(secretstorage.get_default_collection(connection).search_items(
    {'service': 'ntcli', 'username': chain.keyring_username})).get_secret()
print(json.dumps([first, second,
                  first_keys == second_keys == [stored],
                  'keyring' in sys.modules]))
'''
