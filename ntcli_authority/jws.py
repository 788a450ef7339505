"""Compact JWS with EdDSA (Ed25519), through ``cryptography`` alone.

The authority, the server's and the CLI's embedded one, signs and verifies
its tokens here. PyJWT, a maintained and widely reviewed JWT library, is
the reference this code is tested against
(tests/unit/ntcli_authority/test_jws.py): both make the same token, byte
for byte, from the same claims and key, and both accept exactly the tokens
the other makes: the header is JSON with sorted keys, the payload JSON in
claim order, both without spaces, every segment unpadded base64url. PyJWT
is not used at run time: it costs the CLI about 40 ms to import (every
algorithm cryptography offers and its JWKS client), a quarter of a whole
``ntcli token show``, and each server validation more than the Ed25519
verification itself
(benchmarks/RESULTS.md).

What a token must contain (prefix, algorithm, key id, claims) is checked
once, by :mod:`ntcli_authority.signing` (``read_token``,
``verified_claims``). The operations on the raw JWS (the token without its
``wst_`` prefix) raise TokenInvalid with one of two messages:
:data:`MALFORMED` when it cannot be parsed, :data:`BAD_SIGNATURE` when its
signature, or the payload it signs, does not hold up.

``cryptography``'s Ed25519 classes are imported on first use: the CLI
imports this module on paths that never sign or verify anything, which
would pay several milliseconds for them (benchmarks/RESULTS.md, "The
authority's imports").
"""

from __future__ import annotations

import base64
import binascii
import collections
import functools
import json
import threading
import typing

from ntcli_authority import errors
from ntcli_core.tokens import ALGORITHM

MALFORMED = 'The token is malformed'
BAD_SIGNATURE = 'The token signature is not valid'

_B64URL_ALPHABET = frozenset(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu'
                             b'vwxyz0123456789-_')
# The JWS header parameters a verifier may be asked to understand ("crit").
_KNOWN_CRITICAL = frozenset({'b64'})


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b'=')


def _b64decode(segment: bytes) -> bytes:
    """Strict base64url: the alphabet only, canonical, padding optional."""
    stripped = segment.rstrip(b'=')
    padding = len(segment) - len(stripped)
    if (padding > 2 or (padding and len(segment) % 4)
            or len(stripped) % 4 == 1
            or not _B64URL_ALPHABET.issuperset(stripped)):
        raise errors.TokenInvalid(MALFORMED)
    decoded = base64.urlsafe_b64decode(stripped + b'=' * (-len(stripped) % 4))
    if _b64encode(decoded) != stripped:  # unused bits set: not canonical
        raise errors.TokenInvalid(MALFORMED)
    return decoded


class _Parsed(typing.NamedTuple):
    header: dict
    payload: bytes
    signing_input: bytes
    signature: bytes


# A validation reads the header (to pick the key), then verifies: the
# second parse of the same token comes from here (a measurable share of a
# validation's time in the server, benchmarks/RESULTS.md). Bounded; the
# results are not changed by anyone (verified_claims decodes the payload
# afresh).
@functools.lru_cache(maxsize=64)
def _parse(raw: str) -> _Parsed:
    """Split and decode a compact JWS; raise TokenInvalid(MALFORMED)."""
    data = raw.encode('utf-8')
    try:
        signing_input, signature_segment = data.rsplit(b'.', 1)
        header_segment, payload_segment = signing_input.split(b'.', 1)
    except ValueError:
        raise errors.TokenInvalid(MALFORMED) from None
    try:
        header = json.loads(_b64decode(header_segment))
    except (ValueError, RecursionError):
        raise errors.TokenInvalid(MALFORMED) from None
    if not isinstance(header, dict):
        raise errors.TokenInvalid(MALFORMED)
    if header.get('b64', True) is False:
        # an unencoded, detached payload (RFC 7797): never one of ours
        if payload_segment:
            raise errors.TokenInvalid(MALFORMED)
        payload = b''
    else:
        payload = _b64decode(payload_segment)
    signature = _b64decode(signature_segment)
    if 'kid' in header and not isinstance(header['kid'], str):
        raise errors.TokenInvalid(MALFORMED)
    if 'crit' in header:
        crit = header['crit']
        if (not isinstance(crit, list) or not crit
                or not all(isinstance(name, str) and name in _KNOWN_CRITICAL
                           and name in header for name in crit)):
            raise errors.TokenInvalid(MALFORMED)
    return _Parsed(header, payload, signing_input, signature)


# Signatures found good, by token and public key. A client behind an
# ingress has the same token checked on every request: the check is then
# a lookup instead of an Ed25519 verification (about a third of a
# validation's time in the server, benchmarks/RESULTS.md). Only good
# signatures are remembered, so forged tokens cannot fill it; expiry,
# revocation and the key's existence are still checked on every request.
_VERIFIED: collections.OrderedDict[tuple[bytes, bytes, bytes], None] = (
    collections.OrderedDict())
VERIFIED_CACHE_SIZE = 1024
_verified_lock = threading.Lock()


def _verify(parsed: _Parsed, key_bytes: bytes, public_key: typing.Any,
            invalid: type[Exception]) -> None:
    """Raise TokenInvalid(BAD_SIGNATURE) unless the signature holds."""
    entry = (parsed.signing_input, parsed.signature, key_bytes)
    with _verified_lock:
        if entry in _VERIFIED:
            _VERIFIED.move_to_end(entry)
            return
    try:
        public_key.verify(parsed.signature, parsed.signing_input)
    except invalid:
        raise errors.TokenInvalid(BAD_SIGNATURE) from None
    with _verified_lock:
        _VERIFIED[entry] = None
        if len(_VERIFIED) > VERIFIED_CACHE_SIZE:
            _VERIFIED.popitem(last=False)


