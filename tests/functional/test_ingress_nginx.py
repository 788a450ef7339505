"""ntcli-server behind a real nginx: ``auth_request`` to /v1/token_auth in
front of a small upstream, configured as docs/operator/ingress.md says.

nginx comes from the distribution's packages (.ci/run installs
nginx-light when it is missing); without it, or without its auth_request
module, these tests skip and say why. nginx, the upstream and the server
are this test's own processes, on free ports of 127.0.0.1, with a
temporary prefix.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import fixtures
import testtools

from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_core import scopes
from ntcli_server.testing import HOST, ServerFixture, free_port

# The configuration docs/operator/ingress.md gives, with this test's ports and
# prefix filled in.
CONFIG = '''
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    server {{
        listen {host}:{port};

        location / {{
            auth_request /_ntcli_token_auth;
            auth_request_set $ntcli_workspace $upstream_http_x_workspace_id;
            auth_request_set $ntcli_jti $upstream_http_x_token_jti;
            auth_request_set $ntcli_scope $upstream_http_x_token_scope;
            proxy_set_header X-Workspace-Id $ntcli_workspace;
            proxy_set_header X-Token-Jti $ntcli_jti;
            proxy_set_header X-Token-Scope $ntcli_scope;
            # never forward a client's own (an empty value drops the header)
            proxy_set_header X-Original-URL "";
            proxy_set_header X-Original-Method "";
            proxy_pass http://{host}:{upstream};
        }}

        location = /_ntcli_token_auth {{
            internal;
            proxy_pass http://{host}:{server}/v1/token_auth;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
    }}
}}
'''


def find_nginx() -> str | None:
    return shutil.which('nginx') or next(
        (path for path in ('/usr/sbin/nginx', '/usr/local/sbin/nginx')
         if os.access(path, os.X_OK)), None)


class Upstream(fixtures.Fixture):
    """An HTTP server that answers every request with what it received:
    method, path and the headers nginx added."""

    def _setUp(self) -> None:
        class Echo(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get('Content-Length') or 0)
                self.rfile.read(length)
                body = json.dumps({
                    'method': self.command, 'path': self.path,
                    'workspace': self.headers.get('X-Workspace-Id'),
                    'jti': self.headers.get('X-Token-Jti'),
                    'scope': self.headers.get('X-Token-Scope'),
                    'original': [self.headers.get('X-Original-URL'),
                                 self.headers.get('X-Original-Method')]
                }).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Echo)
        self.port = self.server.server_address[1]
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)


class Nginx(fixtures.Fixture):
    """nginx in the foreground with CONFIG, in a temporary prefix."""

    def __init__(self, binary: str, server_port: int,
                 upstream_port: int) -> None:
        super().__init__()
        self.binary = binary
        self.server_port = server_port
        self.upstream_port = upstream_port

    def _setUp(self) -> None:
        prefix = self.useFixture(fixtures.TempDir()).path
        os.chmod(prefix, 0o755)         # workers may run as another user
        self.port = free_port()
        config = os.path.join(prefix, 'nginx.conf')
        with open(config, 'w') as handle:
            handle.write(CONFIG.format(
                prefix=prefix, host=HOST, port=self.port,
                server=self.server_port, upstream=self.upstream_port))
        self.error_log = os.path.join(prefix, 'error.log')
        self.process = subprocess.Popen(
            [self.binary, '-p', prefix, '-c', config, '-e', self.error_log,
             '-g', 'daemon off;'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.addCleanup(self._stop)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('nginx did not start: '
                                   + self.process.stderr.read().decode())
            try:
                socket.create_connection((HOST, self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('nginx did not listen within 30 seconds')

    def _stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)   # graceful
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process.stderr.close()

    def request(self, method: str, path: str, token: str | None = None,
                body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict]:
        """One request, the path sent as it is (no client-side
        normalization of dot segments)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=20)
        try:
            headers = dict(headers or {})
            if token:
                headers['Authorization'] = f'Bearer {token}'
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer = json.loads(data) if response.status == 200 and data \
                else {}
            return response.status, answer
        finally:
            connection.close()


