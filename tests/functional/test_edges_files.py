"""ntcli never follows a symlink to its files nor re-permissions a directory
it did not create; its log files are private."""

import os
import stat

import testtools

from tests.functional import base

POSIX = os.name == 'posix'


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@testtools.skipUnless(POSIX, 'POSIX symlinks and modes')
class TestSymlinkedFiles(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.ntcli('token', 'refresh')
        self.victim = os.path.join(self.home.path, 'victim')
        with open(self.victim, 'w') as handle:
            handle.write('root:x:0:0::/root:/bin/sh\n')
        os.chmod(self.victim, 0o644)

    def replace_with_link(self, name):
        path = os.path.join(self.home.config_dir, name)
        with open(path, 'rb') as handle, \
                open(self.victim, 'ab') as victim:
            victim.write(handle.read())
        with open(self.victim, 'rb') as handle:
            self.victim_bytes = handle.read()
        os.unlink(path)
        os.symlink(self.victim, path)
        return path

    def assert_victim_untouched(self):
        self.assertEqual(0o644, mode_of(self.victim))
        with open(self.victim, 'rb') as handle:
            self.assertEqual(self.victim_bytes, handle.read())

    def assert_refused(self, path, result):
        self.assertIn(f'Refusing to use {path}: it is a symbolic link',
                      result.stderr)
        self.assertIn('Hint: ', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assert_victim_untouched()

    def test_credentials_file_link_is_not_chmodded(self):
        path = self.replace_with_link('credentials.enc')
        result = self.ntcli('token', 'show', expect=1)
        self.assert_refused(path, result)
        self.assertNotIn('tightened', result.stderr)

    def test_key_file_link_is_not_read_or_chmodded(self):
        path = self.replace_with_link('credentials.key')
        result = self.ntcli('token', 'show', expect=1)
        self.assert_refused(path, result)

    def test_history_link_is_not_appended_to(self):
        path = self.replace_with_link('history.jsonl')
        # the rotation itself succeeds; the history line is not written
        # through the link, and the warning names the file
        result = self.ntcli('token', 'refresh')
        self.assertIn(path, result.stderr)
        self.assert_victim_untouched()
        self.assert_refused(path, self.ntcli('token', 'history', expect=1))

    def test_config_file_link_is_not_replaced(self):
        self.ntcli('workspace', 'select', 'default')
        path = self.replace_with_link('config.json')
        result = self.ntcli('workspace', 'select', 'default', expect=1)
        self.assert_refused(path, result)
        self.assertTrue(os.path.islink(path))


@testtools.skipUnless(POSIX, 'POSIX modes')
class TestSharedDirectories(base.FunctionalTest):

    def test_existing_shared_directory_keeps_its_mode(self):
        shared = os.path.join(self.home.path, 'shared')
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        result = self.ntcli('--config-dir', shared, 'token', 'refresh',
                            expect=1)
        self.assertEqual(0o1777, stat.S_IMODE(os.stat(shared).st_mode))
        self.assertIn(f'Refusing to keep secrets in {shared}', result.stderr)
        self.assertFalse(os.path.exists(os.path.join(shared,
                                                     'credentials.enc')))
        # refused before anything was done: not even the data directory
        self.assertEqual([], os.listdir(shared))

    def test_readable_directory_warned_not_changed(self):
        mine = os.path.join(self.home.path, 'mine')
        os.mkdir(mine)
        os.chmod(mine, 0o755)
        result = self.ntcli('--config-dir', mine, 'token', 'refresh')
        self.assertEqual(0o755, stat.S_IMODE(os.stat(mine).st_mode))
        self.assertIn(f"chmod 700 {mine}", result.stderr)


@testtools.skipUnless(POSIX, 'POSIX modes')
class TestLogFile(base.FunctionalTest):

    def test_log_file_created_0600(self):
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        log = os.path.join(self.home.path, 'ntcli.log')
        self.ntcli('--log-file', log, 'token', 'refresh')
        self.assertEqual(0o600, mode_of(log))
        with open(log) as handle:
            text = handle.read()
        self.assertNotIn('wst_', text.replace('wst_***', ''))

    def test_log_file_directory_is_a_usage_error(self):
        result = self.ntcli('--log-file', self.home.path, 'token', 'show',
                            expect=2)
        self.assertIn(f"Cannot open the log file '{self.home.path}'",
                      result.stderr)
        self.assertIn('Hint: ', result.stderr)
        self.assertNotIn('Errno', result.stderr)

    def test_log_file_symlink_refused(self):
        target = os.path.join(self.home.path, 'target')
        with open(target, 'w') as handle:
            handle.write('keep\n')
        link = os.path.join(self.home.path, 'link.log')
        os.symlink(target, link)
        result = self.ntcli('--log-file', link, 'token', 'refresh', expect=2)
        self.assertIn('symbolic link', result.stderr)
        with open(target) as handle:
            self.assertEqual('keep\n', handle.read())
        self.assertEqual([], self.runner.embedded_endpoint().list_tokens())
