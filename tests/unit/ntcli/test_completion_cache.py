"""The completion cache: values offered from it, refreshed in the
background when they may be out of date, no secret in it, and any file
that is not what ntcli wrote (a symlink, another owner, loose modes, a
FIFO, damage, control characters) ignored without a word.
"""

import glob
import marshal
import os
import time

import testtools

from ntcli import completion_cache, completion_engine, testing
from tests.unit.ntcli.test_completion_table import TableTest


class CacheTest(TableTest):

    def setUp(self):
        super().setUp()
        self.authority = self.useFixture(testing.EmbeddedEndpoint(
            self.home.data_dir))
        self.authority.workspace()
        self.folder = completion_cache.directory()

    def files(self):
        return sorted(glob.glob(os.path.join(self.folder, '*.marshal')))

    def values_file(self):
        found = glob.glob(os.path.join(self.folder, 'values-*.marshal'))
        self.assertEqual(1, len(found), found)
        return found[0]

    def table_file(self):
        found = glob.glob(os.path.join(self.folder, 'table-*.marshal'))
        self.assertEqual(1, len(found), found)
        return found[0]


class TestValues(CacheTest):

    def test_values_come_from_the_cache_and_are_refreshed(self):
        first = self.authority.issue_token().jti
        self.assertIsNone(self.quick('token', 'revoke', ''))
        self.assertEqual(f'words\n{first}',
                         self.slow('token', 'revoke', '').split('\t')[0])
        self.assertEqual(self.slow('token', 'revoke', ''),
                         self.quick('token', 'revoke', ''))
        self.assertEqual([], self.refreshes)        # fresh: not asked again
        # a token issued since: offered once refreshed, in the background
        second = self.authority.issue_token().jti
        self.assertNotIn(second, self.quick('token', 'revoke', ''))
        self.assertEqual([['--query', '--', 'token', 'revoke', '']],
                         self.refreshes)
        self.slow('token', 'revoke', '')            # what the refresh runs
        self.assertIn(second, self.quick('token', 'revoke', ''))

    def test_old_values_are_refreshed(self):
        self.slow('-w', '')
        self.quick('-w', '')
        self.assertEqual([], self.refreshes)
        later = time.time() + completion_cache.FRESH + 1
        self.patch(completion_cache.time, 'time', lambda: later)
        self.assertEqual('words\ndefault\n', self.quick('-w', ''))
        self.assertEqual([['--query', '--', '-w', '']], self.refreshes)

    def test_each_line_options_and_directory_have_their_values(self):
        self.authority.create_workspace('team-a')
        other = self.authority.issue_token('team-a').jti
        self.slow('token', 'revoke', '')
        self.assertIsNone(self.quick('-w', 'team-a', 'token', 'revoke', ''))
        self.slow('-w', 'team-a', 'token', 'revoke', '')
        self.assertIn(other, self.quick('-w', 'team-a', 'token', 'revoke',
                                        ''))
        self.assertNotIn(other, self.quick('token', 'revoke', ''))
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.home.path)
        self.assertIsNone(self.quick('token', 'revoke', ''))

    def test_no_secret_in_the_cache(self):
        issued = self.authority.issue_token()
        self.home.store_token(issued)
        created = self.authority.issue_token()
        for words in (['token', 'revoke', ''], ['-w', ''],
                      ['--endpoint', ''], ['context', 'use', ''], [''],
                      ['--endpoint', 'https://me:s3cret@tokens.example.com',
                       '-w', '']):
            self.slow(*words)
        with open(os.path.join(self.home.config_dir,
                               'credentials.key')) as handle:
            key = handle.read().strip()
        self.assertEqual(2, len(self.files()))
        for path in self.files():
            with open(path, 'rb') as handle:
                text = handle.read().decode('utf-8', 'replace')
            for secret in (issued.token, created.token, key, 's3cret'):
                self.assertNotIn(secret, text)
            self.assertNotIn('wst_', text)
        with open(self.values_file(), 'rb') as handle:
            stored = marshal.load(handle)
        values = [value for entry in stored['entries'].values()
                  for value, _ in entry['values']]
        self.assertIn(created.jti, values)
        self.assertEqual(0o600, os.stat(self.values_file()).st_mode & 0o777)
        self.assertEqual(0o700, os.stat(self.folder).st_mode & 0o777)


