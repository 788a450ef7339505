"""Tests of the PostgreSQL TokenStore: the store contract, migrations,
lost connections, and several nodes (store objects, authorities,
processes) sharing one database.

The server comes from tests/postgres.py: NTCLI_TEST_POSTGRES_DSN, or a
throwaway cluster; without PostgreSQL these tests are skipped, saying why.
"""

from __future__ import annotations

import threading
import time

import fixtures
import testtools

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_authority.models import Workspace
from ntcli_authority.storage import open_store
from tests import postgres as pg_fixture
from tests.unit.ntcli_authority import base
from tests.unit.ntcli_authority.storage import base as storage_base
from tests.unit.ntcli_authority.storage import test_sqlite
from tests.unit.ntcli_authority.storage.bulk import insert_tokens

OWNER = Principal.local()  # the local owner may do everything

try:
    import psycopg

    from ntcli_authority.storage import postgres, schema
except (ImportError, errors.StorageUnavailable):
    # No psycopg: the tests skip, saying why (tests/postgres.py).
    psycopg = postgres = sql = None

NOW = storage_base.NOW
WS = storage_base.WS
token = storage_base.token
signing_key = storage_base.signing_key

# Version 1 of the schema, written out by hand as an old ntcli made it.
SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE workspaces (id TEXT PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE, description TEXT, owner TEXT,
    created_at BIGINT NOT NULL);
CREATE TABLE tokens (jti TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL, created_at BIGINT NOT NULL,
    expires_at BIGINT, revoked_at BIGINT, description TEXT,
    kid TEXT NOT NULL);
CREATE INDEX tokens_by_workspace ON tokens (workspace_id, created_at, jti);
CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_key TEXT,
    public_key TEXT NOT NULL, created_at BIGINT NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE, retired_at BIGINT);
CREATE UNIQUE INDEX signing_keys_one_primary ON signing_keys (is_primary)
    WHERE is_primary;
"""

# What version 2 added, as ntcli 0.1.0 wrote it.
SCHEMA_V2_ADDED = """
UPDATE schema_version SET version = 2;
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace';
CREATE INDEX tokens_by_kid ON tokens (kid);
CREATE TABLE users (id TEXT PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    credential_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
CREATE TABLE idempotency_keys (workspace_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, jti TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, idempotency_key));
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
"""

OTHER_SECRET = 'b3RoZXItbnRjbGktdGVzdC1zZWNyZXQtbm90LXJlYWw='


class PostgresTestCase(testtools.TestCase):
    """A test with a fresh database (``self.dsn``) and a server secret."""

    def setUp(self):
        super().setUp()
        self.useFixture(pg_fixture.ServerSecret())
        self.server = self.useFixture(pg_fixture.PostgresServer())
        self.dsn = self.server.create_database()

    def open_store(self, dsn=None):
        store = open_store(dsn or self.dsn)
        self.addCleanup(store.close)
        return store

    def raw(self):
        """A plain connection to the test database (autocommit)."""
        conn = psycopg.connect(self.dsn, autocommit=True)
        self.addCleanup(conn.close)
        return conn

    def run_together(self, funcs, timeout=60):
        """Call every function in its own thread, all released at once;
        return their results (exceptions are returned, not raised)."""
        barrier = threading.Barrier(len(funcs))
        results: list = [None] * len(funcs)

        def run(index, func):
            try:
                barrier.wait(timeout=timeout)
                results[index] = func()
            except BaseException as exc:
                results[index] = exc

        threads = [threading.Thread(target=run, args=(i, f), daemon=True)
                   for i, f in enumerate(funcs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout)
            self.assertFalse(thread.is_alive(), 'a thread hangs')
        return results

    def assertNoErrors(self, results):
        failures = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual([], failures)

    def start(self, func):
        """Run ``func`` in a thread; return a getter for its outcome."""
        outcome: dict = {}

        def run():
            try:
                outcome['result'] = func()
            except BaseException as exc:
                outcome['error'] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def get():
            thread.join(30)
            self.assertFalse(thread.is_alive(), 'the call hangs')
            return outcome

        return get

    def blocked_store_pids(self, conn, exclude=(), timeout=10.0, count=1):
        """Pids of store connections waiting for a lock, once there are
        ``count`` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() "
                "AND application_name = 'ntcli-server' "
                "AND wait_event_type = 'Lock'").fetchall()
                if row[0] not in exclude]
            if len(pids) >= count:
                return pids
            time.sleep(0.02)
        self.fail('no store connection is waiting for a lock')


