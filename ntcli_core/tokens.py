"""The token format, and the prefixes that mark a secret.

A workspace token is ``wst_`` followed by a compact JWS signed with
Ed25519 (``alg`` EdDSA) whose header names the signing key (``kid``) and
whose claims are ``sub`` (the workspace id), ``jti``, ``iat``, ``exp``
(absent for a token that never expires) and ``scope``. A user credential
is ``ntu_`` followed by random text; a session opened by signing in
through an identity provider is ``nts_`` followed by random text.
"""

from __future__ import annotations

import base64
import json
import typing

TOKEN_PREFIX = 'wst_'
USER_CREDENTIAL_PREFIX = 'ntu_'
SESSION_PREFIX = 'nts_'
#: Text starting with one of these is a secret: never printed, logged or
#: written in plaintext unless the user asks.
SECRET_PREFIXES = (TOKEN_PREFIX, USER_CREDENTIAL_PREFIX, SESSION_PREFIX)

ALGORITHM = 'EdDSA'
JTI_PREFIX = 'jti_'
MAX_TOKEN_LENGTH = 4096


def unverified_claims(token: str) -> dict[str, typing.Any]:
    """The claims of a token, its signature NOT checked: for showing a
    token's own facts, never for trusting it. Raises ValueError when the
    token cannot be decoded."""
    body = token[len(TOKEN_PREFIX):] if token.startswith(TOKEN_PREFIX) \
        else token
    try:
        payload = body.split('.')[1]
        padded = payload + '=' * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (IndexError, ValueError, TypeError, RecursionError) as exc:
        raise ValueError('The token cannot be decoded') from exc
    if not isinstance(claims, dict):
        raise ValueError('The token cannot be decoded')
    return claims
