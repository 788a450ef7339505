"""The server's logs: the access log and the error log, as text or JSON.

Both carry the request id (:mod:`ntcli_server.request_ids`). In JSON each
line is one object, so that a log shipper needs no parser of its own:

* access: ``{"time", "log": "access", "request_id", "remote", "method",
  "path", "status", "bytes", "duration_ms", "user_agent"}``;
* error: ``{"time", "log": "error", "level", "logger", "pid",
  "request_id", "message"}`` (plus ``"exception"`` with a traceback).

No request header but the user agent is logged (``Authorization`` is a
secret), and every message goes through :func:`ntcli_core.redact.redact`,
in the access log too: the request line, path, query, user agent and
referer are a client's text, where a careless client may put a token.

gunicorn and gevent are imported inside the functions that use them: both
are the ``server`` extra, which the admin commands run without, and they
cost 35 ms and 20 ms (``python -X importtime`` after importing this
module, on a loaded machine).
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import time
import urllib.parse

from ntcli_core import redact, timefmt
from ntcli_server import request_ids

FORMATS = ('text', 'json')
ACCESS_TEXT = ('%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" '
               '%({x-request-id}o)s')
ERROR_TEXT = ('[%(asctime)s] [%(process)d] [%(levelname)s] '
              '[%(request_id)s] %(name)s: %(message)s')


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {'time': timefmt.iso_millis(record.created), 'log': 'error',
                 'level': record.levelname.lower(), 'logger': record.name,
                 'pid': record.process,
                 'request_id': getattr(record, 'request_id',
                                       request_ids.current()),
                 # the handler's RedactingFilter has redacted both already
                 'message': record.getMessage()}
        if record.exc_info:
            entry['exception'] = (record.exc_text
                                  or self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def _error_formatter(fmt: str) -> logging.Formatter:
    return JSONFormatter() if fmt == 'json' else logging.Formatter(
        ERROR_TEXT)


def _filters(handler: logging.Handler) -> None:
    for kind in (redact.RedactingFilter, request_ids.LogFilter):
        if not any(isinstance(f, kind) for f in handler.filters):
            handler.addFilter(kind())


def configure(level: str, fmt: str) -> None:
    """Send the ``ntcli_server`` loggers to stderr in format ``fmt``."""
    logger = logging.getLogger('ntcli_server')
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_error_formatter(fmt))
    _filters(handler)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    # Its records are written here only: in gunicorn's workers the root
    # logger has a handler too, which wrote each of them again as text.
    logger.propagate = False


def gunicorn_logger(fmt: str) -> type:
    """gunicorn's logger class with the request id in both logs, writing
    one JSON object per line when ``fmt`` is json."""
    from gunicorn import glogging

    class ServerLogger(glogging.Logger):
        """gunicorn's logger in our format."""

        def setup(self, cfg: object) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(_error_formatter(fmt))
                _filters(handler)

        def atoms(self, resp: object, req: object, environ: dict,
                  request_time: object) -> dict:
            atoms = super().atoms(resp, req, environ, request_time)
            for key in _CLIENT_TEXT:
                value = atoms.get(key)
                if isinstance(value, str):
                    atoms[key] = redacted(value)
            return atoms

        def access(self, resp: object, req: object, environ: dict,
                   request_time: object) -> None:
            if fmt != 'json':
                super().access(resp, req, environ, request_time)
            elif self.access_log_enabled:
                self.access_log.info(json.dumps(
                    _access_entry(self.atoms(resp, req, environ,
                                             request_time)),
                    ensure_ascii=False))

    return ServerLogger


def one_line_tls_failures() -> None:
    """In a gevent worker: log a connection that fails before its request
    (a failed TLS handshake: a plain-HTTP client on the TLS port, a port
    scanner, a reset) as one warning, not gevent's traceback of 18 lines
    on stderr for each."""
    import gevent
    hub = gevent.get_hub()
    printed = hub.print_exception
    log = logging.getLogger('ntcli_server.tls')

    def print_exception(context: object, kind: type | None, value: object,
                        tb: object) -> None:
        if kind is not None and issubclass(kind, (ssl.SSLError,
                                                  ConnectionError)):
            log.warning('A connection failed before its request (TLS '
                        'handshake): %s', value)
            return
        printed(context, kind, value, tb)

    hub.print_exception = print_exception


#: gunicorn's access log atoms a client writes: request line, path, query,
#: user agent, referer.
_CLIENT_TEXT = ('r', 'U', 'q', 'a', 'f')


def redacted(text: str) -> str:
    """``text`` (a client's, maybe percent-encoded) with every secret
    replaced: percent-decoded first when the encoding hides one."""
    clean = redact.redact(text)
    decoded = urllib.parse.unquote_plus(text)
    if decoded != text and redact.redact(decoded) != decoded:
        return redact.redact(decoded)
    return clean


def _access_entry(atoms: dict) -> dict:
    """An access log entry from gunicorn's atoms."""
    return {'time': timefmt.iso_millis(time.time()), 'log': 'access',
            'request_id': atoms.get('{x-request-id}o'),
            'remote': atoms['h'], 'method': atoms['m'], 'path': atoms['U'],
            'status': int(atoms['s']), 'bytes': atoms['B'],
            'duration_ms': atoms['M'], 'user_agent': atoms['a']}