class TestStore(storage_base.StoreTests, PostgresTestCase):
    """The store contract (tests/unit/ntcli_authority/storage/base.py) on
    PostgreSQL."""

    @property
    def integrity_error(self):
        return psycopg.IntegrityError

    @property
    def schema_version(self):
        return schema.SCHEMA_VERSION

    def open_store(self, dsn=None):
        return open_store(dsn or self.dsn)

    def test_one_primary_at_a_time(self):
        self.store.ensure_primary_signing_key(signing_key('a'))
        self.store.add_primary_signing_key(signing_key('b'))
        self.assertRaises(psycopg.errors.UniqueViolation, self.raw().execute,
                          'UPDATE signing_keys SET is_primary = TRUE')


class TestOpen(PostgresTestCase):

    def test_dsn_schemes(self):
        for dsn in (self.dsn, 'postgres://' + self.dsn.split('://', 1)[1]):
            store = self.open_store(dsn)
            self.assertIsInstance(store.dialect, postgres.PostgresDialect)
            self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())

    def test_secret_required(self):
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_SERVER_SECRET'))
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  self.dsn)
        self.assertIn('NTCLI_SERVER_SECRET is not set', str(error))
        # Refused before touching the database.
        self.assertIsNone(self.raw().execute(
            "SELECT to_regclass('schema_version')").fetchone()[0])

    def test_malformed_secret(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_SERVER_SECRET', 'not-a-fernet-key-but-secret'))
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  self.dsn)
        self.assertIn('NTCLI_SERVER_SECRET is not valid', str(error))
        self.assertNotIn('not-a-fernet-key-but-secret', str(error))

    def test_unreachable(self):
        port = pg_fixture._free_port()  # nothing listens there
        dsn = f'postgresql://ntcli:hunter2-secret@127.0.0.1:{port}/authority'
        started = time.monotonic()
        error = self.assertRaises(errors.StorageUnavailable, open_store, dsn)
        self.assertLess(time.monotonic() - started, 15)
        self.assertEqual(503, error.http_status)
        self.assertEqual('STORAGE_UNAVAILABLE', error.code)
        self.assertIn(f'127.0.0.1:{port}/authority', str(error))
        self.assertNotIn('hunter2-secret', str(error))
        self.assertNotIn('ntcli:', str(error))

    def test_wrong_password(self):
        scheme, rest = self.dsn.split('://', 1)
        host_and_db = rest.split('@', 1)[1]
        dsn = f'{scheme}://postgres:wrong-password-x@{host_and_db}'
        error = self.assertRaises(errors.StorageUnavailable, open_store, dsn)
        self.assertIn('Cannot connect', str(error))
        self.assertNotIn('wrong-password-x', str(error))

    def test_newer_schema_refused(self):
        self.open_store()
        self.raw().execute('UPDATE schema_version SET version = 99')
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  self.dsn)
        self.assertIn('schema version 99', str(error))

    def test_reopening_changes_nothing(self):
        self.open_store().close()
        store = self.open_store()
        self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual(1, self.raw().execute(
            'SELECT COUNT(*) FROM schema_version').fetchone()[0])


