"""Tests of ntcli_server.envelope: a refusal echoes at most a little of the
client's text, escaped and without secrets."""

from __future__ import annotations

from ntcli_core.terminal import QUOTE_LIMIT
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
