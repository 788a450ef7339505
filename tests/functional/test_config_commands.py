"""config show and config rotate-key as a user runs them."""

import os

from cryptography.fernet import Fernet

from tests.functional import base


class TestConfigCommands(base.FunctionalTest):

    def test_show(self):
        out = self.json('config', 'show')
        self.assertEqual(self.home.config_dir, out['config_dir'])
        self.assertEqual('local', out['endpoint'])
        self.assertIn('credentials.key', out['key_source'])

    def test_rotate_key_keeps_tokens_readable(self):
        self.ntcli('token', 'refresh')
        before = self.stored()
        key_file = os.path.join(self.home.config_dir, 'credentials.key')
        with open(key_file, 'rb') as f:
            old_key = f.read()
        result = self.ntcli('config', 'rotate-key')
        self.assertIn('re-encrypted', result.stdout)
        with open(key_file, 'rb') as f:
            self.assertNotEqual(old_key, f.read())
        self.assertEqual(before['token'], self.stored()['token'])
        self.assertEqual(0o600, os.stat(key_file).st_mode & 0o777)

    def test_rotate_with_ntcli_key(self):
        old = Fernet.generate_key().decode()
        new = Fernet.generate_key().decode()
        self.ntcli('token', 'refresh', env={'NTCLI_KEY': old})
        token = self.json('token', 'show', '--show-token',
                          env={'NTCLI_KEY': old})['token']
        result = self.ntcli('config', 'rotate-key',
                            env={'NTCLI_KEY': f'{new},{old}'})
        self.assertIn('NTCLI_KEY', result.stderr)
        self.assertEqual(token, self.json('token', 'show', '--show-token',
                                          env={'NTCLI_KEY': new})['token'])
        self.assertFalse(os.path.exists(
            os.path.join(self.home.config_dir, 'credentials.key')))

    def test_config_dir_option_isolates_everything(self):
        other = os.path.join(self.home.path, 'elsewhere')
        self.ntcli('--config-dir', other, 'token', 'refresh')
        self.assertTrue(os.path.exists(os.path.join(other,
                                                    'credentials.enc')))
        self.assertTrue(os.path.exists(os.path.join(other, 'data',
                                                    'authority.db')))
        self.assertEqual(0o700, os.stat(other).st_mode & 0o777)
        self.ntcli('token', 'show', expect=1)
