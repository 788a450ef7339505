"""Reading a request: its body (framing, size, JSON that fits the
operation), its query parameters and its bearer credential.

Malformed JSON is ``400 INVALID_REQUEST``; a body that is JSON but does not
fit the request (unknown field, wrong type, missing field) is ``422
VALIDATION_ERROR``.
"""

from __future__ import annotations

import json
import typing

import falcon

from ntcli_authority import errors
from ntcli_core import timefmt
from ntcli_server import edge

MAX_BODY = 64 * 1024

#: The JSON types each field of a body may have (``NULL``: null).
Fields = typing.Mapping[str, tuple[type, ...]]

NULL = type(None)
_TRUE = frozenset({'true', '1', 'yes'})
_FALSE = frozenset({'false', '0', 'no'})


def validation_error(message: str,
                     **details: object) -> errors.AuthorityError:
    """A request body or query that does not fit the API (422)."""
    return errors.AuthorityError('VALIDATION_ERROR', message, 422,
                                 details or None)



def _check_type(name: str, value: object, types: tuple[type, ...]) -> None:
    if isinstance(value, bool) and bool not in types:
        ok = False               # JSON true is not a number of seconds
    else:
        ok = isinstance(value, types)
    if not ok:
        wanted = ' or '.join('null' if t is NULL else
                             {'int': 'integer', 'str': 'string'}.get(
                                 t.__name__, t.__name__) for t in types)
        raise validation_error(f"Field '{name}' must be {wanted}",
                               field=name)


def body_bytes(req: falcon.Request) -> bytes:
    """The raw request body, whatever its framing, at most MAX_BODY bytes.

    With Content-Length, Falcon's bounded stream reads exactly that much.
    A chunked body has no length: the server de-chunks it, and reading to
    the end is safe only where it says so (``wsgi.input_terminated``);
    elsewhere the request is refused (411) rather than read as empty, as
    is an HTTP/1.0 request with neither (its body would end at the close
    of the connection), and a transfer coding other than chunked (501).
    """
    coding = req.get_header('Transfer-Encoding')
    if coding is not None and [
            c.strip().lower() for c in coding.split(',')] != ['chunked']:
        # gzip and the like: gunicorn would hand them over as if plain
        # chunked (a front proxy may read them otherwise).
        raise errors.AuthorityError(
            'NOT_IMPLEMENTED', 'The only transfer coding this server reads '
            f'is chunked, not {coding!r}', 501)
    if req.content_length is not None:
        stream: typing.Any = req.bounded_stream
    elif coding:
        if not req.env.get('wsgi.input_terminated'):
            raise errors.AuthorityError(
                'LENGTH_REQUIRED', 'This server needs a Content-Length '
                'for a request body', 411)
        stream = req.stream
    elif req.env.get('SERVER_PROTOCOL') == 'HTTP/1.0':
        # HTTP/1.0 delimits a body by closing the connection: a body sent
        # that way is there, unread; refuse rather than act without it.
        raise errors.AuthorityError(
            'LENGTH_REQUIRED', 'An HTTP/1.0 request needs a Content-Length '
            '(0 for no body)', 411)
    else:
        return b''
    chunks, size = [], 0
    while size <= MAX_BODY:
        try:
            chunk = stream.read(MAX_BODY + 1 - size)
        except Exception:       # noqa: BLE001 - each server has its own
            # A broken chunk size, a truncated body, a dropped connection.
            raise errors.InvalidRequest(
                'The request body could not be read (broken framing or a '
                'closed connection)') from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY:
        raise errors.AuthorityError(
            'PAYLOAD_TOO_LARGE',
            f'The request body is larger than {MAX_BODY} bytes', 413)
    return b''.join(chunks)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's members; a name given twice is refused (which one
    counts is up to each parser: ``{"expires_in": 60, "expires_in":
    null}`` must not be read as a token that never expires)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError('duplicate member name')
    return data