class TestBehindNginx(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.nginx_binary = find_nginx()

    def setUp(self):
        super().setUp()
        if self.nginx_binary is None:
            self.skipTest('nginx is not installed (Debian: apt-get install '
                          'nginx-light)')
        version = subprocess.run([self.nginx_binary, '-V'],
                                 capture_output=True, text=True)
        if 'http_auth_request_module' not in version.stderr:
            self.skipTest('this nginx has no auth_request module')
        self.server = self.useFixture(ServerFixture())
        upstream = self.useFixture(Upstream())
        self.nginx = self.useFixture(Nginx(self.nginx_binary,
                                           self.server.port, upstream.port))
        self.api = HTTPEndpoint(self.server.url, EndpointOptions(timeout=10))
        self.addCleanup(self.api.close)
        self.ws = self.server.workspace_id
        self.reader = self.api.issue_token(self.server.credential, self.ws,
                                           expires_in=3600)

    def path(self, rest: str, workspace: str | None = None) -> str:
        return f'/v1/workspaces/{workspace or self.ws}/{rest}'

    def test_a_valid_read_reaches_the_upstream(self):
        status, answer = self.nginx.request('GET', self.path('servers?x=1'),
                                            self.reader.token)
        self.assertEqual(200, status)
        self.assertEqual(
            {'method': 'GET', 'path': self.path('servers?x=1'),
             'workspace': self.ws, 'jti': self.reader.jti,
             'scope': 'workspace:read servers:read',
             'original': [None, None]}, answer)

    def test_a_read_only_token_may_not_write(self):
        status, _ = self.nginx.request('POST', self.path('servers'),
                                       self.reader.token, body=b'{}')
        self.assertEqual(403, status)
        writer = self.api.issue_token(self.server.credential, self.ws,
                                      expires_in=3600,
                                      scope=['servers:write'])
        status, answer = self.nginx.request('POST', self.path('servers'),
                                            writer.token, body=b'{}')
        self.assertEqual((200, 'POST'), (status, answer['method']))

    def test_another_workspace_is_forbidden(self):
        other = self.api.create_workspace(self.server.credential,
                                          'elsewhere').id
        full = self.api.issue_token(self.server.credential, self.ws,
                                    expires_in=3600, scope=scopes.FULL)
        for path in (self.path('servers', other),
                     self.path(f'../../workspaces/{other}/servers'),
                     f'/v1/workspaces/{self.ws}/..%2F{other}/servers'):
            status, _ = self.nginx.request('GET', path, full.token)
            self.assertEqual(403, status, path)

    def test_a_raw_fragment_is_forbidden(self):
        # Everything after '#' used to be ignored by the check, and nginx
        # forwards the whole request line upstream.
        other = self.api.create_workspace(self.server.credential,
                                          'elsewhere').id
        full = self.api.issue_token(self.server.credential, self.ws,
                                    expires_in=3600, scope=scopes.FULL)
        for path in (self.path(f'servers#/../../{other}/secrets'),
                     self.path('servers#'),
                     self.path('servers?x=1#y')):
            status, _ = self.nginx.request('GET', path, full.token)
            self.assertEqual(403, status, path)

    def test_client_sent_original_headers_stay_with_the_ingress(self):
        other = self.api.create_workspace(self.server.credential,
                                          'elsewhere').id
        # Judged on the request line, not on the client's headers...
        status, _ = self.nginx.request(
            'GET', self.path('servers', other), self.reader.token,
            headers={'X-Original-URL': self.path('servers'),
                     'X-Original-Method': 'GET'})
        self.assertEqual(403, status)
        # ...and never passed on to the upstream.
        status, answer = self.nginx.request(
            'GET', self.path('servers'), self.reader.token,
            headers={'X-Original-URL': self.path('servers', other),
                     'X-Original-Method': 'DELETE'})
        self.assertEqual((200, [None, None]), (status, answer['original']))

    def test_revoked_and_missing_tokens_are_401(self):
        self.api.revoke_token(self.server.credential, self.ws,
                              self.reader.jti)
        for token in (self.reader.token, None, 'wst_garbage'):
            status, _ = self.nginx.request('GET', self.path('servers'),
                                           token)
            self.assertEqual(401, status)
