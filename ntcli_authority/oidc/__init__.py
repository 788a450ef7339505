"""Trust in an external token issuer: an OpenID Provider, a CI system.

An :class:`Issuer` stands for one issuer URL the operator trusts. It learns
the issuer's endpoints and keys by OpenID Connect Discovery
(``{issuer}/.well-known/openid-configuration``), keeps its JSON Web Key Set
(JWKS) in memory, and verifies JWTs the issuer signed: ID tokens as OpenID
Connect Core 1.0 §3.1.3.7 says (:meth:`Issuer.verify_id_token`), and any
other JWT of the issuer, such as a CI job's, with the same checks of
issuer, audience, times and signature (:meth:`Issuer.verify`).

What a verification checks, in order:

1. the token is a compact JWS whose header names an algorithm from the
   allow-list (:data:`ALGORITHMS`: RSA, RSA-PSS, ECDSA and EdDSA; never
   ``none`` and never an HMAC, whose secret would be the issuer's public
   key in an algorithm-confusion attack), and no more than one in the
   provider's own ``id_token_signing_alg_values_supported`` when given;
2. the key is the one of the issuer's JWKS (from its discovery document,
   never from a ``jku``, ``x5u`` or ``jwk`` the token itself carries) whose
   ``kid`` the header names, and of a type that algorithm uses; an unknown
   ``kid`` refetches the JWKS, at most once per :attr:`Issuer.jwks_cooldown`
   seconds, so a stream of forged kids cannot make the server hammer the
   provider (a key rotated in at the provider is picked up at the next
   refetch);
3. the signature, by PyJWT;
4. ``iss`` equals the issuer exactly; ``aud`` contains the expected
   audience; for an ID token with several audiences ``azp`` is present, and
   when present ``azp`` is the client id;
5. ``exp`` is in the future and ``iat`` (required) and ``nbf`` (when
   present) are not, each with :data:`DEFAULT_LEEWAY` seconds of leeway
   for clocks that disagree a little; ``iat`` no older than ``max_age``
   when the caller gives one;
6. ``nonce``, when the caller sent one in its authentication request,
   equals it (the CLI's browser sign-in does).

Libraries: PyJWT (the server and oidc extras) verifies the signature and
its ``PyJWKClient`` fetches and caches the JWKS, with a JWKS cache lifetime,
a cooldown between forced refetches, no redirects and only http(s) URLs.
Authlib (a whole OAuth client and server framework, which would pull in
``joserfc`` and an HTTP client integration) and ``joserfc`` (JOSE only, no
JWKS fetching or caching) were weighed: neither does the part that needs
care here (fetching and caching keys) better than ``PyJWKClient``, and both
would add a dependency. The times are checked here, against the
:class:`Issuer`'s clock, so that tests and the server agree on "now".

Discovery and the URLs it names (how documents are fetched, which URLs
are accepted) are :mod:`ntcli_authority.oidc.discovery`.

PyJWT is imported on first use, not with this module: its JWKS client
imports names from ``ssl`` directly, which gevent (the server's workers)
cannot patch once imported, and it costs the CLI about 50 ms to import.
It is not a dependency of the CLI's plain install: the ``server`` extra
brings it, and the ``oidc`` extra for the CLI's sign-in; an :class:`Issuer`
made without it raises :class:`PyJWTMissing` before anything is fetched.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
import typing

from ntcli_authority import errors
from ntcli_authority.oidc.discovery import (
    DEFAULT_TIMEOUT,
    DISCOVERY_PATH,
    ProviderMetadata,
    ProviderUnavailable,
    check_url,
    fetch_json,
)

#: What the rest of ntcli uses: verification here, and what discovery
#: (:mod:`ntcli_authority.oidc.discovery`) gives and raises.
__all__ = ['ALGORITHMS', 'DEFAULT_LEEWAY', 'DEFAULT_TIMEOUT', 'MAX_TOKEN',
           'Issuer', 'IssuerCache', 'ProviderMetadata',
           'ProviderUnavailable', 'PyJWTMissing', 'TokenRejected',
           'VerifiedToken', 'check_url']

if typing.TYPE_CHECKING:
    import jwt

#: The signature algorithms a token may use: asymmetric ones only.
ALGORITHMS: tuple[str, ...] = (
    'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
    'ES256', 'ES384', 'ES512', 'EdDSA')
#: Seconds of disagreement between clocks tolerated on exp, iat and nbf.
DEFAULT_LEEWAY = 60
#: Seconds a fetched JWKS is used before it is fetched again.
JWKS_LIFESPAN = 300.0
#: Seconds between two refetches of the JWKS caused by an unknown kid.
JWKS_COOLDOWN = 30.0
#: Seconds a discovery document is used before it is fetched again.
METADATA_LIFESPAN = 3600.0
#: Seconds a failed discovery is remembered (requests fail at once).
FAILURE_BACKOFF = 5.0
#: The longest token looked at, in characters.
MAX_TOKEN = 16384


# Key types each algorithm family signs with.
_KEY_TYPES = {'RS': 'RSA', 'PS': 'RSA', 'ES': 'EC', 'Ed': 'OKP'}

Clock = typing.Callable[[], float]


class TokenRejected(errors.AuthorityError):
    """An external token failed verification; ``reason`` says which check.

    The message names the check, never the token or its claims' values
    beyond the issuer (the caller may log it).
    """

    code = 'EXTERNAL_TOKEN_REJECTED'

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(self.code, message, 401, {'reason': reason})
        self.reason = reason


class PyJWTMissing(errors.AuthorityError):
    """PyJWT, which verifies an issuer's tokens, is not installed."""

    code = 'PYJWT_MISSING'
    #: What installs it.
    extra = 'oidc'

    def __init__(self) -> None:
        super().__init__(
            self.code, "Verifying an identity provider's tokens needs "
            f"PyJWT, which is not installed (the '{self.extra}' extra of "
            'ntcli)', 503)


