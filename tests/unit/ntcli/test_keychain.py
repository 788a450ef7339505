"""Tests for ntcli.keychain: where the Fernet key comes from, and rotation."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
import types

import fixtures
import testtools
from cryptography.fernet import Fernet, InvalidToken

from ntcli import keychain
from ntcli.errors import CredentialStoreError
from ntcli.testing import IsolatedHome


class StubKeyring:
    """An in-memory keyring backend with a real backend's priority."""

    priority = 5

    def __init__(self, delay: float = 0.0) -> None:
        self.secrets: dict[tuple[str, str], str] = {}
        self.delay = delay
        self.release = threading.Event()   # ends a delay early
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self.release.wait(self.delay)
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str,
                     password: str) -> None:
        self.calls += 1
        self.secrets[(service, username)] = password


class FailKeyring(StubKeyring):
    priority = 0


class FakeKeyringModule(fixtures.Fixture):
    """Puts a fake ``keyring`` module whose get_keyring returns ``backend``
    in sys.modules, and a D-Bus session address in the environment."""

    def __init__(self, backend: object) -> None:
        super().__init__()
        self.backend = backend

    def _setUp(self) -> None:
        module = types.ModuleType('keyring')
        module.get_keyring = lambda: self.backend
        previous = sys.modules.get('keyring')
        sys.modules['keyring'] = module

        def restore() -> None:
            if previous is None:
                sys.modules.pop('keyring', None)
            else:
                sys.modules['keyring'] = previous

        self.addCleanup(restore)
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS', 'unix:path=/nonexistent'))


class KeysTestCase(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.useFixture(fixtures.FakeLogger())
        self.config_dir = self.home.config_dir
        self.key_file = os.path.join(self.config_dir, 'credentials.key')
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS'))

    def chain(self) -> keychain.KeyChain:
        return keychain.KeyChain(self.config_dir)

    def write_key_file(self, *values: bytes) -> None:
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)
        with open(self.key_file, 'wb') as handle:
            handle.write(b''.join(v + b'\n' for v in values))
        os.chmod(self.key_file, 0o600)

    def read_key_file(self) -> list[bytes]:
        with open(self.key_file, 'rb') as handle:
            return handle.read().split()


