"""What the SQL stores share: column lists, row conversions and the token
status filter. Only the placeholder style differs between SQLite (``:name``)
and PostgreSQL (``%(name)s``), so the filter takes a function that spells a
placeholder."""

from __future__ import annotations

import typing

from ntcli_server.models import SigningKey, TokenRecord

TOKEN_COLUMNS = ('jti, workspace_id, created_at, expires_at, kid, scope, '
                 'description, revoked_at')
KEY_COLUMNS = ('kid, public_key, created_at, private_key, is_primary, '
               'retired_at')
WORKSPACE_COLUMNS = 'id, name, created_at, description, owner'
USER_COLUMNS = 'id, name, created_at, credential_hash'


def token(row: tuple) -> TokenRecord:
    """A TokenRecord from a row of TOKEN_COLUMNS."""
    return TokenRecord(*row)


def signing_key(row: tuple) -> SigningKey:
    """A SigningKey from a row of KEY_COLUMNS."""
    kid, public, created, private, primary, retired = row
    return SigningKey(kid=kid, public_key=public, created_at=created,
                      private_key=private, is_primary=bool(primary),
                      retired_at=retired)


def status_filter(include_expired: bool, include_revoked: bool,
                  placeholder: typing.Callable[[str], str]) -> str:
    """The WHERE condition selecting tokens by status at ``now``: active
    always, expired and revoked ones on request."""
    now = placeholder('now')
    wanted = [f'(revoked_at IS NULL AND (expires_at IS NULL '
              f'OR expires_at > {now}))']
    if include_expired:
        wanted.append(f'(revoked_at IS NULL AND expires_at <= {now})')
    if include_revoked:
        wanted.append('(revoked_at IS NOT NULL)')
    return '(' + ' OR '.join(wanted) + ')'
