"""The redirect target of a browser sign-in (RFC 8252), and the browser.

:class:`LoopbackListener` listens on 127.0.0.1 with a port the system
picks, accepts one request on ``/callback`` (its ``state`` must be the one
the sign-in sent), then closes; it logs nothing, since the query holds the
authorization code.
"""

from __future__ import annotations

import html
import http.server
import os
import sys
import threading
import time
import typing
import urllib.parse
import webbrowser

from ntcli import errors
from ntcli_core.terminal import escape

__all__ = ['LoopbackListener', 'can_open_browser', 'open_browser']

CALLBACK_PATH = '/callback'


class LoopbackListener:
    """The redirect target of a browser sign-in: 127.0.0.1, a free port,
    one request on :data:`CALLBACK_PATH` accepted, then closed."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.result: tuple[str, str] | None = None   # ('code'|'error', text)
        self._done = threading.Event()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != CALLBACK_PATH or listener._done.is_set():
                    self._page(404, 'Not found.')
                    return
                query = urllib.parse.parse_qs(parts.query)
                listener.result = listener._read(query)
                listener._done.set()
                kind, _ = listener.result
                self._page(200 if kind == 'code' else 400,
                           'Signed in. You can close this window and go '
                           'back to the terminal.' if kind == 'code' else
                           'The sign-in failed; see the terminal.')

            def _page(self, status: int, text: str) -> None:
                body = (f'<!doctype html><title>ntcli</title>'
                        f'<p>{html.escape(text)}</p>').encode()
                self.send_response(status)
                self.send_header('Content-Type', 'text/html; charset=utf-8')
                self.send_header('Content-Length', str(len(body)))
                self.send_header('Cache-Control', 'no-store')
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: typing.Any) -> None:
                pass            # the query holds the code: log nothing

        self.server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        self.server.timeout = 0.5
        self.redirect_uri = (f'http://127.0.0.1:{self.server.server_port}'
                             f'{CALLBACK_PATH}')

    def _read(self, query: dict[str, list[str]]) -> tuple[str, str]:
        def one(name: str) -> str | None:
            values = query.get(name) or []
            return values[0] if len(values) == 1 else None
        if one('state') != self.state:
            return 'error', ('the answer does not carry the state this '
                             'sign-in sent (another sign-in, or a forged '
                             'request)')
        error = one('error')
        if error is not None:
            if error == 'access_denied':
                return 'error', 'access was denied at the identity provider'
            return 'error', escape(one('error_description') or error)[:300]
        code = one('code')
        if not code:
            return 'error', 'the answer carries no authorization code'
        return 'code', code

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.server_close()

    def wait(self, seconds: float) -> str:
        """The authorization code of the one request; raises on a wrong
        state, an error, or no request within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self._done.is_set():
            if time.monotonic() >= deadline:
                raise errors.AuthenticationRequired(
                    f'No sign-in came back within {int(seconds)} seconds',
                    'Run ntcli auth login again (or --device to sign in '
                    'from another device).')
            self.server.handle_request()
        assert self.result is not None
        kind, text = self.result
        if kind != 'code':
            raise errors.AuthenticationRequired(
                f'The sign-in failed: {text}', 'Run ntcli auth login again.')
        return text


def can_open_browser() -> bool:
    """Whether a browser on this machine can show a page to the person:
    not over SSH, and with a display (or on macOS and Windows)."""
    if os.environ.get('SSH_CONNECTION') or os.environ.get('SSH_TTY'):
        return False
    if sys.platform in ('darwin', 'win32'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get(
        'WAYLAND_DISPLAY') or os.environ.get('BROWSER'))


def open_browser(url: str) -> bool:
    """Show ``url`` in the person's browser; False when none opened."""
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
