"""HTTP/1.1 exchanges written byte by byte, for framing a client library
would not send (chunked bodies, conflicting lengths, slow headers)."""

from __future__ import annotations

import json
import socket
import ssl
import typing

import testtools

from ntcli_server.testing import HOST, ServerFixture


class Answer(typing.NamedTuple):
    """A parsed HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> typing.Any:
        return json.loads(self.body)


def chunked(body: bytes, size: int = 7) -> bytes:
    """``body`` in chunked transfer coding, ``size`` bytes a chunk."""
    parts = [b'%x\r\n%s\r\n' % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b''.join(parts) + b'0\r\n\r\n'


def request_bytes(method: str, path: str, headers: dict[str, str],
                  body: bytes = b'') -> bytes:
    """A request with exactly these headers (plus Host and Connection)."""
    lines = [f'{method} {path} HTTP/1.1', f'Host: {HOST}',
             'Connection: close']
    lines += [f'{name}: {value}' for name, value in headers.items()]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


def exchange(port: int, data: bytes, *, timeout: float = 30,
             context: ssl.SSLContext | None = None,
             source: str | None = None) -> Answer:
    """Send ``data`` on a new connection (from the loopback address
    ``source``) and read the answer to the end."""
    with socket.create_connection(
            (HOST, port), timeout=timeout,
            source_address=(source, 0) if source else None) as raw:
        sock = (context.wrap_socket(raw, server_hostname=HOST)
                if context else raw)
        sock.sendall(data)
        received = b''
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return parse(received)


def parse(received: bytes) -> Answer:
    """The status, headers and body of one answer (body de-chunked)."""
    head, _, body = received.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    if headers.get('transfer-encoding', '').lower() == 'chunked':
        decoded = b''
        while body:
            size_line, _, rest = body.partition(b'\r\n')
            size = int(size_line.split(b';')[0], 16)
            if size == 0:
                break
            decoded += rest[:size]
            body = rest[size + 2:]
        body = decoded
    return Answer(status, headers, body)


class LiveServerTest(testtools.TestCase):
    """One ``ntcli-server`` (a user, a workspace) for the whole class."""

    server_options: dict[str, typing.Any] = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerFixture(**cls.server_options)
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)

    @property
    def tokens_path(self) -> str:
        return f'/v1/workspaces/{self.server.workspace_id}/tokens'

    def call(self, method: str, path: str, headers: dict[str, str] | None
             = None, body: bytes = b'', **kwargs: typing.Any) -> Answer:
        """One request as the user, with a Content-Length unless the
        headers give a framing."""
        headers = {'Authorization': f'Bearer {self.server.credential}',
                   **(headers or {})}
        if 'Transfer-Encoding' not in headers:
            headers.setdefault('Content-Length', str(len(body)))
        return exchange(self.server.port,
                        request_bytes(method, path, headers, body), **kwargs)
