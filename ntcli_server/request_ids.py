"""Request ids: one id per HTTP request, in the answer and in every log line.

A proxy in front of the server may already have given the request an id
(``X-Request-Id``); it is kept when it looks like an id (:data:`PATTERN`),
so that the proxy's logs and ours can be joined. Anything else (too long,
spaces, control characters that could forge log lines) is replaced by a
fresh id. The id of the request being served is in a context variable, so
that every log record made while serving it carries it (:class:`LogFilter`).
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import typing

from ntcli_core import redact

if typing.TYPE_CHECKING:
    import falcon

HEADER = 'X-Request-Id'
#: What an id taken from a request may look like: short, printable ASCII
#: without spaces, quotes or separators a log parser would trip on.
PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,127}')
#: The request id of log records made outside of a request.
NONE = '-'

_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    'ntcli_server_request_id', default=NONE)


def new() -> str:
    """A fresh request id (128 random bits, hex). Not a secret (a client
    may name its own), so drawn from the process's pseudo-random generator,
    which Python reseeds in each forked worker: 0.3 us, against 0.8 for
    ``secrets`` and its system call, on every request."""
    return f'{random.getrandbits(128):032x}'



def accept(proposed: str | None) -> str:
    """``proposed`` when it is a sane id, else a fresh one. An id shaped
    like a secret (a credential sent in the wrong header) is not kept: it
    would reach the audit trail, which its readers see unredacted."""
    if (proposed and PATTERN.fullmatch(proposed)
            and not redact.holds_secret(proposed)):
        return proposed
    return new()


def current() -> str:
    """The id of the request being served here, or :data:`NONE`."""
    return _current.get()


def enter(request_id: str) -> contextvars.Token[str]:
    """Make ``request_id`` the current one, until :func:`leave`."""
    return _current.set(request_id)


def leave(token: contextvars.Token[str]) -> None:
    """Undo the :func:`enter` that gave ``token``."""
    _current.reset(token)


class RequestIds:
    """Falcon middleware: give each request its id and answer with it."""

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        request_id = accept(req.get_header(HEADER))
        req.context.request_id = request_id
        req.context.request_id_token = enter(request_id)
        resp.set_header(HEADER, request_id)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        token = getattr(req.context, 'request_id_token', None)
        if token is not None:
            leave(token)
            req.context.request_id_token = None


class LogFilter(logging.Filter):
    """Put the current request id on every record (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, 'request_id'):
            record.request_id = current()
        return True
