"""``ntcli-server serve --certfile --keyfile [--client-ca]`` with a private
CA made in the test, and ntcli's ``--ca-bundle`` against it."""

from __future__ import annotations

import contextlib
import ssl
import subprocess

import fixtures

from ntcli_server.testing import ServerFixture, server_command
from tests.certificates import write_private_ca
from tests.functional import base, rawhttp
from tests.functional.test_server_ops import wait_for


def client_context(ca: str, cert: str | None = None,
                   key: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    return context


class TestHTTPS(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        directory = self.useFixture(fixtures.TempDir()).path
        self.ca, self.cert, self.key = write_private_ca(directory)
        self.server = self.useFixture(ServerFixture(
            serve_args=['--certfile', self.cert, '--keyfile', self.key],
            ssl_context=client_context(self.ca)))
        for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE'):
            self.useFixture(fixtures.EnvironmentVariable(name))

    def test_the_cli_reaches_it_with_its_ca_bundle(self):
        self.assertTrue(self.server.url.startswith('https://'))
        self.ntcli('--endpoint', self.server.url, '--ca-bundle', self.ca,
                   'auth', 'login', input=self.server.credential + '\n')
        issued = self.json('--endpoint', self.server.url,
                           '--ca-bundle', self.ca, 'token', 'refresh',
                           '--workspace', self.server.workspace_id)
        self.assertTrue(issued)

    def test_the_context_keeps_its_ca_bundle(self):
        self.ntcli('--endpoint', self.server.url, '--ca-bundle', self.ca,
                   'auth', 'login', input=self.server.credential + '\n')
        issued = self.json('--context', '127.0.0.1', 'token', 'refresh',
                           '--workspace', self.server.workspace_id)
        self.assertTrue(issued['new_token']['jti'])
        shown = self.json('context', 'show', '127.0.0.1')
        self.assertEqual(self.ca, shown['ca_bundle'])

    def test_an_unknown_ca_is_refused_with_a_hint(self):
        result = self.ntcli('--endpoint', self.server.url, 'auth', 'login',
                            input=self.server.credential + '\n', expect=1)
        self.assertIn('certificate could not be verified', result.stderr)
        self.assertIn('--ca-bundle', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_plain_http_on_the_tls_port_is_no_answer(self):
        # the fixture's readiness probe may itself have given up on a
        # handshake on a loaded machine: count from here
        before = self.server.log().count('TLS handshake')
        answer = None
        # closed without a plain-text answer: fine
        with contextlib.suppress(OSError, ValueError, IndexError):
            answer = rawhttp.exchange(self.server.port, rawhttp.request_bytes(
                'GET', '/healthz', {}), timeout=10)
        if answer is not None:
            self.assertNotEqual(200, answer.status)
        # One line in the log, no traceback.
        self.assertTrue(wait_for(lambda: self.server.log().count(
            'TLS handshake') > before))
        self.assertEqual(before + 1, self.server.log().count('TLS handshake'))
        self.assertNotIn('Traceback', self.server.log())
        self.assertEqual(200, rawhttp.exchange(
            self.server.port, rawhttp.request_bytes('GET', '/healthz', {}),
            context=client_context(self.ca)).status)


class TestClientCertificates(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        directory = self.useFixture(fixtures.TempDir()).path
        (self.ca, cert, key, self.client_cert,
         self.client_key) = write_private_ca(directory, clients=1)
        other = self.useFixture(fixtures.TempDir()).path
        _, _, _, self.stranger_cert, self.stranger_key = write_private_ca(
            other, clients=1, name='another CA')
        self.server = self.useFixture(ServerFixture(
            serve_args=['--certfile', cert, '--keyfile', key,
                        '--client-ca', self.ca],
            ssl_context=client_context(self.ca, self.client_cert,
                                       self.client_key)))

    def healthz(self, context):
        return rawhttp.exchange(self.server.port, rawhttp.request_bytes(
            'GET', '/healthz', {}), context=context, timeout=10)

    def test_only_clients_with_a_certificate_of_the_ca_get_in(self):
        ok = self.healthz(client_context(self.ca, self.client_cert,
                                         self.client_key))
        self.assertEqual(200, ok.status)
        for context in (client_context(self.ca),
                        client_context(self.ca, self.stranger_cert,
                                       self.stranger_key)):
            # TLS 1.3 reports the refusal on the first read, not at the
            # handshake: either way no answer comes.
            try:
                answer = self.healthz(context)
            except (ssl.SSLError, OSError):
                continue
            self.fail(f'answered without a valid client certificate: '
                      f'{answer}')


class TestBadTLSOptions(base.FunctionalTest):

    def test_bad_files_are_one_line_and_exit_1(self):
        directory = self.useFixture(fixtures.TempDir()).path
        ca, cert, key = write_private_ca(directory)
        server = self.useFixture(ServerFixture())
        server.stop()
        for options in (['--certfile', cert],
                        ['--certfile', cert, '--keyfile', ca],
                        ['--certfile', directory + '/none.pem',
                         '--keyfile', key],
                        ['--certfile', cert, '--keyfile', key,
                         '--client-ca', key]):
            proc = subprocess.run(
                server_command() + ['--db', server.db, 'serve', '--bind',
                                    '127.0.0.1:1', *options],
                capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL)
            self.assertEqual(1, proc.returncode, (options, proc.stderr))
            self.assertEqual(1, len(proc.stderr.splitlines()), proc.stderr)
            self.assertIn('ntcli-server:', proc.stderr)
