"""Tests of ntcli_authority.storage.backup: SQLite's online backup of a
live database, and a restore in its place."""

from __future__ import annotations

import os
import sqlite3
import stat

import fixtures
import testtools

from ntcli_authority import errors
from ntcli_authority.models import TokenRow, User, Workspace
from ntcli_authority.storage import backup, open_store
from ntcli_authority.storage import schema as store_schema


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class BackupTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.db = os.path.join(self.dir, 'live.db')
        self.target = os.path.join(self.dir, 'backup.db')
        # a server's store, open (and its WAL not checkpointed) throughout
        self.store = open_store(self.db)
        self.addCleanup(self.store.close)
        self.store.create_user(User('u1', 'alice', 100, 'hash-1'))
        self.store.create_workspace(Workspace('ws_1', 'alpha', 100))
        self.store.add_token(TokenRow('jti_1', 'ws_1', 100, None, 'k1'))

    def files(self) -> list[str]:
        return sorted(os.listdir(self.dir))


class TestBackup(BackupTestCase):

    def test_a_live_database_is_copied_whole(self):
        report = backup.backup(self.db, self.target)
        self.assertEqual(self.target, report.path)
        self.assertEqual(store_schema.SCHEMA_VERSION, report.schema_version)
        self.assertEqual(1, report.counts['users'])
        self.assertEqual(1, report.counts['tokens'])
        self.assertEqual(0o600, _mode(self.target))
        # no temporary file, and a backup is one file (no -wal beside it)
        self.assertEqual(['backup.db', 'live.db', 'live.db-shm',
                          'live.db-wal'], self.files())
        with sqlite3.connect(self.target) as conn:
            self.assertEqual('delete', conn.execute(
                'PRAGMA journal_mode').fetchone()[0])
        copy = open_store(self.target, create=False)
        self.addCleanup(copy.close)
        self.assertEqual('alpha', copy.get_workspace('ws_1').name)
        self.assertIsNotNone(copy.get_token('jti_1'))

    def test_an_existing_file_is_never_replaced(self):
        with open(self.target, 'w') as handle:
            handle.write('mine')
        error = self.assertRaises(errors.InvalidRequest, backup.backup,
                                  self.db, self.target)
        self.assertIn('already exists', error.message)
        with open(self.target) as handle:
            self.assertEqual('mine', handle.read())
        os.unlink(self.target)
        os.symlink(self.db, self.target)
        self.assertRaises(errors.InvalidRequest, backup.backup,
                          self.db, self.target)

    def test_a_missing_database(self):
        missing = os.path.join(self.dir, 'none.db')
        self.assertRaises(errors.DatabaseMissing, backup.backup, missing,
                          self.target)
        self.assertFalse(os.path.exists(missing))
        self.assertFalse(os.path.exists(self.target))

    def test_postgresql_is_left_to_pg_dump(self):
        for call in (lambda: backup.backup('postgresql://h/db', self.target),
                     lambda: backup.restore(self.target, 'postgres://h/db')):
            error = self.assertRaises(errors.InvalidRequest, call)
            self.assertIn('pg_dump', error.message)

    def test_an_unwritable_directory(self):
        target = os.path.join(self.dir, 'no', 'such', 'dir', 'b.db')
        error = self.assertRaises(errors.InvalidRequest, backup.backup,
                                  self.db, target)
        self.assertIn('Cannot write in', error.message)


class TestRestore(BackupTestCase):

    def setUp(self):
        super().setUp()
        backup.backup(self.db, self.target)
        # after the backup: a revocation and another user
        self.store.revoke_token('ws_1', 'jti_1', 200)
        self.store.create_user(User('u2', 'bob', 200, 'hash-2'))

    def test_a_database_with_rows_needs_replace(self):
        error = self.assertRaises(errors.DatabaseNotEmpty, backup.restore,
                                  self.target, self.db)
        self.assertEqual(2, error.details['users'])
        self.assertIsNotNone(self.store.get_user('u2'))

    def test_replace_brings_back_the_backup(self):
        identity = os.stat(self.db).st_ino
        report = backup.restore(self.target, self.db, replace=True)
        self.assertEqual(1, report.counts['users'])
        restored = open_store(self.db, create=False)
        self.addCleanup(restored.close)
        self.assertIsNone(restored.get_user('u2'))
        # the revocation made after the backup is gone with it
        self.assertIsNone(restored.get_token('jti_1').revoked_at)
        self.assertEqual(0o600, _mode(self.db))
        # written through the database's own WAL, not as another file: a
        # store open all along reads the restored contents, nothing else
        self.assertEqual(identity, os.stat(self.db).st_ino)
        self.assertIsNone(self.store.get_user('u2'))
        self.assertEqual('alice', self.store.get_user('u1').name)
        self.assertEqual(['backup.db', 'live.db', 'live.db-shm',
                          'live.db-wal'], self.files())

    def test_into_a_missing_database(self):
        fresh = os.path.join(self.dir, 'fresh', 'new.db')
        os.mkdir(os.path.dirname(fresh), 0o700)
        backup.restore(self.target, fresh)
        restored = open_store(fresh, create=False)
        self.addCleanup(restored.close)
        self.assertEqual('alice', restored.get_user('u1').name)
        self.assertEqual(0o600, _mode(fresh))

    def test_what_is_not_a_backup_is_refused_and_nothing_changes(self):
        garbage = os.path.join(self.dir, 'garbage.db')
        with open(garbage, 'wb') as handle:
            handle.write(b'not a database' * 100)
        other = os.path.join(self.dir, 'other.db')
        with sqlite3.connect(other) as conn:
            conn.execute('CREATE TABLE t (x)')
        newer = os.path.join(self.dir, 'newer.db')
        with sqlite3.connect(newer) as conn:
            conn.execute('CREATE TABLE schema_version (version INTEGER)')
            conn.execute('INSERT INTO schema_version VALUES (99)')
        for source, says in ((garbage, 'not a token database'),
                             (other, 'not a token database'),
                             (newer, 'newer than this ntcli supports'),
                             (os.path.join(self.dir, 'none.db'),
                              'No backup at'),
                             (self.db, 'the same file')):
            error = self.assertRaises(errors.InvalidRequest, backup.restore,
                                      source, self.db, replace=True)
            self.assertIn(says, error.message)
        self.assertEqual('bob', self.store.get_user('u2').name)
        self.assertEqual(['backup.db', 'garbage.db', 'live.db',
                          'live.db-shm', 'live.db-wal', 'newer.db',
                          'other.db'], self.files())

    def test_an_older_backup_is_upgraded(self):
        old = os.path.join(self.dir, 'old.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:6]):
            store = open_store(old)
            store.create_workspace(Workspace('ws_old', 'legacy', 50))
            store.close()
        report = backup.restore(old, self.db, replace=True)
        self.assertEqual(store_schema.SCHEMA_VERSION, report.schema_version)
        restored = open_store(self.db, create=False)
        self.addCleanup(restored.close)
        self.assertEqual('legacy', restored.get_workspace('ws_old').name)
        # the backup itself is only read
        with sqlite3.connect(old) as conn:
            self.assertEqual(6, conn.execute(
                'SELECT version FROM schema_version').fetchone()[0])
