"""The NimbleTools CLI (the Node ntcli, 0.4.x) against ntcli-server,
unmodified: its requests replayed byte for byte as it sends them.

What it sends, with ``fetch``: ``Content-Type: application/json`` and
``User-Agent: ntcli/1.0.0`` on every request, ``Authorization: Bearer``
with the user's credential for workspaces, issue and revoke and with the
stored workspace token for the token list; as the issue body
``JSON.stringify(options)`` of ``{expires_in?, expires_at?}`` (Unix
seconds), never a scope, ``{}`` when neither is set; revocation as
``POST /v1/workspaces/{id}/tokens/{jti}/revoke`` without a body. What it
reads: ``access_token``, ``token_type``, ``expires_in`` (null for a token
that never expires), ``scope`` (stored as it comes), and for the list
``count`` and ``tokens[].jti``/``created_at`` (Unix seconds), with no
paging; ``GET /health`` gives ``status``, ``service`` and ``timestamp``.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

import testtools

from ntcli_server.testing import ServerFixture

HEADERS = {'Content-Type': 'application/json', 'User-Agent': 'ntcli/1.0.0'}


class TestNodeClient(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerFixture()
        cls.server.setUp()
        cls.addClassCleanup(cls.server.cleanUp)

    def send(self, method, path, bearer=None, body=None):
        """One request as fetch sends it; the status and the JSON body."""
        url = urllib.parse.urlsplit(self.server.url)
        connection = http.client.HTTPConnection(url.hostname, url.port,
                                                timeout=20)
        headers = dict(HEADERS)
        if bearer:
            headers['Authorization'] = f'Bearer {bearer}'
        try:
            connection.request(method, path, headers=headers,
                               body=None if body is None
                               else json.dumps(body, separators=(',', ':')))
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b'{}')
        finally:
            connection.close()

    def workspace(self):
        name = f'node-{time.monotonic_ns() % 10**9}'
        status, body = self.send('POST', '/v1/workspaces',
                                 self.server.credential, {'name': name})
        self.assertEqual(201, status, body)
        return body['workspace_id']

    def test_refresh_without_a_scope_and_store_what_comes_back(self):
        ws = self.workspace()
        path = f'/v1/workspaces/{ws}/tokens'
        for options, lifetime in (({'expires_in': 86400}, 86400),
                                  ({'expires_at': int(time.time()) + 7200},
                                   7200),
                                  ({}, 31536000)):
            status, body = self.send('POST', path, self.server.credential,
                                     options)
            self.assertEqual(201, status, body)
            self.assertEqual('Bearer', body['token_type'])
            self.assertTrue(body['access_token'].startswith('wst_'))
            self.assertAlmostEqual(lifetime, body['expires_in'], delta=5)
            self.assertEqual(['workspace:read', 'servers:read'],
                             body['scope'])
            self.assertEqual(ws, body['workspace_id'])
        # the token it stored works for what it uses it for: the list
        token = body['access_token']
        status, listed = self.send('GET', path, token)
        self.assertEqual(200, status, listed)
        self.assertEqual(3, listed['count'])
        self.assertEqual(3, len(listed['tokens']))
        for item in listed['tokens']:
            self.assertRegex(item['jti'], r'^jti_')
            self.assertIsInstance(item['created_at'], int)

    def test_the_list_is_never_truncated(self):
        ws = self.workspace()
        path = f'/v1/workspaces/{ws}/tokens'
        for _ in range(101):
            status, body = self.send('POST', path, self.server.credential,
                                     {'expires_in': 3600})
            self.assertEqual(201, status)
        status, listed = self.send('GET', path, body['access_token'])
        self.assertEqual((200, 101, 101),
                         (status, listed['count'], len(listed['tokens'])))

    def test_revoke_by_post(self):
        ws = self.workspace()
        status, issued = self.send('POST', f'/v1/workspaces/{ws}/tokens',
                                   self.server.credential, {})
        status, body = self.send(
            'POST', f"/v1/workspaces/{ws}/tokens/{issued['jti']}/revoke",
            self.server.credential)
        self.assertEqual(200, status, body)
        self.assertEqual('revoked', body['status'])
        status, body = self.send('GET', '/v1/token_auth',
                                 issued['access_token'])
        self.assertEqual((401, 'TOKEN_REVOKED'),
                         (status, body['error']['code']))

    def test_a_retiring_token_as_it_sees_it(self):
        # another client (ntcli token refresh --grace) left a token
        # retiring: the Node client's list, its stored token and its revoke
        # work as before, and its revoke ends the grace at once
        ws = self.workspace()
        path = f'/v1/workspaces/{ws}/tokens'
        status, old = self.send('POST', path, self.server.credential, {})
        status, body = self.send(
            'DELETE', f"{path}/{old['jti']}?grace=3600",
            self.server.credential)
        self.assertEqual((200, 'retiring'), (status, body['status']))
        status, listed = self.send('GET', path, old['access_token'])
        self.assertEqual((200, 1), (status, listed['count']))
        self.assertEqual(old['jti'], listed['tokens'][0]['jti'])
        self.assertIsInstance(listed['tokens'][0]['created_at'], int)
        status, body = self.send(
            'POST', f"{path}/{old['jti']}/revoke", self.server.credential)
        self.assertEqual((200, 'revoked', False),
                         (status, body['status'], body['already_revoked']))
        status, body = self.send('GET', '/v1/token_auth',
                                 old['access_token'])
        self.assertEqual((401, 'TOKEN_REVOKED'),
                         (status, body['error']['code']))

    def test_workspaces_and_health(self):
        ws = self.workspace()
        status, body = self.send('GET', '/v1/workspaces',
                                 self.server.credential)
        self.assertEqual(200, status)
        self.assertIn(ws, [w['workspace_id'] for w in body['workspaces']])
        status, health = self.send('GET', '/health')
        self.assertEqual(200, status)
        self.assertEqual('healthy', health['status'])
        self.assertEqual('ntcli-server', health['service'])
        self.assertRegex(health['timestamp'], r'^\d{4}-\d\d-\d\dT')
