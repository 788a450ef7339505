"""Copy a token database into another: ``ntcli-server db copy``.

The way from one node to several: the SQLite file of a single node goes
into the PostgreSQL database the nodes will share. Everything is copied —
users, workspaces, token metadata, signing keys, idempotency keys and the
audit trail — in one transaction on the target, from one consistent read
of the source. Private signing keys are re-sealed under this process's
``NTCLI_SERVER_SECRET`` (its later keys may unseal the source's).

Then the copy is checked: the row counts of every table, and a sample of
live tokens, re-signed from their stored claims with the source's keys
(Ed25519 is deterministic: the very tokens clients hold), must validate
on the target and be signed identically by the target's keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random

from ntcli_authority import errors, signing
from ntcli_authority.authority import Authority
from ntcli_authority.models import STATUS_ACTIVE, SigningKey, TokenRow
from ntcli_authority.storage import open_store
from ntcli_authority.storage.store import TokenStore

SAMPLE = 20
#: The columns that name a row of each copied table in messages.
_ROW_NAMES = {'users': ('id',), 'workspaces': ('id',),
              'signing_keys': ('kid',), 'tokens': ('jti',),
              'idempotency_keys': ('workspace_id', 'idempotency_key'),
              'audit_events': ('at', 'action')}


@dataclasses.dataclass(frozen=True)
class CopyReport:
    """What was copied, and how much of it was checked."""

    counts: dict[str, int]           # rows per table, on the target
    live_tokens: int                 # tokens a sample was drawn from
    validated: int                   # sampled tokens valid on the target


class VerificationFailed(errors.StorageUnavailable):
    """The copy was written but does not match its source."""


def copy_database(source: str, target: str, *, replace: bool = False,
                  sample: int = SAMPLE) -> CopyReport:
    """Copy the database at ``source`` into ``target`` and check the copy.

    Raises DatabaseNotEmpty (nothing written) when the target holds data
    and not ``replace``, VerificationFailed when the written copy does not
    match the source.
    """
    if source == target:
        raise errors.InvalidRequest('The source and the target are the same '
                                    'database')
    with contextlib.closing(open_store(source, create=False)) as src, \
            contextlib.closing(open_store(target, create=True)) as dst:
        tables = src.dump()
        if not dst.dialect.holds_nul:
            _check_nul(tables, dst.dialect.location)
        for row in tables['signing_keys']:
            if row['private_key'] is not None:
                row['private_key'] = signing.seal(
                    signing.unseal(row['private_key']))
        dst.load(tables, replace=replace)
        counts = dst.row_counts()
        expected = {table: len(rows) for table, rows in tables.items()}
        if counts != expected:
            raise VerificationFailed(
                f'The copy has {counts} rows, its source {expected}')
        live, validated = _validate_sample(tables['tokens'], src, dst,
                                           sample)
        return CopyReport(counts=counts, live_tokens=live,
                          validated=validated)


def _check_nul(tables: dict[str, list[dict]], location: str) -> None:
    """Refuse, before writing anything, text with NUL (which the target
    cannot store), naming its table, row and column."""
    for table, rows in tables.items():
        for number, row in enumerate(rows, 1):
            for column, value in row.items():
                if isinstance(value, str) and '\x00' in value:
                    names = ', '.join(
                        f'{name}={row[name]!a}'
                        for name in _ROW_NAMES.get(table, ()))
                    raise errors.InvalidRequest(
                        f'Cannot copy to {location}: table {table}, row '
                        f'{number} ({names}), column {column} holds a NUL '
                        'character, which the target cannot store. Nothing '
                        'was written: remove the NUL from that row in the '
                        'source (or delete the row), then copy again.',
                        {'table': table, 'row': number, 'column': column})


def _validate_sample(tokens: list[dict], src: TokenStore,
                     dst: TokenStore, size: int) -> tuple[int, int]:
    """Re-sign a sample of the live tokens with the source's keys; each
    must validate on the target and be what the target's keys sign.
    Return how many live tokens there were and how many were checked."""
    target = Authority(dst)
    now = target.now()
    keys = {k.kid: k for k in src.list_signing_keys()}
    live = [record for record in (TokenRow(**row) for row in tokens)
            if record.status_at(now) == STATUS_ACTIVE]
    signable = [r for r in live
                if keys.get(r.kid) and keys[r.kid].private_key is not None]
    chosen = random.sample(signable, min(size, len(signable)))
    for record in chosen:
        private = signing.load_private_key(keys[record.kid])
        token = signing.encode_token(record, private)
        try:
            target.validate(token)
        except errors.AuthorityError as exc:
            raise VerificationFailed(
                f'Token {record.jti} does not validate on the copy: '
                f'{exc.message}') from None
        copied: SigningKey | None = dst.get_signing_key(record.kid)
        if copied is None or signing.encode_token(
                record, signing.load_private_key(copied)) != token:
            raise VerificationFailed(
                f'The copied signing key {record.kid} does not sign as the '
                'original does')
    return len(signable), len(chosen)