@dataclasses.dataclass(frozen=True)
class VerifiedToken:
    """A JWT that passed every check; ``claims`` holds all of its claims."""

    issuer: str
    subject: str
    claims: typing.Mapping[str, typing.Any]
    expires_at: int
    issued_at: int

    @property
    def email(self) -> str | None:
        """The ``email`` claim when it is a string (not necessarily
        verified: see ``email_verified``)."""
        value = self.claims.get('email')
        return value if isinstance(value, str) else None


class Issuer:
    """One trusted issuer: its metadata, its keys, and JWT verification.

    Share one instance per issuer across requests (it caches the discovery
    document and the JWKS, and is safe to use from several threads).
    """

    def __init__(self, issuer: str, *,
                 algorithms: typing.Iterable[str] = ALGORITHMS,
                 leeway: int = DEFAULT_LEEWAY,
                 timeout: float = DEFAULT_TIMEOUT,
                 jwks_lifespan: float = JWKS_LIFESPAN,
                 jwks_cooldown: float = JWKS_COOLDOWN,
                 metadata_lifespan: float = METADATA_LIFESPAN,
                 clock: Clock = time.time) -> None:
        """Raises ValueError for a bad setting, PyJWTMissing."""
        check_url(issuer, what='issuer URL')
        if importlib.util.find_spec('jwt') is None:
            raise PyJWTMissing()
        self.issuer = issuer
        allowed = tuple(algorithms)
        unsafe = [a for a in allowed if a not in ALGORITHMS]
        if unsafe or not allowed:
            raise ValueError(f'Algorithms not allowed: {unsafe or "none"}')
        if not 0 <= leeway <= 600:
            raise ValueError('The leeway must be 0 to 600 seconds')
        self.algorithms = allowed
        self.leeway = leeway
        self.timeout = timeout
        self.jwks_lifespan = jwks_lifespan
        self.jwks_cooldown = jwks_cooldown
        self.metadata_lifespan = metadata_lifespan
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._failed_at: float | None = None
        self._failure = ''
        self._jwks: jwt.PyJWKClient | None = None

    def __repr__(self) -> str:
        return f'Issuer({self.issuer!r})'

    # -- discovery ---------------------------------------------------------
    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip('/') + DISCOVERY_PATH

    def metadata(self) -> ProviderMetadata:
        """The issuer's discovery document, fetched on first use and again
        after :attr:`metadata_lifespan` seconds; ProviderUnavailable when
        it cannot be had."""
        with self._lock:
            now = time.monotonic()
            if (self._metadata is not None
                    and now - self._metadata_at < self.metadata_lifespan):
                return self._metadata
            if (self._failed_at is not None
                    and now - self._failed_at < FAILURE_BACKOFF):
                raise ProviderUnavailable(self._failure)
            try:
                metadata = ProviderMetadata.from_document(
                    self.issuer, fetch_json(
                        self.discovery_url, timeout=self.timeout,
                        what=f'discovery document of {self.issuer}'))
            except ProviderUnavailable as exc:
                if self._metadata is not None:
                    # keep serving the last good document while it fails
                    self._metadata_at = now
                    return self._metadata
                self._failed_at, self._failure = now, exc.message
                raise
            self._failed_at = None
            if (self._jwks is None or self._metadata is None
                    or self._metadata.jwks_uri != metadata.jwks_uri):
                import jwt
                self._jwks = jwt.PyJWKClient(
                    metadata.jwks_uri, cache_keys=False,
                    lifespan=self.jwks_lifespan, timeout=self.timeout,
                    cooldown_duration=self.jwks_cooldown,
                    headers={'User-Agent': 'ntcli'})
            self._metadata, self._metadata_at = metadata, now
            return metadata

    # -- keys --------------------------------------------------------------
    def _key(self, header: dict, alg: str) -> typing.Any:
        """The public key the token's header names, for ``alg``."""
        import jwt
        self.metadata()
        assert self._jwks is not None
        kid = header.get('kid')
        try:
            if kid is None:
                keys = self._jwks.get_signing_keys()
                if len(keys) != 1:
                    raise TokenRejected(
                        'unknown_key',
                        'The token names no key (kid) and the issuer has '
                        'several')
                key = keys[0]
            elif not isinstance(kid, str) or len(kid) > 256:
                raise TokenRejected('malformed', 'The token\'s kid is not '
                                    'valid')
            else:
                key = self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnavailable(
                f'The keys of {self.issuer} could not be fetched') from None
        except jwt.PyJWKClientError:
            raise TokenRejected(
                'unknown_key', f'The token is signed with a key {self.issuer} '
                'does not publish') from None
        except jwt.PyJWTError:
            raise ProviderUnavailable(
                f'The keys of {self.issuer} are not a valid JWKS') from None
        wanted = _KEY_TYPES.get(alg[:2])
        if key.key_type != wanted:
            raise TokenRejected(
                'algorithm', f'The token\'s algorithm {alg} does not fit '
                f'its key (type {key.key_type})')
        return key.key

    # -- verification ------------------------------------------------------
    def verify(self, token: object, *,
               audience: str | typing.Collection[str],
               nonce: str | None = None,
               authorized_party: str | None = None,
               max_age: int | None = None) -> VerifiedToken:
        """Verify a JWT of this issuer meant for ``audience`` (one, or any
        of several); see the module's docstring for every check.

        ``authorized_party`` (an OAuth client id) adds ID-token rules:
        ``azp`` must be present when ``aud`` has several values, and equal
        to it when present. Raises TokenRejected or ProviderUnavailable.
        """
        import jwt
        if not isinstance(token, str) or not token:
            raise TokenRejected('malformed', 'No token was given')
        if len(token) > MAX_TOKEN:
            raise TokenRejected('malformed', 'The token is too long')
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected('malformed', 'The token is not a JWT') \
                from None
        alg = header.get('alg')
        allowed = self.algorithms
        supported = self.metadata().signing_algorithms
        if supported:
            allowed = tuple(a for a in allowed if a in supported)
        if not isinstance(alg, str) or alg not in allowed:
            raise TokenRejected(
                'algorithm', f'The token\'s algorithm is not allowed '
                f'(allowed: {", ".join(allowed)})')
        key = self._key(header, alg)
        audiences = [audience] if isinstance(audience, str) else \
            list(audience)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=audiences,
                issuer=self.issuer,
                options={'verify_exp': False, 'verify_iat': False,
                         'verify_nbf': False, 'require': [
                             'iss', 'sub', 'aud', 'exp', 'iat']})
        except jwt.InvalidSignatureError:
            raise TokenRejected('signature', 'The token\'s signature is '
                                'not valid') from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected('malformed', f'The token has no '
                                f'{exc.claim} claim') from None
        except jwt.InvalidAudienceError:
            raise TokenRejected('audience', 'The token is meant for '
                                'another audience') from None
        except jwt.InvalidIssuerError:
            raise TokenRejected('issuer', f'The token was not issued by '
                                f'{self.issuer}') from None
        except jwt.PyJWTError:
            raise TokenRejected('malformed', 'The token is malformed') \
                from None
        self._check_claims(claims, authorized_party, nonce, max_age)
        return VerifiedToken(issuer=self.issuer, subject=claims['sub'],
                             claims=claims, expires_at=int(claims['exp']),
                             issued_at=int(claims['iat']))

    def verify_id_token(self, token: object, *, client_id: str,
                        nonce: str | None = None,
                        max_age: int | None = None) -> VerifiedToken:
        """Verify an ID token issued to ``client_id`` (OpenID Connect Core
        §3.1.3.7), with ``nonce`` when the sign-in sent one."""
        return self.verify(token, audience=client_id, nonce=nonce,
                           authorized_party=client_id, max_age=max_age)

    def _check_claims(self, claims: dict, authorized_party: str | None,
                      nonce: str | None, max_age: int | None) -> None:
        def number(name: str) -> int | float | None:
            value = claims.get(name)
            if value is None:
                return None
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or value != value or abs(value) > 2 ** 53):
                raise TokenRejected('malformed', f'The token\'s {name} '
                                    'claim is not a time')
            return value

        if not isinstance(claims.get('sub'), str) or not claims['sub'] or \
                len(claims['sub']) > 255:
            raise TokenRejected('malformed', 'The token\'s sub claim is not '
                                'valid')
        now = self.clock()
        exp, iat, nbf = number('exp'), number('iat'), number('nbf')
        assert exp is not None and iat is not None      # required above
        if exp <= now - self.leeway:
            raise TokenRejected('expired', 'The token has expired')
        if iat > now + self.leeway:
            raise TokenRejected('not_yet_valid', 'The token was issued in '
                                'the future (check the clocks)')
        if nbf is not None and nbf > now + self.leeway:
            raise TokenRejected('not_yet_valid', 'The token is not valid '
                                'yet')
        if max_age is not None and iat < now - max_age - self.leeway:
            raise TokenRejected('expired', 'The token was issued too long '
                                'ago')
        if authorized_party is not None:
            aud = claims.get('aud')
            azp = claims.get('azp')
            if isinstance(aud, list) and len(aud) > 1 and azp is None:
                raise TokenRejected('audience', 'The token has several '
                                    'audiences and no azp claim')
            if azp is not None and azp != authorized_party:
                raise TokenRejected('audience', 'The token was issued to '
                                    'another client (azp)')
        if nonce is not None and claims.get('nonce') != nonce:
            raise TokenRejected('nonce', 'The token\'s nonce is not the one '
                                'this sign-in sent')


class IssuerCache:
    """Issuers by URL, each created once and then shared (a server keeps
    one cache, so that every request reuses the keys fetched)."""

    def __init__(self, **options: typing.Any) -> None:
        self._options = options
        self._issuers: dict[str, Issuer] = {}
        self._lock = threading.Lock()

    def get(self, issuer: str) -> Issuer:
        with self._lock:
            found = self._issuers.get(issuer)
            if found is None:
                found = self._issuers[issuer] = Issuer(issuer,
                                                       **self._options)
            return found
