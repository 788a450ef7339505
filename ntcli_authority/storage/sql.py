"""The TokenStore on a SQL database: every query and migration written once.

What differs between SQLite and PostgreSQL is a :class:`Dialect`: how a
placeholder, a column type and a row lock are spelled, how a transaction
is run (and, on PostgreSQL, retried), and how schema and signing-key
changes are serialized across processes. Queries here use ``:name``
placeholders and SQL both databases run alike; upserts need SQLite 3.24.

Every method is one transaction. Correctness under concurrency comes from
the database's own guarantees, not from a strict isolation level:

* a revocation is one conditional ``UPDATE … WHERE revoked_at IS NULL``,
  so of two revocations of a token exactly one sets revoked_at;
* a JTI is a primary key, an idempotency key a (workspace, key) primary
  key claimed with ``INSERT … ON CONFLICT``: a second issue with the same
  key waits for the first and returns its token;
* a partial unique index allows one primary signing key, and key changes
  are serialized by the dialect's signing-key lock;
* issuing and revoking hold the workspace row (:attr:`Dialect.share_lock`),
  and deleting a workspace deletes that row before it revokes the
  workspace's tokens: the DELETE waits for every issue and revoke in
  flight there, and those that come later find the workspace gone (see
  delete_workspace for why it is the DELETE, not a FOR UPDATE lock).

On SQLite every write transaction holds the database's single write lock
from its start, which serializes all of the above anyway.
"""

from __future__ import annotations

import abc
import typing

from ntcli_authority import errors, trust
from ntcli_authority.models import (
    OUTCOME_UNCHANGED,
    AuditEvent,
    Identity,
    Session,
    SigningKey,
    TokenRecord,
    TrustPolicy,
    User,
    Workspace,
)
from ntcli_authority.storage import (
    ALL_OWNERS,
    Position,
    PrimaryKeyChanged,
    TokenStore,
)

if typing.TYPE_CHECKING:
    from ntcli_authority.storage.changes import ChangeFeed

T = typing.TypeVar('T')

