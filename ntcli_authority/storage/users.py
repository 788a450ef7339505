"""The store's users, the identities linked to them, and their sessions.

A user's credential and a session's secret are kept as SHA-256 hex
digests only.
"""

from __future__ import annotations

from ntcli_authority import errors
from ntcli_authority.models import AuditEvent, Identity, Session, User
from ntcli_authority.storage.dialect import Transaction
from ntcli_authority.storage.queries import Queries, append_event
from ntcli_authority.storage.schema import (
    IDENTITY_COLUMNS,
    SESSION_COLUMNS,
    USER_COLUMNS,
)


class Users(Queries):
    """Users, identities and sessions."""

    def create_user(self, user: User,
                    audit: AuditEvent | None = None) -> None:
        """Add a user. Raises UserExists for a taken name."""
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
        """The user with this id."""
        return self._one_user('id', user_id)

    def get_user_by_name(self, name: str) -> User | None:
        """The user with this name."""
        return self._one_user('name', name)

    def get_user_by_credential_hash(self, credential_hash: str
                                    ) -> User | None:
        """The user whose credential has this SHA-256 hex digest."""
        return self._one_user('credential_hash', credential_hash)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        rows = self._query(lambda tx: tx.all(
            f'SELECT {USER_COLUMNS} FROM users ORDER BY name'))
        return [User(*row) for row in rows]

    def create_user_with_identity(self, user: User, identity: Identity,
                                  audit: AuditEvent | None = None,
                                  link_audit: AuditEvent | None = None
                                  ) -> None:
        """Add a user and link ``identity`` to it, in one transaction.
        Raises UserExists for a taken name or identity."""
        def work(tx: Transaction) -> None:
            tx.execute(f'INSERT INTO users ({USER_COLUMNS}) '
                       'VALUES (:id, :name, :created_at, :credential_hash)',
                       **user.as_dict())
            append_event(tx, audit)
            self._insert_identity(tx, identity, link_audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            # the name, or the identity another sign-in linked meanwhile
            raise errors.UserExists(
                f"A user named '{user.name}' or this identity already "
                'exists', {'user_name': user.name}) from None

    @staticmethod
    def _insert_identity(tx: Transaction, identity: Identity,
                         audit: AuditEvent | None) -> None:
        tx.execute(f'INSERT INTO identities ({IDENTITY_COLUMNS}) VALUES ('
                   ':issuer, :subject, :user_id, :created_at, :email, '
                   ':last_sign_in_at)', **identity.as_dict())
        append_event(tx, audit)

    def add_identity(self, identity: Identity,
                     audit: AuditEvent | None = None) -> None:
        """Link an identity to its user. Raises UserNotFound, or
        IdentityExists when (issuer, subject) is linked already."""
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
        """The identity (issuer, subject)."""
        row = self._query(lambda tx: tx.one(
            f'SELECT {IDENTITY_COLUMNS} FROM identities '
            'WHERE issuer = :issuer AND subject = :subject',
            issuer=issuer, subject=subject))
        return Identity(*row) if row else None

    def list_identities(self, user_id: str | None = None) -> list[Identity]:
        """The identities of one user, or all, by issuer and subject."""
        where = ' WHERE user_id = :user_id' if user_id is not None else ''
        rows = self._query(lambda tx: tx.all(
            f'SELECT {IDENTITY_COLUMNS} FROM identities{where} '
            'ORDER BY issuer, subject', user_id=user_id))
        return [Identity(*row) for row in rows]

    def remove_identity(self, issuer: str, subject: str,
                        audit: AuditEvent | None = None) -> bool:
        """Unlink an identity; False when it was not linked."""
        def work(tx: Transaction) -> bool:
            removed = tx.count(
                'DELETE FROM identities WHERE issuer = :issuer '
                'AND subject = :subject', issuer=issuer, subject=subject)
            if removed:
                append_event(tx, audit)
            return removed == 1
        return self._write(work)

    def add_session(self, session: Session, email: str | None,
                    audit: AuditEvent | None = None) -> None:
        """Store a new session and note the sign-in (time, e-mail) on its
        identity."""
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
            append_event(tx, audit)
        self._write(work)

    def get_session_by_hash(self, secret_hash: str) -> Session | None:
        """The session whose secret has this SHA-256 hex digest."""
        row = self._query(lambda tx: tx.one(
            f'SELECT {SESSION_COLUMNS} FROM sessions '
            'WHERE secret_hash = :secret_hash', secret_hash=secret_hash))
        return Session(*row) if row else None

    def revoke_session(self, session_id: str, now: int,
                       audit: AuditEvent | None = None) -> bool:
        """Set revoked_at = now unless set; False when nothing changed."""
        def work(tx: Transaction) -> bool:
            changed = tx.count(
                'UPDATE sessions SET revoked_at = :now WHERE id = :id '
                'AND revoked_at IS NULL', now=now, id=session_id)
            if changed:
                append_event(tx, audit)
            return changed == 1
        return self._write(work)

    def revoke_user_sessions(self, user_id: str, now: int) -> int:
        """Revoke every live session of a user; return how many."""
        return self._write(lambda tx: tx.count(
            'UPDATE sessions SET revoked_at = :now WHERE user_id = :user_id '
            'AND revoked_at IS NULL AND expires_at > :now', now=now,
            user_id=user_id))

    def purge_sessions(self, before: int) -> int:
        """Forget sessions that expired before ``before``."""
        return self._write(lambda tx: tx.count(
            'DELETE FROM sessions WHERE expires_at < :before',
            before=before))
