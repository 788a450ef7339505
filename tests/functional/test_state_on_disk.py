"""What ntcli leaves on disk: a look creates nothing, and state that cannot
be written is a clear error with nothing lost."""

import os
import stat

from .base import FunctionalTest


class TestLooksCreateNothing(FunctionalTest):

    def test_auth_status_on_a_fresh_home(self):
        result = self.ntcli('auth', 'status', '-f', 'json')
        import json
        status = json.loads(result.stdout)
        self.assertIsNone(status['workspace_id'])
        self.assertEqual('no token (run ntcli token refresh)',
                         status['token_status'])
        self.assertFalse(os.path.exists(self.home.data_dir))
        self.assertFalse(os.path.exists(self.home.config_dir))
        # the first token command makes the database and its workspace
        self.ntcli('token', 'refresh')
        status = self.json('auth', 'status')
        self.assertEqual('default', status['workspace'])
        self.assertTrue(status['workspace_id'])

    def test_token_show_on_a_fresh_home(self):
        result = self.ntcli('token', 'show', expect=1)
        self.assertIn('Authentication required', result.stderr)
        self.assertFalse(os.path.exists(self.home.data_dir))
        self.assertFalse(os.path.exists(self.home.config_dir))

    def test_a_home_that_does_not_exist_is_not_created(self):
        home = os.path.join(self.home.path, 'nonexistent', 'x')
        # XDG_CACHE_HOME unset too: stevedore keeps its cache of entry
        # points under ~/.cache, and creates it (as root, even the home)
        env = {'HOME': home, 'XDG_CONFIG_HOME': None, 'XDG_DATA_HOME': None,
               'XDG_STATE_HOME': None, 'XDG_CACHE_HOME': None}
        for command in (('token', 'show'), ('token', 'refresh'),
                        ('auth', 'status')):
            result = self.ntcli(*command, env=env, expect=1)
            self.assertEqual(
                [f'The home directory {home} does not exist, and ntcli '
                 f'keeps its files under it ({home}/.config/ntcli)',
                 'Hint: Set HOME to your home directory, or NTCLI_CONFIG_DIR '
                 'to a directory for them.'], result.stderr.splitlines())
            self.assertFalse(os.path.exists(os.path.dirname(home)), command)
        # elsewhere, the same commands work
        other = os.path.join(self.home.path, 'elsewhere')
        self.ntcli('token', 'refresh',
                   env=dict(env, NTCLI_CONFIG_DIR=other))
        self.assertFalse(os.path.exists(os.path.dirname(home)))

    def test_completion_leaves_the_config_file_alone(self):
        self.ntcli('token', 'refresh')
        self.ntcli('workspace', 'create', 'extra')
        path = os.path.join(self.home.config_dir, 'config.json')
        os.chmod(path, 0o644)
        result = self.ntcli('complete', '--query', '--', 'token', 'revoke',
                            '')
        self.assertEqual('', result.stderr)
        self.assertIn('jti_', result.stdout)
        result = self.ntcli('complete', '--query', '--', '--workspace', '')
        self.assertEqual('', result.stderr)
        self.assertIn('extra', result.stdout)
        self.assertEqual(0o644, stat.S_IMODE(os.stat(path).st_mode))


class TestStateThatCannotBeWritten(FunctionalTest):
    """Any OSError writing ntcli's state (a read-only file system, a full
    disk, a directory in the way) is one clear error naming the path."""

    def block(self, name):
        """Put a directory where ntcli writes ``name``."""
        path = os.path.join(self.home.config_dir, name)
        if os.path.exists(path):
            os.remove(path)
        os.mkdir(path)
        return path

    def test_workspace_create_reports_what_it_created(self):
        self.ntcli('token', 'refresh')
        lock = self.block('config.lock')
        result = self.ntcli('workspace', 'create', 'team-a', '--select',
                            '-f', 'json')
        import json
        created = json.loads(result.stdout)
        self.assertEqual('team-a', created['workspace_name'])
        self.assertEqual(
            ["Warning: the workspace 'team-a' was created, but it is not "
             f'selected: Cannot open the lock file {lock}: Is a directory.'],
            result.stderr.splitlines())
        os.rmdir(lock)
        names = [w['Name'] for w in self.json('workspace', 'list')]
        self.assertIn('team-a', names)

    def test_refresh_fails_clearly_and_loses_nothing(self):
        self.ntcli('token', 'refresh')
        before = self.stored()
        lock = self.block('credentials.lock')
        for command in (('token', 'refresh'), ('token', 'create'),
                        ('config', 'rotate-key')):
            result = self.ntcli(*command, expect=1)
            lines = result.stderr.splitlines()
            self.assertEqual(f'Cannot open the lock file {lock}: Is a '
                             'directory', lines[0], command)
            self.assertTrue(lines[1].startswith('Hint: '), lines)
            self.assertEqual(2, len(lines), lines)
            self.assertNotIn('Unexpected error', result.stderr)
            self.assertEqual('', result.stdout)
        os.rmdir(lock)
        self.assertEqual(before, self.stored())
        # and no token was issued meanwhile
        self.assertEqual([before['jti']],
                         [t['JTI'] for t in self.json('token', 'list')])
