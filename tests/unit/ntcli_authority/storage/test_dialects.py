"""Tests of what the dialects do without a database: placeholder spelling
and the SQLite version check."""

from __future__ import annotations

import fixtures
import testtools

from ntcli_authority import errors
from ntcli_authority.storage import open_store

try:
    from ntcli_authority.storage import postgres
except errors.StorageUnavailable:    # no psycopg
    postgres = None


class TestPlaceholders(testtools.TestCase):

    def setUp(self):
        super().setUp()
        if postgres is None:
            self.skipTest('psycopg is not installed')

    def test_named_placeholders_become_pyformat(self):
        self.assertEqual(
            'SELECT 1 FROM t WHERE a = %(a)s AND (b, c) > (%(b_1)s, %(_c)s)',
            postgres._pyformat(
                'SELECT 1 FROM t WHERE a = :a AND (b, c) > (:b_1, :_c)'))

    def test_percent_signs_and_casts_are_kept(self):
        self.assertEqual(
            "SELECT x::text FROM t WHERE n LIKE 'a%%' AND m = %(m)s",
            postgres._pyformat(
                "SELECT x::text FROM t WHERE n LIKE 'a%' AND m = :m"))


class TestSQLiteVersion(testtools.TestCase):

    def test_too_old_for_upserts_is_refused(self):
        self.useFixture(fixtures.MonkeyPatch(
            'sqlite3.sqlite_version_info', (3, 23, 1)))
        self.useFixture(fixtures.MonkeyPatch('sqlite3.sqlite_version',
                                             '3.23.1'))
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  ':memory:')
        self.assertIn('needs SQLite 3.24 or later', str(error))
        self.assertIn('3.23.1', str(error))
