"""What the server refuses before any handler (or database) sees it.

Text that no database can hold the same way (NUL: PostgreSQL refuses it,
SQLite keeps it, and ``db copy`` between them then fails) or that is not
UTF-8 at all (a lone surrogate, percent-encoded) is refused in the path and
the query with 400 ``INVALID_REQUEST``; in a JSON body, see
``ntcli_server.parsing``. Numbers in a query are ASCII digits (Python's
``int`` takes ``'١٠'``, ``str.isdigit`` takes ``'²'``) within 64 bits.
"""

from __future__ import annotations

import re
import urllib.parse

import falcon

from ntcli_authority import errors

#: The range of the database's integers.
INT64 = (-2 ** 63, 2 ** 63 - 1)
_ASCII_INT = re.compile(r'-?[0-9]{1,19}')


def has_nul(text: str) -> bool:
    return '\x00' in text


def ascii_int(text: str) -> int | None:
    """``text`` as an integer of at most 64 bits written in ASCII digits,
    or None."""
    if not _ASCII_INT.fullmatch(text):
        return None
    value = int(text)
    return value if INT64[0] <= value <= INT64[1] else None


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return None


class TextGuard:
    """Falcon middleware: refuse a path or query that is not UTF-8 text
    without NUL (400)."""

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        # PATH_INFO is the request's bytes, percent-decoded, as latin-1
        # (PEP 3333); Falcon decodes it again leniently.
        raw_path = req.env.get('PATH_INFO', '')
        try:
            path = _utf8(raw_path.encode('latin-1'))
        except UnicodeEncodeError:
            path = None
        # U+FFFD: what a lenient decoder (Falcon's) made of bytes that are
        # not UTF-8; no id or name of this API holds one.
        if path is None or has_nul(path) or '\ufffd' in req.path:
            raise errors.InvalidRequest(
                'The request path must be UTF-8 text without NUL')
        query = req.query_string
        if query:
            text = _utf8(urllib.parse.unquote_to_bytes(
                query.replace('+', ' ')))
            if text is None or has_nul(text):
                raise errors.InvalidRequest(
                    'The query string must be UTF-8 text without NUL')
