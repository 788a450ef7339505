"""config show and config rotate-key as a user runs them."""

import os

from cryptography.fernet import Fernet

from tests.functional import base


class TestConfigCommands(base.FunctionalTest):

    def test_show(self):
        out = self.json('config', 'show')
        self.assertEqual(self.home.config_dir, out['config_dir'])
        self.assertEqual(('local', 'local'), (out['context'], out['endpoint']))
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
        result = self.ntcli('--config-dir', other, 'token', 'refresh')
        self.assertNotIn('tightened', result.stderr)
        self.assertTrue(os.path.exists(os.path.join(other,
                                                    'credentials.enc')))
        self.assertTrue(os.path.exists(os.path.join(other, 'data',
                                                    'authority.db')))
        self.assertEqual(0o700, os.stat(other).st_mode & 0o777)
        self.ntcli('token', 'show', expect=1)


class TestConfigFile(base.FunctionalTest):

    def config_path(self):
        return os.path.join(self.home.config_dir, 'config.json')

    def test_concurrent_commands_keep_every_change(self):
        import json
        import subprocess

        from ntcli import testing
        self.ntcli('workspace', 'list')
        procs = [subprocess.Popen(
            testing.ntcli_command() + ['workspace', 'create', f'race-{n}'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.home.env, stdin=subprocess.DEVNULL) for n in range(8)]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, err)
        with open(self.config_path()) as f:
            known = json.load(f)['contexts']['local']['workspaces']
        for n in range(8):
            self.assertIn(f'race-{n}', known)

    def test_wrong_types_are_reported_with_the_file(self):
        self.ntcli('token', 'refresh')
        for document in ('{"endpoints": {"local": {"workspaces": "abc"}}}',
                         '{"endpoints": {"local": {"active_workspace": 5}}}',
                         '{"timeout": "soon"}', '[1, 2]', '{"endpoint": 7}'):
            with open(self.config_path(), 'w') as f:
                f.write(document)
            result = self.ntcli('token', 'show', expect=1)
            self.assertIn(self.config_path(), result.stderr, document)
            self.assertNotIn('Unexpected error', result.stderr)
            with open(self.config_path()) as f:
                self.assertEqual(document, f.read())
