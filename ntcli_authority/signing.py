"""Signing keys, and signing and verifying tokens.

A token is ``wst_`` followed by a JWT signed with Ed25519 (``alg`` EdDSA)
whose header names the signing key (``kid``); :mod:`ntcli_core.tokens`
defines the format. Ed25519 signatures are
deterministic, so the same claims signed by the same key always give the
same token: idempotent issuance re-signs stored claims instead of storing
token values.

The store keeps, with each token's claims, its digest: an HMAC-SHA256 of
the token under a key derived from the private key that signed it
(:func:`digest_key_of`). A token the authority issued is validated by
comparing its digest with the one stored, instead of verifying its
Ed25519 signature (which costs more than the rest of a validation,
benchmarks/RESULTS.md). The digest is keyed, with a key only the holder
of the private key (sealed with the node secret on a shared store) can
derive, so that it is no easier to make than the signature it stands for:
with a plain hash, whoever can write the tokens table could make any
string valid.

The key classes (and Fernet's) are imported when first used: the CLI
imports this module on paths that never sign or verify anything, which
would pay several milliseconds for them (benchmarks/RESULTS.md, "The
authority's imports"). Tokens are signed and verified
by :mod:`ntcli_authority.jws`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
import typing

from ntcli_authority import errors, jws
from ntcli_authority.models import AuditEvent, SigningKey, TokenRow
from ntcli_core import fernet
from ntcli_core.tokens import (
    ALGORITHM,
    JTI_PREFIX,
    MAX_TOKEN_LENGTH,
    TOKEN_PREFIX,
)

if typing.TYPE_CHECKING:
    from ntcli_authority.storage.store import TokenStore

# The one spelling of a token: three unpadded base64url segments (RFC 7515)
# and a 64-byte Ed25519 signature in canonical form, whose last character
# carries 2 bits and 4 zero bits. JWS libraries tolerate other spellings
# (PyJWT before 2.14 any suffix, 2.15 a '==' padding), which would give one
# token many accepted values; both verifiers are held to this one.
CANONICAL_JWS = re.compile(
    r'[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{85}[AQgw]')

#: The environment variable holding the node secret: one or more Fernet
#: keys, comma-separated; the first seals, all of them unseal.
SECRET_ENV = 'NTCLI_SERVER_SECRET'

#: What the token digest keys are derived for (HKDF's ``info``); a new
#: derivation takes a new value.
DIGEST_INFO = b'ntcli token digest v1'

_SEAL_PLAIN = 'plain:'
_SEAL_FERNET = 'fernet:'


def _secret() -> str:
    return os.environ.get(SECRET_ENV, '')


def has_secret() -> bool:
    """Whether a node secret is configured (private keys are encrypted)."""
    return bool(_secret().replace(',', '').strip())


def _multi_fernet() -> typing.Any:
    """A MultiFernet over the node secret's keys (the first seals)."""
    try:
        keys = fernet.parse_keys(_secret(), ',')
    except ValueError as exc:
        # The value itself is a secret: never echo it.
        raise errors.StorageUnavailable(
            f'{SECRET_ENV} is not valid: {exc} (a Fernet key is 32 '
            'url-safe base64-encoded bytes; see the documentation\'s page '
            '"Running several ntcli-server nodes")'
        ) from None
    return fernet.multi_fernet(keys)


def check_secret(required: bool = False) -> None:
    """Raise StorageUnavailable when NTCLI_SERVER_SECRET is malformed, or
    missing although ``required`` (a store shared by several nodes)."""
    if not has_secret():
        if required:
            raise errors.StorageUnavailable(
                f'{SECRET_ENV} is not set: a PostgreSQL store keeps the '
                'signing keys of every node, so they must be encrypted; '
                'give every node the same Fernet key in '
                f'{SECRET_ENV} (see the documentation\'s page "Running '
                'several ntcli-server nodes")')
        return
    _multi_fernet()


def seal(private_pem: str) -> str:
    """Prepare a private key PEM for storage.

    With a node secret (NTCLI_SERVER_SECRET) the PEM is encrypted with
    Fernet under its first key; without one it is stored as is, which is
    only fit for a single node whose database file is private. The scheme
    prefix lets values of both schemes coexist in one store.
    """
    if not has_secret():
        return _SEAL_PLAIN + private_pem
    token = _multi_fernet().encrypt(private_pem.encode('ascii'))
    return _SEAL_FERNET + token.decode('ascii')