class TestMigration(PostgresTestCase):

    def test_from_version_1(self):
        conn = self.raw()
        conn.execute(SCHEMA_V1)
        conn.execute("INSERT INTO workspaces VALUES "
                     "('ws-1', 'old-one', NULL, NULL, 100)")
        conn.execute("INSERT INTO tokens VALUES "
                     "('jti_1', 'ws-1', 100, NULL, NULL, 'kept', 'k1')")
        conn.execute("INSERT INTO signing_keys VALUES "
                     "('k1', 'plain:x', 'pub', 100, TRUE, NULL)")

        store = self.open_store()
        self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual('old-one', store.get_workspace('ws-1').name)
        record = store.get_token('jti_1')
        self.assertEqual('kept', record.description)
        self.assertEqual('workspace', record.scope)
        self.assertEqual('k1', store.get_primary_signing_key().kid)
        # Version 2 tables work.
        from ntcli_authority.models import User
        store.create_user(User('u1', 'alice', 100, 'h'))
        self.assertEqual('alice', store.get_user_by_credential_hash('h').name)
        _, replayed = store.add_token(token('jti_2', 'ws-1', kid='k1'),
                                      'key')
        self.assertFalse(replayed)
        self.assertTrue(store.add_token(token('jti_3', 'ws-1', kid='k1'),
                                        'key')[1])

    def schema(self, dsn):
        """Columns (type, collation, nullability, default) and indexes."""
        conn = psycopg.connect(dsn, autocommit=True)
        self.addCleanup(conn.close)
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, collation_name, "
            "is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' "
            "ORDER BY table_name, column_name").fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY indexname").fetchall()
        return columns, indexes

    def test_same_schema_as_version_0_1_0(self):
        # A database ntcli 0.1.0 made opens as it is, and the one
        # migration history makes the same schema.
        self.raw().execute(SCHEMA_V1 + SCHEMA_V2_ADDED)
        before = self.schema(self.dsn)
        fresh = self.server.create_database()
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  schema.MIGRATIONS[:2]):
            self.assertEqual(2, self.open_store().schema_version())
            self.assertEqual(before, self.schema(self.dsn))
            self.open_store(fresh)
            self.assertEqual(before, self.schema(fresh))
        # and later migrations bring both to the same schema again
        self.open_store()
        self.open_store(fresh)
        newest = self.server.create_database()
        self.open_store(newest)
        self.assertEqual(self.schema(newest), self.schema(self.dsn))
        self.assertEqual(self.schema(newest), self.schema(fresh))

    def test_failed_migration_rolls_back(self):
        self.open_store().close()
        broken = schema.MIGRATIONS + [('CREATE TABLE extra (x INTEGER)',
                                    'THIS IS NOT SQL')]
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.storage.schema.MIGRATIONS', broken))
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  self.dsn)
        self.assertIn(f'schema version {len(broken)} failed', str(error))
        conn = self.raw()
        self.assertEqual(len(broken) - 1, conn.execute(
            'SELECT version FROM schema_version').fetchone()[0])
        self.assertIsNone(conn.execute(
            "SELECT to_regclass('extra')").fetchone()[0])

    def test_nodes_starting_at_once(self):
        results = self.run_together([lambda: open_store(self.dsn)
                                     for _ in range(6)])
        self.assertNoErrors(results)
        for store in results:
            self.addCleanup(store.close)
            self.assertEqual(schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual([(schema.SCHEMA_VERSION,)], self.raw().execute(
            'SELECT version FROM schema_version').fetchall())


class TestConnectionLoss(PostgresTestCase):

    def setUp(self):
        super().setUp()
        self.store = self.open_store()
        self.store.create_workspace(Workspace(WS, 'alpha', NOW))
        insert_tokens(self.store, [token('jti_a'), token('jti_b')])
        self.admin = self.raw()

    def terminate(self, pid):
        self.admin.execute('SELECT pg_terminate_backend(%s)', (pid,))

    def test_dead_connection_is_replaced(self):
        old_pid = self.store.dialect._conn.info.backend_pid
        self.terminate(old_pid)
        self.assertEqual('alpha', self.store.get_workspace(WS).name)
        self.assertNotEqual(old_pid,
                            self.store.dialect._conn.info.backend_pid)
        self.terminate(self.store.dialect._conn.info.backend_pid)
        _, already = self.store.revoke_token(WS, 'jti_a', NOW + 1)
        self.assertFalse(already)

    def lock_token_row(self, jti):
        """Another session holding the token's row until it commits."""
        holder = self.raw()
        holder.execute('BEGIN')
        holder.execute('SELECT 1 FROM tokens WHERE jti = %s FOR UPDATE',
                       (jti,))
        return holder

    def test_lost_mid_transaction_is_retried_once(self):
        holder = self.lock_token_row('jti_a')
        outcome = self.start(
            lambda: self.store.revoke_token(WS, 'jti_a', NOW + 1))
        [pid] = self.blocked_store_pids(self.admin)
        self.terminate(pid)
        # The retry, on a new connection, waits for the same row.
        self.blocked_store_pids(self.admin, exclude=(pid,))
        holder.execute('COMMIT')
        result = outcome()
        self.assertNotIn('error', result)
        record, already = result['result']
        self.assertFalse(already)
        self.assertEqual(NOW + 1, record.revoked_at)

    def test_lost_twice_is_unavailable_and_writes_nothing(self):
        holder = self.lock_token_row('jti_a')
        outcome = self.start(
            lambda: self.store.delete_workspace(WS, NOW + 1))
        [first] = self.blocked_store_pids(self.admin)
        self.terminate(first)
        [second] = self.blocked_store_pids(self.admin, exclude=(first,))
        self.terminate(second)
        result = outcome()
        self.assertIsInstance(result.get('error'), errors.StorageUnavailable)
        holder.execute('COMMIT')
        # Nothing of the delete happened, and the store works again.
        self.assertEqual('alpha', self.store.get_workspace(WS).name)
        self.assertIsNone(self.store.get_token('jti_b').revoked_at)

    def test_database_gone(self):
        self.terminate(self.store.dialect._conn.info.backend_pid)

        def refuse(*args, **kwargs):
            raise psycopg.OperationalError('connection refused (test)')

        with fixtures.MonkeyPatch(
                'ntcli_authority.storage.postgres.psycopg.connect', refuse):
            error = self.assertRaises(errors.StorageUnavailable,
                                      self.store.add_token, token('jti_c'))
            self.assertIn('Cannot connect to the token database', str(error))
            self.assertIn('connection refused (test)', str(error))
            self.assertRaises(errors.StorageUnavailable,
                              self.store.get_token, 'jti_a')
        self.assertIsNone(self.store.get_token('jti_c'))

    def test_lock_timeout_leaves_nothing_half_done(self):
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.storage.postgres.LOCK_TIMEOUT', '300ms'))
        store = self.open_store()
        store.add_token(token('jti_c'), 'key')
        holder = self.lock_token_row('jti_b')
        error = self.assertRaises(errors.StorageUnavailable,
                                  store.delete_workspace, WS, NOW + 1)
        self.assertIn('lock timeout', str(error))
        holder.execute('COMMIT')
        self.assertEqual('alpha', store.get_workspace(WS).name)
        self.assertIsNone(store.get_token('jti_a').revoked_at)
        self.assertTrue(store.add_token(token('jti_d'), 'key')[1])


class TestNodes(PostgresTestCase):
    """Several store objects (server nodes) on one database at once."""

    NODES = 4
    ROUNDS = 10

    def setUp(self):
        super().setUp()
        self.nodes = [self.open_store() for _ in range(self.NODES)]
        self.nodes[0].create_workspace(Workspace(WS, 'alpha', NOW))

    def test_concurrent_revokes_give_one_revoked_at(self):
        for round_ in range(self.ROUNDS):
            jti = f'jti_{round_}'
            self.nodes[0].add_token(token(jti))
            results = self.run_together([
                lambda node=node, i=i, jti=jti: node.revoke_token(
                    WS, jti, NOW + i)
                for i, node in enumerate(self.nodes)])
            self.assertNoErrors(results)
            firsts = [record for record, already in results if not already]
            self.assertEqual(1, len(firsts))
            self.assertEqual({firsts[0].revoked_at},
                             {record.revoked_at for record, _ in results})
            self.assertEqual(firsts[0].revoked_at,
                             self.nodes[0].get_token(jti).revoked_at)

    def test_revoke_waits_for_a_revoke_in_flight(self):
        self.nodes[0].add_token(token('jti_a'))
        other = self.raw()
        other.execute('BEGIN')
        other.execute("UPDATE tokens SET revoked_at = %s "
                      "WHERE jti = 'jti_a'", (NOW + 7,))
        outcome = self.start(
            lambda: self.nodes[1].revoke_token(WS, 'jti_a', NOW + 1))
        self.blocked_store_pids(self.raw())
        other.execute('COMMIT')
        record, already = outcome()['result']
        self.assertTrue(already)
        self.assertEqual(NOW + 7, record.revoked_at)

    def test_concurrent_issues_with_one_idempotency_key(self):
        for round_ in range(self.ROUNDS):
            results = self.run_together([
                lambda node=node, i=i, round_=round_: node.add_token(
                    token(f'jti_{round_}_{i}'), f'key-{round_}',
                    idempotency_since=NOW - 60)
                for i, node in enumerate(self.nodes)])
            self.assertNoErrors(results)
            self.assertEqual(1, len({record.jti for record, _ in results}))
            self.assertEqual(1, [replayed for _, replayed in results]
                             .count(False))
        self.assertEqual(self.ROUNDS, len(self.nodes[0].list_tokens(
            WS, now=NOW, limit=1000)))

    def test_issue_waits_for_an_issue_in_flight(self):
        other = self.raw()
        other.execute('BEGIN')
        other.execute("INSERT INTO idempotency_keys VALUES "
                      "(%s, 'key', 'jti_first', %s)", (WS, NOW))
        other.execute("INSERT INTO tokens (jti, workspace_id, created_at, "
                      "kid) VALUES ('jti_first', %s, %s, 'k')", (WS, NOW))
        outcome = self.start(lambda: self.nodes[1].add_token(
            token('jti_second'), 'key', idempotency_since=NOW - 60))
        self.blocked_store_pids(self.raw())
        other.execute('COMMIT')
        record, replayed = outcome()['result']
        self.assertTrue(replayed)
        self.assertEqual('jti_first', record.jti)
        self.assertIsNone(self.nodes[0].get_token('jti_second'))

    def test_concurrent_first_signing_keys(self):
        for _ in range(3):
            dsn = self.server.create_database()
            nodes = [self.open_store(dsn) for _ in range(self.NODES)]
            results = self.run_together([
                lambda node=node, i=i: node.ensure_primary_signing_key(
                    signing_key(f'kid-{i}'))
                for i, node in enumerate(nodes)])
            self.assertNoErrors(results)
            self.assertEqual(1, len({key.kid for key in results}))
            self.assertTrue(all(key.is_primary for key in results))
            self.assertEqual([results[0].kid],
                             [k.kid for k in nodes[0].list_signing_keys()])

    def test_concurrent_rotations_leave_one_primary(self):
        self.nodes[0].ensure_primary_signing_key(signing_key('first'))
        results = self.run_together([
            lambda node=node, i=i: node.add_primary_signing_key(
                signing_key(f'kid-{i}'))
            for i, node in enumerate(self.nodes)])
        self.assertNoErrors(results)
        keys = self.nodes[0].list_signing_keys()
        self.assertEqual(self.NODES + 1, len(keys))
        self.assertEqual(1, [k.is_primary for k in keys].count(True))

    def test_delete_workspace_races_issues(self):
        # A stress test. While several issues held the workspace row,
        # PostgreSQL could grant one more issue its KEY SHARE lock just as
        # the delete took the row FOR UPDATE (as it then did), and that
        # issue's token was inserted after the delete had revoked the
        # workspace's tokens: once in thousands of rounds (see
        # delete_workspace).
        admin = self.raw()
        for round_ in range(self.ROUNDS):
            ws = f'ws-r{round_}'
            self.nodes[0].create_workspace(Workspace(ws, f'r{round_}', NOW))

            def issue(node, i, ws=ws):
                added = []
                for n in range(5):
                    try:
                        node.add_token(token(f'jti_{ws}_{i}_{n}', ws))
                    except errors.WorkspaceNotFound:
                        break
                    added.append(f'jti_{ws}_{i}_{n}')
                return added

            results = self.run_together(
                [lambda ws=ws: self.nodes[0].delete_workspace(ws, NOW + 1)]
                + [lambda node=node, i=i: issue(node, i)
                   for i, node in enumerate(self.nodes[1:])])
            self.assertNoErrors(results)
            added = sorted(jti for jtis in results[1:] for jti in jtis)
            # Every token stored in the workspace is one an issue reported,
            # and the delete revoked each of them: none stayed live.
            rows = admin.execute(
                'SELECT jti, revoked_at FROM tokens WHERE workspace_id = %s '
                'ORDER BY jti', (ws,)).fetchall()
            self.assertEqual([(jti, NOW + 1) for jti in added], rows)
            self.assertEqual(len(added), results[0])
            # Issues after the delete find the workspace gone.
            self.assertIsNone(self.nodes[1].get_workspace(ws))
            self.assertRaises(errors.WorkspaceNotFound,
                              self.nodes[1].add_token,
                              token(f'jti_{ws}_late', ws))

    def hold_workspace(self, jti='jti_held'):
        """Another session in the middle of an issue: it holds the
        workspace row (KEY SHARE, as add_token does) and has inserted a
        token, not yet committed."""
        holder = self.raw()
        holder.execute('BEGIN')
        holder.execute('SELECT 1 FROM workspaces WHERE id = %s '
                       'FOR KEY SHARE', (WS,))
        holder.execute("INSERT INTO tokens (jti, workspace_id, created_at, "
                       "kid) VALUES (%s, %s, %s, 'k')", (jti, WS, NOW))
        return holder

    def test_delete_waits_for_an_issue_in_flight(self):
        holder = self.hold_workspace()
        outcome = self.start(
            lambda: self.nodes[1].delete_workspace(WS, NOW + 1))
        self.blocked_store_pids(self.raw())
        # An issue meanwhile may get in ahead of the waiting delete
        # (PostgreSQL does not queue KEY SHARE behind it), and is then
        # revoked with the rest; or else it finds the workspace gone.
        meanwhile = self.start(
            lambda: self.nodes[2].add_token(token('jti_meanwhile')))
        time.sleep(0.2)
        holder.execute('COMMIT')
        issued, deleted = meanwhile(), outcome()
        record = self.nodes[0].get_token('jti_meanwhile')
        if 'error' in issued:
            self.assertIsInstance(issued['error'], errors.WorkspaceNotFound)
            self.assertIsNone(record)
            self.assertEqual({'result': 1}, deleted)
        else:
            self.assertEqual(NOW + 1, record.revoked_at)
            self.assertEqual({'result': 2}, deleted)
        self.assertEqual(NOW + 1,
                         self.nodes[0].get_token('jti_held').revoked_at)

    def test_issue_waits_for_a_delete_in_flight(self):
        insert_tokens(self.nodes[0], [token('jti_a')])
        # The delete has deleted the workspace row, then waits for this
        # lock on a token row before it can revoke the tokens.
        holder = self.raw()
        holder.execute('BEGIN')
        holder.execute("SELECT 1 FROM tokens WHERE jti = 'jti_a' FOR UPDATE")
        outcome = self.start(
            lambda: self.nodes[1].delete_workspace(WS, NOW + 1))
        admin = self.raw()
        [deleting] = self.blocked_store_pids(admin)
        issued = self.start(lambda: self.nodes[2].add_token(token('jti_b')))
        revoked = self.start(
            lambda: self.nodes[3].revoke_token(WS, 'jti_a', NOW + 2))
        self.assertEqual(2, len(self.blocked_store_pids(
            admin, exclude=(deleting,), count=2)))
        holder.execute('COMMIT')
        self.assertEqual({'result': 1}, outcome())
        self.assertIsInstance(issued().get('error'), errors.WorkspaceNotFound)
        self.assertIsInstance(revoked().get('error'),
                              errors.WorkspaceNotFound)
        self.assertIsNone(self.nodes[0].get_token('jti_b'))
        self.assertEqual(NOW + 1, self.nodes[0].get_token('jti_a').revoked_at)

    def test_delete_after_an_aborted_issue(self):
        holder = self.hold_workspace()
        outcome = self.start(
            lambda: self.nodes[1].delete_workspace(WS, NOW + 1))
        self.blocked_store_pids(self.raw())
        holder.execute('ROLLBACK')
        self.assertEqual({'result': 0}, outcome())
        self.assertIsNone(self.nodes[0].get_workspace(WS))
        self.assertIsNone(self.nodes[0].get_token('jti_held'))

    def test_concurrent_deletes_of_one_workspace(self):
        insert_tokens(self.nodes[0], [token('jti_a'), token('jti_b')])
        results = self.run_together([
            lambda node=node: node.delete_workspace(WS, NOW + 1)
            for node in self.nodes])
        # One deletes it and revokes both tokens; the others wait for it,
        # then find the workspace gone.
        self.assertEqual([2], [r for r in results if isinstance(r, int)])
        self.assertEqual(self.NODES - 1, len([
            r for r in results if isinstance(r, errors.WorkspaceNotFound)]))


class TestAuthorities(PostgresTestCase):
    """Two Authority objects on one database: two server nodes."""

    def setUp(self):
        super().setUp()
        self.clock = base.FakeClock()
        self.node_a = self.authority()
        self.node_b = self.authority()
        self.ws = self.node_a.create_workspace(OWNER, 'alpha')

    def authority(self):
        node = Authority.open(self.dsn, clock=self.clock)
        self.addCleanup(node.close)
        return node

    def test_issue_on_a_validate_and_revoke_on_b(self):
        issued = self.node_a.issue(OWNER, self.ws.id, expires_in=3600)
        self.assertEqual(issued.jti,
                         self.node_b.validate(issued.token, self.ws.id).jti)
        self.assertEqual([issued.jti], [t.jti for t in self.node_b
                                        .list_tokens(OWNER, self.ws.id)
                                        .tokens])
        revocation = self.node_b.revoke(OWNER, self.ws.id, issued.jti)
        self.assertFalse(revocation.already_revoked)
        self.assertRaises(errors.TokenRevoked, self.node_a.validate,
                          issued.token)
        self.assertTrue(self.node_a.revoke(OWNER, self.ws.id,
                                           issued.jti).already_revoked)

    def test_rotation_on_a_is_seen_by_b_at_once(self):
        old = self.node_a.issue(OWNER, self.ws.id)
        self.node_b.validate(old.token)        # B's key cache is warm
        self.assertEqual(old.kid, self.node_b.issue(OWNER, self.ws.id).kid)
        new_kid = self.node_a.rotate_signing_key(OWNER)
        new = self.node_a.issue(OWNER, self.ws.id)
        self.assertEqual(new_kid, new.kid)
        # An unknown kid is looked up in the store, not rejected.
        self.assertEqual(new.jti, self.node_b.validate(new.token).jti)
        self.node_b.validate(old.token)
        # B signs with the new key once it re-reads the primary.
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.signing.KeyRing.PRIMARY_TTL', 0.0))
        from_b = self.node_b.issue(OWNER, self.ws.id)
        self.assertEqual(new_kid, from_b.kid)
        self.node_a.validate(from_b.token)

    def test_idempotent_issue_across_nodes(self):
        first = self.node_a.issue(OWNER,
                                  self.ws.id, idempotency_key='refresh-1')
        again = self.node_b.issue(OWNER,
                                  self.ws.id, idempotency_key='refresh-1')
        self.assertEqual(first.token, again.token)
        self.assertTrue(again.replayed)

    def test_delete_workspace_on_b(self):
        issued = self.node_a.issue(OWNER, self.ws.id)
        self.assertEqual(1, self.node_b.delete_workspace(OWNER, self.ws.id))
        self.assertRaises(errors.TokenRevoked, self.node_a.validate,
                          issued.token)
        self.assertRaises(errors.WorkspaceNotFound, self.node_a.issue,
                          OWNER, self.ws.id)

    def test_private_keys_are_encrypted_at_rest(self):
        self.node_a.issue(OWNER, self.ws.id)
        self.node_a.rotate_signing_key(OWNER)
        rows = self.raw().execute(
            'SELECT private_key FROM signing_keys').fetchall()
        self.assertEqual(2, len(rows))
        for (sealed,) in rows:
            self.assertTrue(sealed.startswith('fernet:'))
            self.assertNotIn('PRIVATE KEY', sealed)

    def test_node_with_another_secret(self):
        issued = self.node_a.issue(OWNER, self.ws.id)
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_SERVER_SECRET',
                                                     OTHER_SECRET))
        stranger = self.authority()
        # Verifying needs only public keys...
        stranger.validate(issued.token)
        # ...signing needs the private key, sealed under another secret.
        error = self.assertRaises(errors.StorageUnavailable, stranger.issue,
                                  OWNER, self.ws.id)
        self.assertIn('NTCLI_SERVER_SECRET', str(error))

    def test_secret_rotation(self):
        old = self.node_a.issue(OWNER, self.ws.id, idempotency_key='k')
        self.useFixture(fixtures.EnvironmentVariable(
            'NTCLI_SERVER_SECRET',
            OTHER_SECRET + ',' + pg_fixture.TEST_SERVER_SECRET))
        node = self.authority()
        # Keys sealed under the old (second) secret still unseal...
        self.assertEqual(old.token, node.issue(OWNER, self.ws.id,
                                               idempotency_key='k').token)
        # ...and new keys are sealed under the new (first) one alone.
        node.rotate_signing_key(OWNER)
        self.useFixture(fixtures.EnvironmentVariable('NTCLI_SERVER_SECRET',
                                                     OTHER_SECRET))
        newest = self.authority()
        newest.validate(newest.issue(OWNER, self.ws.id).token)


