"""GitHub Actions' OIDC on 127.0.0.1: its issuer and a runner's token service.

:class:`GitHubActions` is a fixture made of

* an issuer (:class:`tests.oidc.localissuer.LocalIssuer`: its own RSA key
  pair, discovery and JWKS) whose tokens carry the claims GitHub documents
  for a workflow run ("About security hardening with OpenID Connect"),
  with ids of our own;
* the runner's token request service, as a job reaches it through
  ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``:
  ``GET`` with the request token as bearer and ``&audience=…`` appended,
  answering ``{"count": 1, "value": "<JWT>"}``. GitHub serves it from
  another host than the issuer; here, another port.
"""

from __future__ import annotations

import http.server
import secrets
import threading
import typing
import urllib.parse

import fixtures

from tests.oidc.localissuer import JSONHandler, LocalIssuer

REQUEST_PATH = '/_apis/pipelines/workflows/run/idtoken'


def github_claims(**changes: typing.Any) -> dict:
    """The claims (besides iss, aud, iat, exp) of a GitHub Actions ID
    token for a push to main of acme/app; ``changes`` replace claims, and
    a value None removes one."""
    claims = {
        'jti': 'gh-' + secrets.token_hex(12),
        'sub': 'repo:acme/app:ref:refs/heads/main',
        'ref': 'refs/heads/main',
        'sha': 'a' * 40,
        'repository': 'acme/app',
        'repository_owner': 'acme',
        'repository_owner_id': '4242',
        'repository_id': '123456789',
        'repository_visibility': 'private',
        'actor': 'octocat',
        'actor_id': '583231',
        'run_id': '8675309',
        'run_number': '42',
        'run_attempt': '1',
        'workflow': 'deploy',
        'workflow_ref': 'acme/app/.github/workflows/deploy.yml'
                        '@refs/heads/main',
        'job_workflow_ref': 'acme/app/.github/workflows/deploy.yml'
                            '@refs/heads/main',
        'event_name': 'push',
        'ref_type': 'branch',
        'runner_environment': 'github-hosted',
    }
    claims.update(changes)
    return claims


class GitHubActions(fixtures.Fixture):
    """An issuer signing like GitHub Actions and a runner's token service
    (see the module's docstring).

    ``audience`` is what :meth:`token` puts in ``aud`` by default;
    ``audiences`` lists what the token service was asked for.
    """

    def __init__(self, audience: str = 'https://tokens.example') -> None:
        super().__init__()
        self.audience = audience

    def _setUp(self) -> None:
        self.issuer = self.useFixture(LocalIssuer())
        self.url = self.issuer.url
        self.request_token = 'req-' + secrets.token_urlsafe(16)
        self.audiences: list[str | None] = []
        actions = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urllib.parse.urlsplit(self.path)
                if url.path != REQUEST_PATH:
                    return self._send(404, {'message': 'Not Found'})
                wanted = f'Bearer {actions.request_token}'
                if self.headers.get('Authorization') != wanted:
                    return self._send(401, {'message': 'Bad credentials'})
                query = urllib.parse.parse_qs(url.query)
                audience = query.get('audience', [None])[0]
                actions.audiences.append(audience)
                self._send(200, {'count': 1, 'value': actions.token(
                    audience or 'https://github.com/acme')})

        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        server.daemon_threads = True
        self.service = f'http://127.0.0.1:{server.server_address[1]}'
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

    @property
    def request_url(self) -> str:
        """A job's ACTIONS_ID_TOKEN_REQUEST_URL (with a query already, as
        GitHub's has, so that clients append ``&audience=``)."""
        return f'{self.service}{REQUEST_PATH}?api-version=2.0'

    def job_environment(self) -> dict[str, str]:
        """What a job with ``permissions: id-token: write`` finds in its
        environment."""
        return {'GITHUB_ACTIONS': 'true',
                'ACTIONS_ID_TOKEN_REQUEST_URL': self.request_url,
                'ACTIONS_ID_TOKEN_REQUEST_TOKEN': self.request_token}

    def token(self, audience: str | None = None, **changes: typing.Any
              ) -> str:
        """A signed ID token of a workflow run (see :func:`github_claims`;
        ``lifetime``, ``issued_at``, ``key`` and ``headers`` go to
        LocalIssuer.token)."""
        options = {name: changes.pop(name) for name in
                   ('lifetime', 'issued_at', 'key', 'headers')
                   if name in changes}
        claims = github_claims(**changes)
        subject = claims.pop('sub')
        return self.issuer.token(audience or self.audience,
                                 subject=subject, **options, **claims)
