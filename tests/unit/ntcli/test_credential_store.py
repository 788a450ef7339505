"""Tests for ntcli.credential_store and ntcli.credentials: the encrypted
credentials file and what it holds."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys

import fixtures
import testtools
from cryptography.fernet import Fernet

from ntcli import fileio
from ntcli.credential_store import CredentialStore
from ntcli.credentials import Credentials, PendingRevocation, StoredToken
from ntcli.errors import CredentialStoreError, LockTimeout
from ntcli.keychain import KeyChain
from ntcli.testing import IsolatedHome

POSIX = os.name == 'posix'


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(
        json.dumps(data).encode()).rstrip(b'=').decode()


# Shaped like a real workspace token: wst_ + header.payload.signature
JWT_PAYLOAD = b64({'jti': 'jti_secret_1', 'sub': 'ws-1', 'iat': 1700000000,
                   'scope': 'workspace'})
TOKEN = 'wst_{}.{}.{}'.format(b64({'alg': 'EdDSA', 'typ': 'JWT'}), JWT_PAYLOAD,
                          'c2lnbmF0dXJlLXZhbHVlLWhlcmU')
USER_CREDENTIAL = 'ntu_user_credential_value_0123456789'


def stored(token: str = TOKEN, jti: str = 'jti_1',
           workspace_id: str = 'ws-1') -> StoredToken:
    return StoredToken(token=token, jti=jti, workspace_id=workspace_id,
                       created_at=1700000000, expires_at=None)


class StoreTestCase(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.useFixture(fixtures.FakeLogger())
        self.config_dir = self.home.config_dir
        self.store = CredentialStore(self.config_dir)

    def read_bytes(self, path: str | None = None) -> bytes:
        with open(path or self.store.path, 'rb') as handle:
            return handle.read()

    def write_bytes(self, data: bytes) -> None:
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)
        with open(self.store.path, 'wb') as handle:
            handle.write(data)
        os.chmod(self.store.path, 0o600)

    def key_file_keys(self) -> list[bytes]:
        with open(os.path.join(self.config_dir, 'credentials.key'),
                  'rb') as handle:
            return handle.read().split()

    def save_token(self) -> None:
        with self.store.transaction() as creds:
            creds.set_token('local', 'ws-1', stored())


class TestStoredToken(testtools.TestCase):

    def test_repr_redacts_token(self) -> None:
        token = stored()
        for text in (repr(token), str(token), repr([token])):
            self.assertNotIn(TOKEN, text)
            self.assertNotIn('wst_', text)
            self.assertIn('jti_1', text)
            self.assertIn('<redacted>', text)

    def test_equality_and_dict(self) -> None:
        self.assertEqual(stored(), StoredToken.from_dict(
            stored().to_dict(), 'ws-1'))


class TestReadWrite(StoreTestCase):

    def test_absent_file_is_empty(self) -> None:
        creds = self.store.read()
        self.assertIsNone(creds.get_token('local', 'ws-1'))
        self.assertEqual([], creds.pending_revocations())
        self.assertFalse(os.path.exists(self.config_dir))

    def test_round_trip(self) -> None:
        pending = PendingRevocation('https://api.example', 'ws-2', 'jti_0',
                                    since=1700000001)
        with self.store.transaction() as creds:
            creds.set_token('local', 'ws-1', stored())
            creds.set_token('local', 'ws-3', stored(jti='jti_3',
                                                    workspace_id='ws-3'))
            creds.set_user_credential('https://api.example',
                                      USER_CREDENTIAL)
            creds.add_pending_revocation(pending)
        creds = CredentialStore(self.config_dir).read()
        self.assertEqual(stored(), creds.get_token('local', 'ws-1'))
        self.assertEqual({'ws-1', 'ws-3'}, set(creds.tokens('local')))
        self.assertEqual(USER_CREDENTIAL,
                         creds.get_user_credential('https://api.example'))
        self.assertIsNone(creds.get_user_credential('local'))
        self.assertEqual([pending], creds.pending_revocations())
        self.assertEqual([pending],
                         creds.pending_revocations('https://api.example'))
        self.assertEqual([], creds.pending_revocations('local'))
        self.assertEqual(1, creds.version)

    def test_pending_revocation_updates(self) -> None:
        creds = Credentials()
        pending = PendingRevocation('local', 'ws-1', 'jti_0', since=5)
        creds.add_pending_revocation(pending)
        pending.attempts, pending.last_error = 1, 'timeout'
        creds.update_pending_revocation(pending)
        creds.add_pending_revocation(PendingRevocation('local', 'ws-1',
                                                       'jti_9', since=6))
        self.assertEqual([(1, 'timeout'), (0, None)],
                         [(p.attempts, p.last_error)
                          for p in creds.pending_revocations('local')])
        creds.remove_pending_revocation('local', 'jti_0')
        self.assertEqual(['jti_9'], [p.jti for p in
                                     creds.pending_revocations()])

    def test_remove_and_forget(self) -> None:
        creds = Credentials()
        creds.set_token('local', 'ws-1', stored())
        creds.remove_token('local', 'ws-1')
        self.assertIsNone(creds.get_token('local', 'ws-1'))
        self.assertEqual([], creds.endpoint_keys())
        creds.set_token('e', 'ws-1', stored())
        creds.set_user_credential('e', USER_CREDENTIAL)
        creds.add_pending_revocation(PendingRevocation('e', 'ws-1', 'j', 1))
        creds.set_token('other', 'ws-1', stored())
        creds.forget_endpoint('e', keep_pending_revocations=True)
        self.assertEqual({}, creds.tokens('e'))
        self.assertIsNone(creds.get_user_credential('e'))
        self.assertEqual(1, len(creds.pending_revocations('e')))
        creds.forget_endpoint('e')
        self.assertEqual([], creds.pending_revocations('e'))
        self.assertEqual(['other'], creds.endpoint_keys())
        creds.remove_user_credential('nowhere')
        creds.remove_token('nowhere', 'ws')

    def test_unknown_keys_preserved(self) -> None:
        doc = {'version': 7, 'future': {'a': 1}, 'endpoints': {
            'local': {'tokens': {'ws-1': dict(stored().to_dict(),
                                               scope='x')},
                      'new_field': [1, 2]}}}
        self.store._write(Credentials(doc))
        with self.store.transaction() as creds:
            creds.set_user_credential('local', USER_CREDENTIAL)
        fernet = KeyChain(self.config_dir).fernet()
        written = json.loads(fernet.decrypt(self.read_bytes()))
        self.assertEqual(7, written['version'])
        self.assertEqual({'a': 1}, written['future'])
        self.assertEqual([1, 2], written['endpoints']['local']['new_field'])
        self.assertEqual('x', written['endpoints']['local']['tokens']
                         ['ws-1']['scope'])

    def test_new_document_has_version(self) -> None:
        self.save_token()
        fernet = KeyChain(self.config_dir).fernet()
        self.assertEqual(1, json.loads(fernet.decrypt(self.read_bytes()))
                         ['version'])

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_permissions(self) -> None:
        self.save_token()
        self.assertEqual(0o700, stat.S_IMODE(os.stat(self.config_dir)
                                             .st_mode))
        for name in ('credentials.enc', 'credentials.key',
                     'credentials.lock'):
            self.assertEqual(0o600, stat.S_IMODE(os.stat(
                os.path.join(self.config_dir, name)).st_mode), name)

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_loose_permissions_tightened(self) -> None:
        self.save_token()
        os.chmod(self.store.path, 0o644)
        os.chmod(self.config_dir, 0o755)
        log = self.useFixture(fixtures.FakeLogger('ntcli.fileio'))
        self.assertIsNotNone(self.store.read().get_token('local', 'ws-1'))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.store.path)
                                             .st_mode))
        self.assertIn(self.store.path, log.output)
        with self.store.transaction():
            pass
        # a directory ntcli did not create keeps its mode, with a warning
        self.assertEqual(0o755, stat.S_IMODE(os.stat(self.config_dir)
                                             .st_mode))
        self.assertIn('leaves it as it is', log.output)

    def test_key_description(self) -> None:
        self.assertEqual('file', self.store.key_source)
        self.save_token()
        self.assertIn('credentials.key', self.store.describe_key())

    def test_imports_nothing_heavy_until_needed(self) -> None:
        script = ('import sys; '
                  'from ntcli.credential_store import CredentialStore; '
                  'CredentialStore(sys.argv[1]).read(); '
                  'print("cryptography" in sys.modules, '
                  '"keyring" in sys.modules)')
        out = subprocess.run([sys.executable, '-c', script, self.config_dir],
                             capture_output=True, text=True, check=True,
                             env=self.home.env)
        self.assertEqual('False False', out.stdout.strip())


class TestTransaction(StoreTestCase):

    def test_commit_inside_lock(self) -> None:
        with self.store.transaction() as creds:
            creds.set_token('local', 'ws-1', stored())
            creds.commit()
            # visible to a lock-free reader while we still hold the lock
            self.assertEqual('jti_1', self.store.read().get_token(
                'local', 'ws-1').jti)
            self.assertRaises(LockTimeout, self._locked_elsewhere)
            creds.set_token('local', 'ws-1', stored(jti='jti_2'))
        self.assertEqual('jti_2', self.store.read().get_token(
            'local', 'ws-1').jti)

    def _locked_elsewhere(self) -> None:
        with CredentialStore(self.config_dir).transaction(timeout=0.1):
            pass

    def test_exception_writes_nothing_more(self) -> None:
        class Boom(Exception):
            pass

        def run() -> None:
            with self.store.transaction() as creds:
                creds.set_token('local', 'ws-1', stored())
                creds.commit()
                creds.set_token('local', 'ws-1', stored(jti='jti_2'))
                raise Boom()

        self.assertRaises(Boom, run)
        self.assertEqual('jti_1', self.store.read().get_token(
            'local', 'ws-1').jti)

    def test_no_change_no_write(self) -> None:
        with self.store.transaction():
            pass
        self.assertFalse(os.path.exists(self.store.path))

    def test_commit_outside_transaction(self) -> None:
        self.assertRaises(RuntimeError, self.store.read().commit)
        with self.store.transaction() as creds:
            pass
        self.assertRaises(RuntimeError, creds.commit)

    def test_lock_timeout(self) -> None:
        os.makedirs(self.config_dir)
        with fileio.FileLock(self.store.lock_path):
            self.assertRaises(LockTimeout, self._locked_elsewhere)

    def test_write_failure_is_reported(self) -> None:
        self.save_token()
        before = self.read_bytes()

        def broken_replace(src: str, dst: str) -> None:
            raise OSError(28, 'No space left on device')

        self.useFixture(fixtures.MonkeyPatch('os.replace', broken_replace))

        def run() -> None:
            with self.store.transaction() as creds:
                creds.set_token('local', 'ws-1', stored(jti='jti_2'))

        err = self.assertRaises(CredentialStoreError, run)
        self.assertIn(self.store.path, err.message)
        self.assertIn('No space left', err.message)
        self.assertEqual(before, self.read_bytes())
        self.assertEqual(['credentials.enc', 'credentials.key',
                          'credentials.lock'],
                         sorted(os.listdir(self.config_dir)))


INCREMENT = '''
import sys
from ntcli.credential_store import CredentialStore
store = CredentialStore(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with store.transaction(timeout=60) as creds:
        value = int(creds.get_user_credential('counter') or 0)
        creds.set_user_credential('counter', str(value + 1))
'''


class TestConcurrency(StoreTestCase):

    def test_no_lost_updates(self) -> None:
        # Six processes race, the key file included (none exists yet).
        procs = [subprocess.Popen(
            [sys.executable, '-c', INCREMENT, self.config_dir, '30'],
            env=self.home.env, stderr=subprocess.PIPE, text=True)
            for _ in range(6)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, err)
        self.assertEqual('180', self.store.read().get_user_credential(
            'counter'))
        self.assertEqual(1, len(self.key_file_keys()))


class TestCorruption(StoreTestCase):

    def assert_reported(self, what: str | None = None) -> None:
        before = self.read_bytes()
        for action in (self.store.read, self._transact):
            err = self.assertRaises(CredentialStoreError, action)
            self.assertIn(self.store.path, err.message)
            if what:
                self.assertIn(what, err.message)
            self.assertIn('ntcli auth logout', err.hint)
            self.assertIn('NTCLI_KEY', err.hint)
            self.assertIn('backup', err.hint)
            self.assertEqual({'path': self.store.path}, err.details)
            self.assertNotIn(TOKEN, err.message + err.hint)
        self.assertEqual(before, self.read_bytes())

    def _transact(self) -> None:
        with self.store.transaction() as creds:
            creds.set_token('local', 'ws-9', stored())

    def test_truncated(self) -> None:
        self.save_token()
        data = self.read_bytes()
        self.write_bytes(data[:len(data) // 2])
        self.assert_reported('cannot be decrypted')

    def test_one_byte_flipped(self) -> None:
        self.save_token()
        data = bytearray(self.read_bytes())
        middle = len(data) // 2
        data[middle] = ord('A') if data[middle] != ord('A') else ord('B')
        self.write_bytes(bytes(data))
        self.assert_reported('cannot be decrypted')

    def test_wrong_key(self) -> None:
        self.save_token()
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', Fernet.generate_key().decode()))
        self.store = CredentialStore(self.config_dir)
        self.assert_reported('NTCLI_KEY environment variable')

    def test_plaintext_json(self) -> None:
        self.write_bytes(json.dumps({'tokens': {'ws': TOKEN}}).encode())
        self.assert_reported('not an encrypted')

    def test_empty_file(self) -> None:
        self.write_bytes(b'')
        self.assert_reported('is empty')

    def test_decrypts_to_garbage(self) -> None:
        fernet = KeyChain(self.config_dir).fernet(create=True)
        self.write_bytes(fernet.encrypt(b'[1, 2, 3]'))
        self.assert_reported('not a credentials document')

    def test_missing_key(self) -> None:
        self.save_token()
        os.unlink(os.path.join(self.config_dir, 'credentials.key'))
        self.assert_reported('no key')
        self.assertFalse(os.path.exists(
            os.path.join(self.config_dir, 'credentials.key')))

    def test_quarantine(self) -> None:
        self.write_bytes(b'junk')
        moved = self.store.quarantine()
        self.assertTrue(os.path.basename(moved).startswith(
            'credentials.enc.bad-'))
        self.assertEqual(b'junk', self.read_bytes(moved))
        self.assertFalse(os.path.exists(self.store.path))
        self.assertIsNone(self.store.read().get_token('local', 'ws-1'))
        self.write_bytes(b'junk again')
        second = self.store.quarantine()
        self.assertNotEqual(moved, second)
        self.assertTrue(os.path.exists(moved))
        self.assertIsNone(self.store.quarantine())


class Crash(BaseException):
    """Stands for the process dying at a chosen point."""


class TestKeyRotation(StoreTestCase):

    def decrypt_with_primary_only(self) -> dict:
        primary = self.key_file_keys()[0]
        return json.loads(Fernet(primary).decrypt(self.read_bytes()))

    def test_rotate(self) -> None:
        self.save_token()
        (old,) = self.key_file_keys()
        result = self.store.rotate_key()
        (new,) = self.key_file_keys()
        self.assertNotEqual(old, new)
        self.assertTrue(result.reencrypted)
        self.assertEqual(1, result.retired_keys)
        self.assertEqual('file', result.key_source)
        self.assertIn('ws-1', self.decrypt_with_primary_only()
                      ['endpoints']['local']['tokens'])
        self.assertEqual(stored(), CredentialStore(self.config_dir).read()
                         .get_token('local', 'ws-1'))

    def test_rotate_without_credentials(self) -> None:
        result = self.store.rotate_key()
        self.assertFalse(result.reencrypted)
        self.assertEqual(1, len(self.key_file_keys()))

    def test_crash_after_new_key_before_reencryption(self) -> None:
        self.save_token()
        before = self.read_bytes()

        def crash(self: CredentialStore, token: bytes) -> None:
            raise Crash()

        with fixtures.MonkeyPatch(
                'ntcli.credential_store.CredentialStore._write_token', crash):
            self.assertRaises(Crash, self.store.rotate_key)
        self.assertEqual(before, self.read_bytes())
        self.assertEqual(2, len(self.key_file_keys()))
        fresh = CredentialStore(self.config_dir)
        self.assertEqual(stored(), fresh.read().get_token('local', 'ws-1'))
        fresh.rotate_key()
        self.assertEqual(1, len(self.key_file_keys()))
        self.assertEqual(stored(), CredentialStore(self.config_dir).read()
                         .get_token('local', 'ws-1'))

    def test_crash_after_reencryption_before_retiring(self) -> None:
        self.save_token()

        def crash(self: KeyChain) -> int:
            raise Crash()

        with fixtures.MonkeyPatch(
                'ntcli.keychain.KeyChain.retire_old_keys', crash):
            self.assertRaises(Crash, self.store.rotate_key)
        self.assertEqual(2, len(self.key_file_keys()))
        # already encrypted under the new primary
        self.decrypt_with_primary_only()
        self.assertEqual(stored(), CredentialStore(self.config_dir).read()
                         .get_token('local', 'ws-1'))
        CredentialStore(self.config_dir).rotate_key()
        self.assertEqual(1, len(self.key_file_keys()))
        self.decrypt_with_primary_only()

    def test_corrupt_file_not_rotated(self) -> None:
        self.save_token()
        self.write_bytes(b'gAAAAAbroken')
        self.assertRaises(CredentialStoreError, self.store.rotate_key)
        self.assertEqual(1, len(self.key_file_keys()))
        self.assertEqual(b'gAAAAAbroken', self.read_bytes())

    def test_env_single_key_refused(self) -> None:
        key = Fernet.generate_key()
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_KEY',
                                                     key.decode()))
        store = CredentialStore(self.config_dir)
        with store.transaction() as creds:
            creds.set_token('local', 'ws-1', stored())
        before = self.read_bytes()
        err = self.assertRaises(CredentialStoreError, store.rotate_key)
        self.assertIn('Prepend a new key to NTCLI_KEY', err.hint)
        self.assertEqual(before, self.read_bytes())

    def test_env_rotation_uses_first_key(self) -> None:
        old, new = Fernet.generate_key(), Fernet.generate_key()
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_KEY',
                                                     old.decode()))
        with CredentialStore(self.config_dir).transaction() as creds:
            creds.set_token('local', 'ws-1', stored())
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_KEY', f'{new.decode()},{old.decode()}'))
        result = CredentialStore(self.config_dir).rotate_key()
        self.assertEqual('env', result.key_source)
        self.assertEqual(0, result.retired_keys)
        self.assertIn('can be removed', result.advice)
        Fernet(new).decrypt(self.read_bytes())
        self.assertFalse(os.path.exists(
            os.path.join(self.config_dir, 'credentials.key')))


class TestNoPlaintext(StoreTestCase):

    def test_no_secret_on_disk(self) -> None:
        with self.store.transaction() as creds:
            creds.set_token('local', 'ws-1', stored())
            creds.set_user_credential('https://api.example',
                                      USER_CREDENTIAL)
            creds.commit()
            creds.add_pending_revocation(PendingRevocation(
                'local', 'ws-1', 'jti_0', since=1))
        self.store.rotate_key()
        self.store.read()
        needles = [TOKEN.encode(), JWT_PAYLOAD.encode(),
                   USER_CREDENTIAL.encode(), b'wst_', b'ntu_']
        seen = 0
        for top, _, files in os.walk(self.home.path):
            for name in files:
                with open(os.path.join(top, name), 'rb') as handle:
                    data = handle.read()
                seen += 1
                for needle in needles:
                    self.assertNotIn(needle, data, name)
        self.assertGreaterEqual(seen, 3)