class TestProcesses(PostgresTestCase):
    """Server nodes as processes, as in the SQLite store's tests."""

    run_processes = test_sqlite.TestConcurrency.run_processes
    PROCESSES = test_sqlite.TestConcurrency.PROCESSES

    def test_issue_and_revoke_from_several_processes(self):
        authority = Authority.open(self.dsn)
        self.addCleanup(authority.close)
        ws = authority.create_workspace(OWNER, 'shared')
        shared = [authority.issue(OWNER, ws.id).jti for _ in range(25)]
        outcomes = self.run_processes(
            test_sqlite._worker, lambda i: (self.dsn, ws.id, shared, i))
        issued = [j for o in outcomes for j in o['issued']]
        self.assertEqual(self.PROCESSES * 25, len(set(issued)))
        firsts = [j for o in outcomes for j in o['first_revocations']]
        self.assertEqual(sorted(shared), sorted(firsts))
        listed = authority.list_tokens(OWNER, ws.id, include_revoked=True,
                                       limit=1000).tokens
        status = {t.jti: t.status for t in listed}
        self.assertEqual(len(shared) + len(issued), len(status))
        self.assertTrue(all(status[j] == 'revoked' for j in shared))
        self.assertTrue(all(status[j] == 'active' for j in issued))

    def test_fresh_database_opened_by_several_processes(self):
        outcomes = self.run_processes(test_sqlite._opener,
                                      lambda i: (self.dsn,))
        self.assertEqual(1, len({o['kid'] for o in outcomes}))
        store = self.open_store()
        self.assertEqual(1, len(store.list_signing_keys()))
        self.assertEqual(1, len(store.list_workspaces()))
        self.assertEqual(self.PROCESSES, len(store.list_tokens(
            store.list_workspaces()[0].id, now=0, limit=100)))