def _has_nul(value: object) -> bool:
    """Whether a string in ``value`` (a JSON value) holds NUL; a loop, not
    recursion: a body may nest deeper than Python's stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if edge.has_nul(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _json_document(raw: bytes) -> object:
    """JSON text to a value; malformed, too deep, not UTF-8 (a lone
    surrogate escape included) or with a member name twice is a 400; NUL
    in a string a 422."""
    try:
        data = json.loads(raw.decode('utf-8'), object_pairs_hook=_unique_keys)
        # '"\\ud800"' is valid JSON for a string no UTF-8 can hold (nor
        # the database): refuse it here rather than fail later.
        json.dumps(data, ensure_ascii=False).encode('utf-8')
    except (UnicodeError, ValueError, RecursionError):
        raise errors.InvalidRequest(
            'The request body is not valid JSON in UTF-8 (each member '
            'name once)') from None
    if _has_nul(data):
        # PostgreSQL cannot store it; SQLite can, and a copy then fails.
        raise validation_error('Text in the request body must not '
                               'contain NUL')
    return data


def read_body(req: falcon.Request, fields: Fields,
              required: typing.Collection[str] = ()) -> dict:
    """The request's JSON object, checked against ``fields``; an empty
    body is an empty object."""
    raw = body_bytes(req)
    data: object = {}
    if raw.strip():
        media = (req.content_type or '').split(';')[0].strip().lower()
        if media != 'application/json' and not media.endswith('+json'):
            raise errors.AuthorityError(
                'UNSUPPORTED_MEDIA_TYPE',
                'The request body must be JSON (Content-Type: '
                'application/json)', 415)
        data = _json_document(raw)
    if not isinstance(data, dict):
        raise validation_error('The request body must be a JSON object')
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise validation_error(f"Unknown field(s): {', '.join(unknown)}",
                               fields=unknown)
    for name in required:
        if name not in data:
            raise validation_error(f"Field '{name}' is required",
                                   field=name)
    for name, value in data.items():
        if (isinstance(value, float) and int in fields[name]
                and value.is_integer()):
            # 60.0 is an integer to JSON Schema (and to the document)
            data[name] = value = int(value)
        _check_type(name, value, fields[name])
    return data


def query_flag(req: falcon.Request, name: str) -> bool:
    """A true/false query parameter (absent: false)."""
    value = req.get_param(name)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise validation_error(f"Query parameter '{name}' must be true or false",
                           field=name)


@typing.overload
def query_int(req: falcon.Request, name: str, default: int) -> int: ...


@typing.overload
def query_int(req: falcon.Request, name: str,
              default: None) -> int | None: ...


def query_int(req: falcon.Request, name: str,
              default: int | None) -> int | None:
    """An integer query parameter."""
    value = req.get_param(name)
    if value is None:
        return default
    number = edge.ascii_int(value)
    if number is None:
        raise validation_error(f"Query parameter '{name}' must be an "
                               'integer (ASCII digits, 64 bits)', field=name)
    return number


def query_time(name: str, value: str) -> int:
    """A time query parameter: Unix seconds or ISO-8601."""
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    try:
        if not value.isascii():         # fromisoformat takes other digits
            raise ValueError(value)
        return timefmt.parse_iso(value)
    except ValueError:
        raise validation_error(f"Query parameter '{name}' must be Unix "
                               'seconds or an ISO-8601 time',
                               field=name) from None


def unix_time(name: str, value: object) -> int | None:
    """Unix seconds from an integer or an ISO-8601 string (None stays)."""
    if not isinstance(value, str):
        return typing.cast('int | None', value)
    try:
        if not value.isascii():         # fromisoformat takes other digits
            raise ValueError(value)
        return timefmt.parse_iso(value)
    except ValueError:
        raise validation_error(f"Field '{name}' must be Unix seconds or an "
                               'ISO-8601 time', field=name) from None


def bearer(req: falcon.Request) -> str:
    """The credential of ``Authorization: Bearer …``."""
    return bearer_of(req.get_header('Authorization'))


def bearer_of(authorization: str | None) -> str:
    """The credential of an ``Authorization`` header's value (``Bearer
    …``)."""
    scheme, _, value = (authorization or '').partition(' ')
    if scheme.lower() != 'bearer' or not value.strip():
        raise errors.AuthenticationRequired(
            'Authentication required: no usable credential in the '
            'Authorization header (expected the "Bearer" scheme)')
    return value.strip()



#: Every answer's ``Cache-Control``: answers may carry tokens, so no cache
#: keeps them.
CACHE_CONTROL = 'no-store'


class BodyLimit:
    """Refuse a declared body over MAX_BODY before anything reads it."""

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise errors.AuthorityError(
                'PAYLOAD_TOO_LARGE',
                f'The request body is larger than {MAX_BODY} bytes', 413)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        resp.set_header('Cache-Control', CACHE_CONTROL)
