"""The store's signing keys: one primary that signs, the others verify.

A partial unique index allows one primary key whatever races happen, and
key changes are serialized by the dialect's signing-key lock; an issue
holds that lock shared (:func:`~ntcli_authority.storage.queries.hold_primary`),
so a rotation or retirement waits for the issues in flight.
"""

from __future__ import annotations

import typing

from ntcli_authority import errors
from ntcli_authority.models import AuditEvent, SigningKey
from ntcli_authority.storage.dialect import SIGNING_KEY_LOCK, Transaction
from ntcli_authority.storage.queries import Queries, append_event
from ntcli_authority.storage.schema import KEY_COLUMNS


def _signing_key(row: tuple) -> SigningKey:
    kid, public, created, private, primary, retired = row
    return SigningKey(kid=kid, public_key=public, created_at=created,
                      private_key=private, is_primary=bool(primary),
                      retired_at=retired)


class SigningKeys(Queries):
    """Signing keys: the primary, rotation, retirement."""

    def _select_key(self, where: str, **params: typing.Any
                    ) -> SigningKey | None:
        row = self._query(lambda tx: tx.one(
            f'SELECT {KEY_COLUMNS} FROM signing_keys WHERE {where}',
            **params))
        return _signing_key(row) if row else None

    def get_signing_key(self, kid: str) -> SigningKey | None:
        """The key ``kid``, retired or not."""
        return self._select_key('kid = :kid', kid=kid)

    def get_primary_signing_key(self) -> SigningKey | None:
        """The key that signs new tokens, if there is one yet."""
        return self._select_key('is_primary')

    def list_signing_keys(self) -> list[SigningKey]:
        """Every key, oldest first."""
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
        """Store ``candidate`` as primary unless a primary exists (then
        record ``audit``); return the primary (the candidate or the one
        another process stored)."""
        def work(tx: Transaction) -> SigningKey:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            select = f'SELECT {KEY_COLUMNS} FROM signing_keys WHERE is_primary'
            row = tx.one(select)
            if row:
                return _signing_key(row)
            # ON CONFLICT: safe even against a writer that skips the lock.
            if self._insert_primary(tx, candidate, if_none=True):
                append_event(tx, audit)
                return candidate.replace(is_primary=True)
            row = tx.one(select)
            if row is None:
                raise errors.StorageUnavailable(
                    'No primary signing key could be stored')
            return _signing_key(row)
        return self._write(work)

    def add_primary_signing_key(self, key: SigningKey,
                                audit: AuditEvent | None = None) -> None:
        """Store ``key`` as the primary; the previous primary stays as a
        verifying key."""
        def work(tx: Transaction) -> None:
            self.dialect.lock(tx, SIGNING_KEY_LOCK)
            tx.execute('UPDATE signing_keys SET is_primary = :no '
                       'WHERE is_primary', no=False)
            self._insert_primary(tx, key)
            append_event(tx, audit)
        self._write(work)

    def retire_unused_signing_keys(self, now: int,
                                   audit: AuditEvent | None = None
                                   ) -> list[str]:
        """Destroy the private key of every non-primary key that signed no
        token still live at ``now``; return their kids. Public keys stay.
        ``audit`` is recorded once per key, with its kid as detail."""
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
                    append_event(tx, audit.replace(detail=kid))
            return kids
        return self._write(work)
