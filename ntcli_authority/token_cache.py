"""The token rows validation reads, kept in the process between requests.

Validating a token reads its row: who it is for, its key, issue and expiry
times, scope, and whether (and from when) it is revoked. All but the
revocation never change, and revocations are rare, so a server worker
keeps the rows it read and reads a row again only once the database has
signalled a change (:mod:`ntcli_authority.storage.changes`): in steady
state a validation makes no database round trip.

Every row is kept under the generation the change feed answered before it
was read; a different answer drops them all. Expiry and grace periods are
still checked against the clock on every request (the row holds their
times). When the feed answers None (it cannot tell: the signal is lost),
every validation reads the row, and nothing is kept, until it answers
again.

A token string validated in full against a kept row is remembered with its
answer (:meth:`TokenCache.accepted`): validating the very same string again
while that row is still the one kept skips its parsing, its digest and the
comparison of its claims with the row, which cannot have changed; the
clock and the workspace are still checked on every request.
"""

from __future__ import annotations

import contextlib
import typing

from ntcli_authority.models import TokenRow, ValidatedToken

if typing.TYPE_CHECKING:
    from ntcli_authority.storage.changes import ChangeFeed
    from ntcli_authority.storage.store import TokenStore

#: Rows kept at most (about 0.5 KiB each); beyond, the oldest go first.
SIZE = 16384
#: Token strings remembered as accepted at most (about 1 KiB each with
#: their answers); beyond, the oldest go first.
ACCEPTED = 1024


class TokenCache:
    """``get_token`` of a store, answered from memory while its change feed
    says no token row changed."""

    def __init__(self, store: TokenStore, feed: ChangeFeed, *,
                 size: int = SIZE) -> None:
        self._store = store
        self._feed = feed
        self._size = size
        self._rows: dict[str, TokenRow] = {}
        self._accepted: dict[str, tuple[TokenRow, ValidatedToken]] = {}
        self._generation: object | None = None

    def get_token(self, jti: str) -> TokenRow | None:
        """The token's row as the database holds it now (see the module's
        docstring for "now")."""
        generation = self._feed.generation()
        if generation is None:
            return self._store.get_token(jti)
        if generation != self._generation:
            self._rows = {}
            self._accepted = {}
            self._generation = generation
        record = self._rows.get(jti)
        if record is not None:
            return record
        record = self._store.get_token(jti)
        # Another request may have seen a newer generation while this one
        # waited for the database: then this row is not kept.
        if record is not None and self._generation == generation:
            rows = self._rows
            _evict_oldest(rows, self._size)
            rows[jti] = record
        return record

    def accepted(self, token: str) -> tuple[TokenRow, ValidatedToken] | None:
        """The row ``token`` was accepted against and the answer given, when
        this very string was validated in full (:meth:`accept`) and that row
        is still the one kept: no change signalled since. None otherwise:
        validate it in full."""
        known = self._accepted.get(token)
        if known is None:
            return None
        generation = self._feed.generation()
        if (generation is None or generation != self._generation
                or self._rows.get(known[0].jti) is not known[0]):
            return None          # get_token reads and keeps what is now
        return known

    def accept(self, token: str, row: TokenRow,
               valid: ValidatedToken) -> None:
        """Remember that ``token`` was validated in full against ``row``, an
        answer of :meth:`get_token`, with the answer ``valid``; nothing is
        remembered when ``row`` is no longer the one kept."""
        if self._rows.get(row.jti) is row:
            accepted = self._accepted
            _evict_oldest(accepted, ACCEPTED)
            accepted[token] = (row, valid)


def _evict_oldest(kept: dict, size: int) -> None:
    """Make room for one more in ``kept``, holding at most ``size``."""
    if len(kept) >= size:
        # (threads, where not under gevent: another may evict too)
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del kept[next(iter(kept))]
