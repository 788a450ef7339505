"""Tests for ntcli.config: the non-secret settings file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import fixtures
import testtools

from ntcli import fileio
from ntcli.config import Config
from ntcli.errors import ConfigError, LockTimeout
from ntcli.testing import IsolatedHome

POSIX = os.name == 'posix'


class ConfigTestCase(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.useFixture(fixtures.FakeLogger())
        self.config_dir = self.home.config_dir
        self.path = os.path.join(self.config_dir, 'config.json')

    def write(self, text: str) -> None:
        os.makedirs(self.config_dir, exist_ok=True)
        with open(self.path, 'w') as handle:
            handle.write(text)


class TestConfig(ConfigTestCase):

    def test_defaults_without_file(self) -> None:
        config = Config.load(self.config_dir)
        self.assertIsNone(config.current_context)
        self.assertEqual({'local': {'endpoint': 'local', 'key': 'local'}},
                         config.contexts())
        self.assertIsNone(config.active_workspace('local'))
        self.assertEqual({}, config.known_workspaces('local'))
        self.assertEqual(30, config.get('timeout', 30))
        self.assertFalse(os.path.exists(self.config_dir))

    def test_round_trip(self) -> None:
        config = Config.load(self.config_dir)
        config.add_context('work', endpoint='https://tokens.example',
                           key='https://tokens.example#0123456789abcdef',
                           ca_bundle='/ca.pem')
        config.current_context = 'work'
        config.select_workspace('local', 'id-1', 'default')
        config.remember_workspace('local', 'id-2', 'other')
        config.select_workspace('work', 'id-9', 'remote')
        config.set('timeout', 12.5)
        config.save()
        again = Config.load(self.config_dir)
        self.assertEqual('work', again.current_context)
        self.assertEqual('id-1', again.active_workspace('local'))
        self.assertEqual({'default': 'id-1', 'other': 'id-2'},
                         again.known_workspaces('local'))
        self.assertEqual('id-9', again.active_workspace('work'))
        self.assertEqual({'endpoint': 'https://tokens.example',
                          'key': 'https://tokens.example#0123456789abcdef',
                          'ca_bundle': '/ca.pem', 'workspace': 'id-9',
                          'workspaces': {'remote': 'id-9'}},
                         again.contexts()['work'])
        self.assertEqual(12.5, again.get('timeout'))
        self.assertIsNone(again.upgraded)
        with open(self.path) as handle:
            self.assertEqual(2, json.load(handle)['version'])

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_permissions(self) -> None:
        Config.load(self.config_dir).save()
        self.assertEqual(0o700, stat.S_IMODE(os.stat(self.config_dir)
                                             .st_mode))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.path).st_mode))

    def test_forget_workspace(self) -> None:
        config = Config.load(self.config_dir)
        config.select_workspace('local', 'id-1', 'default')
        config.remember_workspace('local', 'id-2', 'other')
        config.forget_workspace('local', 'id-1')
        self.assertIsNone(config.active_workspace('local'))
        self.assertEqual({'other': 'id-2'}, config.known_workspaces('local'))
        config.forget_workspace('nowhere', 'id-1')

    def test_renamed_workspace_replaces_old_name(self) -> None:
        config = Config.load(self.config_dir)
        config.remember_workspace('local', 'id-1', 'old-name')
        config.remember_workspace('local', 'id-1', 'new-name')
        self.assertEqual({'new-name': 'id-1'},
                         config.known_workspaces('local'))

    def test_known_workspaces_is_a_copy(self) -> None:
        config = Config.load(self.config_dir)
        config.remember_workspace('local', 'id-1', 'one')
        config.known_workspaces('local')['two'] = 'id-2'
        self.assertEqual({'one': 'id-1'}, config.known_workspaces('local'))

    def test_unset_current_context(self) -> None:
        config = Config.load(self.config_dir)
        config.current_context = 'local'
        config.current_context = None
        self.assertIsNone(config.current_context)

    def test_context_names_are_unique_and_local_is_taken(self) -> None:
        config = Config.load(self.config_dir)
        self.assertRaises(KeyError, config.add_context, 'local',
                          endpoint='https://a.example', key='x')
        config.add_context('a', endpoint='https://a.example',
                           key='https://a.example')
        self.assertRaises(KeyError, config.rename_context, 'a', 'local')
        config.current_context = 'a'
        config.rename_context('a', 'b')
        self.assertEqual('b', config.current_context)
        self.assertEqual('https://a.example', config.contexts()['b']['key'])
        config.remove_context('b')
        self.assertIsNone(config.current_context)
        self.assertEqual(['local'], list(config.contexts()))

    def test_a_context_endpoint_and_key_are_fixed(self) -> None:
        config = Config.load(self.config_dir)
        for key in ('endpoint', 'key'):
            self.assertRaises(KeyError, config.set_context_setting, 'local',
                              key, 'https://elsewhere.example')
        config.set_context_setting('local', 'ca_bundle', '/ca.pem')
        self.assertEqual('/ca.pem',
                         config.context_setting('local', 'ca_bundle'))

    def test_unknown_keys_kept(self) -> None:
        self.write(json.dumps({'future': [1], 'endpoint': 'local'}))
        config = Config.load(self.config_dir)
        config.select_workspace('local', 'id-1', 'default')
        config.save()
        with open(self.path) as handle:
            self.assertEqual([1], json.load(handle)['future'])

    def test_invalid_json(self) -> None:
        self.write('{"endpoint": "local",\n')
        err = self.assertRaises(ConfigError, Config.load, self.config_dir)
        self.assertIn(self.path, err.message)
        self.assertIn('not valid JSON', err.message)
        self.assertIn('line', err.message)
        self.assertTrue(err.hint)
        with open(self.path) as handle:
            self.assertEqual('{"endpoint": "local",\n', handle.read())

    def test_not_an_object(self) -> None:
        for text in ('[1, 2]', '{"endpoints": 3}',
                     '{"endpoints": {"local": 1}}'):
            self.write(text)
            err = self.assertRaises(ConfigError, Config.load,
                                    self.config_dir)
            self.assertIn(self.path, err.message)

    def test_empty_file_is_defaults(self) -> None:
        self.write('')
        self.assertIsNone(Config.load(self.config_dir).current_context)

    def test_refuses_secrets(self) -> None:
        config = Config.load(self.config_dir)
        config.set('note', 'wst_abc.def.ghi')
        err = self.assertRaises(ConfigError, config.save)
        self.assertNotIn('wst_abc', err.message + err.hint)
        self.assertFalse(os.path.exists(self.path))

    def test_write_failure(self) -> None:
        os.makedirs(self.config_dir)
        os.mkdir(self.path)  # a directory where the file should be
        config = Config(self.config_dir)
        err = self.assertRaises(ConfigError, config.save)
        self.assertIn(self.path, err.message)


COUNT = '''
import sys
from ntcli.config import Config
for _ in range(int(sys.argv[2])):
    with Config.update(sys.argv[1]) as config:
        config.set('counter', config.get('counter', 0) + 1)
'''


class TestUpdate(ConfigTestCase):

    def test_update_saves(self) -> None:
        with Config.update(self.config_dir) as config:
            config.current_context = 'local'
        self.assertEqual('local',
                         Config.load(self.config_dir).current_context)

    def test_update_not_saved_on_error(self) -> None:
        def run() -> None:
            with Config.update(self.config_dir) as config:
                config.current_context = 'local'
                raise ValueError('boom')

        self.assertRaises(ValueError, run)
        self.assertFalse(os.path.exists(self.path))

    def test_update_lock_timeout(self) -> None:
        os.makedirs(self.config_dir)
        with fileio.FileLock(os.path.join(self.config_dir, 'config.lock')):
            err = self.assertRaises(LockTimeout, Config.update(
                self.config_dir, timeout=0.1).__enter__)
        self.assertIn('configuration', err.message)

    def test_concurrent_updates(self) -> None:
        procs = [subprocess.Popen(
            [sys.executable, '-c', COUNT, self.config_dir, '20'],
            env=self.home.env, stderr=subprocess.PIPE, text=True)
            for _ in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, err)
        self.assertEqual(80, Config.load(self.config_dir).get('counter'))
