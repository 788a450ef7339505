"""A live ntcli-server against its own OpenAPI document: schemathesis
generates requests from /openapi.json (valid and invalid ones) and checks
every answer: no server error, and status, content type, headers and body
as the document says.

The budget is fixed (examples per operation, no time-filling fuzzing) so
that the run stays well under a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import fixtures
import testtools

from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_core import scopes
from ntcli_server.testing import ServerFixture

# What positive_data_acceptance (ST202) takes as an acceptance, by default
# and for the operations where a request the document allows can still be
# refused for what no document can say (see ACCEPTED_REFUSALS).
ACCEPTED = ('2xx', '3xx', '401', '403', '404', '409', '429', '5xx')
#: operation (method, path) -> (the refusals, why the document cannot
#: rule them out). Everything else a well-formed request gets must be an
#: acceptance.
ACCEPTED_REFUSALS = {
    ('POST', '/v1/workspaces/{workspace_id}/tokens'): (
        ('400', '410'),
        'an expires_at in the past, or beyond the longest lifetime from '
        'now: a bound relative to the time of the request (400); an '
        'Idempotency-Key sent before, whose token has since expired or been '
        'revoked: the state of the server, as 409 is (410)'),
    ('GET', '/v1/workspaces/{workspace_id}/tokens'): (
        ('400',), 'a cursor is opaque: only one this server gave is valid'),
    ('DELETE', '/v1/auth/session'): (
        ('400',), 'only a session (from signing in) ends; the test signs in '
               'with no identity provider, so its credentials are not '
               'sessions'),
    ('POST', '/v1/oauth/token'): (
        ('400',), "the subject token is another issuer's credential: a "
               'well-formed request with a token no trusted issuer signed '
               'is refused with invalid_grant or invalid_request (RFC 6749 '
               'section 5.2), as schemathesis excuses for OAuth token '
               'endpoints it knows of'),
}
MAX_EXAMPLES = 6
SEED = 20261129


def schemathesis_command() -> list[str] | None:
    script = os.path.join(os.path.dirname(sys.executable), 'schemathesis')
    if os.path.exists(script):
        return [script]
    found = shutil.which('schemathesis')
    return [found] if found else None


class TestOpenAPIConformance(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.command = schemathesis_command()
        if self.command is None:
            self.skipTest("schemathesis is not installed (pip install "
                          "'ntcli[test]')")
        # Without the limit on failed authentications: requests without a
        # credential must get their 401, not the 429 that follows the 20th.
        self.server = self.useFixture(ServerFixture(
            serve_args=['--auth-failure-limit', '0']))
        api = HTTPEndpoint(self.server.url, EndpointOptions(timeout=10))
        self.addCleanup(api.close)
        # token_auth gets a token of the workspace; the token routes work
        # in that workspace, so that requests reach past the 404
        self.token = api.issue_token(self.server.credential,
                                     self.server.workspace_id,
                                     expires_in=3600, scope=scopes.FULL)
        self.dir = self.useFixture(fixtures.TempDir()).path

    def config(self, credential: str | None = None) -> str:
        path = os.path.join(self.dir, 'schemathesis.toml')
        with open(path, 'w') as config:
            config.write(
                f'headers = {{ Authorization = "Bearer '
                f'{credential or self.server.credential}" }}\n'
                '[[operations]]\n'
                'include-path-regex = "/(tokens|events)"\n'
                'parameters = { "path.workspace_id" = '
                f'"{self.server.workspace_id}" }}\n'
                '[[operations]]\n'
                'include-path = "/v1/token_auth"\n'
                f'headers = {{ Authorization = "Bearer {self.token.token}" '
                '}\n')
            for (method, route), (refusals, _) in ACCEPTED_REFUSALS.items():
                statuses = ', '.join(f'"{s}"' for s in (*ACCEPTED, *refusals))
                config.write(
                    '[[operations]]\n'
                    f'include-method = "{method}"\n'
                    f'include-path = "{route}"\n'
                    'checks.positive_data_acceptance.expected-statuses = '
                    f'[{statuses}]\n')
        return path

    def test_no_server_error_and_no_answer_outside_the_document(self):
        self.run_schemathesis(self.config())

    def test_the_same_with_a_workspace_token(self):
        self.run_schemathesis(self.config(self.token.token))

    def run_schemathesis(self, config: str) -> None:
        result = subprocess.run(
            [*self.command, '--config-file', config, 'run',
             f'{self.server.url}/openapi.json',
             '--checks', 'all',
             '--phases', 'coverage,fuzzing',
             '--max-examples', str(MAX_EXAMPLES), '--seed', str(SEED),
             '--workers', '1', '--request-timeout', '20', '--no-shrink',
             '--warnings', 'off'],
            capture_output=True, text=True, cwd=self.dir, timeout=300,
            env={**os.environ, 'NO_COLOR': '1'})
        summary = result.stdout[-6000:]
        self.assertEqual(0, result.returncode,
                         f'{summary}\n{result.stderr[-2000:]}')
        self.assertIn('passed', summary)
        self.assertNotIn('failed', summary.lower().split('summary')[-1])