def sign(claims: dict, kid: str, private_key: typing.Any) -> str:
    """The compact JWS of ``claims``, signed by an Ed25519 private key
    whose key id is ``kid``."""
    header = json.dumps({'alg': ALGORITHM, 'kid': kid, 'typ': 'JWT'},
                        separators=(',', ':'), sort_keys=True)
    payload = json.dumps(claims, separators=(',', ':'))
    signing_input = (_b64encode(header.encode()) + b'.'
                     + _b64encode(payload.encode('utf-8')))
    signature = private_key.sign(signing_input)
    return (signing_input + b'.' + _b64encode(signature)).decode('utf-8')


def unverified_header(raw: str) -> dict:
    """The header of a JWS, its signature not checked (to find the key);
    TokenInvalid(MALFORMED)."""
    return dict(_parse(raw).header)  # the cached one stays as parsed


def unverified_claims(raw: str) -> dict | None:
    """The claims of a JWS as it states them, its signature NOT checked (to
    find the token's row), or None when they cannot be read; never raises
    for them, TokenInvalid(MALFORMED) for the JWS."""
    parsed = _parse(raw)
    if parsed.header.get('b64', True) is False:
        return None
    try:
        return dict(_claims(parsed.payload))
    except errors.TokenInvalid:
        return None


def verified_claims(raw: str, public_key: typing.Any) -> dict:
    """The claims of a JWS whose Ed25519 signature ``public_key`` verifies;
    TokenInvalid(BAD_SIGNATURE) otherwise."""
    ed25519, invalid_signature = _cryptography()
    try:
        parsed = _parse(raw)
    except errors.TokenInvalid:
        raise errors.TokenInvalid(BAD_SIGNATURE) from None
    if parsed.header.get('b64', True) is False:
        raise errors.TokenInvalid(BAD_SIGNATURE)
    if parsed.header.get('alg') != ALGORITHM:
        raise errors.TokenInvalid(BAD_SIGNATURE)
    if isinstance(public_key, ed25519.Ed25519PrivateKey):
        public_key = public_key.public_key()
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise errors.TokenInvalid(BAD_SIGNATURE)
    _verify(parsed, _raw_public(public_key), public_key, invalid_signature)
    # a copy: the remembered claims stay as decoded
    return dict(_claims(parsed.payload))


@functools.cache
def _cryptography() -> tuple[typing.Any, type[Exception]]:
    """cryptography's ed25519 module and InvalidSignature, imported once,
    on first use (importing them on each call slowed every validation
    measurably, benchmarks/RESULTS.md)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return ed25519, InvalidSignature


# A key's raw bytes name it in _VERIFIED; public_bytes_raw() took a
# measurable part of each validation in a server worker (cProfile,
# benchmarks/RESULTS.md), where the key ring hands out one object per key.
# Remembered by identity, the object kept with them (so that its id is not
# reused); bounded.
_RAW_KEYS: dict[int, tuple[typing.Any, bytes]] = {}


def _raw_public(public_key: typing.Any) -> bytes:
    entry = _RAW_KEYS.get(id(public_key))
    if entry is None or entry[0] is not public_key:
        if len(_RAW_KEYS) >= 64:
            _RAW_KEYS.clear()
        entry = (public_key, public_key.public_bytes_raw())
        _RAW_KEYS[id(public_key)] = entry
    return entry[1]


# The claims of a payload, decoded once per token like its header
# (json.loads is a measurable part of a validation in a server worker,
# benchmarks/RESULTS.md); callers get copies.
@functools.lru_cache(maxsize=64)
def _claims(payload: bytes) -> dict:
    """The claims of a payload; TokenInvalid(BAD_SIGNATURE) when they are
    not a JSON object of the registered types."""
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise errors.TokenInvalid(BAD_SIGNATURE) from None
    if not isinstance(claims, dict):
        raise errors.TokenInvalid(BAD_SIGNATURE)
    # PyJWT's registered-claim type checks, kept for the same verdicts
    for name in ('sub', 'jti'):
        if name in claims and not isinstance(claims[name], str):
            raise errors.TokenInvalid(BAD_SIGNATURE)
    return claims


# The DER prefixes of the two key encodings signing.generate_signing_key
# writes (SubjectPublicKeyInfo, unencrypted PKCS#8) for Ed25519; the raw
# 32-byte key follows.
_SPKI_PREFIX = bytes.fromhex('302a300506032b6570032100')
_PKCS8_PREFIX = bytes.fromhex('302e020100300506032b657004220420')


def _raw_key(pem: str, label: str, prefix: bytes) -> bytes | None:
    lines = pem.strip().splitlines()
    if (len(lines) < 3 or lines[0] != f'-----BEGIN {label}-----'
            or lines[-1] != f'-----END {label}-----'):
        return None
    try:
        der = base64.b64decode(''.join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(prefix) + 32 or not der.startswith(prefix):
        return None
    return der[len(prefix):]


def ed25519_public_key(pem: str) -> typing.Any:
    """The key of an Ed25519 SubjectPublicKeyInfo PEM, else None.

    Reading the raw key skips ``cryptography...serialization``, whose import
    (every key type and the SSH formats) costs the CLI about 10 ms; a PEM
    of any other shape is left to it.
    """
    raw = _raw_key(pem, 'PUBLIC KEY', _SPKI_PREFIX)
    if raw is None:
        return None
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def ed25519_private_key(pem: str) -> typing.Any:
    """The key of an unencrypted Ed25519 PKCS#8 PEM, else None."""
    raw = _raw_key(pem, 'PRIVATE KEY', _PKCS8_PREFIX)
    if raw is None:
        return None
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
