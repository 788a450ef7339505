"""The error envelope: every failure leaves as ``{"error": {"code",
"message", "request_id", "details"?}}``, whether the authority, Falcon
(an unknown route, a method a route lacks) or an unexpected exception
raised it. An unexpected exception becomes a 500 ``INTERNAL_ERROR`` whose
details stay in the server log, never in the answer. (gunicorn's own
refusals, before the app, get the same envelope: ntcli_server.worker.)
"""

from __future__ import annotations

import logging
import traceback
import typing

import falcon

from ntcli_authority import errors
from ntcli_core import redact
from ntcli_core.terminal import escape, quoted

# The name the logs have always shown for the API's errors.
LOG = logging.getLogger('ntcli_server.wsgi')

RETRY_UNAVAILABLE = 5                # Retry-After of a 503, seconds

# Codes for the errors Falcon itself raises (unknown route, bad method...).
_HTTP_CODES = {400: 'INVALID_REQUEST', 401: 'AUTHENTICATION_REQUIRED',
               403: 'FORBIDDEN', 404: 'NOT_FOUND',
               405: 'METHOD_NOT_ALLOWED', 413: 'PAYLOAD_TOO_LARGE',
               415: 'UNSUPPORTED_MEDIA_TYPE', 422: 'VALIDATION_ERROR'}



#: The longest message, and the longest text in details, an answer
#: carries: both may echo what the client sent (a path segment of up to
#: gunicorn's 4 KB request line, a name), which is for recognising, not
#: for reading back in full.
MAX_MESSAGE = 1024
MAX_DETAIL = 256


def _cut(text: str, limit: int) -> str:
    text = escape(text)
    return text if len(text) <= limit else text[:limit] + '…'


def _bound(error: dict) -> None:
    """Cut the message and the texts of the details of an error body."""
    error['message'] = _cut(error['message'], MAX_MESSAGE)
    details = error.get('details')
    if isinstance(details, dict):           # a copy: the error keeps its own
        error['details'] = {
            name: _cut(value, MAX_DETAIL) if isinstance(value, str)
            else [_cut(v, MAX_DETAIL) if isinstance(v, str) else v
                  for v in value] if isinstance(value, list)
            else value
            for name, value in details.items()}


def send_error(req: falcon.Request, resp: falcon.Response,
                error: errors.AuthorityError) -> None:
    resp.status = falcon.code_to_http_status(error.http_status)
    req.context.error_code = error.code
    body = error.to_dict()
    _bound(body['error'])
    # The id an operator finds this request by in the logs.
    body['error']['request_id'] = getattr(req.context, 'request_id', None)
    resp.media = body
    if error.http_status == 401:
        resp.set_header('WWW-Authenticate', 'Bearer realm="ntcli"')
    elif error.http_status == 503:
        resp.set_header('Retry-After', str(RETRY_UNAVAILABLE))
    for name, value in getattr(error, 'headers', {}).items():
        resp.set_header(name, value)       # Retry-After of a 429


def handle_authority_error(req: falcon.Request, resp: falcon.Response,
                           ex: errors.AuthorityError, params: dict) -> None:
    if ex.http_status >= 500:
        # The real cause (a path, a driver message) is for the server log.
        LOG.error('%s %s failed: %s: %s', req.method, req.path, ex.code,
                  redact.redact(ex.message))
        generic = getattr(type(ex), 'default_message',
                          'The token server failed')
        ex = errors.AuthorityError(ex.code, generic, ex.http_status)
    send_error(req, resp, ex)


def handle_http_error(req: falcon.Request, resp: falcon.Response,
                      ex: falcon.HTTPError, params: dict) -> None:
    status = ex.status_code
    # The method and path are the client's text: quoted, escaped, cut
    # short and with anything secret-shaped hidden.
    message = ex.description or (
        f'{ex.title}: {quoted(redact.redact(req.method))} '
        f'{quoted(redact.redact(req.path))}')
    send_error(req, resp, errors.AuthorityError(
        _HTTP_CODES.get(status, 'HTTP_ERROR'), message, status))
    headers = ex.headers or {}
    items = (headers.items() if isinstance(headers, typing.Mapping)
             else headers)
    for name, value in items:
        resp.set_header(name, value)


def handle_unexpected(req: falcon.Request, resp: falcon.Response,
                      ex: Exception, params: dict) -> None:
    LOG.error('%s %s failed unexpectedly:\n%s', req.method, req.path,
              redact.redact(''.join(traceback.format_exception(ex))))
    send_error(req, resp, errors.AuthorityError(
        'INTERNAL_ERROR', 'The token server failed unexpectedly', 500))



def add_handlers(app: falcon.App) -> None:
    """Answer every failure of ``app`` with the envelope."""
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(errors.AuthorityError, handle_authority_error)
