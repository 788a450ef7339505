"""A JWT issuer on 127.0.0.1 for tests: discovery, a JWKS, signed tokens.

:class:`LocalIssuer` serves ``/.well-known/openid-configuration`` and
``/jwks`` from a thread, counts the requests each path receives, and signs
tokens with its own keys (RSA and EC, with kids), so that tests of
``ntcli_authority.oidc`` can present tokens that are genuine, expired,
for another audience, signed by an unknown key, or not signed at all.
It is not an OpenID Provider (``tests/oidc/provider.py`` starts a real
one); it is what a CI system's issuer looks like to the server.
"""

from __future__ import annotations

import base64
import collections
import http.server
import json
import threading
import time
import typing

import fixtures
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


class JSONHandler(http.server.BaseHTTPRequestHandler):
    """A request handler of the test services: answers JSON, logs nothing."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: typing.Any) -> None:
        pass


class SigningKey:
    """A private key with its kid and algorithm."""

    def __init__(self, kid: str, alg: str = 'RS256') -> None:
        self.kid, self.alg = kid, alg
        if alg.startswith(('RS', 'PS')):
            self.private = rsa.generate_private_key(public_exponent=65537,
                                                    key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict:
        """The public JWK (with kid, alg and use)."""
        algorithm = jwt.algorithms.get_default_algorithms()[self.alg]
        public = json.loads(algorithm.to_jwk(self.private.public_key()))
        public.update(kid=self.kid, alg=self.alg, use='sig')
        return public


class LocalIssuer(fixtures.Fixture):
    """An issuer on 127.0.0.1 with one published RSA key.

    ``url`` is the issuer; ``keys`` are published in the JWKS (append or
    replace to rotate); ``hits[path]`` counts requests; ``delay`` makes
    every answer that many seconds late; ``down`` makes it answer 503.
    """

    def __init__(self, extra_metadata: dict | None = None) -> None:
        super().__init__()
        self.extra_metadata = extra_metadata or {}

    def _setUp(self) -> None:
        self.keys = [SigningKey('key-1')]
        self.hits: collections.Counter = collections.Counter()
        self.delay = 0.0
        self.down = False
        # endpoints answering POSTs: metadata name -> form -> (status, body)
        self.posts: dict[str, typing.Callable[[dict], tuple[int, dict]]] = {}
        issuer = self

        class Handler(JSONHandler):
            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if issuer.delay:
                    time.sleep(issuer.delay)
                if issuer.down:
                    return self._send(503, {'error': 'down'})
                if self.path == '/.well-known/openid-configuration':
                    return self._send(200, issuer.metadata())
                if self.path == '/jwks':
                    return self._send(200, {
                        'keys': [k.jwk() for k in issuer.keys]})
                self._send(404, {'error': 'not found'})

            def do_POST(self) -> None:
                import urllib.parse
                issuer.hits[self.path] += 1
                length = int(self.headers.get('Content-Length') or 0)
                form = dict(urllib.parse.parse_qsl(
                    self.rfile.read(length).decode()))
                handler = issuer.posts.get(self.path.lstrip('/'))
                if handler is None:
                    return self._send(404, {'error': 'not found'})
                self._send(*handler(form))

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        thread = threading.Thread(target=self.server.serve_forever,
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def metadata(self) -> dict:
        document = {
            'issuer': self.url,
            'jwks_uri': self.url + '/jwks',
            'id_token_signing_alg_values_supported': ['RS256', 'ES256',
                                                      'PS256'],
        }
        for name in self.posts:
            document[name] = f'{self.url}/{name}'
        document.update(self.extra_metadata)
        return document

    def token(self, audience: str | list[str] = 'ntcli', *,
              subject: str = 'user-1', key: SigningKey | None = None,
              lifetime: int = 300, issued_at: float | None = None,
              headers: dict | None = None, **claims: typing.Any) -> str:
        """A JWT of this issuer signed with ``key`` (the first published
        one by default); ``claims`` add or override (None removes)."""
        key = key or self.keys[0]
        now = int(time.time() if issued_at is None else issued_at)
        payload = {'iss': self.url, 'sub': subject, 'aud': audience,
                   'iat': now, 'exp': now + lifetime}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {'kid': key.kid}
        header.update(headers or {})
        return jwt.encode(payload, key.private, algorithm=key.alg,
                          headers=header)

    def unsigned(self, **claims: typing.Any) -> str:
        """The claims of :meth:`token` under ``alg: none``, no signature."""
        genuine = self.token(**claims)
        payload = genuine.split('.')[1]
        header = _b64(json.dumps({'alg': 'none', 'kid': self.keys[0].kid,
                                  'typ': 'JWT'}).encode())
        return f'{header}.{payload}.'

    def hmac_with_public_key(self, **claims: typing.Any) -> str:
        """The claims of :meth:`token` signed with HS256, keyed with the
        published public JWK's PEM (the algorithm-confusion attack)."""
        from cryptography.hazmat.primitives import serialization
        genuine = self.token(**claims)
        payload = base64.urlsafe_b64decode(
            genuine.split('.')[1] + '==')
        pem = self.keys[0].private.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        header = _b64(json.dumps({'alg': 'HS256', 'kid': self.keys[0].kid,
                                  'typ': 'JWT'}).encode())
        body = _b64(payload)
        import hashlib
        import hmac
        signature = hmac.new(pem, f'{header}.{body}'.encode(),
                             hashlib.sha256).digest()
        return f'{header}.{body}.{_b64(signature)}'
