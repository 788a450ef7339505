"""The store's tables: their migrations, their columns, and the upgrade.

The schema is one history of migrations, the same on SQLite and
PostgreSQL; a database records the version it is at, and opening a store
upgrades it (:func:`migrate`), one migration per transaction, serialized
across processes by the dialect's migration lock.
"""

from __future__ import annotations

import typing

from ntcli_authority import errors
from ntcli_authority.storage.dialect import (
    MIGRATION_LOCK,
    Dialect,
    Transaction,
    one_line,
)

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
    # 9: each token's digest, an HMAC of the token under a key derived from
    # its signing key (see ntcli_authority.signing): validation compares
    # it instead of verifying the signature. Tokens issued before have
    # none and are checked by their signature.
    (
        "ALTER TABLE tokens ADD COLUMN digest TEXT",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)

TOKEN_COLUMNS = ('jti, workspace_id, created_at, expires_at, kid, scope, '
                 'description, revoked_at, retires_at, digest')
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


#: A token not revoked at ``:now``: neither revoked nor past its grace.
NOT_REVOKED = ('(revoked_at IS NULL AND (retires_at IS NULL '
               'OR retires_at > :now))')

#: A valid token in its grace period at ``:now``.
RETIRING = ('revoked_at IS NULL AND retires_at > :now '
            'AND (expires_at IS NULL OR expires_at > :now)')


def current_version(tx: Transaction) -> int:
    """The schema version of the database (0: none yet)."""
    row = tx.one('SELECT version FROM schema_version')
    return row[0] if row else 0


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


def migrate(dialect: Dialect) -> None:
    """Bring the database of ``dialect`` to the latest schema version.
    Raises StorageUnavailable for a database of a newer version, or when a
    migration fails."""
    location = dialect.location
    try:
        # The common case, a schema up to date, in one read: no write
        # lock, so opening the store never waits for a writer (a token
        # show opened the CLI's database with five statements under the
        # write lock). A migration commits its version with its DDL.
        if dialect.statement(current_version) == len(MIGRATIONS):
            return
    except errors.StorageUnavailable:
        pass   # no schema yet, or a failure the locked path reports

    def prepare(tx: Transaction) -> int:
        # Waits for a process migrating right now.
        dialect.lock(tx, MIGRATION_LOCK)
        tx.execute('CREATE TABLE IF NOT EXISTS schema_version '
                   '(version INTEGER NOT NULL)')
        tx.execute('INSERT INTO schema_version (version) SELECT 0 '
                   'WHERE NOT EXISTS (SELECT 1 FROM schema_version)')
        return current_version(tx)

    current = dialect.transaction(prepare, write=True)
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
            dialect.lock(tx, MIGRATION_LOCK)
            # Re-read under the lock: another process may have applied
            # this migration meanwhile.
            if current_version(tx) >= target:
                return
            for statement in statements:
                for sql in _in_words(statement, dialect.ddl):
                    tx.execute(sql)
            tx.execute('UPDATE schema_version SET version = :target',
                       target=target)

        try:
            dialect.transaction(apply, write=True)
        except (errors.StorageUnavailable, dialect.error) as exc:
            raise errors.StorageUnavailable(
                f'Migrating the token database {location} to schema '
                f'version {target} failed: {one_line(exc)}') from None
