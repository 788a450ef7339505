"""Tests of the SQLite TokenStore: files, schema migrations, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import sqlite3
import stat

import fixtures
import testtools

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_authority.models import Workspace
from ntcli_authority.storage import open_store, sqlite
from ntcli_authority.storage import schema as store_schema
from tests.unit.ntcli_authority import base
from tests.unit.ntcli_authority.storage import base as storage_base
from tests.unit.ntcli_authority.storage.bulk import (
    insert_tokens_before_digests,
)

OWNER = Principal.local()  # the local owner may do everything

# Version 1 of the schema, written out by hand as an old ntcli made it.
SCHEMA_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE workspaces (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    description TEXT, owner TEXT, created_at INTEGER NOT NULL);
CREATE TABLE tokens (jti TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER,
    description TEXT, kid TEXT NOT NULL);
CREATE INDEX tokens_by_workspace ON tokens (workspace_id, created_at, jti);
CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_key TEXT,
    public_key TEXT NOT NULL, created_at INTEGER NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0, retired_at INTEGER);
CREATE UNIQUE INDEX signing_keys_one_primary ON signing_keys (is_primary)
    WHERE is_primary = 1;
"""

# What version 2 added, as ntcli 0.1.0 wrote it.
SCHEMA_V2_ADDED = """
UPDATE schema_version SET version = 2;
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace';
CREATE INDEX tokens_by_kid ON tokens (kid);
CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    credential_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
CREATE TABLE idempotency_keys (workspace_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, jti TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, idempotency_key));
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
"""


def schema(path):
    """The schema of a database file, whitespace made canonical."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute('SELECT type, name, sql FROM sqlite_master '
                            'ORDER BY type, name').fetchall()
    finally:
        conn.close()
    return [(kind, name, sql and re.sub(r'\s*([(),])\s*', r'\1',
                                        re.sub(r'\s+', ' ', sql)))
            for kind, name, sql in rows]


class TestFiles(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_private_file_and_directory(self):
        path = os.path.join(self.dir, 'new', 'authority.db')
        store = open_store(path)
        self.addCleanup(store.close)
        store.create_workspace(Workspace('id', 'abc', base.START))
        self.assertEqual(0o700, stat.S_IMODE(os.stat(os.path.dirname(path))
                                             .st_mode))
        for name in os.listdir(os.path.dirname(path)):
            mode = os.stat(os.path.join(self.dir, 'new', name)).st_mode
            self.assertEqual(0o600, stat.S_IMODE(mode), name)

    def test_wal_and_busy_timeout(self):
        path = os.path.join(self.dir, 'a.db')
        store = open_store('sqlite://' + path)
        self.addCleanup(store.close)
        self.assertIsInstance(store.dialect, sqlite.SQLiteDialect)
        conn = store.dialect._conn
        self.assertEqual('wal',
                         conn.execute('PRAGMA journal_mode').fetchone()[0])
        self.assertGreaterEqual(
            conn.execute('PRAGMA busy_timeout').fetchone()[0], 10000)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())

    def test_memory(self):
        store = open_store(':memory:')
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())

    def test_not_a_database(self):
        path = os.path.join(self.dir, 'a.db')
        with open(path, 'wb') as f:
            f.write(b'this is not sqlite' * 100)
        error = self.assertRaises(errors.StorageUnavailable, open_store, path)
        self.assertIn(path, str(error))

    def test_newer_schema_refused(self):
        path = os.path.join(self.dir, 'a.db')
        open_store(path).close()
        conn = sqlite3.connect(path)
        conn.execute('UPDATE schema_version SET version = 99')
        conn.commit()
        conn.close()
        self.assertRaises(errors.StorageUnavailable, open_store, path)


class TestFileReplaced(testtools.TestCase):
    """A database file replaced (a restore) or deleted under an open store:
    every call fails until the store is opened again, so that nothing is
    written to a file no later process will read."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'a.db')
        self.store = open_store(self.path)
        self.addCleanup(self.store.close)
        self.store.create_workspace(Workspace('ws_1', 'alpha', 100))
        self.store.dialect.wait = 1

    def assert_refused(self):
        for call in (lambda: self.store.get_workspace('ws_1'),
                     lambda: self.store.create_workspace(
                         Workspace('ws_2', 'beta', 100))):
            error = self.assertRaises(errors.StorageUnavailable, call)
            self.assertIn('replaced or deleted', str(error))
            self.assertIn('restart', str(error))

    def test_replaced(self):
        backup = os.path.join(self.dir, 'backup.db')
        with sqlite3.connect(self.path) as source, \
                sqlite3.connect(backup) as target:
            source.backup(target)
        os.replace(backup, self.path)
        self.assert_refused()
        # Until reopened, on the file now there.
        reopened = open_store(self.path)
        self.addCleanup(reopened.close)
        self.assertEqual('alpha', reopened.get_workspace('ws_1').name)
        self.assert_refused()

    def test_deleted(self):
        for suffix in ('', '-wal', '-shm'):
            if os.path.exists(self.path + suffix):
                os.unlink(self.path + suffix)
        self.assert_refused()
        self.assertFalse(os.path.exists(self.path))


