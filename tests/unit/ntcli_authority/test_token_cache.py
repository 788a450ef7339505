"""Validation from token rows kept in memory (ntcli_authority.token_cache),
on SQLite's change counter and PostgreSQL's LISTEN/NOTIFY: no database
call in steady state, every change seen, and rows read again whenever the
change signal is lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import fixtures
import testtools

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_authority.models import Workspace
from ntcli_authority.storage import changes, open_store
from tests.unit.ntcli_authority import base, test_token_digests
from tests.unit.ntcli_authority.storage import base as storage_base
from tests.unit.ntcli_authority.storage import test_postgres
from tests.unit.ntcli_authority.storage.bulk import (
    insert_tokens_before_digests,
)

OWNER = Principal.local()


class CallCounter:
    calls = 0


def count_calls(test, authority) -> CallCounter:
    """Count ``authority``'s database calls from now on (on its dialect
    object only)."""
    counter = CallCounter()
    dialect = authority.store.dialect
    for name in ('statement', 'transaction'):
        original = getattr(dialect, name)

        def counted(*args, original=original, **kwargs):
            counter.calls += 1
            return original(*args, **kwargs)
        setattr(dialect, name, counted)
        test.addCleanup(delattr, dialect, name)
    return counter


class TestSQLite(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = self.useFixture(fixtures.TempDir()).join('a.db')
        self.clock = base.FakeClock()
        self.server = self.authority(keep_tokens=True)
        # another process on the same file (the admin CLI, another server)
        self.other = self.authority()
        self.ws = self.other.create_workspace(OWNER, 'alpha')

    def authority(self, **kwargs):
        authority = Authority.open(self.path, clock=self.clock, **kwargs)
        self.addCleanup(authority.close)
        return authority

    def test_steady_state_makes_no_database_call(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.server.validate(issued.token)
        calls = count_calls(self, self.server)
        for _ in range(3):
            self.assertEqual(issued.jti,
                             self.server.validate(issued.token).jti)
        self.assertEqual(0, calls.calls)

    def test_a_revocation_by_another_process_is_seen_at_once(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        kept = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.server.validate(issued.token)
        self.server.validate(kept.token)
        self.other.revoke(OWNER, self.ws.id, issued.jti)
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          issued.token)
        self.assertEqual(kept.jti, self.server.validate(kept.token).jti)

    def test_a_grace_period_ended_early_and_a_deleted_workspace(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.other.revoke(OWNER, self.ws.id, issued.jti,
                          grace=30)
        self.assertEqual(self.clock.now + 30,
                         self.server.validate(issued.token).retires_at)
        self.other.revoke(OWNER, self.ws.id, issued.jti)
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          issued.token)
        other_ws = self.other.create_workspace(OWNER, 'beta')
        second = self.other.issue(OWNER, other_ws.id, expires_in=60)
        self.server.validate(second.token)
        self.other.delete_workspace(OWNER, other_ws.id)
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          second.token)

    def test_expiry_and_grace_are_checked_against_the_clock(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        retiring = self.other.issue(OWNER, self.ws.id, expires_in=600)
        self.other.revoke(OWNER, self.ws.id, retiring.jti,
                          grace=30)
        self.server.validate(issued.token)
        self.server.validate(retiring.token)
        self.clock.advance(30)
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          retiring.token)
        self.clock.advance(30)
        self.assertRaises(errors.TokenExpired, self.server.validate,
                          issued.token)

    def test_a_change_made_outside_ntcli_is_seen(self):
        # The trigger, not ntcli's code, bumps the counter.
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.server.validate(issued.token)
        conn = sqlite3.connect(self.path)
        conn.execute('UPDATE tokens SET revoked_at = ? WHERE jti = ?',
                     (self.clock.now, issued.jti))
        conn.commit()
        conn.close()
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          issued.token)

    def test_a_replaced_file_fails_instead_of_answering_from_memory(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.server.validate(issued.token)
        os.replace(self.path, self.path + '.old')
        open_store(self.path).close()
        self.assertRaises(errors.StorageUnavailable, self.server.validate,
                          issued.token)

    def test_an_unreadable_counter_reads_every_row(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.server.validate(issued.token)
        conn = sqlite3.connect(self.path)
        self.addCleanup(conn.close)
        conn.executescript('DROP TRIGGER tokens_updated; '
                           'DROP TRIGGER tokens_deleted; '
                           'DROP TABLE token_changes;')
        calls = count_calls(self, self.server)
        self.server.validate(issued.token)
        self.server.validate(issued.token)
        self.assertEqual(2, calls.calls)
        conn.execute('UPDATE tokens SET revoked_at = ? WHERE jti = ?',
                     (self.clock.now, issued.jti))
        conn.commit()
        self.assertRaises(errors.TokenRevoked, self.server.validate,
                          issued.token)

    def test_the_embedded_authority_keeps_nothing(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        self.other.validate(issued.token)
        calls = count_calls(self, self.other)
        self.other.validate(issued.token)
        self.assertEqual(1, calls.calls)


class TestAcceptedStrings(testtools.TestCase):
    """A worker remembers the token strings it accepted in full: the same
    string again is checked against the clock and the workspace only,
    while its row is the one kept; anything else is checked in full."""

    def setUp(self):
        super().setUp()
        path = self.useFixture(fixtures.TempDir()).join('a.db')
        self.clock = base.FakeClock()
        self.server = Authority.open(path, clock=self.clock,
                                     keep_tokens=True)
        self.addCleanup(self.server.close)
        self.other = Authority.open(path, clock=self.clock)
        self.addCleanup(self.other.close)
        self.ws = self.other.create_workspace(OWNER, 'alpha')
        self.reads = self.useFixture(
            base.Calls('ntcli_authority.signing.read_token'))

    def issue(self, **kwargs):
        return self.other.issue(OWNER, self.ws.id, **kwargs)

    def test_the_same_string_again_is_not_read_again(self):
        issued = self.issue(expires_in=60)
        first = self.server.validate(issued.token)
        again = self.server.validate(issued.token, workspace_id=self.ws.id)
        self.assertEqual(1, self.reads.calls)
        self.assertEqual(first, again)
        self.assertEqual(issued.jti, again.jti)

    def test_another_string_of_the_same_token_is_checked_in_full(self):
        issued = self.issue(expires_in=60)
        self.server.validate(issued.token)
        signature = issued.token.rindex('.') + 1
        for forged in (test_token_digests.changed(issued.token, signature),
                       test_token_digests.other_signature(issued.token),
                       issued.token + '.'):
            self.assertRaises(errors.TokenInvalid, self.server.validate,
                              forged)
        self.assertEqual(4, self.reads.calls)

    def test_the_workspace_and_the_clock_are_checked_each_time(self):
        issued = self.issue(expires_in=60)
        self.server.validate(issued.token)
        self.assertRaises(errors.Forbidden, self.server.validate,
                          issued.token, workspace_id='ws-other')
        self.clock.advance(60)
        self.assertRaises(errors.TokenExpired, self.server.validate,
                          issued.token)
        self.assertEqual(1, self.reads.calls)

    def test_a_change_of_any_token_row_forgets_them(self):
        issued = self.issue(expires_in=60)
        other = self.issue(expires_in=60)
        self.server.validate(issued.token)
        self.other.revoke(OWNER, self.ws.id, other.jti)
        self.server.validate(issued.token)
        self.assertEqual(2, self.reads.calls)
        self.server.validate(issued.token)
        self.assertEqual(2, self.reads.calls)

    def test_nothing_is_remembered_while_the_signal_is_lost(self):
        issued = self.issue(expires_in=60)
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.storage.changes.Counter.generation',
            lambda feed: None))
        for _ in range(3):
            self.server.validate(issued.token)
        self.assertEqual(3, self.reads.calls)

    def test_at_most_so_many_strings_are_remembered(self):
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.token_cache.ACCEPTED', 2))
        tokens = [self.issue(expires_in=60).token for _ in range(3)]
        for token in tokens:
            self.server.validate(token)
        self.server.validate(tokens[2])
        self.assertEqual(3, self.reads.calls)
        self.server.validate(tokens[0])      # the oldest went first
        self.assertEqual(4, self.reads.calls)

    def test_the_embedded_authority_remembers_nothing(self):
        issued = self.issue(expires_in=60)
        self.other.validate(issued.token)
        self.other.validate(issued.token)
        self.assertEqual(2, self.reads.calls)


class TestWalIndex(testtools.TestCase):
    """SQLite's counter is read only when the WAL index's header says that
    something was committed since its last read, or RECHECK seconds on."""

    def setUp(self):
        super().setUp()
        self.path = self.useFixture(fixtures.TempDir()).join('a.db')
        self.store = open_store(self.path)
        self.addCleanup(self.store.close)
        self.other = Authority.open(self.path, clock=base.FakeClock())
        self.addCleanup(self.other.close)
        self.ws = self.other.create_workspace(OWNER, 'alpha')
        self.feed = self.store.token_changes()
        for _ in range(3):          # the connection, the index, its header
            self.feed.generation()
        self.reads = []
        self.feed._conn.set_trace_callback(self.reads.append)

    def test_unchanged_the_counter_is_not_read(self):
        before = self.feed.generation()
        for _ in range(5):
            self.assertEqual(before, self.feed.generation())
        self.assertEqual([], self.reads)

    def test_after_any_commit_it_is_read_once(self):
        before = self.feed.generation()
        self.other.create_workspace(OWNER, 'beta')      # no token row
        self.assertEqual(before, self.feed.generation())
        self.assertEqual(before, self.feed.generation())
        self.assertEqual([changes.READ_COUNTER], self.reads)

    def test_a_revocation_in_another_process_is_seen_at_once(self):
        issued = self.other.issue(OWNER, self.ws.id, expires_in=60)
        before = self.feed.generation()
        subprocess.run(
            [sys.executable, '-c',
             'import sqlite3, sys\n'
             'conn = sqlite3.connect(sys.argv[1])\n'
             'conn.execute("UPDATE tokens SET revoked_at = 1 '
             'WHERE jti = ?", (sys.argv[2],))\n'
             'conn.commit()\n', self.path, issued.jti], check=True)
        self.assertNotEqual(before, self.feed.generation())

    def test_it_is_read_again_after_the_recheck_time(self):
        later = [0.0]
        self.feed._clock = lambda: time.monotonic() + later[0]
        later[0] += changes.RECHECK
        self.feed.generation()
        self.feed.generation()
        self.assertEqual([changes.READ_COUNTER], self.reads)
        later[0] += changes.RECHECK
        self.feed.generation()
        self.assertEqual([changes.READ_COUNTER] * 2, self.reads)

    def test_without_a_wal_index_every_call_reads(self):
        conn = sqlite3.connect(self.useFixture(fixtures.TempDir()).join(
            'rollback.db'))
        self.addCleanup(conn.close)
        self.assertIsNone(changes._map_wal_index(conn, self.path + '-shm'))
        os.symlink(self.path + '-shm', self.path + '-link')
        self.assertIsNone(changes._map_wal_index(self.feed._conn,
                                                 self.path + '-link'))
        with open(self.path + '-short', 'wb') as short:
            short.write(b'\0' * (changes.WAL_INDEX_HEADER - 1))
        self.assertIsNone(changes._map_wal_index(self.feed._conn,
                                                 self.path + '-short'))
        mapped = changes._map_wal_index(self.feed._conn, self.path + '-shm')
        self.assertIsNotNone(mapped)
        mapped.close()

    def test_a_replaced_file_is_noticed_within_the_recheck_time(self):
        later = [0.0]
        self.feed._clock = lambda: time.monotonic() + later[0]
        later[0] += changes.RECHECK
        before = self.feed.generation()
        self.assertIsNotNone(before)
        copy = self.path + '.copy'
        with sqlite3.connect(self.path) as source, \
                sqlite3.connect(copy) as target:
            source.backup(target)
        os.replace(copy, self.path)
        # unlooked at until the recheck time: the header has not changed
        self.assertEqual(before, self.feed.generation())
        later[0] += changes.RECHECK
        self.assertIsNone(self.feed.generation())
        self.assertIsNone(self.feed.generation())

    def test_closed_it_answers_none(self):
        self.assertIsNotNone(self.feed.generation())
        self.feed.close()
        self.assertIsNone(self.feed.generation())


class TestSQLiteUpgrade(testtools.TestCase):

    def test_upgrade_from_version_7_counts_changes(self):
        from ntcli_authority.storage import schema
        path = self.useFixture(fixtures.TempDir()).join('v7.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  schema.MIGRATIONS[:7]):
            store = open_store(path)
            store.create_workspace(Workspace('ws-1', 'alpha', base.START))
            insert_tokens_before_digests(store,
                                         [storage_base.token('jti_1')])
            self.assertEqual(7, store.schema_version())
            store.close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())
        feed = store.token_changes()
        before = feed.generation()
        self.assertEqual(0, before)
        store.add_token(storage_base.token('jti_2'))
        self.assertEqual(before, feed.generation())   # an issue: nothing
        store.revoke_token('ws-1', 'jti_1', storage_base.NOW)
        self.assertEqual(1, feed.generation())
        self.assertEqual('revoked', store.get_token('jti_1').status_at(
            storage_base.NOW))


class TestPostgres(test_postgres.PostgresTestCase):

    def setUp(self):
        super().setUp()
        self.clock = base.FakeClock()
        self.node_a = self.authority(keep_tokens=True)
        self.node_b = self.authority(keep_tokens=True)
        self.ws = self.node_a.create_workspace(OWNER, 'alpha')

    def authority(self, **kwargs):
        node = Authority.open(self.dsn, clock=self.clock, **kwargs)
        self.addCleanup(node.close)
        return node

    def listening(self, node):
        """Wait until ``node`` listens (its first heartbeat answered)."""
        feed = node.store.token_changes()
        deadline = time.monotonic() + 30
        while feed.generation() is None:
            self.assertLess(time.monotonic(), deadline, 'never listens')
            time.sleep(0.01)

    def test_steady_state_makes_no_database_call(self):
        issued = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        self.listening(self.node_b)
        self.node_b.validate(issued.token)
        calls = count_calls(self, self.node_b)
        for _ in range(3):
            self.assertEqual(issued.jti,
                             self.node_b.validate(issued.token).jti)
        self.assertEqual(0, calls.calls)

    def test_a_revocation_on_another_node_within_the_bound(self):
        issued = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        kept = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        self.listening(self.node_b)
        self.node_b.validate(issued.token)
        self.node_b.validate(kept.token)
        self.node_a.revoke(OWNER, self.ws.id, issued.jti)
        time.sleep(changes.BOUND)
        self.assertRaises(errors.TokenRevoked, self.node_b.validate,
                          issued.token)
        self.assertEqual(kept.jti, self.node_b.validate(kept.token).jti)

    def test_a_lost_listener_reads_rows_until_it_listens_again(self):
        from ntcli_authority.storage import listener
        issued = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        self.listening(self.node_b)
        self.node_b.validate(issued.token)
        conn = self.raw()
        # The listener is gone, and (the database slow to tell) a
        # revocation is made before the node could hear of the loss.
        terminated = conn.execute(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = current_database() '
            'AND application_name = %s', (listener.APPLICATION_NAME,)
        ).fetchall()
        self.assertEqual(2, len(terminated))
        self.node_a.revoke(OWNER, self.ws.id, issued.jti)
        time.sleep(changes.BOUND)
        self.assertRaises(errors.TokenRevoked, self.node_b.validate,
                          issued.token)
        # listening again: back to memory
        second = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        self.listening(self.node_b)
        self.node_b.validate(second.token)
        calls = count_calls(self, self.node_b)
        self.node_b.validate(second.token)
        self.assertEqual(0, calls.calls)

    def test_a_silent_listener_is_not_trusted(self):
        # Not heard from within the lease (here: the thread stopped), the
        # node reads every row.
        issued = self.node_a.issue(OWNER, self.ws.id, expires_in=60)
        self.listening(self.node_b)
        self.node_b.validate(issued.token)
        self.node_b.store.token_changes().close()
        calls = count_calls(self, self.node_b)
        self.node_b.validate(issued.token)
        self.node_b.validate(issued.token)
        self.assertEqual(2, calls.calls)

    def test_a_session_no_longer_listening_is_not_trusted(self):
        # What a pooler in transaction mode does: the heartbeat answered by
        # a session that does not listen. The listener starts over.
        import psycopg

        from ntcli_authority.storage import listener
        made = []

        def connect():
            made.append(psycopg.connect(self.dsn, autocommit=True))
            return made[-1]

        feed = listener.Listener(connect)
        self.addCleanup(feed.close)
        deadline = time.monotonic() + 30
        while feed.generation() is None:
            self.assertLess(time.monotonic(), deadline, 'never listens')
            time.sleep(0.01)
        first = feed.generation()
        made[0].execute('UNLISTEN *')
        while len(made) < 2 or feed.generation() in (None, first):
            self.assertLess(time.monotonic(), deadline, 'still trusted')
            time.sleep(0.01)
        self.assertTrue(made[0].closed)

    def test_upgrade_from_version_7_notifies(self):
        from ntcli_authority.storage import schema
        dsn = self.server.create_database()
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  schema.MIGRATIONS[:7]):
            store = self.open_store(dsn)
            store.create_workspace(Workspace('ws-1', 'alpha', base.START))
            insert_tokens_before_digests(store,
                                         [storage_base.token('jti_1')])
            self.assertEqual(7, store.schema_version())
            store.close()
        store = self.open_store(dsn)
        self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())
        import psycopg
        conn = psycopg.connect(dsn, autocommit=True)
        self.addCleanup(conn.close)
        conn.execute('LISTEN ntcli_tokens')
        store.add_token(storage_base.token('jti_2'))
        store.revoke_token('ws-1', 'jti_1', storage_base.NOW)
        heard = list(conn.notifies(timeout=5, stop_after=1))
        self.assertEqual(['ntcli_tokens'], [n.channel for n in heard])
        self.assertEqual([], list(conn.notifies(timeout=0.2)))
