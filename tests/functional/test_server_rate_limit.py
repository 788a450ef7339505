"""Failed authentications against a live ``ntcli-server serve`` (two
workers): one address is refused with 429 past the limit, for the whole
node, while other clients go on."""

from __future__ import annotations

from tests.functional import rawhttp

ATTACKER = '127.0.0.1'
NEIGHBOUR = '127.0.0.2'          # another client address on loopback


class TestAuthFailureLimit(rawhttp.LiveServerTest):

    server_options = {'workers': 2,
                      'serve_args': ['--auth-failure-limit', '6',
                                     '--auth-failure-window', '600']}

    def whoami(self, credential: str, source: str) -> rawhttp.Answer:
        return self.call('GET', '/v1/whoami',
                         {'Authorization': f'Bearer {credential}'},
                         source=source)

    def test_repeated_failures_are_refused_for_the_whole_node(self):
        # one connection each: the two workers share the count
        for n in range(6):
            answer = self.whoami(f'ntu_guess{n}', ATTACKER)
            self.assertEqual(401, answer.status, answer.body)
        for credential in ('ntu_guess', self.server.credential):
            answer = self.whoami(credential, ATTACKER)
            self.assertEqual(429, answer.status, answer.body)
            self.assertEqual('TOO_MANY_REQUESTS',
                             answer.json()['error']['code'])
            self.assertTrue(0 < int(answer.headers['retry-after']) <= 600)
        # a client at another address is not affected
        answer = self.whoami(self.server.credential, NEIGHBOUR)
        self.assertEqual(200, answer.status, answer.body)
        self.assertEqual(401, self.whoami('ntu_guess', NEIGHBOUR).status)
