"""gunicorn's gevent worker, answering its own refusals in the error
envelope.

gunicorn refuses some requests before the application sees them: a request
line over its limit (414), too many or too large header fields (431), a
request that is not HTTP (400), a transfer coding it does not know (501).
It writes those answers itself, as HTML pages. This worker writes them as
the API's error envelope instead, with a request id, so that every answer
of the server is one a client can read.
"""

from __future__ import annotations

import json
import typing

from gunicorn.workers.ggevent import GeventWorker

from ntcli_server import request_ids

#: The code and message of each answer gunicorn may make itself.
REFUSALS: dict[int, tuple[str, str]] = {
    400: ('INVALID_REQUEST', 'The request is not valid HTTP/1.1'),
    403: ('FORBIDDEN', 'The request is forbidden'),
    414: ('URI_TOO_LONG', 'The request line is too long'),
    417: ('EXPECTATION_FAILED', 'The Expect header cannot be met'),
    431: ('HEADERS_TOO_LARGE',
          'The request has too many or too large header fields'),
    500: ('INTERNAL_ERROR', 'The token server failed unexpectedly'),
    501: ('NOT_IMPLEMENTED', 'The request uses something this server does '
          'not implement (a transfer coding other than chunked)'),
}


class _Captured:
    """A client socket whose writes are kept instead of sent."""

    def __init__(self, sock: typing.Any) -> None:
        self._sock = sock
        self.data = b''

    def sendall(self, data: bytes) -> None:
        self.data += data

    send = sendall

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self._sock, name)


def envelope(status: int) -> bytes:
    """The whole answer of a refusal with this status."""
    code, message = REFUSALS.get(status, REFUSALS[400])
    request_id = request_ids.new()
    body = json.dumps({'error': {'code': code, 'message': message,
                                 'request_id': request_id}}).encode()
    reason = {400: 'Bad Request', 403: 'Forbidden', 414: 'URI Too Long',
              417: 'Expectation Failed',
              431: 'Request Header Fields Too Large',
              500: 'Internal Server Error',
              501: 'Not Implemented'}.get(status, 'Bad Request')
    head = (f'HTTP/1.1 {status} {reason}\r\nConnection: close\r\n'
            'Content-Type: application/json\r\nCache-Control: no-store\r\n'
            f'X-Request-Id: {request_id}\r\n'
            f'Content-Length: {len(body)}\r\n\r\n')
    return head.encode('latin-1') + body


class TokenWorker(GeventWorker):
    """gunicorn's gevent worker; its own refusals in the error envelope."""

    def handle_error(self, req: typing.Any, client: typing.Any,
                     addr: typing.Any, exc: BaseException) -> None:
        # gunicorn logs, counts and writes the answer; only what it writes
        # is replaced.
        captured = _Captured(client)
        super().handle_error(req, captured, addr, exc)
        if not captured.data:
            return
        try:
            status = int(captured.data.split(b' ', 2)[1])
        except (IndexError, ValueError):
            status = 400
        try:
            client.sendall(envelope(status))
        except OSError:
            self.log.debug('Failed to send error message.')
