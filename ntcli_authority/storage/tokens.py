"""The store's tokens: issuing with idempotency keys, listing, revoking.

A token row holds what was issued (never the token itself, only its keyed
digest, see :mod:`ntcli_authority.signing`). Correctness
under concurrency comes from the database's own guarantees, not from a
strict isolation level:

* a revocation is one conditional ``UPDATE … WHERE revoked_at IS NULL``,
  so of two revocations of a token exactly one sets revoked_at;
* a JTI is a primary key, an idempotency key a (workspace, key) primary
  key claimed with ``INSERT … ON CONFLICT``: a second issue with the same
  key waits for the first and returns its token;
* issuing and revoking hold the workspace row (:attr:`Dialect.share_lock`,
  see :mod:`ntcli_authority.storage.workspaces` for its deletion), and an
  issue holds the signing keys shared, so that it never stores a token of
  a key a rotation replaced (:func:`.queries.hold_primary`).

On SQLite every write transaction holds the database's single write lock
from its start, which serializes all of the above anyway.
"""

from __future__ import annotations

import typing

from ntcli_authority import errors
from ntcli_authority.models import OUTCOME_UNCHANGED, AuditEvent, TokenRow
from ntcli_authority.storage.dialect import Transaction
from ntcli_authority.storage.queries import (
    Queries,
    append_event,
    hold_primary,
    hold_workspace,
)
from ntcli_authority.storage.schema import (
    NOT_REVOKED,
    RETIRING,
    TOKEN_COLUMNS,
)

#: A keyset pagination position: (created_at, jti) of the last row seen.
Position = tuple[int, str]

INSERT_TOKEN = (
    f'INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (:jti, :workspace_id, '
    ':created_at, :expires_at, :kid, :scope, :description, :revoked_at, '
    ':retires_at, :digest)')


def token_row(row: tuple) -> TokenRow:
    """A TokenRow from a row of TOKEN_COLUMNS."""
    return TokenRow(*row)


class Tokens(Queries):
    """Issued tokens and the idempotency keys that name them."""

    def add_token(self, record: TokenRow,
                  idempotency_key: str | None = None, *,
                  idempotency_since: int = 0, caller: str | None = None,
                  audit: AuditEvent | None = None
                  ) -> tuple[TokenRow, bool]:
        """Store a newly issued token and record ``audit``; return it and
        False.

        With ``idempotency_key``: when the key was stored for this
        workspace at or after ``idempotency_since``, store and record
        nothing and return the token it names and True, if the key is
        ``caller``'s (else raise IdempotencyKeyConflict); otherwise replace
        any stale entry and remember the key for ``record`` and ``caller``.
        Raises WorkspaceNotFound.
        """
        def work(tx: Transaction) -> tuple[TokenRow, bool]:
            hold_workspace(tx, self.dialect, record.workspace_id)
            if idempotency_key is not None:
                replayed = self._claim_idempotency_key(
                    tx, record, idempotency_key, idempotency_since, caller)
                if replayed is not None:
                    return replayed, True
            hold_primary(tx, self.dialect, record.kid)
            tx.execute(INSERT_TOKEN, **record.as_dict())
            append_event(tx, audit)
            return record, False
        return self._write(work)

    @staticmethod
    def _claim_idempotency_key(tx: Transaction, record: TokenRow,
                               key: str, since: int,
                               caller: str | None) -> TokenRow | None:
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
            return token_row(row)
        # The key names a token that is gone: claim it for this one.
        tx.execute('UPDATE idempotency_keys SET jti = :jti, '
                   'created_at = :created, caller = :caller '
                   'WHERE workspace_id = :ws AND idempotency_key = :key',
                   **params)
        return None

    def get_token(self, jti: str) -> TokenRow | None:
        """The token with this JTI, whatever its workspace."""
        row = self._query(lambda tx: tx.one(
            f'SELECT {TOKEN_COLUMNS} FROM tokens WHERE jti = :jti', jti=jti))
        return token_row(row) if row else None

    def list_tokens(self, workspace_id: str, *, now: int,
                    include_expired: bool = False,
                    include_revoked: bool = False,
                    after: Position | None = None,
                    limit: int = 100) -> list[TokenRow]:
        # Active tokens always, expired and revoked ones on request.
        # (a retiring token, within its grace period, is still active)
        """Up to ``limit`` tokens of a workspace ordered by (created_at,
        jti), strictly after ``after``. Active tokens always; expired ones
        (not revoked, expires_at <= now) and revoked ones on request."""
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
        return [token_row(row) for row in rows]

    def revoke_token(self, workspace_id: str, jti: str, now: int,
                     audit: AuditEvent | None = None, *,
                     at: int | None = None) -> tuple[TokenRow, bool]:
        """Revoke a token not revoked at ``now``: at once (revoked_at =
        now) when ``at`` is None or not later than now; else from ``at``
        on (retires_at = at, a grace period), unless it already retires at
        ``at`` or sooner. Return the token and whether nothing changed
        (then ``audit`` is recorded as unchanged). Raises
        WorkspaceNotFound, or TokenNotFound when the workspace has no such
        token."""
        def work(tx: Transaction) -> tuple[TokenRow, bool]:
            hold_workspace(tx, self.dialect, workspace_id)
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
                append_event(tx, audit if changed == 1
                        else audit.replace(outcome=OUTCOME_UNCHANGED))
            return token_row(row), changed != 1
        return self._write(work)

    def list_expiring_tokens(self, now: int, until: int,
                             limit: int) -> list[TokenRow]:
        """Up to ``limit`` tokens of every workspace, valid at ``now``
        (retiring ones too), with ``now < expires_at <= until``, by
        expires_at."""
        rows = self._query(lambda tx: tx.all(
            f'SELECT {TOKEN_COLUMNS} FROM tokens '
            f'WHERE expires_at > :now AND expires_at <= :until '
            f'AND {NOT_REVOKED} ORDER BY expires_at, jti LIMIT :limit',
            now=now, until=until, limit=limit))
        return [token_row(row) for row in rows]

    def count_expiring_tokens(self, now: int,
                              windows: typing.Sequence[int]
                              ) -> tuple[dict[int, int], int]:
        """For each window (seconds), how many tokens valid at ``now``
        expire within it; and how many valid tokens are in a grace period
        (retiring). One consistent read."""
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
        """Forget idempotency keys stored before ``before``."""
        return self._write(lambda tx: tx.count(
            'DELETE FROM idempotency_keys WHERE created_at < :before',
            before=before))
