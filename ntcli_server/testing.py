"""Test fixtures around ``ntcli-server``, for ntcli's tests and plugin authors.

* :class:`ServerFixture` runs a real ``ntcli-server serve`` on 127.0.0.1 (a
  free port) on a fresh SQLite file or a given database (several fixtures
  may share one PostgreSQL DSN, as nodes behind a load balancer would), and
  provisions a user and a workspace through the admin CLI.
* :class:`FaultProxy` is a small HTTP server in a thread that forwards to an
  upstream server, or answers with a fault on request: a hang, an HTML 502,
  garbage, a dropped connection. Without an upstream it is a canned server.

Both are ``fixtures.Fixture`` objects::

    server = self.useFixture(ServerFixture())
    endpoint = HTTPEndpoint(server.url, EndpointOptions())
    endpoint.list_workspaces(server.credential)
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import typing
import urllib.error
import urllib.parse
import urllib.request

import fixtures

HOST = '127.0.0.1'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_command() -> list[str]:
    """The installed ``ntcli-server`` as an argv prefix."""
    script = os.path.join(os.path.dirname(sys.executable), 'ntcli-server')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'ntcli_server.cli']


def _answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2,
                                    context=context) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


class ServerFixture(fixtures.Fixture):
    """A running ``ntcli-server`` with a user and a workspace.

    ``db``: a SQLite path or PostgreSQL DSN (default: a new SQLite file in
    a temporary directory). ``user`` and ``workspace``: names to create with
    the admin CLI; ``user=None`` creates neither (for a second server on a
    shared database; with no ``db`` it just creates the database, which
    ``serve`` would refuse to do). ``env``: extra environment for the
    server and the admin commands (``NTCLI_SERVER_SECRET``...).
    ``serve_args``: more options of ``serve`` (``--metrics``...); with
    ``ssl_context`` (a client context that trusts the server's CA) the
    server is reached over HTTPS (give ``--certfile``...). After
    setUp: ``url``, ``port``, ``db``, ``credential`` (the user's, or None),
    ``workspace_id``, ``log_path``.
    """

    def __init__(self, db: str | None = None, *,
                 user: str | None = 'tester',
                 workspace: str | None = 'main', workers: int = 1,
                 port: int | None = None,
                 env: dict[str, str] | None = None,
                 serve_args: typing.Sequence[str] = (),
                 ssl_context: ssl.SSLContext | None = None,
                 start_timeout: float = 30.0) -> None:
        super().__init__()
        self.db = db or ''          # a fresh database in _setUp if empty
        self.extra_env = dict(env or {})
        self.user = user
        self.workspace = workspace if user else None
        self.workers = workers
        self.port = port
        self.serve_args = list(serve_args)
        self.ssl_context = ssl_context
        self.start_timeout = start_timeout
        self.credential: str | None = None
        self.workspace_id: str | None = None
        self.process: subprocess.Popen | None = None

    def _setUp(self) -> None:
        self.dir = self.useFixture(fixtures.TempDir()).path
        fresh = not self.db
        self.db = self.db or os.path.join(self.dir, 'server.db')
        self.log_path = os.path.join(self.dir, 'server.log')
        if self.user:
            self.credential = self.admin('user', 'create',
                                         self.user).strip()
        elif fresh:
            # serve refuses a missing database: make one (and its key).
            self.admin('keys', 'rotate')
        if self.workspace and self.user:
            self.workspace_id = self.admin(
                'workspace', 'create', self.workspace,
                '--owner', self.user).strip()
        self.addCleanup(self.stop)
        self.start()

    @property
    def url(self) -> str:
        scheme = 'https' if self.ssl_context else 'http'
        return f'{scheme}://{HOST}:{self.port}'

    @property
    def env(self) -> dict[str, str]:
        """The environment of the server and the admin commands."""
        return {**os.environ, **self.extra_env}

    def admin(self, *args: str, check: bool = True) -> str:
        """Run ``ntcli-server --db DB ARGS``; return its stdout."""
        proc = subprocess.run(
            server_command() + ['--db', self.db, *args], capture_output=True,
            text=True, stdin=subprocess.DEVNULL, env=self.env, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f'ntcli-server {" ".join(args)} failed '
                               f'({proc.returncode}): {proc.stderr}')
        return proc.stdout

    def log(self) -> str:
        """What the server wrote so far (access and error logs)."""
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (on the same port as before, if any) and wait
        until it answers /healthz."""
        chosen = self.port is None
        for _ in range(3):
            if self.port is None:
                self.port = free_port()
            with open(self.log_path, 'ab') as log:
                self.process = subprocess.Popen(
                    server_command() + [
                        '--db', self.db, 'serve',
                        '--bind', f'{HOST}:{self.port}',
                        '--workers', str(self.workers),
                        *self.serve_args],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                    env=self.env,
                    # its own process group: kill() takes the workers too
                    start_new_session=True)
            if self._wait_healthy(self.process):
                return
            self.kill()
            if not chosen:
                break
            self.port = None       # someone took the port: pick another
        raise RuntimeError(f'ntcli-server did not start:\n{self.log()}')

    def _wait_healthy(self, process: subprocess.Popen) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _answers(self.url + '/healthz', self.ssl_context):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Shut the server down gracefully (SIGTERM), or kill it."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        self.kill()

    def kill(self) -> None:
        """Kill the server and its workers at once, as a crash would."""
        if self.process is None:
            return
        if self.process.returncode is None:
            # Not reaped yet, so its id is still its process group's.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        # the workers die with the group; wait until the port is free
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex((HOST, self.port)) != 0:
                    break
            time.sleep(0.05)

    def restart(self) -> None:
        """Start again on the same port and database."""
        self.kill()
        self.start()


# -- a proxy with faults ---------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Answer:
    """A canned HTTP answer."""

    status: int
    body: bytes = b''
    content_type: str | None = 'application/json'
    headers: tuple[tuple[str, str], ...] = ()


#: Fault actions besides an :class:`Answer`.
HANG = 'hang'                  # read the request, never answer
CLOSE = 'close'                # close the connection without answering
LOSE_ANSWER = 'lose-answer'    # forward, then drop the upstream's answer

HTML_502 = Answer(502, b'<html><body><h1>502 Bad Gateway</h1></body>'
                       b'</html>', 'text/html')
GARBLED = Answer(200, b'{"access_token": "wst_\x00\xff', 'application/json')


@dataclasses.dataclass(frozen=True)
class Forwarded:
    """Forward the request, so that the upstream acts on it, then answer
    with ``then`` (an Answer, HANG or CLOSE) in place of its answer: the
    answer lost, delayed past any timeout, turned into a gateway error or
    garbled."""

    then: Answer | str


Fault = Answer | Forwarded | str


@dataclasses.dataclass
class _Rule:
    action: Fault
    method: str | None
    path: str | None
    times: int | None


@dataclasses.dataclass(frozen=True)
class Seen:
    """A request the proxy received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that prints nothing when a client fails."""

    daemon_threads = True

    def handle_error(self, request: typing.Any,
                     client_address: typing.Any) -> None:
        pass


class FaultProxy(fixtures.Fixture):
    """An HTTP server in a thread that forwards to ``upstream`` or fails.

    With ``ssl_context`` it serves HTTPS.
    ``proxy.fail(HANG, method='POST', times=1)`` makes the next POST hang;
    rules are tried newest first; ``proxy.clear()`` removes them.
    ``before_forward`` (a callable of method and path) runs before each
    forwarded request: a test can kill the upstream there.
    ``seen`` lists every request received.
    """

    def __init__(self, upstream: str | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.before_forward: typing.Callable[[str, str], None] | None = None
        self.seen: list[Seen] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._release = threading.Event()

    def _setUp(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except (TimeoutError, ConnectionError):
                    self.close_connection = True

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: object) -> None:
                pass

        self._server = _QuietServer((HOST, 0), Handler)
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(
                self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        thread = threading.Thread(target=self._server.serve_forever,
                                  kwargs={'poll_interval': 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(self._shutdown)

    def _shutdown(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        scheme = 'https' if self.ssl_context is not None else 'http'
        return f'{scheme}://{HOST}:{self.port}'

    def fail(self, action: Fault, *, method: str | None = None,
             path: str | None = None, times: int | None = None) -> None:
        """Answer matching requests (method, path prefix) with ``action``,
        ``times`` times or until cleared."""
        with self._lock:
            self._rules.insert(0, _Rule(action, method, path, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.method not in (None, method) or (
                        rule.path and not path.startswith(rule.path)):
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                return rule.action
        return None

    def _serve(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get('Content-Length') or 0)
        body = handler.rfile.read(length) if length else b''
        method = handler.command
        self.seen.append(Seen(method, handler.path,
                                  dict(handler.headers.items()), body))
        fault = self._fault_for(method, handler.path)
        if fault == HANG:
            self._release.wait(300)
            handler.close_connection = True
            return
        if fault == CLOSE:
            handler.close_connection = True
            return
        if isinstance(fault, Answer):
            self._send(handler, fault)
            return
        after: Answer | str | None = None
        if isinstance(fault, Forwarded):
            after = fault.then
            fault = None
        upstream = self.upstream
        if upstream is None:
            self._send(handler, Answer(404, b'{}'))
            return
        if self.before_forward is not None:
            self.before_forward(method, handler.path)
        try:
            answer = self._forward(handler, body, upstream)
        except OSError:
            answer = HTML_502       # as a real gateway says it
        if fault == LOSE_ANSWER or after == CLOSE:
            handler.close_connection = True
            return
        if after == HANG:
            self._release.wait(300)
            handler.close_connection = True
            return
        self._send(handler, after if isinstance(after, Answer) else answer)

    def _forward(self, handler: http.server.BaseHTTPRequestHandler,
                 body: bytes, upstream: str) -> Answer:
        target = urllib.parse.urlsplit(upstream)
        conn = http.client.HTTPConnection(target.hostname or HOST,
                                          target.port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items()
                       if k.lower() not in ('host', 'connection')}
            conn.request(handler.command, handler.path, body=body or None,
                         headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = tuple((k, v) for k, v in response.getheaders()
                         if k.lower() not in ('connection', 'content-length',
                                              'content-type', 'server',
                                              'date', 'transfer-encoding'))
            return Answer(response.status, data,
                          response.getheader('Content-Type'), kept)
        finally:
            conn.close()

    @staticmethod
    def _send(handler: http.server.BaseHTTPRequestHandler,
              answer: Answer) -> None:
        handler.send_response(answer.status)
        if answer.content_type:
            handler.send_header('Content-Type', answer.content_type)
        for name, value in answer.headers:
            handler.send_header(name, value)
        handler.send_header('Content-Length', str(len(answer.body)))
        handler.send_header('Connection', 'close')
        handler.end_headers()
        handler.wfile.write(answer.body)
        handler.close_connection = True