class TestEnvironmentKey(KeysTestCase):

    def test_env_wins_over_key_file(self) -> None:
        self.write_key_file(Fernet.generate_key())
        env_key = Fernet.generate_key()
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', env_key.decode()))
        chain = self.chain()
        self.assertEqual('env', chain.source)
        self.assertEqual('NTCLI_KEY environment variable', chain.describe())
        token = chain.fernet().encrypt(b'data')
        self.assertEqual(b'data', Fernet(env_key).decrypt(token))

    def test_env_does_not_create_key_file(self) -> None:
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', Fernet.generate_key().decode()))
        self.chain().fernet(create=True)
        self.assertFalse(os.path.exists(self.key_file))

    def test_env_skips_keyring(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', Fernet.generate_key().decode()))
        self.assertEqual('env', self.chain().source)
        self.assertEqual(0, stub.calls)

    def test_several_keys_primary_first(self) -> None:
        new, old = Fernet.generate_key(), Fernet.generate_key()
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', f'{new.decode()}, {old.decode()},'))
        fernet = self.chain().fernet()
        self.assertEqual(b'old', fernet.decrypt(Fernet(old).encrypt(b'old')))
        self.assertEqual(b'x', Fernet(new).decrypt(fernet.encrypt(b'x')))

    def test_malformed_env_key(self) -> None:
        bad = 'not-a-fernet-key-at-all'
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', Fernet.generate_key().decode() + ',' + bad))
        err = self.assertRaises(CredentialStoreError, self.chain().fernet)
        self.assertIn('NTCLI_KEY', err.message)
        self.assertIn('entry 2 of 2', err.message)
        self.assertIn('generate_key', err.hint)
        self.assertNotIn(bad, err.message + err.hint)

    def test_env_key_of_wrong_length(self) -> None:
        import base64
        short = base64.urlsafe_b64encode(b'x' * 16).decode()
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_KEY', short))
        self.assertRaises(CredentialStoreError, self.chain().keys)

    def test_rotate_single_env_key_refused(self) -> None:
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', Fernet.generate_key().decode()))
        err = self.assertRaises(CredentialStoreError, self.chain().rotate)
        self.assertIn('single key', err.message)
        self.assertIn('Prepend a new key to NTCLI_KEY', err.hint)

    def test_rotate_env_writes_nothing(self) -> None:
        first, second = Fernet.generate_key(), Fernet.generate_key()
        value = f'{first.decode()},{second.decode()}'
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_KEY', value))
        chain = self.chain()
        chain.rotate()
        self.assertEqual(0, chain.retire_old_keys())
        self.assertEqual(value, os.environ['NTCLI_KEY'])
        self.assertFalse(os.path.exists(self.config_dir))


class TestKeyFile(KeysTestCase):

    def test_created_0600_on_first_use(self) -> None:
        chain = self.chain()
        self.assertEqual('file', chain.source)
        self.assertEqual([], chain.keys())
        self.assertFalse(os.path.exists(self.key_file))
        self.assertIn('not created yet', chain.describe())
        chain.fernet(create=True)
        self.assertEqual(1, len(self.read_key_file()))
        if os.name == 'posix':
            self.assertEqual(0o600, stat.S_IMODE(os.stat(self.key_file)
                                                 .st_mode))
            self.assertEqual(0o700, stat.S_IMODE(os.stat(self.config_dir)
                                                 .st_mode))
            self.assertEqual(f'key file {self.key_file} (0600)',
                             chain.describe())

    def test_same_key_next_time(self) -> None:
        token = self.chain().fernet(create=True).encrypt(b'secret')
        self.assertEqual(b'secret', self.chain().fernet().decrypt(token))

    def test_no_key_without_create(self) -> None:
        err = self.assertRaises(CredentialStoreError, self.chain().fernet)
        self.assertIn('No key found', err.message)
        self.assertFalse(os.path.exists(self.key_file))

    def test_malformed_key_file(self) -> None:
        self.write_key_file(b'garbage')
        err = self.assertRaises(CredentialStoreError, self.chain().fernet)
        self.assertIn(self.key_file, err.message)
        self.assertIn('NTCLI_KEY', err.hint)
        with open(self.key_file, 'rb') as handle:
            self.assertEqual(b'garbage\n', handle.read())

    def test_empty_key_file_is_an_error(self) -> None:
        self.write_key_file()
        err = self.assertRaises(CredentialStoreError, self.chain().fernet,
                                create=True)
        self.assertIn('holds no key', err.message)

    @testtools.skipUnless(os.name == 'posix', 'POSIX permissions')
    def test_loose_key_file_tightened(self) -> None:
        log = self.useFixture(fixtures.FakeLogger('ntcli.fileio'))
        self.write_key_file(Fernet.generate_key())
        os.chmod(self.key_file, 0o644)
        self.chain().fernet()
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.key_file).st_mode))
        self.assertIn(self.key_file, log.output)

    def test_rotate_and_retire(self) -> None:
        chain = self.chain()
        old_token = chain.fernet(create=True).encrypt(b'old')
        (old,) = self.read_key_file()
        chain.rotate()
        new, kept = self.read_key_file()
        self.assertEqual(old, kept)
        self.assertNotEqual(old, new)
        fernet = chain.fernet()
        self.assertEqual(b'old', fernet.decrypt(old_token))
        self.assertEqual(b'x', Fernet(new).decrypt(fernet.encrypt(b'x')))
        self.assertEqual(1, chain.retire_old_keys())
        self.assertEqual([new], self.read_key_file())
        self.assertRaises(InvalidToken, chain.fernet().decrypt, old_token)

    def test_generated_key_is_a_fernet_key(self) -> None:
        Fernet(keychain.generate_key())