# Each entry upgrades the schema by one version and runs in one
# transaction; its version numbers are those of ntcli 0.1.0's databases.
# Never edit a released entry: append a new one. ``{name}`` is a word of
# the dialect's DDL vocabulary (Dialect.ddl); JTIs and names sort
# byte-wise on every database (``{bytewise_text}``), whatever the locale.
MIGRATIONS: list[tuple[str, ...]] = [
    # 1: workspaces, tokens and signing keys.
    (
        """CREATE TABLE workspaces (
               id TEXT PRIMARY KEY,
               name {bytewise_text} NOT NULL UNIQUE,
               description TEXT,
               owner TEXT,
               created_at {timestamp} NOT NULL)""",
        """CREATE TABLE tokens (
               jti {bytewise_text} PRIMARY KEY,
               workspace_id TEXT NOT NULL,
               created_at {timestamp} NOT NULL,
               expires_at {timestamp},
               revoked_at {timestamp},
               description TEXT,
               kid TEXT NOT NULL)""",
        """CREATE INDEX tokens_by_workspace
               ON tokens (workspace_id, created_at, jti)""",
        """CREATE TABLE signing_keys (
               kid TEXT PRIMARY KEY,
               private_key TEXT,
               public_key TEXT NOT NULL,
               created_at {timestamp} NOT NULL,
               is_primary {flag} NOT NULL DEFAULT {false},
               retired_at {timestamp})""",
        # At most one primary key, whatever races happen.
        """CREATE UNIQUE INDEX signing_keys_one_primary
               ON signing_keys (is_primary) WHERE {is_primary}""",
    ),
    # 2: token scopes, users and idempotency keys.
    (
        """ALTER TABLE tokens
               ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace'""",
        "CREATE INDEX tokens_by_kid ON tokens (kid)",
        """CREATE TABLE users (
               id TEXT PRIMARY KEY,
               name {bytewise_text} NOT NULL UNIQUE,
               credential_hash TEXT NOT NULL UNIQUE,
               created_at {timestamp} NOT NULL)""",
        """CREATE TABLE idempotency_keys (
               workspace_id TEXT NOT NULL,
               idempotency_key TEXT NOT NULL,
               jti TEXT NOT NULL,
               created_at {timestamp} NOT NULL,
               PRIMARY KEY (workspace_id, idempotency_key))""",
        """CREATE INDEX idempotency_keys_by_age
               ON idempotency_keys (created_at)""",
    ),
    # 3: the audit trail. No column holds a token, credential or key.
    (
        """CREATE TABLE audit_events (
               id {serial_key},
               at {timestamp} NOT NULL,
               action TEXT NOT NULL,
               outcome TEXT NOT NULL,
               actor TEXT,
               workspace_id TEXT,
               target_jti TEXT,
               client TEXT,
               request_id TEXT,
               user_agent TEXT,
               detail TEXT)""",
        """CREATE INDEX audit_events_by_workspace
               ON audit_events (workspace_id, id)""",
        "CREATE INDEX audit_events_by_time ON audit_events (at)",
    ),
    # 4: trust policies (external issuers' tokens exchanged for workspace
    # tokens) and the subject tokens already exchanged, remembered by a
    # digest until they expire (never the token itself).
    (
        """CREATE TABLE trust_policies (
               id TEXT PRIMARY KEY,
               workspace_id TEXT NOT NULL,
               name {bytewise_text} NOT NULL,
               issuer TEXT NOT NULL,
               conditions TEXT NOT NULL,
               scope TEXT NOT NULL,
               max_lifetime INTEGER NOT NULL,
               created_at {timestamp} NOT NULL,
               created_by TEXT,
               description TEXT,
               UNIQUE (workspace_id, name))""",
        "CREATE INDEX trust_policies_by_issuer ON trust_policies (issuer)",
        """CREATE TABLE exchanged_subject_tokens (
               digest TEXT PRIMARY KEY,
               expires_at {timestamp} NOT NULL)""",
        """CREATE INDEX exchanged_subject_tokens_by_expiry
               ON exchanged_subject_tokens (expires_at)""",
    ),
    # 5: a revocation at a later time (a rotation's grace period: valid
    # until retires_at, refused from then on), and tokens found by expiry.
    # An older ntcli would ignore retires_at; it refuses a database of a
    # newer version.
    (
        "ALTER TABLE tokens ADD COLUMN retires_at {timestamp}",
        "CREATE INDEX tokens_by_expiry ON tokens (expires_at)",
    ),
    # 6: sign-in through an identity provider: the identities linked to
    # users and the sessions a sign-in opens (a hash of their secret only).
    (
        """CREATE TABLE identities (
               issuer TEXT NOT NULL,
               subject TEXT NOT NULL,
               user_id TEXT NOT NULL,
               created_at {timestamp} NOT NULL,
               email TEXT,
               last_sign_in_at {timestamp},
               PRIMARY KEY (issuer, subject))""",
        "CREATE INDEX identities_by_user ON identities (user_id)",
        """CREATE TABLE sessions (
               id TEXT PRIMARY KEY,
               user_id TEXT NOT NULL,
               issuer TEXT NOT NULL,
               subject TEXT NOT NULL,
               created_at {timestamp} NOT NULL,
               expires_at {timestamp} NOT NULL,
               revoked_at {timestamp},
               secret_hash TEXT NOT NULL UNIQUE)""",
        "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
    ),
    # 7: an idempotency key is bound to the caller that sent it (a
    # principal's identity, never a credential); keys stored before have
    # none and replay for nobody.
    (
        "ALTER TABLE idempotency_keys ADD COLUMN caller TEXT",
    ),
    # 8: the database itself signals every change of a token row, so that
    # the server's workers may keep the rows validation reads in memory
    # (see ntcli_authority.token_cache): a counter bumped by triggers on
    # SQLite, a NOTIFY on PostgreSQL (the dialect's statements).
    (
        "{token_change_signal}",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)

TOKEN_COLUMNS = ('jti, workspace_id, created_at, expires_at, kid, scope, '
                 'description, revoked_at, retires_at')
KEY_COLUMNS = ('kid, public_key, created_at, private_key, is_primary, '
               'retired_at')
WORKSPACE_COLUMNS = 'id, name, created_at, description, owner'
USER_COLUMNS = 'id, name, created_at, credential_hash'
EVENT_COLUMNS = ('at, action, outcome, actor, workspace_id, target_jti, '
                 'client, request_id, user_agent, detail')
IDEMPOTENCY_COLUMNS = ('workspace_id, idempotency_key, jti, created_at, '
                       'caller')
POLICY_COLUMNS = ('id, workspace_id, name, issuer, conditions, scope, '
                  'max_lifetime, created_at, created_by, description')
SUBJECT_COLUMNS = 'digest, expires_at'
IDENTITY_COLUMNS = ('issuer, subject, user_id, created_at, email, '
                    'last_sign_in_at')
SESSION_COLUMNS = ('id, user_id, issuer, subject, created_at, expires_at, '
                   'revoked_at, secret_hash')

#: What a copy of the database carries (:meth:`SQLTokenStore.dump`): each
#: table, its columns and the order its rows are read and written in
#: (audit events keep their order; their ids are the target's own).
COPIED_TABLES = (
    ('users', USER_COLUMNS, 'id'),
    ('workspaces', WORKSPACE_COLUMNS, 'id'),
    ('signing_keys', KEY_COLUMNS, 'created_at, kid'),
    ('tokens', TOKEN_COLUMNS, 'created_at, jti'),
    ('idempotency_keys', IDEMPOTENCY_COLUMNS,
     'workspace_id, idempotency_key'),
    ('audit_events', EVENT_COLUMNS, 'id'),
    ('trust_policies', POLICY_COLUMNS, 'id'),
    ('exchanged_subject_tokens', SUBJECT_COLUMNS, 'digest'),
    ('identities', IDENTITY_COLUMNS, 'issuer, subject'),
    ('sessions', SESSION_COLUMNS, 'id'),
)

#: Names of the dialect's cross-process locks (Dialect.lock).
MIGRATION_LOCK = 'migrations'
SIGNING_KEY_LOCK = 'signing keys'


#: A token not revoked at ``:now``: neither revoked nor past its grace.
NOT_REVOKED = ('(revoked_at IS NULL AND (retires_at IS NULL '
               'OR retires_at > :now))')

#: A valid token in its grace period at ``:now``.
RETIRING = ('revoked_at IS NULL AND retires_at > :now '
            'AND (expires_at IS NULL OR expires_at > :now)')


def _token(row: tuple) -> TokenRecord:
    return TokenRecord(*row)


def _signing_key(row: tuple) -> SigningKey:
    kid, public, created, private, primary, retired = row
    return SigningKey(kid=kid, public_key=public, created_at=created,
                      private_key=private, is_primary=bool(primary),
                      retired_at=retired)


def _policy(row: tuple) -> TrustPolicy:
    values = list(row)
    values[4] = trust.conditions_from_text(values[4])
    return TrustPolicy(*values)


def _token_params(record: TokenRecord) -> dict:
    return record.as_dict()


def _event(row: tuple) -> AuditEvent:
    """An AuditEvent from a row of ``id, EVENT_COLUMNS``."""
    return AuditEvent(*row[1:]).but(id=row[0])


def _record(tx: Transaction, event: AuditEvent | None) -> None:
    """Add ``event`` to the audit trail, in the transaction of the change
    it records."""
    if event is None:
        return
    params = event.as_dict()
    del params['id']
    tx.execute(f'INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES ('
               + ', '.join(f':{name}' for name in params) + ')', **params)


def _in_words(statement: str,
              ddl: typing.Mapping[str, str | tuple[str, ...]]
              ) -> tuple[str, ...]:
    """A migration statement in the dialect's words: ``{word}`` alone,
    where the word stands for statements of the dialect's own (a trigger),
    is those statements."""
    if statement.startswith('{') and statement.endswith('}'):
        own = ddl.get(statement[1:-1])
        if isinstance(own, tuple):
            return own
    return (statement.format(**ddl),)


def one_line(exc: BaseException) -> str:
    """A one-line reason from a driver error (neither driver puts a
    password in its messages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return '; '.join(lines) or type(exc).__name__


if typing.TYPE_CHECKING:
    # For type checkers only: creating a Protocol class costs about as
    # much as the rest of this module's import.
    class Cursor(typing.Protocol):
        """What a transaction needs of a DB-API cursor (or a sqlite3
        connection): ``execute`` returns an object with fetchone,
        fetchall and rowcount."""

        def execute(self, sql: str, params: typing.Any, /) -> typing.Any:
            ...

        def executemany(self, sql: str, params: typing.Any, /
                        ) -> typing.Any: ...


class Transaction:
    """The statements of one transaction, written with ``:name``
    placeholders and translated by the dialect."""

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(self, sql: str, **params: typing.Any) -> typing.Any:
        """Run one statement; return the driver's cursor."""
        return self._cursor.execute(self._dialect.sql(sql), params)

    def one(self, sql: str, **params: typing.Any) -> tuple | None:
        """The first row of a query, or None."""
        return self.execute(sql, **params).fetchone()

    def all(self, sql: str, **params: typing.Any) -> list[tuple]:
        """Every row of a query."""
        return self.execute(sql, **params).fetchall()

    def count(self, sql: str, **params: typing.Any) -> int:
        """Run a statement; return how many rows it changed."""
        return self.execute(sql, **params).rowcount

    def many(self, sql: str, rows: list[dict]) -> None:
        """Run one statement for each set of parameters."""
        self._cursor.executemany(self._dialect.sql(sql), rows)


class Dialect(abc.ABC):
    """How one kind of database is spoken to: SQL spelling, transactions
    and cross-process locks."""

    #: Where the database is, for messages: no password, ever.
    location: str
    #: Whether opening created the database (a new SQLite file).
    created: bool = False
    #: The driver's base exception, and its exception for a duplicate
    #: unique value.
    error: type[Exception]
    unique_violation: type[Exception]
    #: The clause that keeps a selected row from being deleted or its key
    #: changed until COMMIT (empty where a write transaction holds the
    #: whole database).
    share_lock: str
    #: The words MIGRATIONS use: timestamp, flag, false, is_primary (the
    #: primary-key index predicate), bytewise_text, serial_key (an integer
    #: primary key the database numbers, in insertion order), and
    #: token_change_signal: the statements that make the database signal
    #: each change of a token row (see :meth:`token_changes`).
    ddl: typing.Mapping[str, str | tuple[str, ...]]
    #: Whether text may hold NUL (SQLite's may, PostgreSQL's may not).
    holds_nul: bool = True
    #: What refreshes the query planner's statistics of the tokens table
    #: after a bulk import, or '' where the planner needs none.
    analyze_tokens: str = ''

    def sql(self, statement: str) -> str:
        """``statement`` with this driver's placeholders."""
        return statement

    @abc.abstractmethod
    def transaction(self, work: typing.Callable[[Transaction], T], *,
                    write: bool) -> T:
        """Run ``work`` in one transaction and commit; roll back on any
        exception. Driver errors are raised as StorageUnavailable, except
        integrity errors (a duplicate key), which callers handle."""

    @abc.abstractmethod
    def statement(self, work: typing.Callable[[Transaction], T]) -> T:
        """Run ``work``, a read of exactly one statement, as a transaction
        of its own: without BEGIN and COMMIT, which are two more statements
        (on PostgreSQL two more round trips) for nothing, since a single
        statement reads one snapshot, committed changes up to its start.
        Driver errors are raised as StorageUnavailable."""

    @abc.abstractmethod
    def lock(self, tx: Transaction, name: str, *,
             shared: bool = False) -> None:
        """Hold the cross-process lock ``name`` until ``tx`` ends
        (``shared``: along with other shared holders, not an exclusive
        one)."""

    @abc.abstractmethod
    def token_changes(self) -> ChangeFeed:
        """What tells this process whether token rows it read may have
        changed since (made on first call, closed with the dialect)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""


class SQLTokenStore(TokenStore):
    """A TokenStore on the database a dialect speaks to."""

    def __init__(self, dialect: Dialect) -> None:
        """Use ``dialect``'s database, migrating its schema if needed;
        the store owns the dialect (and closes it)."""
        self.dialect = dialect
        self.created = dialect.created
        try:
            self._migrate()
        except BaseException:
            dialect.close()
            raise

    def _read(self, work: typing.Callable[[Transaction], T]) -> T:
        """A read of several statements, in one transaction."""
        return self.dialect.transaction(work, write=False)

    def _query(self, work: typing.Callable[[Transaction], T]) -> T:
        """A read of one statement (see Dialect.statement)."""
        return self.dialect.statement(work)

    def _write(self, work: typing.Callable[[Transaction], T]) -> T:
        return self.dialect.transaction(work, write=True)

    # -- schema -----------------------------------------------------------
    @staticmethod
    def _current_version(tx: Transaction) -> int:
        row = tx.one('SELECT version FROM schema_version')
        return row[0] if row else 0

    def _migrate(self) -> None:
        location = self.dialect.location
        try:
            # The common case, a schema up to date, in one read: no write
            # lock, so opening the store never waits for a writer (a token
            # show opened the CLI's database with five statements under the
            # write lock). A migration commits its version with its DDL.
            if self._query(self._current_version) == len(MIGRATIONS):
                return
        except errors.StorageUnavailable:
            pass   # no schema yet, or a failure the locked path reports

        def prepare(tx: Transaction) -> int:
            # Waits for a process migrating right now.
            self.dialect.lock(tx, MIGRATION_LOCK)
            tx.execute('CREATE TABLE IF NOT EXISTS schema_version '
                       '(version INTEGER NOT NULL)')
            tx.execute('INSERT INTO schema_version (version) SELECT 0 '
                       'WHERE NOT EXISTS (SELECT 1 FROM schema_version)')
            return self._current_version(tx)

        current = self._write(prepare)
        # Read at call time (not SCHEMA_VERSION): tests append a migration.
        latest = len(MIGRATIONS)
        if current > latest:
            raise errors.StorageUnavailable(
                f'The token database {location} has schema version '
                f'{current}, newer than this ntcli supports ({latest}); '
                'upgrade ntcli')
        for target, statements in enumerate(MIGRATIONS, start=1):
            if current >= target:
                continue

            def apply(tx: Transaction, target: int = target,
                      statements: tuple[str, ...] = statements) -> None:
                self.dialect.lock(tx, MIGRATION_LOCK)
                # Re-read under the lock: another process may have
                # applied this migration meanwhile.
                if self._current_version(tx) >= target:
                    return
                for statement in statements:
                    for sql in _in_words(statement, self.dialect.ddl):
                        tx.execute(sql)
                tx.execute('UPDATE schema_version SET version = :target',
                           target=target)

            try:
                self._write(apply)
            except (errors.StorageUnavailable, self.dialect.error) as exc:
                raise errors.StorageUnavailable(
                    f'Migrating the token database {location} to schema '
                    f'version {target} failed: {one_line(exc)}') from None

    def schema_version(self) -> int:
        return self._query(self._current_version)

    def close(self) -> None:
        self.dialect.close()

    # -- signing keys -----------------------------------------------------
    def _select_key(self, where: str, **params: typing.Any
                    ) -> SigningKey | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {KEY_COLUMNS} FROM signing_keys WHERE {where}',
            **params))
        return _signing_key(row) if row else None

    def get_signing_key(self, kid: str) -> SigningKey | None:
        return self._select_key('kid = :kid', kid=kid)

    def get_primary_signing_key(self) -> SigningKey | None:
        return self._select_key('is_primary')

    def list_signing_keys(self) -> list[SigningKey]:
        rows = self._query(lambda tx: tx.all(
            f'SELECT {KEY_COLUMNS} FROM signing_keys '
            'ORDER BY created_at, kid'))
        return [_signing_key(row) for row in rows]

    @staticmethod
    def _insert_primary(tx: Transaction, key: SigningKey,
                        if_none: bool = False) -> bool:
        """Store ``key`` as primary (``if_none``: unless a primary exists);
        return whether it was stored."""
        return tx.count(
            'INSERT INTO signing_keys (kid, public_key, created_at, '
            'private_key, is_primary, retired_at) '
            'VALUES (:kid, :public, :created, :private, :yes, NULL)'
            + (' ON CONFLICT DO NOTHING' if if_none else ''),
            kid=key.kid, public=key.public_key, created=key.created_at,
            private=key.private_key, yes=True) == 1

    def ensure_primary_signing_key(self, candidate: SigningKey,
                                   audit: AuditEvent | None = None
                                   ) -> SigningKey:
        def work(tx: Transaction) -> SigningKey:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            select = f'SELECT {KEY_COLUMNS} FROM signing_keys WHERE is_primary'
            row = tx.one(select)
            if row:
                return _signing_key(row)
            # ON CONFLICT: safe even against a writer that skips the lock.
            if self._insert_primary(tx, candidate, if_none=True):
                _record(tx, audit)
                return candidate.but(is_primary=True)
            row = tx.one(select)
            if row is None:
                raise errors.StorageUnavailable(
                    'No primary signing key could be stored')
            return _signing_key(row)
        return self._write(work)

    def add_primary_signing_key(self, key: SigningKey,
                                audit: AuditEvent | None = None) -> None:
        def work(tx: Transaction) -> None:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            tx.execute('UPDATE signing_keys SET is_primary = :no '
                       'WHERE is_primary', no=False)
            self._insert_primary(tx, key)
            _record(tx, audit)
        self._write(work)

    def retire_unused_signing_keys(self, now: int,
                                   audit: AuditEvent | None = None
                                   ) -> list[str]:
        def work(tx: Transaction) -> list[str]:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            kids = [row[0] for row in tx.all(
                'SELECT kid FROM signing_keys k WHERE NOT is_primary '
                'AND private_key IS NOT NULL AND NOT EXISTS ('
                ' SELECT 1 FROM tokens t WHERE t.kid = k.kid'
                ' AND t.revoked_at IS NULL'
                ' AND (t.retires_at IS NULL OR t.retires_at > :now)'
                ' AND (t.expires_at IS NULL OR t.expires_at > :now)) '
                'ORDER BY kid', now=now)]
            for kid in kids:
                tx.execute('UPDATE signing_keys SET private_key = NULL, '
                           'retired_at = :now WHERE kid = :kid',
                           now=now, kid=kid)
                if audit is not None:
                    _record(tx, audit.but(detail=kid))
            return kids
        return self._write(work)

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, workspace: Workspace,
                         audit: AuditEvent | None = None) -> None:
        self._insert_new(
            f'INSERT INTO workspaces ({WORKSPACE_COLUMNS}) '
            'VALUES (:id, :name, :created_at, :description, :owner)',
            workspace.as_dict(), errors.WorkspaceExists(
                f"A workspace named '{workspace.name}' already exists",
                {'workspace_name': workspace.name}), audit)

    def _insert_new(self, statement: str, row: dict,
                    taken: errors.AuthorityError,
                    audit: AuditEvent | None) -> None:
        """Insert ``row`` and record ``audit``; raise ``taken`` when a
        unique value is taken."""
        def work(tx: Transaction) -> None:
            tx.execute(statement, **row)
            _record(tx, audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            raise taken from None

    def _select_workspace(self, column: str,
                          value: str) -> Workspace | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {WORKSPACE_COLUMNS} FROM workspaces '
            f'WHERE {column} = :value', value=value))
        return Workspace(*row) if row else None

    def get_workspace(self, workspace_id: str) -> Workspace | None:
        return self._select_workspace('id', workspace_id)

    def get_workspace_by_name(self, name: str) -> Workspace | None:
        return self._select_workspace('name', name)

    def list_workspaces(self, owner: object = ALL_OWNERS) -> list[Workspace]:
        query = f'SELECT {WORKSPACE_COLUMNS} FROM workspaces'
        params = {}
        if owner is None:
            query += ' WHERE owner IS NULL'
        elif owner is not ALL_OWNERS:
            query += ' WHERE owner = :owner'
            params['owner'] = owner
        rows = self._query(lambda tx: tx.all(query + ' ORDER BY name',
                                            **params))
        return [Workspace(*row) for row in rows]

    def _hold_workspace(self, tx: Transaction, workspace_id: str) -> None:
        """Keep the workspace row from being deleted until COMMIT (raise
        WorkspaceNotFound)."""
        if not tx.one('SELECT 1 FROM workspaces WHERE id = :id'
                      + self.dialect.share_lock, id=workspace_id):
            raise errors.WorkspaceNotFound(
                details={'workspace_id': workspace_id})

    def delete_workspace(self, workspace_id: str, now: int,
                         audit: AuditEvent | None = None) -> int:
        def work(tx: Transaction) -> int:
            # The DELETE comes first: it waits for every issue and revoke
            # holding the workspace row (KEY SHARE); those that come later
            # wait for this transaction and then find the row gone. Only
            # then are the tokens revoked, by a statement whose snapshot
            # sees every token those issues committed.
            #
            # Not 'SELECT ... FOR UPDATE' first, as this once did:
            # PostgreSQL (seen on 15.18) can grant FOR KEY SHARE to an
            # issue that read the row while other issues held it, just as
            # a waiting FOR UPDATE takes it, and both then hold the row:
            # heap_lock_tuple's KEY SHARE fast path re-checks for an
            # update or delete, not for a new FOR UPDATE lock. That issue
            # inserted its token after the revoking UPDATE below, leaving
            # it live in a deleted workspace. A DELETE is what the
            # re-check does catch, as foreign keys rely on.
            if tx.count('DELETE FROM workspaces WHERE id = :ws',
                        ws=workspace_id) != 1:
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
            revoked = tx.count(
                'UPDATE tokens SET revoked_at = :now '
                f'WHERE workspace_id = :ws AND {NOT_REVOKED}',
                now=now, ws=workspace_id)
            tx.execute('DELETE FROM idempotency_keys WHERE workspace_id = :ws',
                       ws=workspace_id)
            tx.execute('DELETE FROM trust_policies WHERE workspace_id = :ws',
                       ws=workspace_id)
            if audit is not None:
                _record(tx, audit.but(detail=f'tokens_revoked={revoked}'))
            return revoked
        return self._write(work)

    # -- tokens -----------------------------------------------------------
    _INSERT_TOKEN = (
        f'INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (:jti, :workspace_id, '
        ':created_at, :expires_at, :kid, :scope, :description, :revoked_at, '
        ':retires_at)')

    def add_token(self, record: TokenRecord,
                  idempotency_key: str | None = None, *,
                  idempotency_since: int = 0, caller: str | None = None,
                  audit: AuditEvent | None = None
                  ) -> tuple[TokenRecord, bool]:
        def work(tx: Transaction) -> tuple[TokenRecord, bool]:
            self._hold_workspace(tx, record.workspace_id)
            if idempotency_key is not None:
                replayed = self._claim_idempotency_key(
                    tx, record, idempotency_key, idempotency_since, caller)
                if replayed is not None:
                    return replayed, True
            self._hold_primary(tx, record.kid)
            tx.execute(self._INSERT_TOKEN, **_token_params(record))
            _record(tx, audit)
            return record, False
        return self._write(work)

    def _hold_primary(self, tx: Transaction, kid: str) -> None:
        """Hold the signing keys (shared: issues do not wait for each
        other) until COMMIT, and make sure ``kid`` is still the primary:
        a rotation or retirement waits for this issue, and an issue that
        comes after one never stores a token of the key it replaced.
        Raises PrimaryKeyChanged."""
        self.dialect.lock(tx, SIGNING_KEY_LOCK, shared=True)
        primary = tx.one('SELECT kid FROM signing_keys WHERE {is_primary}'
                         .format(**self.dialect.ddl))
        # (No primary at all: a store used without an authority.)
        if primary is not None and primary[0] != kid:
            raise PrimaryKeyChanged(kid)

    @staticmethod
    def _claim_idempotency_key(tx: Transaction, record: TokenRecord,
                               key: str, since: int,
                               caller: str | None) -> TokenRecord | None:
        """Make ``key`` name ``record`` for ``caller`` unless it names a
        token stored at or after ``since``; return that token, or None when
        claimed. A key of another caller raises IdempotencyKeyConflict.

        One statement decides: a new key is inserted, a stale one taken
        over, a fresh one left alone. An issue with the same key in
        another transaction holds the row until it commits; this one
        waits and then sees its token.
        """
        params = {'ws': record.workspace_id, 'key': key, 'jti': record.jti,
                  'created': record.created_at, 'since': since,
                  'caller': caller}
        claimed = tx.count(
            'INSERT INTO idempotency_keys (workspace_id, idempotency_key, '
            'jti, created_at, caller) VALUES (:ws, :key, :jti, :created, '
            ':caller) ON CONFLICT (workspace_id, idempotency_key) DO UPDATE '
            'SET jti = excluded.jti, created_at = excluded.created_at, '
            'caller = excluded.caller '
            'WHERE idempotency_keys.created_at < :since', **params)
        if claimed:
            return None
        bound = tx.one('SELECT jti, caller FROM idempotency_keys '
                       'WHERE workspace_id = :ws AND idempotency_key = :key',
                       **params)
        if bound is not None and bound[1] != caller:
            raise errors.IdempotencyKeyConflict(
                'This idempotency key names a request of another caller; '
                'use a key of your own', {'field': 'idempotency_key'})
        row = tx.one(f'SELECT {TOKEN_COLUMNS} FROM tokens WHERE jti = :jti',
                     jti=bound[0] if bound else None)
        if row:
            return _token(row)
        # The key names a token that is gone: claim it for this one.
        tx.execute('UPDATE idempotency_keys SET jti = :jti, '
                   'created_at = :created, caller = :caller '
                   'WHERE workspace_id = :ws AND idempotency_key = :key',
                   **params)
        return None

    def add_tokens(self, records: typing.Iterable[TokenRecord]) -> int:
        rows = [_token_params(record) for record in records]

        def work(tx: Transaction) -> None:
            tx.many(self._INSERT_TOKEN, rows)
            if self.dialect.analyze_tokens:
                tx.execute(self.dialect.analyze_tokens)

        self._write(work)
        return len(rows)

    def token_changes(self) -> ChangeFeed:
        """What says whether token rows read before may have changed (see
        Dialect.token_changes)."""
        return self.dialect.token_changes()

    def get_token(self, jti: str) -> TokenRecord | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {TOKEN_COLUMNS} FROM tokens WHERE jti = :jti', jti=jti))
        return _token(row) if row else None

    def list_tokens(self, workspace_id: str, *, now: int,
                    include_expired: bool = False,
                    include_revoked: bool = False,
                    after: Position | None = None,
                    limit: int = 100) -> list[TokenRecord]:
        # Active tokens always, expired and revoked ones on request.
        # (a retiring token, within its grace period, is still active)
        wanted = [f'({NOT_REVOKED} AND (expires_at IS NULL '
                  'OR expires_at > :now))']
        if include_expired:
            wanted.append(f'({NOT_REVOKED} AND expires_at <= :now)')
        if include_revoked:
            wanted.append('(revoked_at IS NOT NULL OR retires_at <= :now)')
        query = (f'SELECT {TOKEN_COLUMNS} FROM tokens '
                 f'WHERE workspace_id = :ws AND ({" OR ".join(wanted)})')
        params: dict = {'ws': workspace_id, 'now': now, 'limit': limit}
        if after is not None:
            # Keyset pagination: constant cost per page, stable under
            # concurrent inserts and revocations.
            query += ' AND (created_at, jti) > (:after_created, :after_jti)'
            params['after_created'], params['after_jti'] = after
        query += ' ORDER BY created_at, jti LIMIT :limit'
        rows = self._query(lambda tx: tx.all(query, **params))
        return [_token(row) for row in rows]

    def revoke_token(self, workspace_id: str, jti: str, now: int,
                     audit: AuditEvent | None = None, *,
                     at: int | None = None) -> tuple[TokenRecord, bool]:
        def work(tx: Transaction) -> tuple[TokenRecord, bool]:
            self._hold_workspace(tx, workspace_id)
            # One conditional UPDATE: of concurrent revokes exactly one
            # matches; the others wait for it, then match nothing. Ending a
            # grace period early is a change; postponing it is not made.
            if at is None or at <= now:
                changed = tx.count(
                    'UPDATE tokens SET revoked_at = :now WHERE jti = :jti '
                    f'AND workspace_id = :ws AND {NOT_REVOKED}',
                    now=now, jti=jti, ws=workspace_id)
            else:
                changed = tx.count(
                    'UPDATE tokens SET retires_at = :at WHERE jti = :jti '
                    'AND workspace_id = :ws AND revoked_at IS NULL '
                    'AND (retires_at IS NULL OR retires_at > :at)',
                    at=at, jti=jti, ws=workspace_id)
            row = tx.one(f'SELECT {TOKEN_COLUMNS} FROM tokens '
                         'WHERE jti = :jti AND workspace_id = :ws',
                         jti=jti, ws=workspace_id)
            if row is None:
                raise errors.TokenNotFound(
                    f"Token with JTI '{jti}' not found", {'jti': jti})
            if audit is not None:
                _record(tx, audit if changed == 1
                        else audit.but(outcome=OUTCOME_UNCHANGED))
            return _token(row), changed != 1
        return self._write(work)

    def list_expiring_tokens(self, now: int, until: int,
                             limit: int) -> list[TokenRecord]:
        rows = self._query(lambda tx: tx.all(
            f'SELECT {TOKEN_COLUMNS} FROM tokens '
            f'WHERE expires_at > :now AND expires_at <= :until '
            f'AND {NOT_REVOKED} ORDER BY expires_at, jti LIMIT :limit',
            now=now, until=until, limit=limit))
        return [_token(row) for row in rows]

    def count_expiring_tokens(self, now: int,
                              windows: typing.Sequence[int]
                              ) -> tuple[dict[int, int], int]:
        windows = sorted(set(windows))
        if not windows:
            retiring = self._query(lambda tx: tx.one(
                f'SELECT COUNT(*) FROM tokens WHERE {RETIRING}',
                now=now))
            return {}, retiring[0] if retiring else 0
        # One statement, one snapshot: a scrape sees consistent numbers.
        params: dict[str, int] = {'now': now}
        sums = []
        for i, window in enumerate(windows):
            params[f'w{i}'] = now + window
            sums.append(f'COALESCE(SUM(CASE WHEN expires_at <= :w{i} '
                        'THEN 1 ELSE 0 END), 0)')
        params['widest'] = now + windows[-1]
        query = (
            'SELECT ' + ', '.join(sums) + ', (SELECT COUNT(*) FROM tokens '
            f'WHERE {RETIRING}) FROM tokens WHERE expires_at > :now '
            f'AND expires_at <= :widest AND {NOT_REVOKED}')
        row = self._query(lambda tx: tx.one(query, **params))
        assert row is not None, 'an aggregate returns one row'
        counts = {w: int(row[i]) for i, w in enumerate(windows)}
        return counts, int(row[-1])

    def purge_idempotency_keys(self, before: int) -> int:
        return self._write(lambda tx: tx.count(
            'DELETE FROM idempotency_keys WHERE created_at < :before',
            before=before))

    # -- trust policies ---------------------------------------------------
    def add_trust_policy(self, policy: TrustPolicy,
                         audit: AuditEvent | None = None) -> None:
        row = policy.as_dict()
        row['conditions'] = trust.conditions_to_text(policy.conditions)
        taken = errors.TrustPolicyExists(
            f"A trust policy named '{policy.name}' already exists in this "
            'workspace', {'name': policy.name})

        def work(tx: Transaction) -> None:
            self._hold_workspace(tx, policy.workspace_id)
            tx.execute(f'INSERT INTO trust_policies ({POLICY_COLUMNS}) '
                       'VALUES (' + ', '.join(f':{name}' for name in row)
                       + ')', **row)
            _record(tx, audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            raise taken from None

    def list_trust_policies(self, *, workspace_id: str | None = None,
                            issuer: str | None = None
                            ) -> list[TrustPolicy]:
        where, params = [], {}
        if workspace_id is not None:
            where.append('workspace_id = :ws')
            params['ws'] = workspace_id
        if issuer is not None:
            where.append('issuer = :issuer')
            params['issuer'] = issuer
        query = (f'SELECT {POLICY_COLUMNS} FROM trust_policies'
                 + (' WHERE ' + ' AND '.join(where) if where else '')
                 + ' ORDER BY workspace_id, name')
        rows = self._query(lambda tx: tx.all(query, **params))
        return [_policy(row) for row in rows]

    def delete_trust_policy(self, workspace_id: str, policy_id: str,
                            audit: AuditEvent | None = None
                            ) -> TrustPolicy:
        def work(tx: Transaction) -> TrustPolicy:
            row = tx.one(f'SELECT {POLICY_COLUMNS} FROM trust_policies '
                         'WHERE id = :id AND workspace_id = :ws',
                         id=policy_id, ws=workspace_id)
            if row is None:
                raise errors.TrustPolicyNotFound(
                    f"Trust policy '{policy_id}' not found",
                    {'policy': policy_id})
            tx.execute('DELETE FROM trust_policies WHERE id = :id',
                       id=policy_id)
            _record(tx, audit)
            return _policy(row)
        return self._write(work)

    def add_exchanged_token(self, record: TokenRecord, policy_id: str,
                            digest: str, digest_expires_at: int, now: int,
                            audit: AuditEvent | None = None) -> None:
        def work(tx: Transaction) -> None:
            self._hold_workspace(tx, record.workspace_id)
            # The policy must still be there: one removed since it was
            # matched allows nothing. Held, so that its DELETE waits.
            if not tx.one('SELECT 1 FROM trust_policies WHERE id = :id '
                          'AND workspace_id = :ws' + self.dialect.share_lock,
                          id=policy_id, ws=record.workspace_id):
                raise errors.NoMatchingPolicy(
                    'The trust policy that matched this token was removed',
                    {'policy': policy_id})
            # What no exchange can use again has no need to be remembered.
            tx.execute('DELETE FROM exchanged_subject_tokens '
                       'WHERE expires_at < :now', now=now)
            if not tx.count(
                    'INSERT INTO exchanged_subject_tokens (digest, '
                    'expires_at) VALUES (:digest, :exp) '
                    'ON CONFLICT (digest) DO NOTHING',
                    digest=digest, exp=digest_expires_at):
                raise errors.SubjectTokenRejected(
                    'This subject token was already exchanged: each may be '
                    'used once', {'reason': 'replayed'})
            self._hold_primary(tx, record.kid)
            tx.execute(self._INSERT_TOKEN, **_token_params(record))
            _record(tx, audit)
        self._write(work)

    # -- users ------------------------------------------------------------
    def create_user(self, user: User,
                    audit: AuditEvent | None = None) -> None:
        self._insert_new(
            f'INSERT INTO users ({USER_COLUMNS}) '
            'VALUES (:id, :name, :created_at, :credential_hash)',
            user.as_dict(), errors.UserExists(
                f"A user named '{user.name}' already exists",
                {'user_name': user.name}), audit)

    def _one_user(self, column: str, value: str) -> User | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {USER_COLUMNS} FROM users WHERE {column} = :value',
            value=value))
        return User(*row) if row else None

    def get_user(self, user_id: str) -> User | None:
        return self._one_user('id', user_id)

    def get_user_by_name(self, name: str) -> User | None:
        return self._one_user('name', name)

    def get_user_by_credential_hash(self, credential_hash: str
                                    ) -> User | None:
        return self._one_user('credential_hash', credential_hash)

    def list_users(self) -> list[User]:
        rows = self._query(lambda tx: tx.all(
            f'SELECT {USER_COLUMNS} FROM users ORDER BY name'))
        return [User(*row) for row in rows]

    def create_user_with_identity(self, user: User, identity: Identity,
                                  audit: AuditEvent | None = None,
                                  link_audit: AuditEvent | None = None
                                  ) -> None:
        def work(tx: Transaction) -> None:
            tx.execute(f'INSERT INTO users ({USER_COLUMNS}) '
                       'VALUES (:id, :name, :created_at, :credential_hash)',
                       **user.as_dict())
            _record(tx, audit)
            self._insert_identity(tx, identity, link_audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            # the name, or the identity another sign-in linked meanwhile
            raise errors.UserExists(
                f"A user named '{user.name}' or this identity already "
                'exists', {'user_name': user.name}) from None

    # -- identities and sessions -----------------------------------------
    @staticmethod
    def _insert_identity(tx: Transaction, identity: Identity,
                         audit: AuditEvent | None) -> None:
        tx.execute(f'INSERT INTO identities ({IDENTITY_COLUMNS}) VALUES ('
                   ':issuer, :subject, :user_id, :created_at, :email, '
                   ':last_sign_in_at)', **identity.as_dict())
        _record(tx, audit)

    def add_identity(self, identity: Identity,
                     audit: AuditEvent | None = None) -> None:
        def work(tx: Transaction) -> None:
            if tx.one('SELECT id FROM users WHERE id = :id',
                      id=identity.user_id) is None:
                raise errors.UserNotFound(
                    details={'user_id': identity.user_id})
            self._insert_identity(tx, identity, audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            raise errors.IdentityExists(details={
                'issuer': identity.issuer,
                'subject': identity.subject}) from None

    def get_identity(self, issuer: str, subject: str) -> Identity | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {IDENTITY_COLUMNS} FROM identities '
            'WHERE issuer = :issuer AND subject = :subject',
            issuer=issuer, subject=subject))
        return Identity(*row) if row else None

    def list_identities(self, user_id: str | None = None) -> list[Identity]:
        where = ' WHERE user_id = :user_id' if user_id is not None else ''
        rows = self._query(lambda tx: tx.all(
            f'SELECT {IDENTITY_COLUMNS} FROM identities{where} '
            'ORDER BY issuer, subject', user_id=user_id))
        return [Identity(*row) for row in rows]

    def remove_identity(self, issuer: str, subject: str,
                        audit: AuditEvent | None = None) -> bool:
        def work(tx: Transaction) -> bool:
            removed = tx.count(
                'DELETE FROM identities WHERE issuer = :issuer '
                'AND subject = :subject', issuer=issuer, subject=subject)
            if removed:
                _record(tx, audit)
            return removed == 1
        return self._write(work)

    def add_session(self, session: Session, email: str | None,
                    audit: AuditEvent | None = None) -> None:
        def work(tx: Transaction) -> None:
            tx.execute(f'INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ('
                       ':id, :user_id, :issuer, :subject, :created_at, '
                       ':expires_at, :revoked_at, :secret_hash)',
                       **session.as_dict())
            tx.execute('UPDATE identities SET last_sign_in_at = :now, '
                       'email = :email WHERE issuer = :issuer '
                       'AND subject = :subject', now=session.created_at,
                       email=email, issuer=session.issuer,
                       subject=session.subject)
            _record(tx, audit)
        self._write(work)

    def get_session_by_hash(self, secret_hash: str) -> Session | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {SESSION_COLUMNS} FROM sessions '
            'WHERE secret_hash = :secret_hash', secret_hash=secret_hash))
        return Session(*row) if row else None

    def revoke_session(self, session_id: str, now: int,
                       audit: AuditEvent | None = None) -> bool:
        def work(tx: Transaction) -> bool:
            changed = tx.count(
                'UPDATE sessions SET revoked_at = :now WHERE id = :id '
                'AND revoked_at IS NULL', now=now, id=session_id)
            if changed:
                _record(tx, audit)
            return changed == 1
        return self._write(work)

    def revoke_user_sessions(self, user_id: str, now: int) -> int:
        return self._write(lambda tx: tx.count(
            'UPDATE sessions SET revoked_at = :now WHERE user_id = :user_id '
            'AND revoked_at IS NULL AND expires_at > :now', now=now,
            user_id=user_id))

    def purge_sessions(self, before: int) -> int:
        return self._write(lambda tx: tx.count(
            'DELETE FROM sessions WHERE expires_at < :before',
            before=before))

    # -- the audit trail --------------------------------------------------
    def record_event(self, event: AuditEvent) -> None:
        self._write(lambda tx: _record(tx, event))

    def list_events(self, *, workspace_id: str | None = None,
                    since: int | None = None,
                    actions: typing.Collection[str] = (),
                    after_id: int | None = None,
                    limit: int = 100) -> list[AuditEvent]:
        where: list[str] = []
        params: dict[str, object] = {'limit': limit}
        if workspace_id is not None:
            where.append('workspace_id = :ws')
            params['ws'] = workspace_id
        if since is not None:
            where.append('at >= :since')
            params['since'] = since
        if actions:
            names = [f'action{i}' for i in range(len(actions))]
            where.append(f'action IN ({", ".join(":" + n for n in names)})')
            params.update(zip(names, actions, strict=True))
        if after_id is not None:
            where.append('id > :after')
            params['after'] = after_id
        query = (f'SELECT id, {EVENT_COLUMNS} FROM audit_events'
                 + (' WHERE ' + ' AND '.join(where) if where else '')
                 + ' ORDER BY id LIMIT :limit')
        rows = self._query(lambda tx: tx.all(query, **params))
        return [_event(row) for row in rows]

    def purge_events(self, before: int, limit: int) -> int:
        # A bounded batch: a short write lock, however old the trail.
        return self._write(lambda tx: tx.count(
            'DELETE FROM audit_events WHERE id IN ('
            ' SELECT id FROM audit_events WHERE at < :before'
            ' ORDER BY id LIMIT :limit)', before=before, limit=limit))

    # -- copying a database -----------------------------------------------
    def dump(self) -> dict[str, list[dict]]:
        """Every row of every table of COPIED_TABLES, read in one
        transaction (a consistent snapshot)."""
        def work(tx: Transaction) -> dict[str, list[dict]]:
            tables = {}
            for table, columns, order in COPIED_TABLES:
                names = columns.split(', ')
                tables[table] = [
                    dict(zip(names, row, strict=True)) for row in tx.all(
                        f'SELECT {columns} FROM {table} ORDER BY {order}')]
            for row in tables['signing_keys']:
                row['is_primary'] = bool(row['is_primary'])
            return tables
        return self._read(work)

    def load(self, tables: typing.Mapping[str, list[dict]], *,
             replace: bool = False) -> None:
        """Write rows of :meth:`dump` in one transaction. Raises
        DatabaseNotEmpty when this database holds anything, unless
        ``replace``: then everything in it is deleted first."""
        def work(tx: Transaction) -> None:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            held = self._counts(tx)
            if any(held.values()):
                if not replace:
                    raise errors.DatabaseNotEmpty(details=held)
                for table, _, _ in reversed(COPIED_TABLES):
                    tx.execute(f'DELETE FROM {table}')
            for table, columns, _ in COPIED_TABLES:
                rows = tables.get(table) or []
                if rows:
                    names = columns.split(', ')
                    tx.many(f'INSERT INTO {table} ({columns}) VALUES ('
                            + ', '.join(f':{n}' for n in names) + ')',
                            [{n: row[n] for n in names} for row in rows])
        self._write(work)

    def row_counts(self) -> dict[str, int]:
        """How many rows each table of COPIED_TABLES holds."""
        return self._read(self._counts)

    @staticmethod
    def _counts(tx: Transaction) -> dict[str, int]:
        return {table: tx.all(f'SELECT COUNT(*) FROM {table}')[0][0]
                for table, _, _ in COPIED_TABLES}
