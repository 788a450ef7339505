"""Tests of ntcli_server.retention's pass: bounded by --db-wait."""

from __future__ import annotations

import logging
import os
import sqlite3

import fixtures
import testtools

from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_server import retention


class TestPurgeOnce(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.useFixture(fixtures.TempDir()).path,
                               'server.db')
        with Authority.open(self.db) as authority:
            authority.create_user(Principal.local(), 'alice')
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='ntcli_server.retention', level=logging.INFO))

    def test_a_locked_database_ends_the_pass_within_the_wait(self):
        # Another writer holds the database: the pass gives up after its
        # wait (the workers' --db-wait), logs, and tries again later.
        holder = sqlite3.connect(self.db, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute('BEGIN IMMEDIATE')
        self.addCleanup(holder.execute, 'ROLLBACK')
        self.assertEqual(0, retention.purge_once(self.db, 5, wait=0.2))
        self.assertIn('Retention failed (will retry)', self.logs.output)

    def test_a_free_database_is_purged(self):
        self.assertEqual(0, retention.purge_once(self.db, None, wait=5))
        self.assertNotIn('failed', self.logs.output)