class TestKeyring(KeysTestCase):

    def test_real_backend_used(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        chain = self.chain()
        self.assertEqual('keyring', chain.source)
        self.assertTrue(chain.describe().startswith('OS keyring ('))
        token = chain.fernet(create=True).encrypt(b'data')
        self.assertFalse(os.path.exists(self.key_file))
        (stored,) = stub.secrets.values()
        self.assertEqual(b'data', Fernet(stored.encode()).decrypt(token))
        # a second process finds the same key
        self.assertEqual(b'data', self.chain().fernet().decrypt(token))

    def test_keyring_rotation(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        chain = self.chain()
        chain.fernet(create=True)
        (first,) = stub.secrets.values()
        chain.rotate()
        (both,) = stub.secrets.values()
        self.assertEqual(first, both.split(',')[1])
        chain.retire_old_keys()
        (last,) = stub.secrets.values()
        self.assertEqual(both.split(',')[0], last)

    def test_probe_read_serves_the_first_read_only(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.chain().fernet(create=True)       # the key goes in
        chain = self.chain()
        stub.calls = 0
        chain.fernet()
        # choosing the keyring read the entry; the keys came from that read
        self.assertEqual(1, stub.calls)
        chain.fernet()
        self.assertEqual(2, stub.calls)         # later reads ask afresh

    def test_rotation_after_source_resolved_is_seen(self) -> None:
        # the source resolved early (auth status does), the keys read later
        # (after waiting for the credentials lock): a rotation made
        # meanwhile by another process must be seen
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.chain().fernet(create=True)
        chain = self.chain()
        self.assertEqual('keyring', chain.source)
        other = self.chain()
        other.rotate()
        (rotated,) = stub.secrets.values()
        seen = chain.keys()
        self.assertEqual(rotated.split(','), [k.decode() for k in seen])

    def test_keyring_entry_per_config_dir(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.chain().fernet(create=True)
        keychain.KeyChain(os.path.join(self.home.path, 'other')).fernet(
            create=True)
        self.assertEqual(2, len(stub.secrets))

    def test_fail_backend_skipped(self) -> None:
        self.useFixture(FakeKeyringModule(FailKeyring()))
        self.assertEqual('file', self.chain().source)

    def test_chainer_of_nothing_skipped(self) -> None:
        chainer = type('ChainerBackend', (), {
            '__module__': 'keyring.backends.chainer', 'priority': 10,
            'backends': [FailKeyring()]})()
        self.useFixture(FakeKeyringModule(chainer))
        self.assertEqual('file', self.chain().source)

    def test_plaintext_backend_skipped(self) -> None:
        plain = type('PlaintextKeyring', (StubKeyring,), {
            '__module__': 'keyrings.alt.file'})()
        self.useFixture(FakeKeyringModule(plain))
        self.assertEqual('file', self.chain().source)

    @testtools.skipUnless(sys.platform.startswith('linux'), 'Linux only')
    def test_skipped_without_dbus_session(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS'))
        self.assertEqual('file', self.chain().source)
        self.assertEqual(0, stub.calls)

    def test_keyring_not_installed(self) -> None:
        self.useFixture(FakeKeyringModule(None))
        sys.modules['keyring'] = None  # import keyring raises ImportError
        self.assertEqual('file', self.chain().source)

    def test_isolated_home_fail_backend(self) -> None:
        # IsolatedHome selects keyring's fail backend: real keyring, if
        # installed, must be recognised as unusable.
        self.useFixture(fixtures.EnvironmentVariable(
            'DBUS_SESSION_BUS_ADDRESS', 'unix:path=/nonexistent'))
        self.assertEqual('file', self.chain().source)

    def test_hanging_keyring_times_out(self) -> None:
        log = self.useFixture(fixtures.FakeLogger('ntcli.keychain'))
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli.keychain.KEYRING_TIMEOUT', 0.2))
        stub = StubKeyring(delay=300)
        self.addCleanup(stub.release.set)
        self.useFixture(FakeKeyringModule(stub))
        started = time.monotonic()
        self.assertEqual('file', self.chain().source)
        # far below the keyring's 300 s, with room for a slow machine
        self.assertLess(time.monotonic() - started, 60)
        self.assertEqual(1, stub.calls)
        self.assertIn('did not answer', log.output)

    def test_existing_key_file_kept_when_keyring_is_empty(self) -> None:
        self.write_key_file(Fernet.generate_key())
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        self.assertEqual('file', self.chain().source)

    def test_malformed_keyring_entry(self) -> None:
        stub = StubKeyring()
        self.useFixture(FakeKeyringModule(stub))
        chain = self.chain()
        stub.secrets[('ntcli', chain.keyring_username)] = 'bogus'
        err = self.assertRaises(CredentialStoreError, chain.fernet)
        self.assertIn('OS keyring', err.message)
        self.assertNotIn('bogus', err.message + err.hint)