class TestHostileFiles(CacheTest):
    """Each a file ntcli did not write: Tab starts the application instead
    (None), and prints nothing."""

    def setUp(self):
        super().setUp()
        self.slow('token', 'revoke', '')
        self.assertIsNotNone(self.quick('token', 'revoke', ''))

    def both_ignored(self):
        for words in (['token', 're'], ['token', 'revoke', '']):
            self.assertIsNone(self.quick(*words))

    def test_a_symlink(self):
        for path in (self.table_file(), self.values_file()):
            elsewhere = path + '.real'
            os.rename(path, elsewhere)
            os.symlink(elsewhere, path)
        self.both_ignored()

    def test_a_directory_that_is_a_symlink(self):
        os.rename(self.folder, self.folder + '.real')
        os.symlink(self.folder + '.real', self.folder)
        self.both_ignored()

    def test_writable_by_others(self):
        for path in (self.table_file(), self.values_file()):
            os.chmod(path, 0o622)
        self.both_ignored()

    def test_a_directory_writable_by_others(self):
        os.chmod(self.folder, 0o777)
        self.both_ignored()

    def test_another_owner(self):
        if os.geteuid() != 0:
            self.skipTest('only root can give a file to another user')
        for path in (self.table_file(), self.values_file()):
            os.chown(path, 4242, -1)
        self.both_ignored()

    def test_a_fifo(self):
        for path in (self.table_file(), self.values_file()):
            os.unlink(path)
            os.mkfifo(path, 0o600)
        self.both_ignored()         # and no read blocking on it

    def test_damaged(self):
        format_ = completion_cache.FORMAT
        for content in (b'{not json', b'\xff\xfe', b'', marshal.dumps([]),
                        marshal.dumps({}), marshal.dumps({'format': 1}),
                        marshal.dumps({'format': format_ + 1}),
                        marshal.dumps({'format': format_,
                                       'table': {'global': 5}}),
                        # not plain data: code, bytes, sets, tuples
                        marshal.dumps({'format': format_,
                                       'table': compile('1', '', 'eval')}),
                        marshal.dumps({'format': format_, 'entries': b''}),
                        marshal.dumps({'format': format_, 'x': {1, 2}}),
                        marshal.dumps({'format': format_, 'x': (1,)}),
                        marshal.dumps({'format': format_})[:-3]):
            for path in (self.table_file(), self.values_file()):
                with open(path, 'wb') as handle:
                    handle.write(content)
            self.both_ignored()

    def test_too_large(self):
        with open(self.table_file(), 'ab') as handle:
            handle.write(b' ' * completion_cache.MAX_BYTES)
        self.assertIsNone(self.quick('token', 're'))

    def test_values_of_the_wrong_shape(self):
        with open(self.values_file(), 'rb') as handle:
            stored = marshal.load(handle)
        for odd in ([[1, 2]], 'jti', [['a', 'b', 'c']], [None]):
            for entry in stored['entries'].values():
                entry['values'] = odd
            with open(self.values_file(), 'wb') as handle:
                marshal.dump(stored, handle)
            self.assertIsNone(self.quick('token', 'revoke', ''))

    def test_control_characters_are_never_offered(self):
        with open(self.values_file(), 'rb') as handle:
            stored = marshal.load(handle)
        for entry in stored['entries'].values():
            entry['values'] = [['jti_ok', 'expires \x1b[2J never'],
                               ['\x1b[2Jjti_bad', ''], ['jti\nx', ''],
                               ['jti\tx', ''], ['jti_\u202eevil', '']]
        with open(self.values_file(), 'wb') as handle:
            marshal.dump(stored, handle)
        self.assertEqual('words\njti_ok\texpires \\x1b[2J never\n',
                         self.quick('token', 'revoke', ''))


class TestRefreshInTheBackground(testtools.TestCase):
    """The installed ntcli, each Tab a process of its own: the refresh
    really runs, detached, and its answer is the next Tab's."""

    def test_a_new_token_is_offered_after_the_refresh(self):
        runner = self.useFixture(testing.CLIRunner())
        # tokens issued by ntcli itself: nothing else holds the database
        first = runner.run('token', 'create', '-f', 'value', '-c',
                           'jti').check().stdout.strip()
        tab = ('complete', '--query', '--', 'token', 'revoke', '')
        self.assertIn(first, runner.run(*tab).check().stdout)
        second = runner.run('token', 'create', '-f', 'value', '-c',
                            'jti').check().stdout.strip()
        result = runner.run(*tab).check()
        self.assertEqual('', result.stderr)
        deadline = time.monotonic() + 60
        while second not in runner.run(*tab).check().stdout:
            self.assertLess(time.monotonic(), deadline,
                            'the background refresh did not happen')
            time.sleep(0.2)
        # and fresh: the refresh's own reading of the database changed
        # nothing it stamped, so the next Tab does not refresh again
        options = dict.fromkeys(completion_engine.LOOKUP_DESTS)
        found, fresh = completion_cache.cached_values('jtis', options)
        self.assertIn(second, [value for value, _ in found])
        self.assertTrue(fresh)
