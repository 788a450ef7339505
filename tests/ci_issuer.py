"""An OpenID Connect issuer that signs like GitHub Actions, on 127.0.0.1.

:class:`CIIssuer` is a fixture: its own RSA key pair (RS256, as GitHub's
``token.actions.githubusercontent.com``), the discovery document and JWKS
served over HTTP, and ID tokens with the claims GitHub documents for a
workflow run ("About security hardening with OpenID Connect"). It also
serves the runner's token request endpoint, the way a job reaches it
through ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``: ``GET`` with the request token as
bearer and ``&audience=…``, answering ``{"count": 1, "value": "<JWT>"}``.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
import time
import urllib.parse

import fixtures

ALGORITHM = 'RS256'
REQUEST_PATH = '/_apis/pipelines/workflows/run/idtoken'


def _b64_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, 'big')
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def github_claims(issuer: str, audience: str, now: int, **changes) -> dict:
    """The claims of a GitHub Actions ID token for a push to main of
    acme/app (its documented example, with ids of our own); ``changes``
    replace claims, and a value None removes one."""
    claims = {
        'jti': 'gh-' + secrets.token_hex(12),
        'sub': 'repo:acme/app:ref:refs/heads/main',
        'aud': audience,
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
        'iss': issuer,
        'nbf': now - 5,
        'iat': now,
        'exp': now + 300,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


class _Handler(http.server.BaseHTTPRequestHandler):
    issuer: CIIssuer           # set on the subclass made per fixture

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        issuer = self.issuer
        url = urllib.parse.urlsplit(self.path)
        issuer.requests.append(url.path)
        if url.path == '/.well-known/openid-configuration':
            self._send(200, issuer.discovery())
        elif url.path == '/.well-known/jwks':
            self._send(200, issuer.jwks())
        elif url.path == REQUEST_PATH:
            expected = f'Bearer {issuer.request_token}'
            if self.headers.get('Authorization') != expected:
                self._send(401, {'message': 'Bad credentials'})
                return
            query = urllib.parse.parse_qs(url.query)
            audience = query.get('audience', [None])[0]
            issuer.audiences.append(audience)
            self._send(200, {'count': 1,
                             'value': issuer.token(aud=audience)})
        else:
            self._send(404, {'message': 'Not Found'})


class CIIssuer(fixtures.Fixture):
    """A GitHub-Actions-like OIDC issuer on 127.0.0.1 (see module doc).

    ``audience`` is what tokens carry by default; ``requests`` lists the
    paths fetched, ``audiences`` the audiences the token request endpoint
    was asked for.
    """

    def __init__(self, audience: str = 'http://127.0.0.1') -> None:
        super().__init__()
        self.audience = audience

    def _setUp(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.kid = secrets.token_hex(8)
        self.request_token = 'req-' + secrets.token_urlsafe(16)
        self.requests: list[str] = []
        self.audiences: list[str | None] = []
        handler = type('Handler', (_Handler,), {'issuer': self})
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      handler)
        self.server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    @property
    def request_url(self) -> str:
        """ACTIONS_ID_TOKEN_REQUEST_URL of a job (a query already in it,
        as GitHub's has, so that a client appends ``&audience=``)."""
        return f'{self.url}{REQUEST_PATH}?api-version=2.0'

    def discovery(self) -> dict:
        return {'issuer': self.url,
                'jwks_uri': f'{self.url}/.well-known/jwks',
                'subject_types_supported': ['public', 'pairwise'],
                'response_types_supported': ['id_token'],
                'claims_supported': ['sub', 'aud', 'exp', 'iat', 'iss',
                                     'jti', 'nbf', 'ref', 'repository',
                                     'repository_id', 'repository_owner',
                                     'repository_owner_id', 'run_id',
                                     'workflow', 'environment'],
                'id_token_signing_alg_values_supported': [ALGORITHM],
                'scopes_supported': ['openid']}

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {'keys': [{'kty': 'RSA', 'alg': ALGORITHM, 'use': 'sig',
                          'kid': self.kid, 'n': _b64_int(numbers.n),
                          'e': _b64_int(numbers.e)}]}

    def claims(self, **changes) -> dict:
        """GitHub-shaped claims from this issuer, issued now."""
        return github_claims(self.url, self.audience, int(time.time()),
                             **changes)

    def token(self, *, key=None, kid: str | None = None,
              algorithm: str = ALGORITHM, **changes) -> str:
        """A signed ID token (another ``key`` or ``kid`` to forge one)."""
        import jwt
        return jwt.encode(self.claims(**changes), key or self.key,
                          algorithm=algorithm,
                          headers={'kid': kid or self.kid})
