"""PyJWT, the reference verifier ntcli_authority.jws is tested against.

:class:`PyJWT` is a fixture: while it is in use, the three operations of
:mod:`ntcli_authority.jws` are done by PyJWT, so that the same tokens
through the same :func:`ntcli_authority.signing.decode_token` show what a
maintained and widely reviewed JWT library makes of them.
"""

from __future__ import annotations

import typing

import fixtures
import jwt

from ntcli_authority import errors
from ntcli_authority.jws import BAD_SIGNATURE, MALFORMED
from ntcli_core.tokens import ALGORITHM

# Claims whose times the authority checks against its own clock.
_OPTIONS: typing.Any = {'verify_exp': False, 'verify_iat': False,
                        'verify_nbf': False, 'verify_aud': False,
                        'verify_iss': False}


def sign(claims: dict, kid: str, private_key: typing.Any) -> str:
    return jwt.encode(claims, private_key, algorithm=ALGORITHM,
                      headers={'kid': kid})


def unverified_header(raw: str) -> dict:
    try:
        return jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise errors.TokenInvalid(MALFORMED) from None


def verified_claims(raw: str, public_key: typing.Any) -> dict:
    try:
        return jwt.decode(raw, public_key, algorithms=[ALGORITHM],
                          options=_OPTIONS)
    except jwt.PyJWTError:
        raise errors.TokenInvalid(BAD_SIGNATURE) from None


class PyJWT(fixtures.Fixture):
    """ntcli_authority.jws's sign, unverified_header and verified_claims
    done by PyJWT while the fixture is in use."""

    def _setUp(self) -> None:
        for operation in (sign, unverified_header, verified_claims):
            self.useFixture(fixtures.MonkeyPatch(
                f'ntcli_authority.jws.{operation.__name__}', operation))
