"""The keyring key source against a real Secret Service."""

import io
import json
import os
import subprocess
import sys

import fixtures
import subunit
import testtools

from tests.functional import base, secret_service
from tests.functional.secret_service import SecretService


class TestKeyring(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        reason = secret_service.missing()
        if reason:
            self.skipTest(reason)
        self.service = self.useFixture(SecretService(self.home))
        self.key_file = os.path.join(self.home.config_dir, 'credentials.key')
        self.creds = os.path.join(self.home.config_dir, 'credentials.enc')

    def run_ntcli(self, *args, expect=0):
        return self.ntcli(*args, expect=expect, env=self.service.env)

    def refresh_and_read(self):
        self.run_ntcli('token', 'refresh')
        return json.loads(self.run_ntcli('token', 'show', '-f',
                                         'json').stdout)['jti']

    def assert_says_unlock(self, result):
        self.assertIn('sealed with a key kept in the OS keyring',
                      result.stderr)
        self.assertIn('Unlock the keyring', result.stderr)
        self.assertNotIn('using the key file instead', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        # nothing was replaced, moved aside or created beside it
        self.assertFalse(os.path.exists(self.key_file))
        self.assertTrue(os.path.exists(self.creds))

    def test_store_read_and_rotate_key(self):
        jti = self.refresh_and_read()
        self.assertFalse(os.path.exists(self.key_file))
        before = self.service.entry(self.home.config_dir)
        self.assertNotEqual('', before)
        status = json.loads(self.run_ntcli('auth', 'status', '-f',
                                           'json').stdout)
        self.assertIn('OS keyring', status['key_source'])
        result = self.run_ntcli('config', 'rotate-key')
        self.assertIn('Credentials re-encrypted', result.stdout)
        self.assertIn('OS keyring', result.stdout)
        after = self.service.entry(self.home.config_dir)
        self.assertNotEqual(before, after)
        self.assertEqual(1, len(after.split(',')))  # old key retired
        self.assertEqual(jti, json.loads(self.run_ntcli(
            'token', 'show', '-f', 'json').stdout)['jti'])

    def test_locked_keyring_says_to_unlock_it(self):
        jti = self.refresh_and_read()
        self.service.lock()
        self.assert_says_unlock(self.run_ntcli('token', 'show', expect=1))
        result = self.run_ntcli('auth', 'status', expect=1)
        self.assertIn('not usable now: it is locked', result.stdout)
        self.assert_says_unlock(result)
        self.assert_says_unlock(self.run_ntcli('auth', 'logout', expect=1))
        self.assert_says_unlock(self.run_ntcli('token', 'refresh', expect=1))
        # unlocked again (as a login does), everything is there
        self.service.start(unlock=True)
        self.assertEqual(jti, json.loads(self.run_ntcli(
            'token', 'show', '-f', 'json').stdout)['jti'])

    def test_dead_keyring_restarted_locked(self):
        self.refresh_and_read()
        # the bus starts a new daemon on demand: without the password,
        # its keyring is locked
        self.service.kill()
        self.assert_says_unlock(self.run_ntcli('token', 'show', expect=1))
        self.run_ntcli('auth', 'status', expect=1)

    def test_frozen_keyring_does_not_hang(self):
        self.refresh_and_read()
        self.service.freeze()
        result = self.run_ntcli('token', 'show', expect=1)
        self.assert_says_unlock(result)
        self.assertIn('did not answer within', result.stderr)


class TestWithoutAKeyring(base.FunctionalTest):

    def test_the_keyring_tests_skip_where_there_is_none(self):
        # a plain developer machine: no dbus-daemon, no gnome-keyring
        empty = self.useFixture(fixtures.TempDir()).path
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        proc = subprocess.run(
            [sys.executable, '-m', 'subunit.run',
             'tests.functional.test_keyring.TestKeyring'],
            env=dict(os.environ, PATH=empty), capture_output=True,
            timeout=300, cwd=root)
        result = testtools.StreamSummary()
        result.startTestRun()
        subunit.ByteStreamToStreamResult(io.BytesIO(proc.stdout)).run(result)
        result.stopTestRun()
        self.assertTrue(result.wasSuccessful(), result.errors)
        self.assertGreaterEqual(len(result.skipped), 4)
