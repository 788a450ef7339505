"""Where the authority keeps its state: the TokenStore interface.

A store keeps workspaces, token metadata (never token values), signing
keys, users, idempotency keys and the audit trail. Every method is one
transaction: a backend runs a change, or a read of several statements,
between one BEGIN and COMMIT, and a read of one statement alone (a single
statement is a transaction of its own); methods that change state take the
current time from the caller (the authority's clock).

Methods that change state take ``audit``, the event that records the
change, and store it in the same transaction: if the event cannot be
written, the change is not made either.

Reads return None for a missing row; writes raise the
:mod:`ntcli_authority.errors` classes named in their docstrings; any backend
failure is raised as :class:`ntcli_authority.errors.StorageUnavailable`.
"""

from __future__ import annotations

import abc
import typing

from ntcli_authority import errors
from ntcli_authority.models import (
    AuditEvent,
    Identity,
    Session,
    SigningKey,
    TokenRecord,
    TrustPolicy,
    User,
    Workspace,
)

if typing.TYPE_CHECKING:
    from ntcli_authority.storage.changes import ChangeFeed

#: ``list_workspaces`` owner filter meaning "every owner".
ALL_OWNERS = object()

#: A keyset pagination position: (created_at, jti) of the last row seen.
Position = tuple[int, str]


