"""Where an identity provider's documents come from: OpenID Connect
Discovery (the provider's metadata) and the URLs it names.

Transport: discovery and the JWKS are fetched with ``urllib`` without
following redirects, with a timeout (:data:`DEFAULT_TIMEOUT`), over
``https``; plain ``http`` is accepted only for an issuer on the loopback
interface (127.0.0.1, ::1, localhost), which is what tests and a provider
on the same machine use. An :class:`~ntcli_authority.oidc.Issuer`
remembers a failed discovery for a few seconds
(:data:`~ntcli_authority.oidc.FAILURE_BACKOFF`) so that, with the provider
down, requests fail at once instead of each waiting for its timeout.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import json
import typing
import urllib.error
import urllib.parse
import urllib.request

from ntcli_authority import errors

#: Seconds to wait for the provider to answer one request.
DEFAULT_TIMEOUT = 10.0
#: The largest discovery document read, in bytes.
MAX_DOCUMENT = 1 << 20

DISCOVERY_PATH = '/.well-known/openid-configuration'
_LOOPBACK_NAMES = ('localhost',)


class ProviderUnavailable(errors.AuthorityError):
    """The issuer's discovery document or keys could not be fetched."""

    code = 'PROVIDER_UNAVAILABLE'

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message, 503)


@dataclasses.dataclass(frozen=True)
class ProviderMetadata:
    """What an issuer's discovery document says (OpenID Connect Discovery
    1.0 §3, RFC 8414); the endpoints a client needs, None when absent."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    end_session_endpoint: str | None = None
    signing_algorithms: tuple[str, ...] = ()
    code_challenge_methods: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, issuer: str, document: object
                      ) -> ProviderMetadata:
        """Check a discovery document of ``issuer`` and read it.

        The document's ``issuer`` must equal the one asked for (Discovery
        §4.3), and every endpoint must be an acceptable URL.
        """
        if not isinstance(document, dict):
            raise ProviderUnavailable(
                f'The discovery document of {issuer} is not a JSON object')
        if document.get('issuer') != issuer:
            raise ProviderUnavailable(
                f'The discovery document of {issuer} names another issuer')

        def url(name: str, required: bool = False) -> str | None:
            value = document.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str):
                raise ProviderUnavailable(
                    f'The discovery document of {issuer} has no valid '
                    f'{name}')
            check_url(value, what=f'{name} of {issuer}',
                      error=ProviderUnavailable)
            return value

        def names(name: str) -> tuple[str, ...]:
            value = document.get(name)
            if isinstance(value, list):
                return tuple(v for v in value if isinstance(v, str))
            return ()

        jwks_uri = url('jwks_uri', required=True)
        assert jwks_uri is not None
        return cls(
            issuer=issuer, jwks_uri=jwks_uri,
            authorization_endpoint=url('authorization_endpoint'),
            token_endpoint=url('token_endpoint'),
            device_authorization_endpoint=url(
                'device_authorization_endpoint'),
            revocation_endpoint=url('revocation_endpoint'),
            end_session_endpoint=url('end_session_endpoint'),
            signing_algorithms=names('id_token_signing_alg_values_supported'),
            code_challenge_methods=names('code_challenge_methods_supported'),
            grant_types=names('grant_types_supported'))


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: object, *, what: str = 'URL',
              error: type[errors.AuthorityError] | typing.Callable[
                  [str], errors.AuthorityError] = errors.InvalidRequest
              ) -> str:
    """``url`` if it is an absolute https URL (or http on the loopback
    interface) without user info or fragment; else raise ``error``."""
    problem = None
    if not isinstance(url, str) or not url or len(url) > 2048 or any(
            ord(c) < 0x21 or ord(c) == 0x7f for c in url):
        problem = 'is not a URL'
    else:
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
            parts.port          # noqa: B018 (raises on a bad port)
        except ValueError:
            problem = 'is not a URL'
        else:
            if parts.scheme not in ('https', 'http') or not host:
                problem = 'must be an https URL'
            elif parts.scheme == 'http' and not is_loopback(host):
                problem = ('must use https (http is accepted only on the '
                           'loopback interface)')
            elif parts.username is not None or parts.password is not None:
                problem = 'must not carry a user name or password'
            elif parts.fragment:
                problem = 'must not have a fragment'
    if problem:
        raise error(f'The {what} {problem}')       # type: ignore[call-arg]
    assert isinstance(url, str)
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: typing.Any,
                         **kwargs: typing.Any) -> None:
        return None


def fetch_json(url: str, *, timeout: float = DEFAULT_TIMEOUT,
               what: str = 'document') -> object:
    """GET ``url`` and parse its JSON body (at most :data:`MAX_DOCUMENT`
    bytes, no redirects); ProviderUnavailable on any failure."""
    opener = urllib.request.build_opener(_NoRedirect())
    request = urllib.request.Request(url, headers={
        'Accept': 'application/json', 'User-Agent': 'ntcli'})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_DOCUMENT + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ProviderUnavailable(
            f'The {what} could not be fetched (HTTP {exc.code})') from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # URLError, timeouts, resets, a malformed answer
        raise ProviderUnavailable(
            f'The {what} could not be fetched: '
            f'{getattr(exc, "reason", None) or type(exc).__name__}'
        ) from None
    if len(body) > MAX_DOCUMENT:
        raise ProviderUnavailable(f'The {what} is too large')
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ProviderUnavailable(f'The {what} is not JSON') from None
