"""Tests of ntcli_server.envelope: a refusal echoes at most a little of the
client's text, escaped and without secrets (and of the request ids it
carries)."""

from __future__ import annotations

from ntcli_core.terminal import QUOTE_LIMIT
from ntcli_server import envelope
from tests.unit.ntcli_server.test_wsgi import APITestCase

SECRET = 'wst_' + 'A' * 40


class TestEchoedText(APITestCase):

    def test_a_method_not_allowed_echoes_a_bounded_path(self):
        path = f'/v1/workspaces/{"x" * 5000}\x1b[2J/tokens'
        error = self.assertError(self.call('PATCH', path, self.alice), 405,
                                 'METHOD_NOT_ALLOWED')
        self.assertLess(len(error['message']), 2 * QUOTE_LIMIT + 60)
        self.assertIn("'PATCH'", error['message'])
        self.assertIn('…', error['message'])
        self.assertTrue(error['message'].isprintable())

    def test_a_method_not_allowed_hides_a_secret_in_the_path(self):
        path = f'/v1/workspaces/{SECRET}/tokens'
        error = self.assertError(self.call('PATCH', path, self.alice), 405,
                                 'METHOD_NOT_ALLOWED')
        self.assertNotIn(SECRET, error['message'])
        self.assertIn('wst_***', error['message'])

    def test_unknown_actions_are_echoed_few_short_and_escaped(self):
        actions = [f'{i}{"y" * 3000}\x07' for i in range(10)] + [SECRET]
        result = self.call(
            'GET', f'/v1/workspaces/{self.ws.id}/events', self.alice,
            params={'action': actions})
        error = self.assertError(result, 400, 'INVALID_REQUEST')
        message = error['message']
        self.assertIn('and 8 more', message)
        self.assertLess(len(message), 3 * (QUOTE_LIMIT + 8) + 400)
        self.assertTrue(message.isprintable())
        self.assertNotIn(SECRET, message)
        self.assertEqual({'field': 'action'}, error['details'])


class TestBoundedAnswers(APITestCase):

    def test_a_long_path_segment_is_echoed_cut(self):
        jti = 'j' * 3000
        error = self.assertError(
            self.call('DELETE', f'{self.tokens_path()}/{jti}', self.alice),
            404, 'TOKEN_NOT_FOUND')
        self.assertLessEqual(len(error['message']), envelope.MAX_MESSAGE + 1)
        workspace = 'w' * 3000
        error = self.assertError(
            self.call('GET', self.tokens_path(workspace), self.alice),
            404, 'WORKSPACE_NOT_FOUND')
        self.assertTrue(all(len(value) <= envelope.MAX_DETAIL + 1
                            for value in error['details'].values()))
        self.assertTrue(error['details']['workspace_id'].startswith('www'))

    def test_a_short_one_is_echoed_whole(self):
        error = self.assertError(
            self.call('DELETE', f'{self.tokens_path()}/jti_nope', self.alice),
            404, 'TOKEN_NOT_FOUND')
        self.assertIn("'jti_nope'", error['message'])


class TestRequestIds(APITestCase):

    def test_a_secret_shaped_request_id_is_replaced(self):
        secret = 'ntu_' + 'a' * 30
        result = self.call('GET', '/v1/whoami', self.alice,
                           headers={'X-Request-Id': secret})
        self.assertEqual(200, result.status_code)
        self.assertNotIn(secret, result.headers['x-request-id'])

    def test_a_proxy_request_id_is_kept(self):
        result = self.call('GET', '/v1/whoami', self.alice,
                           headers={'X-Request-Id': 'proxy-1234'})
        self.assertEqual('proxy-1234', result.headers['x-request-id'])