class DatabaseMissing(errors.StorageUnavailable):
    """``open_store(..., create=False)`` found no database at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(f'No token database at {path}', {'path': path})
        self.path = path


class PrimaryKeyChanged(Exception):
    """A token to store names a signing key that is no longer the primary
    (a rotation or retirement committed since it was read): sign it with
    the primary read again."""


class TokenStore(abc.ABC):
    """The persistence interface of the token authority."""

    #: Whether opening this store created its database (a new SQLite file).
    created: bool = False

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version of the open database."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; the store is not used afterwards."""

    # -- signing keys -----------------------------------------------------
    @abc.abstractmethod
    def get_signing_key(self, kid: str) -> SigningKey | None:
        """The key ``kid``, retired or not."""

    @abc.abstractmethod
    def get_primary_signing_key(self) -> SigningKey | None:
        """The key that signs new tokens, if there is one yet."""

    @abc.abstractmethod
    def list_signing_keys(self) -> list[SigningKey]:
        """Every key, oldest first."""

    @abc.abstractmethod
    def ensure_primary_signing_key(self, candidate: SigningKey,
                                   audit: AuditEvent | None = None
                                   ) -> SigningKey:
        """Store ``candidate`` as primary unless a primary exists (then
        record ``audit``); return the primary (the candidate or the one
        another process stored)."""

    @abc.abstractmethod
    def add_primary_signing_key(self, key: SigningKey,
                                audit: AuditEvent | None = None) -> None:
        """Store ``key`` as the primary; the previous primary stays as a
        verifying key."""

    @abc.abstractmethod
    def retire_unused_signing_keys(self, now: int,
                                   audit: AuditEvent | None = None
                                   ) -> list[str]:
        """Destroy the private key of every non-primary key that signed no
        token still live at ``now``; return their kids. Public keys stay.
        ``audit`` is recorded once per key, with its kid as detail."""

    # -- workspaces -------------------------------------------------------
    @abc.abstractmethod
    def create_workspace(self, workspace: Workspace,
                         audit: AuditEvent | None = None) -> None:
        """Add a workspace. Raises WorkspaceExists for a taken name."""

    @abc.abstractmethod
    def get_workspace(self, workspace_id: str) -> Workspace | None:
        """The workspace with this id."""

    @abc.abstractmethod
    def get_workspace_by_name(self, name: str) -> Workspace | None:
        """The workspace with this name."""

    @abc.abstractmethod
    def list_workspaces(self, owner: object = ALL_OWNERS) -> list[Workspace]:
        """Workspaces of ``owner`` (a user id, None for the local owner, or
        ALL_OWNERS), by name."""

    @abc.abstractmethod
    def delete_workspace(self, workspace_id: str, now: int,
                         audit: AuditEvent | None = None) -> int:
        """Revoke the workspace's live tokens (revoked_at = now, retiring
        ones included), drop its
        idempotency keys, delete it; return how many tokens were revoked
        (``audit`` is recorded with that number as detail).
        Token rows stay so that their tokens are reported as revoked.
        Raises WorkspaceNotFound."""

    # -- tokens -----------------------------------------------------------
    @abc.abstractmethod
    def add_token(self, record: TokenRecord,
                  idempotency_key: str | None = None, *,
                  idempotency_since: int = 0, caller: str | None = None,
                  audit: AuditEvent | None = None
                  ) -> tuple[TokenRecord, bool]:
        """Store a newly issued token and record ``audit``; return it and
        False.

        With ``idempotency_key``: when the key was stored for this
        workspace at or after ``idempotency_since``, store and record
        nothing and return the token it names and True, if the key is
        ``caller``'s (else raise IdempotencyKeyConflict); otherwise replace
        any stale entry and remember the key for ``record`` and ``caller``.
        Raises WorkspaceNotFound.
        """

    @abc.abstractmethod
    def add_tokens(self, records: typing.Iterable[TokenRecord]) -> int:
        """Store many token records in one transaction (bulk import)."""

    @abc.abstractmethod
    def token_changes(self) -> ChangeFeed:
        """What says whether token rows read before may have changed
        (:mod:`ntcli_authority.storage.changes`)."""

    @abc.abstractmethod
    def get_token(self, jti: str) -> TokenRecord | None:
        """The token with this JTI, whatever its workspace."""

    @abc.abstractmethod
    def list_tokens(self, workspace_id: str, *, now: int,
                    include_expired: bool = False,
                    include_revoked: bool = False,
                    after: Position | None = None,
                    limit: int = 100) -> list[TokenRecord]:
        """Up to ``limit`` tokens of a workspace ordered by (created_at,
        jti), strictly after ``after``. Active tokens always; expired ones
        (not revoked, expires_at <= now) and revoked ones on request."""

    @abc.abstractmethod
    def revoke_token(self, workspace_id: str, jti: str, now: int,
                     audit: AuditEvent | None = None, *,
                     at: int | None = None) -> tuple[TokenRecord, bool]:
        """Revoke a token not revoked at ``now``: at once (revoked_at =
        now) when ``at`` is None or not later than now; else from ``at``
        on (retires_at = at, a grace period), unless it already retires at
        ``at`` or sooner. Return the token and whether nothing changed
        (then ``audit`` is recorded as unchanged). Raises
        WorkspaceNotFound, or TokenNotFound when the workspace has no such
        token."""

    @abc.abstractmethod
    def list_expiring_tokens(self, now: int, until: int,
                             limit: int) -> list[TokenRecord]:
        """Up to ``limit`` tokens of every workspace, valid at ``now``
        (retiring ones too), with ``now < expires_at <= until``, by
        expires_at."""

    @abc.abstractmethod
    def count_expiring_tokens(self, now: int,
                              windows: typing.Sequence[int]
                              ) -> tuple[dict[int, int], int]:
        """For each window (seconds), how many tokens valid at ``now``
        expire within it; and how many valid tokens are in a grace period
        (retiring). One consistent read."""

    @abc.abstractmethod
    def purge_idempotency_keys(self, before: int) -> int:
        """Forget idempotency keys stored before ``before``."""

    # -- trust policies ---------------------------------------------------
    @abc.abstractmethod
    def add_trust_policy(self, policy: TrustPolicy,
                         audit: AuditEvent | None = None) -> None:
        """Add a trust policy. Raises WorkspaceNotFound, or
        TrustPolicyExists for a name taken in its workspace."""

    @abc.abstractmethod
    def list_trust_policies(self, *, workspace_id: str | None = None,
                            issuer: str | None = None
                            ) -> list[TrustPolicy]:
        """Trust policies, of one workspace and/or one issuer, by
        workspace and name."""

    @abc.abstractmethod
    def delete_trust_policy(self, workspace_id: str, policy_id: str,
                            audit: AuditEvent | None = None
                            ) -> TrustPolicy:
        """Delete a policy of the workspace; return it. Raises
        TrustPolicyNotFound."""

    @abc.abstractmethod
    def add_exchanged_token(self, record: TokenRecord, policy_id: str,
                            digest: str, digest_expires_at: int, now: int,
                            audit: AuditEvent | None = None) -> None:
        """Store a token issued for an external token, in one transaction
        with the external token's ``digest`` (remembered until
        ``digest_expires_at``; those expired before ``now`` are forgotten).
        Raises NoMatchingPolicy when the policy ``policy_id`` of the
        token's workspace is gone, SubjectTokenRejected when ``digest`` is
        remembered (a replay), WorkspaceNotFound."""

    # -- users ------------------------------------------------------------
    @abc.abstractmethod
    def create_user(self, user: User,
                    audit: AuditEvent | None = None) -> None:
        """Add a user. Raises UserExists for a taken name."""

    @abc.abstractmethod
    def get_user(self, user_id: str) -> User | None:
        """The user with this id."""

    @abc.abstractmethod
    def get_user_by_name(self, name: str) -> User | None:
        """The user with this name."""

    @abc.abstractmethod
    def get_user_by_credential_hash(self, credential_hash: str
                                    ) -> User | None:
        """The user whose credential has this SHA-256 hex digest."""

    @abc.abstractmethod
    def list_users(self) -> list[User]:
        """Every user, by name."""

    @abc.abstractmethod
    def create_user_with_identity(self, user: User, identity: Identity,
                                  audit: AuditEvent | None = None,
                                  link_audit: AuditEvent | None = None
                                  ) -> None:
        """Add a user and link ``identity`` to it, in one transaction.
        Raises UserExists for a taken name or identity."""

    # -- identities and sessions -----------------------------------------
    @abc.abstractmethod
    def add_identity(self, identity: Identity,
                     audit: AuditEvent | None = None) -> None:
        """Link an identity to its user. Raises UserNotFound, or
        IdentityExists when (issuer, subject) is linked already."""

    @abc.abstractmethod
    def get_identity(self, issuer: str, subject: str) -> Identity | None:
        """The identity (issuer, subject)."""

    @abc.abstractmethod
    def list_identities(self, user_id: str | None = None) -> list[Identity]:
        """The identities of one user, or all, by issuer and subject."""

    @abc.abstractmethod
    def remove_identity(self, issuer: str, subject: str,
                        audit: AuditEvent | None = None) -> bool:
        """Unlink an identity; False when it was not linked."""

    @abc.abstractmethod
    def add_session(self, session: Session, email: str | None,
                    audit: AuditEvent | None = None) -> None:
        """Store a new session and note the sign-in (time, e-mail) on its
        identity."""

    @abc.abstractmethod
    def get_session_by_hash(self, secret_hash: str) -> Session | None:
        """The session whose secret has this SHA-256 hex digest."""

    @abc.abstractmethod
    def revoke_session(self, session_id: str, now: int,
                       audit: AuditEvent | None = None) -> bool:
        """Set revoked_at = now unless set; False when nothing changed."""

    @abc.abstractmethod
    def revoke_user_sessions(self, user_id: str, now: int) -> int:
        """Revoke every live session of a user; return how many."""

    @abc.abstractmethod
    def purge_sessions(self, before: int) -> int:
        """Forget sessions that expired before ``before``."""

    # -- the audit trail --------------------------------------------------
    @abc.abstractmethod
    def record_event(self, event: AuditEvent) -> None:
        """Record an event that goes with no change (a refused credential)."""

    @abc.abstractmethod
    def list_events(self, *, workspace_id: str | None = None,
                    since: int | None = None,
                    actions: typing.Collection[str] = (),
                    after_id: int | None = None,
                    limit: int = 100) -> list[AuditEvent]:
        """Up to ``limit`` events in the order they were recorded, after
        ``after_id``: of one workspace, at or after ``since``, of some
        actions, as asked."""

    @abc.abstractmethod
    def purge_events(self, before: int, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events recorded before
        ``before``; return how many."""


def open_store(target: str, *, create: bool = True,
               wait: float | None = None) -> TokenStore:
    """Open the store at ``target``: a PostgreSQL DSN
    (``postgresql://…``), or a SQLite path (``sqlite:///path`` or a plain
    path, ``:memory:`` for a throw-away database).

    ``create=False`` refuses a missing SQLite file (DatabaseMissing)
    instead of creating it; a PostgreSQL database must exist anyway.
    ``wait``: the longest one call may wait for the database (a lock, a
    busy connection, a slow statement) before StorageUnavailable; None:
    the dialect's default, for the CLI and the admin commands.
    """
    from ntcli_authority.storage.sql import SQLTokenStore

    if target.startswith(('postgresql://', 'postgres://')):
        from ntcli_authority.storage import postgres
        return SQLTokenStore(postgres.PostgresDialect(target, wait=wait))
    if target.startswith('sqlite://'):
        target = target[len('sqlite://'):]
    from ntcli_authority.storage import sqlite
    return SQLTokenStore(sqlite.SQLiteDialect(target, create=create,
                                                  wait=wait))