def unseal(sealed: str) -> str:
    """The private key PEM of a value made by :func:`seal`."""
    if sealed.startswith(_SEAL_PLAIN):
        return sealed[len(_SEAL_PLAIN):]
    if sealed.startswith(_SEAL_FERNET):
        from cryptography.fernet import InvalidToken

        if not has_secret():
            raise errors.StorageUnavailable(
                f'A signing key is encrypted, but {SECRET_ENV} is not set: '
                'give this node the secret the other nodes use')
        try:
            pem = _multi_fernet().decrypt(
                sealed[len(_SEAL_FERNET):].encode('ascii'))
        except InvalidToken:
            raise errors.StorageUnavailable(
                'A signing key is encrypted under a secret that is not in '
                f'{SECRET_ENV}: give this node the secret the other nodes '
                'use (keep old secrets after the first one while keys '
                'sealed under them are in use)') from None
        return pem.decode('ascii')
    raise errors.StorageUnavailable('A signing key is sealed by an unknown '
                                    'scheme')


def _key_id(public_raw: bytes) -> str:
    # A thumbprint of the public key: stable, unique, and reveals nothing.
    digest = hashlib.sha256(public_raw).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22].rstrip('=')


def generate_signing_key(now: int) -> SigningKey:
    """A new Ed25519 key pair (not yet stored, not yet primary)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key()
    public_raw = public.public_bytes(serialization.Encoding.Raw,
                                     serialization.PublicFormat.Raw)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode('ascii')
    public_pem = public.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode('ascii')
    return SigningKey(kid=_key_id(public_raw), public_key=public_pem,
                      private_key=seal(private_pem), created_at=now)


def load_private_key(key: SigningKey):
    """The private key object of a stored key, or None once retired."""
    if key.private_key is None:
        return None
    pem = unseal(key.private_key)
    # our own keys without importing serialization (about 10 ms)
    private = jws.ed25519_private_key(pem)
    if private is not None:
        return private
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode('ascii'),
                                              password=None)


def load_public_key(key: SigningKey):
    """The public key object of a stored key."""
    public = jws.ed25519_public_key(key.public_key)
    if public is not None:
        return public
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(key.public_key.encode('ascii'))


def claims_of(record: TokenRow) -> dict:
    """The JWT claims of a token record, in a fixed order.

    The order matters: it makes re-signing byte-for-byte identical.
    """
    claims: dict = {'jti': record.jti, 'sub': record.workspace_id,
                    'iat': record.created_at}
    if record.expires_at is not None:
        claims['exp'] = record.expires_at
    claims['scope'] = record.scope
    return claims


def encode_token(record: TokenRow, private_key) -> str:
    """Sign the claims of ``record`` with the key it names."""
    return TOKEN_PREFIX + jws.sign(claims_of(record), record.kid, private_key)


def read_token(token: str,
               public_key_for: typing.Callable[[str], object]
               ) -> tuple[str, dict | None]:
    """Check a token's shape and that its key is known; return its kid and
    its claims as it states them, NOT yet trusted (None when they cannot be
    read: only a verified signature can say more about such a token).

    Raises TokenInvalid.
    """
    if (not isinstance(token, str) or not token.startswith(TOKEN_PREFIX)
            or len(token) > MAX_TOKEN_LENGTH):
        raise errors.TokenInvalid('The token is not a workspace token')
    raw = token[len(TOKEN_PREFIX):]
    header = jws.unverified_header(raw)
    # Checked before anything else so that 'none' or HMAC-with-the-public-
    # key forgeries never reach a verifier.
    if header.get('alg') != ALGORITHM:
        raise errors.TokenInvalid('The token uses an unsupported algorithm')
    kid = header.get('kid')
    if not isinstance(kid, str) or not kid:
        raise errors.TokenInvalid('The token names no signing key')
    if public_key_for(kid) is None:
        raise errors.TokenInvalid('The token was signed by an unknown key')
    if not CANONICAL_JWS.fullmatch(raw):
        raise errors.TokenInvalid(jws.MALFORMED)
    return kid, jws.unverified_claims(raw)


def verified_claims(token: str, public_key: object) -> dict:
    """The claims of a token :func:`read_token` accepted, once its
    signature holds; TokenInvalid otherwise."""
    # Times are checked by the authority against its own clock.
    claims = jws.verified_claims(token[len(TOKEN_PREFIX):], public_key)
    check_claims(claims)
    return claims


def decode_token(token: str,
                 public_key_for: typing.Callable[[str], object]
                 ) -> tuple[str, dict]:
    """Verify a token's format and signature; return its kid and claims.

    Only the signature and the shape are checked here: expiry, revocation
    and the workspace are the authority's business (which checks a token
    it issued by its digest instead, see Tokens.validate). Raises
    TokenInvalid.
    """
    kid, _ = read_token(token, public_key_for)
    return kid, verified_claims(token, public_key_for(kid))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_jti(value: object) -> typing.TypeGuard[str]:
    """Whether ``value`` could be a token's JTI (a look-up is worth it)."""
    return isinstance(value, str) and value.startswith(JTI_PREFIX)


def check_claims(claims: dict) -> None:
    """Raise TokenInvalid unless the claims have the shape of ours."""
    if not (is_jti(claims.get('jti'))
            and isinstance(claims.get('sub'), str)
            and _is_int(claims.get('iat'))
            and ('exp' not in claims or _is_int(claims['exp']))
            and isinstance(claims.get('scope'), str)):
        raise errors.TokenInvalid('The token claims are malformed')


