"""Request bodies on a live ntcli-server: every framing a client may use
(Content-Length, chunked) gets the same reading, limits and refusals."""

from __future__ import annotations

import json

import testtools

from ntcli_server import wsgi
from ntcli_server.testing import ServerFixture
from tests.functional import rawhttp


class TestBodyFraming(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerFixture()
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)

    def post(self, body: bytes, framing: str, **headers: str):
        headers = {'Authorization': f'Bearer {self.server.credential}',
                   'Content-Type': 'application/json', **headers}
        if framing == 'length':
            headers['Content-Length'] = str(len(body))
        else:
            headers['Transfer-Encoding'] = 'chunked'
            body = rawhttp.chunked(body)
        path = f'/v1/workspaces/{self.server.workspace_id}/tokens'
        return rawhttp.exchange(self.server.port, rawhttp.request_bytes(
            'POST', path, headers, body))

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
        big = json.dumps({'description': 'x' * wsgi.MAX_BODY}).encode()
        for framing in ('length', 'chunked'):
            self.assertEnvelope(self.post(big, framing),
                                413, 'PAYLOAD_TOO_LARGE')
        # chunks of any size add up to the same limit
        headers = {'Authorization': f'Bearer {self.server.credential}',
                   'Content-Type': 'application/json',
                   'Transfer-Encoding': 'chunked'}
        path = f'/v1/workspaces/{self.server.workspace_id}/tokens'
        answer = rawhttp.exchange(self.server.port, rawhttp.request_bytes(
            'POST', path, headers, rawhttp.chunked(big, 4096)))
        self.assertEnvelope(answer, 413, 'PAYLOAD_TOO_LARGE')

    def test_an_empty_chunked_body_is_an_empty_object(self):
        answer = self.post(b'', 'chunked')
        self.assertEqual(201, answer.status, answer.body)
        self.assertEqual(31536000, answer.json()['expires_in'])

    def test_conflicting_or_broken_framing_is_refused(self):
        path = f'/v1/workspaces/{self.server.workspace_id}/tokens'
        auth = {'Authorization': f'Bearer {self.server.credential}',
                'Content-Type': 'application/json'}
        body = b'{"expires_in": 60}'
        cases = [
            # both lengths: a request-smuggling shape
            ({**auth, 'Content-Length': '5',
              'Transfer-Encoding': 'chunked'}, rawhttp.chunked(body)),
            ({**auth, 'Transfer-Encoding': 'chunked'}, b'zz\r\n{}\r\n0\r\n\r\n'),
            ({**auth, 'Content-Length': 'ten'}, body),
            ({**auth, 'Content-Length': '-1'}, body),
            ({**auth, 'Transfer-Encoding': 'gzip'}, body),
        ]
        before = self.count_tokens()
        for headers, data in cases:
            answer = rawhttp.exchange(self.server.port, rawhttp.request_bytes(
                'POST', path, headers, data))
            self.assertIn(answer.status, (400, 411, 501), (headers, answer))
        self.assertEqual(before, self.count_tokens())

    def count_tokens(self):
        path = f'/v1/workspaces/{self.server.workspace_id}/tokens'
        answer = rawhttp.exchange(self.server.port, rawhttp.request_bytes(
            'GET', path + '?limit=1000', {
                'Authorization': f'Bearer {self.server.credential}'}))
        return answer.json()['count']
