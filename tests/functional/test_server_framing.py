"""Request bodies on a live ntcli-server: every framing a client may use
(Content-Length, chunked) gets the same reading, limits and refusals."""

from __future__ import annotations

import json

from ntcli_server import parsing
from tests.functional import rawhttp


class TestBodyFraming(rawhttp.LiveServerTest):

    def post(self, body: bytes, framing: str):
        headers = {'Content-Type': 'application/json'}
        if framing == 'chunked':
            headers['Transfer-Encoding'] = 'chunked'
            body = rawhttp.chunked(body)
        return self.call('POST', self.tokens_path, headers, body)

    def assertEnvelope(self, answer, status, code):
        self.assertEqual(status, answer.status, answer.body)
        self.assertEqual(code, answer.json()['error']['code'])

    def test_the_body_is_read_whatever_the_framing(self):
        for framing in ('length', 'chunked'):
            answer = self.post(b'{"expires_in": 60, "description": "short"}',
                               framing)
            self.assertEqual(201, answer.status, answer.body)
            self.assertEqual(60, answer.json()['expires_in'], framing)

    def test_unknown_fields_are_422_whatever_the_framing(self):
        for framing in ('length', 'chunked'):
            self.assertEnvelope(self.post(b'{"ttl": 60}', framing),
                                422, 'VALIDATION_ERROR')
            self.assertEnvelope(self.post(b'{"expires_in": "60"}', framing),
                                422, 'VALIDATION_ERROR')

    def test_invalid_json_is_400_whatever_the_framing(self):
        for framing in ('length', 'chunked'):
            for body in (b'{"expires_in": ', b'[' * 32000,
                         b'{"description": "\\ud800"}', b'\xff\xfe'):
                self.assertEnvelope(self.post(body, framing),
                                    400, 'INVALID_REQUEST')

    def test_the_size_limit_holds_whatever_the_framing(self):
        big = json.dumps({'description': 'x' * parsing.MAX_BODY}).encode()
        for framing in ('length', 'chunked'):
            self.assertEnvelope(self.post(big, framing),
                                413, 'PAYLOAD_TOO_LARGE')
        # chunks of any size add up to the same limit
        answer = self.call('POST', self.tokens_path,
                           {'Content-Type': 'application/json',
                            'Transfer-Encoding': 'chunked'},
                           rawhttp.chunked(big, 4096))
        self.assertEnvelope(answer, 413, 'PAYLOAD_TOO_LARGE')

    def test_an_empty_chunked_body_is_an_empty_object(self):
        answer = self.post(b'', 'chunked')
        self.assertEqual(201, answer.status, answer.body)
        self.assertEqual(31536000, answer.json()['expires_in'])

    def test_conflicting_or_broken_framing_is_refused(self):
        json_body = {'Content-Type': 'application/json'}
        body = b'{"expires_in": 60}'
        cases = [
            # both lengths: a request-smuggling shape
            ({'Content-Length': '5', 'Transfer-Encoding': 'chunked'},
             rawhttp.chunked(body)),
            ({'Transfer-Encoding': 'chunked'}, b'zz\r\n{}\r\n0\r\n\r\n'),
            ({'Content-Length': 'ten'}, body),
            ({'Content-Length': '-1'}, body),
            ({'Transfer-Encoding': 'gzip'}, body),
            # read as plain chunked, once
            ({'Transfer-Encoding': 'gzip, chunked'}, rawhttp.chunked(body)),
            ({'Transfer-Encoding': 'identity, chunked'},
             rawhttp.chunked(body)),
        ]
        before = self.count_tokens()
        for headers, data in cases:
            answer = self.call('POST', self.tokens_path,
                               {**json_body, **headers}, data)
            self.assertIn(answer.status, (400, 411, 501), (headers, answer))
        self.assertEqual(before, self.count_tokens())

    def test_http_10_without_a_length_is_refused(self):
        # Its body ends with the connection: it used to be ignored, and
        # {"expires_in": 60} gave a token of a year.
        before = self.count_tokens()
        data = rawhttp.request_bytes(
            'POST', self.tokens_path,
            {'Authorization': f'Bearer {self.server.credential}',
             'Content-Type': 'application/json'},
            b'{"expires_in": 60}').replace(b'HTTP/1.1', b'HTTP/1.0', 1)
        answer = rawhttp.exchange(self.server.port, data)
        self.assertEqual(411, answer.status, answer.body)
        self.assertEqual('LENGTH_REQUIRED', answer.json()['error']['code'])
        self.assertEqual(before, self.count_tokens())
        # With a length, HTTP/1.0 is read as any other.
        data = rawhttp.request_bytes(
            'POST', self.tokens_path,
            {'Authorization': f'Bearer {self.server.credential}',
             'Content-Type': 'application/json', 'Content-Length': '18'},
            b'{"expires_in": 60}').replace(b'HTTP/1.1', b'HTTP/1.0', 1)
        answer = rawhttp.exchange(self.server.port, data)
        self.assertEqual((201, 60), (answer.status,
                                     answer.json()['expires_in']))

    def count_tokens(self):
        answer = self.call('GET', self.tokens_path + '?limit=1000')
        return answer.json()['count']


class TestGunicornRefusals(rawhttp.LiveServerTest):
    """What gunicorn refuses before the application sees it comes in the
    error envelope too, not as an HTML page."""

    def assertEnvelope(self, answer, status, code):
        self.assertEqual(status, answer.status, answer.body)
        self.assertEqual('application/json', answer.headers['content-type'])
        error = answer.json()['error']
        self.assertEqual(code, error['code'])
        self.assertEqual(answer.headers['x-request-id'], error['request_id'])

    def send(self, data: bytes):
        return rawhttp.exchange(self.server.port, data)

    def test_a_request_line_too_long(self):
        self.assertEnvelope(self.send(rawhttp.request_bytes(
            'GET', '/v1/whoami?' + 'x' * 9000, {})), 414, 'URI_TOO_LONG')

    def test_header_fields_too_large(self):
        self.assertEnvelope(self.send(rawhttp.request_bytes(
            'GET', '/v1/whoami', {'X-Big': 'y' * 9000})),
            431, 'HEADERS_TOO_LARGE')
        self.assertEnvelope(self.send(rawhttp.request_bytes(
            'GET', '/v1/whoami', {f'X-H{n}': 'v' for n in range(150)})),
            431, 'HEADERS_TOO_LARGE')

    def test_not_http(self):
        for data in (b'HELLO\r\n\r\n', b'GET / HTTP/9.9\r\n\r\n',
                     b'GET /v1/whoami HTTP/1.1\r\nBad Header\r\n\r\n'):
            self.assertEnvelope(self.send(data), 400, 'INVALID_REQUEST')
