"""Fixtures shared by the authority's tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os

import fixtures
import testtools

from ntcli_authority.authority import Authority

START = 1_700_000_000


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: int = START) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


class Calls(fixtures.Fixture):
    """Counts the calls of the function at ``name`` (a dotted path), which
    it wraps for the test."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def _setUp(self) -> None:
        self.calls = 0
        module, _, attribute = self.name.rpartition('.')
        original = getattr(importlib.import_module(module), attribute)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(self.name, counted))


class AuthorityFixture(fixtures.Fixture):
    """An Authority on a fresh SQLite file, with a FakeClock."""

    def _setUp(self) -> None:
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'authority.db')
        self.clock = FakeClock()
        self.authority = Authority.open(self.path, clock=self.clock)
        self.addCleanup(self.authority.close)

    def reopen(self) -> Authority:
        """A second Authority on the same database (another process)."""
        other = Authority.open(self.path, clock=self.clock)
        self.addCleanup(other.close)
        return other


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def split(token: str) -> tuple[dict, dict, str]:
    """Header, claims and signature segment of a wst_ token."""
    header, payload, signature = token[len('wst_'):].split('.')
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def forge(header: dict, claims: dict, signature: str = '') -> str:
    """A wst_ token with the given parts and a chosen signature segment."""
    return (f'wst_{b64(json.dumps(header).encode())}.'
            f'{b64(json.dumps(claims).encode())}.{signature}')


def forge_hs256(header: dict, claims: dict, secret: bytes) -> str:
    """A correctly HMAC-signed token: the classic key-confusion attack."""
    signing_input = (f'{b64(json.dumps(header).encode())}.'
                     f'{b64(json.dumps(claims).encode())}')
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return 'wst_' + signing_input + '.' + b64(mac)


class SigningKeyTestCase(testtools.TestCase):
    """A test with one fresh signing key: ``key``, its ``private`` and
    ``public`` halves, and ``keys(kid)``, the look-up decode_token takes."""

    def setUp(self):
        super().setUp()
        from ntcli_authority import signing
        self.key = signing.generate_signing_key(START)
        self.private = signing.load_private_key(self.key)
        self.public = signing.load_public_key(self.key)

    def keys(self, kid):
        return self.public if kid == self.key.kid else None