class TestCreateOrNot(testtools.TestCase):
    """open_store(create=False): a missing file is refused, not made."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_missing_file_is_refused_and_nothing_is_made(self):
        path = os.path.join(self.dir, 'typo', 'a.db')
        error = self.assertRaises(errors.DatabaseMissing, open_store, path,
                                  create=False)
        self.assertIsInstance(error, errors.StorageUnavailable)
        self.assertEqual(path, error.path)
        self.assertEqual(f'No token database at {path}', error.message)
        self.assertEqual([], os.listdir(self.dir))
        # with a sqlite:// target too
        self.assertRaises(errors.DatabaseMissing, open_store,
                          'sqlite://' + path, create=False)
        self.assertEqual([], os.listdir(self.dir))

    def test_existing_file_opens(self):
        path = os.path.join(self.dir, 'odd name?#%.db')
        store = open_store(path)
        self.assertTrue(store.created)
        store.create_workspace(Workspace('id', 'abc', base.START))
        store.close()
        store = open_store(path, create=False)
        self.addCleanup(store.close)
        self.assertFalse(store.created)
        self.assertEqual('abc', store.get_workspace('id').name)
        self.assertEqual(['odd name?#%.db'],
                         [n for n in os.listdir(self.dir)
                          if not n.endswith(('-wal', '-shm'))])

    def test_created_only_once(self):
        path = os.path.join(self.dir, 'a.db')
        first = open_store(path)
        self.addCleanup(first.close)
        second = open_store(path)
        self.addCleanup(second.close)
        self.assertEqual((True, False), (first.created, second.created))

    def test_a_file_that_vanishes_is_not_recreated(self):
        # Between the check and the connection: SQLite's mode=rw refuses.
        path = os.path.join(self.dir, 'a.db')
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.storage.sqlite._is_missing', lambda path: False))
        error = self.assertRaises(errors.StorageUnavailable, open_store,
                                  path, create=False)
        self.assertNotIsInstance(error, errors.DatabaseMissing)
        self.assertFalse(os.path.exists(path))

    def test_memory_needs_no_file(self):
        store = open_store(':memory:', create=False)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())

    def test_authority_open_creates_by_default(self):
        # The embedded endpoint relies on it: first use makes the file.
        from ntcli_authority.authority import Authority
        path = os.path.join(self.dir, 'sub', 'local.db')
        with Authority.open(path) as authority:
            self.assertTrue(authority.store.created)
        self.assertTrue(os.path.exists(path))
        with Authority.open(path, create=False) as authority:
            self.assertFalse(authority.store.created)
        self.assertRaises(errors.DatabaseMissing, Authority.open,
                          os.path.join(self.dir, 'other.db'), create=False)


class TestMigration(testtools.TestCase):

    def test_from_version_1(self):
        path = self.useFixture(fixtures.TempDir()).join('old.db')
        conn = sqlite3.connect(path)
        conn.executescript(SCHEMA_V1)
        conn.execute("INSERT INTO workspaces VALUES "
                     "('ws-1', 'old-one', NULL, NULL, 100)")
        conn.execute("INSERT INTO tokens VALUES "
                     "('jti_1', 'ws-1', 100, NULL, NULL, 'kept', 'k1')")
        conn.execute("INSERT INTO signing_keys VALUES "
                     "('k1', 'plain:x', 'pub', 100, 1, NULL)")
        conn.commit()
        conn.close()

        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual('old-one', store.get_workspace('ws-1').name)
        token = store.get_token('jti_1')
        self.assertEqual('kept', token.description)
        self.assertEqual('workspace', token.scope)
        self.assertEqual('k1', store.get_primary_signing_key().kid)
        # Version 2 tables work.
        from ntcli_authority.models import User
        store.create_user(User('u1', 'alice', 100, 'h'))
        self.assertEqual('alice', store.get_user_by_credential_hash('h').name)
        # Version 4 tables work.
        from ntcli_authority.models import Identity
        store.add_identity(Identity('https://idp.example', 's', 'u1', 100))
        self.assertEqual('u1', store.get_identity('https://idp.example',
                                                  's').user_id)

    def test_an_up_to_date_store_opens_while_a_writer_holds_the_lock(self):
        # reading the schema version is enough: opening does not queue
        # behind a refresh that holds the write lock
        import threading
        path = self.useFixture(fixtures.TempDir()).join('current.db')
        open_store(path).close()
        writer = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(writer.close)
        writer.execute('BEGIN IMMEDIATE')
        self.addCleanup(writer.execute, 'ROLLBACK')
        opened = []
        thread = threading.Thread(
            target=lambda: opened.append(open_store(path)), daemon=True)
        thread.start()
        thread.join(20)
        self.assertEqual(1, len(opened), 'open_store waited for the writer')
        opened[0].close()

    def test_same_schema_as_version_0_1_0(self):
        # A database ntcli 0.1.0 made opens as it is, and the one
        # migration history makes the same schema.
        tmp = self.useFixture(fixtures.TempDir())
        old = tmp.join('old.db')
        conn = sqlite3.connect(old)
        conn.executescript(SCHEMA_V1 + SCHEMA_V2_ADDED)
        conn.close()
        before = schema(old)
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:2]):
            store = open_store(old)
            self.assertEqual(2, store.schema_version())
            store.close()
            self.assertEqual(before, schema(old))
            open_store(tmp.join('new.db')).close()
            self.assertEqual(before, schema(tmp.join('new.db')))
        # and later migrations bring both to the same schema again
        open_store(old).close()
        open_store(tmp.join('new.db')).close()
        open_store(tmp.join('newest.db')).close()
        self.assertEqual(schema(tmp.join('newest.db')), schema(old))
        self.assertEqual(schema(tmp.join('newest.db')),
                         schema(tmp.join('new.db')))

    def test_upgrade_from_version_3_keeps_everything(self):
        # A database of the schema before trust policies gains them.
        path = self.useFixture(fixtures.TempDir()).join('v3.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:3]):
            store = open_store(path)
            store.create_workspace(Workspace('ws-1', 'alpha', 1))
            self.assertEqual(3, store.schema_version())
            store.close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual('alpha', store.get_workspace('ws-1').name)
        self.assertEqual([], store.list_trust_policies())
        store.add_trust_policy(storage_base.policy(workspace_id='ws-1'))
        self.assertEqual(['deploy'],
                         [p.name for p in store.list_trust_policies()])

    def test_upgrade_from_version_5_adds_identities_and_sessions(self):
        from ntcli_authority.models import Identity, Session, User
        path = self.useFixture(fixtures.TempDir()).join('v5.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:5]):
            store = open_store(path)
            store.create_user(User('u1', 'alice', base.START, 'h'))
            self.assertEqual(5, store.schema_version())
            store.close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual('alice', store.get_user_by_credential_hash('h').name)
        store.add_identity(Identity('https://idp.example', 's', 'u1',
                                    base.START))
        store.add_session(Session('ses_1', 'u1', 'https://idp.example', 's',
                                  base.START, base.START + 60,
                                  secret_hash='x'), 'a@example.org')
        self.assertEqual('a@example.org', store.get_identity(
            'https://idp.example', 's').email)

    def test_upgrade_from_version_6_binds_new_keys_only(self):
        # A key stored before keys were bound to their callers replays for
        # nobody; a new one names its caller's request.
        path = self.useFixture(fixtures.TempDir()).join('v6.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:6]):
            store = open_store(path)
            store.create_workspace(Workspace('ws-1', 'alpha', base.START))
            insert_tokens_before_digests(store,
                                         [storage_base.token('jti_1')])
            self.assertEqual(6, store.schema_version())
            store.close()
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO idempotency_keys (workspace_id, "
                     "idempotency_key, jti, created_at) VALUES "
                     "('ws-1', 'old-key', 'jti_1', ?)",
                     (storage_base.NOW,))
        conn.commit()
        conn.close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertRaises(errors.IdempotencyKeyConflict, store.add_token,
                          storage_base.token('jti_2'), 'old-key',
                          caller='user:u1')
        self.assertEqual((storage_base.token('jti_3'), False),
                         store.add_token(storage_base.token('jti_3'),
                                         'new-key', caller='user:u1'))
        self.assertEqual('jti_3', store.add_token(
            storage_base.token('jti_4'), 'new-key',
            caller='user:u1')[0].jti)
        self.assertRaises(errors.IdempotencyKeyConflict, store.add_token,
                          storage_base.token('jti_5'), 'new-key',
                          caller='workspace:jti_x')

    def test_upgrade_from_version_4_keeps_tokens(self):
        # A database of the schema before grace periods: its tokens keep
        # their state, and a revoked one stays revoked.
        path = self.useFixture(fixtures.TempDir()).join('v4.db')
        with fixtures.MonkeyPatch('ntcli_authority.storage.schema.MIGRATIONS',
                                  store_schema.MIGRATIONS[:4]):
            store = open_store(path)
            store.create_workspace(Workspace('ws-1', 'alpha', base.START))
            self.assertEqual(4, store.schema_version())
            store.close()
        conn = sqlite3.connect(path)
        conn.executescript(
            "INSERT INTO tokens (jti, workspace_id, created_at, expires_at, "
            f"revoked_at, kid) VALUES ('jti_live', 'ws-1', {base.START}, "
            f"{base.START + 9}, NULL, 'k'), ('jti_dead', 'ws-1', "
            f"{base.START}, NULL, {base.START - 1}, 'k');")
        conn.close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual(['jti_live'], [
            r.jti for r in store.list_tokens('ws-1', now=base.START)])
        self.assertEqual(['jti_live'], [r.jti for r in
                                        store.list_expiring_tokens(
                                            base.START, base.START + 9, 5)])
        self.assertIn('tokens_by_expiry', [row[1] for row in schema(path)])
        self.assertEqual('revoked', store.get_token('jti_dead').status_at(
            base.START))
        self.assertIsNone(store.get_token('jti_live').retires_at)

    def test_reopening_changes_nothing(self):
        path = self.useFixture(fixtures.TempDir()).join('a.db')
        open_store(path).close()
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        rows = store.dialect._conn.execute(
            'SELECT COUNT(*) FROM schema_version').fetchone()[0]
        self.assertEqual(1, rows)

    def test_failed_migration_rolls_back(self):
        path = self.useFixture(fixtures.TempDir()).join('a.db')
        broken = store_schema.MIGRATIONS + [('CREATE TABLE extra (x INTEGER)',
                                    'THIS IS NOT SQL')]
        self.useFixture(fixtures.MonkeyPatch(
            'ntcli_authority.storage.schema.MIGRATIONS', broken))
        self.assertRaises(errors.StorageUnavailable, open_store, path)
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(len(broken) - 1, conn.execute(
            'SELECT version FROM schema_version').fetchone()[0])
        self.assertIsNone(conn.execute(
            "SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone())


class TestStore(storage_base.StoreTests, testtools.TestCase):
    """The store contract (tests/unit/ntcli_authority/storage/base.py) on
    SQLite."""

    integrity_error = sqlite3.IntegrityError
    schema_version = store_schema.SCHEMA_VERSION

    def open_store(self):
        if not hasattr(self, 'path'):
            self.path = self.useFixture(fixtures.TempDir()).join('a.db')
        return open_store(self.path)

    def test_one_primary_at_a_time(self):
        self.store.ensure_primary_signing_key(storage_base.signing_key('a'))
        self.store.add_primary_signing_key(storage_base.signing_key('b'))
        self.assertRaises(sqlite3.IntegrityError,
                          self.store.dialect._conn.execute,
                          "UPDATE signing_keys SET is_primary = 1")


# -- concurrency ------------------------------------------------------------

def _worker(path, workspace_id, shared_jtis, seed, barrier, results):
    """Issue 25 tokens and revoke 25 shared ones, in a random order."""
    from ntcli_authority.authority import Authority

    outcome = {'issued': [], 'first_revocations': [], 'errors': []}
    try:
        authority = Authority.open(path)
        rng = random.Random(seed)
        jobs = [('issue', None)] * 25 + [('revoke', j) for j in shared_jtis]
        rng.shuffle(jobs)
        barrier.wait(timeout=60)
        for kind, jti in jobs:
            if kind == 'issue':
                issued = authority.issue(OWNER, workspace_id, expires_in=3600)
                authority.validate(issued.token, workspace_id)
                outcome['issued'].append(issued.jti)
            else:
                if not authority.revoke(OWNER,
                                        workspace_id, jti).already_revoked:
                    outcome['first_revocations'].append(jti)
        authority.close()
    except Exception as exc:  # reported to the parent, which fails the test
        outcome['errors'].append(repr(exc))
    results.put(outcome)


def _opener(path, barrier, results):
    """Open a fresh database and issue at once, as four CLIs would."""
    from ntcli_authority.authority import Authority

    outcome = {'errors': [], 'kid': None}
    try:
        barrier.wait(timeout=60)
        authority = Authority.open(path)
        ws = None
        try:
            ws = authority.create_workspace(OWNER, 'default')
        except errors.WorkspaceExists:
            ws = authority.get_workspace(OWNER, 'default')
        outcome['kid'] = authority.issue(OWNER, ws.id).kid
        authority.close()
    except Exception as exc:
        outcome['errors'].append(repr(exc))
    results.put(outcome)


class TestConcurrency(testtools.TestCase):

    PROCESSES = 4

    def run_processes(self, target, args_for):
        ctx = multiprocessing.get_context('spawn')
        barrier = ctx.Barrier(self.PROCESSES)
        results = ctx.Queue()
        procs = [ctx.Process(target=target,
                             args=args_for(i) + (barrier, results))
                 for i in range(self.PROCESSES)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
            self.assertEqual(0, proc.exitcode)
        for outcome in outcomes:
            self.assertEqual([], outcome['errors'])
        return outcomes

    def test_issue_and_revoke_from_several_processes(self):
        fx = self.useFixture(base.AuthorityFixture())
        ws = fx.authority.create_workspace(OWNER, 'shared')
        shared = [fx.authority.issue(OWNER, ws.id).jti for _ in range(25)]
        outcomes = self.run_processes(
            _worker, lambda i: (fx.path, ws.id, shared, i))

        issued = [j for o in outcomes for j in o['issued']]
        self.assertEqual(self.PROCESSES * 25, len(set(issued)))
        firsts = [j for o in outcomes for j in o['first_revocations']]
        # Each shared token was revoked first by exactly one process.
        self.assertEqual(sorted(shared), sorted(firsts))
        fx.clock.now = fx.authority.now()
        listed = fx.authority.list_tokens(OWNER, ws.id, include_revoked=True,
                                          limit=1000).tokens
        self.assertEqual(len(shared) + len(issued), len(listed))
        status = {t.jti: t.status for t in listed}
        self.assertTrue(all(status[j] == 'revoked' for j in shared))
        self.assertTrue(all(status[j] == 'active' for j in issued))

    def test_fresh_database_opened_by_several_processes(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'data', 'authority.db')
        outcomes = self.run_processes(_opener, lambda i: (path,))
        self.assertEqual(1, len({o['kid'] for o in outcomes}))
        store = open_store(path)
        self.addCleanup(store.close)
        self.assertEqual(store_schema.SCHEMA_VERSION, store.schema_version())
        self.assertEqual(1, len(store.list_signing_keys()))
        self.assertEqual(1, len(store.list_workspaces()))
        self.assertEqual(self.PROCESSES, len(store.list_tokens(
            store.list_workspaces()[0].id, now=0, limit=100)))