def digest_key_of(private_key: typing.Any) -> bytes:
    """The key of the token digests of an Ed25519 private key: HKDF-SHA256
    of its raw bytes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=DIGEST_INFO).derive(private_key.private_bytes_raw())


def token_digest(key: bytes, token: str) -> str:
    """The digest of ``token`` under a key of :func:`digest_key_of` (hex)."""
    return hmac.new(key, token.encode('utf-8'), hashlib.sha256).hexdigest()


def digest_matches(key: bytes, token: str, digest: str) -> bool:
    """Whether ``digest`` is ``token``'s, in constant time."""
    return hmac.compare_digest(token_digest(key, token), digest)


class KeyRing:
    """The authority's signing keys: the primary signs, all keys verify.

    Only the primary's private key is kept in memory, and the store checks,
    in the transaction that stores each new token, that its key is still
    the primary (see ``PrimaryKeyChanged``): a token is never stored with a
    key that a committed rotation replaced or a retirement destroyed. A
    replay reads its key's private part from the store each time, so a
    retired key signs nothing from the moment its retirement commits.

    The token digest key of each kid (:func:`digest_key_of`) is kept once
    derived: a key's private part never changes, and a key retired since
    only validates tokens it signed before.
    """

    #: Seconds between re-reads of the primary key, so that a rotation made
    #: by another process (the admin CLI) is seen without waiting for an
    #: issue to find it out.
    PRIMARY_TTL = 30.0

    def __init__(self, store: TokenStore,
                 clock: typing.Callable[[], int]) -> None:
        self._store = store
        self._clock = clock
        self._public: dict[str, object] = {}
        self._primary: SigningKey | None = None
        self._primary_private: object = None
        self._primary_loaded = 0.0
        self._digest_keys: dict[str, bytes | None] = {}

    def primary(self, audit: AuditEvent | None = None, *,
                reload: bool = False) -> tuple[SigningKey, object]:
        """The primary key and its private key object; made on first use
        (and then ``audit`` is recorded with its kid as detail); read again
        from the store when ``reload``."""
        fresh = time.monotonic() - self._primary_loaded < self.PRIMARY_TTL
        if reload or self._primary is None or not fresh:
            key = self._store.get_primary_signing_key()
            if key is None:
                # Several processes may race here; the store keeps one.
                candidate = generate_signing_key(self._clock())
                key = self._store.ensure_primary_signing_key(
                    candidate, audit.replace(detail=candidate.kid)
                    if audit else None)
            self._remember(key)
        assert self._primary is not None
        return self._primary, self._primary_private

    def _remember(self, key: SigningKey) -> None:
        self._primary, self._primary_private = key, load_private_key(key)
        self._primary_loaded = time.monotonic()
        if self._primary_private is not None:
            self._digest_keys[key.kid] = digest_key_of(self._primary_private)

    def sign(self, record: TokenRow, private_key: typing.Any
             ) -> tuple[str, TokenRow]:
        """The token of ``record`` signed by ``private_key``, the private key
        of ``record.kid``, and ``record`` with the token's digest."""
        token = encode_token(record, private_key)
        key = self._digest_keys.get(record.kid)
        if key is None:
            key = self._digest_keys[record.kid] = digest_key_of(private_key)
        return token, record.replace(digest=token_digest(key, token))

    def digest_key(self, kid: str) -> bytes | None:
        """The token digest key of ``kid``, or None when its private part
        is gone (retired) or not to be had here (sealed under a secret this
        node lacks: its tokens are then checked by their signature)."""
        if kid in self._digest_keys:
            return self._digest_keys[kid]
        key = self._store.get_signing_key(kid)
        if key is None:
            return None        # not known yet: asked again next time
        try:
            private = load_private_key(key)
        except errors.StorageUnavailable:
            private = None
        derived = digest_key_of(private) if private is not None else None
        self._digest_keys[kid] = derived
        return derived

    def private_key(self, kid: str):
        """The private key object of ``kid``, or None (unknown, retired),
        as the store has it now."""
        key = self._store.get_signing_key(kid)
        return load_private_key(key) if key is not None else None

    def public_key(self, kid: str):
        """The public key object of ``kid``, or None when unknown."""
        if kid not in self._public:
            key = self._store.get_signing_key(kid)
            if key is None:
                return None
            self._public[kid] = load_public_key(key)
        return self._public[kid]

    def rotate(self, audit: AuditEvent | None = None) -> SigningKey:
        """Make a new primary key; the old ones keep verifying. ``audit``
        is recorded with the new kid as detail."""
        key = generate_signing_key(self._clock())
        self._store.add_primary_signing_key(
            key, audit.replace(detail=key.kid) if audit else None)
        self._remember(key)
        return key
