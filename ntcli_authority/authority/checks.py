"""What the authority checks of what callers give it, before it reads or
changes anything: names, descriptions, expiry times, scopes, page limits
and cursors.
"""

from __future__ import annotations

import base64
import json
import typing

from ntcli_authority import errors
from ntcli_authority.models import TokenRow
from ntcli_core import redact, scopes
from ntcli_core.lifetimes import MAX_LIFETIME
from ntcli_core.names import NAME_RULE, is_valid_name

MAX_DESCRIPTION = 256
MAX_IDEMPOTENCY_KEY = 128
MAX_PAGE = 1000
MAX_EMAIL = 320


def is_int(value: object) -> typing.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_utf8(text: str) -> bool:
    """False for a string with a lone surrogate (no database stores it)."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def check_name(kind: str, name: object) -> str:
    if not is_valid_name(name):
        raise errors.InvalidRequest(f'Invalid {kind} name: use {NAME_RULE}',
                                    {'field': 'name'})
    return name


def check_description(description: object) -> None:
    """A description: UTF-8 text of at most MAX_DESCRIPTION characters,
    holding no secret (every token of the workspace can read it)."""
    if description is not None and (
            not isinstance(description, str)
            or len(description) > MAX_DESCRIPTION
            or not is_utf8(description)):
        raise errors.InvalidRequest(
            f'description must be UTF-8 text of at most {MAX_DESCRIPTION} '
            'characters', {'field': 'description'})
    if description is not None and redact.holds_secret(description):
        raise errors.InvalidRequest(
            'description must not hold a token, credential or key: '
            'every token of the workspace can read it',
            {'field': 'description'})


def check_expiry(now: int, expires_in: object,
                 expires_at: object) -> int | None:
    """The expiry time asked for, either way (None: no expiry)."""
    if expires_in is not None and expires_at is not None:
        raise errors.InvalidRequest(
            'Give expires_in or expires_at, not both',
            {'field': 'expires_in'})
    if expires_in is not None:
        if not is_int(expires_in) or not 0 < expires_in <= MAX_LIFETIME:
            raise errors.InvalidRequest(
                'Invalid expiration time: expires_in must be a whole '
                'number of seconds, at most ten years',
                {'field': 'expires_in'})
        return now + expires_in
    if expires_at is not None:
        if (not is_int(expires_at) or expires_at <= now
                or expires_at - now > MAX_LIFETIME):
            raise errors.InvalidRequest(
                'Invalid expiration time: expires_at must be in the '
                'future, at most ten years away',
                {'field': 'expires_at'})
        return expires_at
    return None


def parse_scopes(scope: object) -> scopes.Scopes:
    """The scopes asked for (None: the default ones)."""
    if scope is None:
        return scopes.DEFAULT
    try:
        return scopes.parse(scope)
    except scopes.ScopeError as exc:
        raise errors.ValidationError(f'Invalid scope: {exc.message}',
                                     {'field': 'scope'}) from None


def check_limit(limit: object) -> int:
    """A page size: 1 to MAX_PAGE."""
    if not is_int(limit) or not 1 <= limit <= MAX_PAGE:
        raise errors.InvalidRequest(
            f'limit must be between 1 and {MAX_PAGE}', {'field': 'limit'})
    return limit


def encode_cursor(record: TokenRow) -> str:
    """An opaque cursor for the position just after ``record``."""
    raw = json.dumps([record.created_at, record.jti], separators=(',', ':'))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip('=')


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor of :func:`encode_cursor` stands for."""
    try:
        padded = cursor + '=' * (-len(cursor) % 4)
        created_at, jti = json.loads(base64.urlsafe_b64decode(padded))
        # What the database can compare: a 64-bit time, UTF-8 text.
        if (is_int(created_at) and -2 ** 63 <= created_at < 2 ** 63
                and isinstance(jti, str) and is_utf8(jti)):
            return created_at, jti
    except (ValueError, TypeError, RecursionError):
        pass
    raise errors.InvalidRequest('Invalid pagination cursor',
                                {'field': 'cursor'})
