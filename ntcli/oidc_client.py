"""ntcli as a public OAuth 2.0 client of an OpenID Provider (no secret).

:class:`ProviderClient` runs one of two flows to get the person's ID token,
and checks it (:mod:`ntcli_authority.oidc`: signature, issuer, audience,
times, and the nonce it sent):

* :meth:`ProviderClient.device_flow`, the device authorization grant
  (RFC 8628), where no browser can be opened (SSH, a container): it shows
  the verification URL and the user code, polls the token endpoint at the
  interval the provider asks (5 seconds when it names none), adds 5
  seconds for good at each ``slow_down``, and stops at ``access_denied``,
  at ``expired_token`` or when the code's lifetime is over.
* :meth:`ProviderClient.browser_flow`, the authorization code grant with
  PKCE (S256) and a loopback redirect (RFC 8252,
  :class:`ntcli.loopback.LoopbackListener`); the ID token's ``nonce`` must
  be the one sent; a timeout.

It also refreshes (a new ID token from the refresh token) and revokes.

Libraries: the provider's endpoints are called with ``requests``, as the
rest of ntcli's HTTP is (one timeout, TLS and debug-trace policy); the
protocol steps are a handful of form posts, tested against a certified
provider (tests/oidc). Authlib's requests client would cover the code flow
and refreshing, but not the device grant's polling rules nor the
token exchange, and would be one more dependency; PyJWT (through
:mod:`ntcli_authority.oidc`, which imports it on first use) checks the ID
token. Only :mod:`ntcli.signin` imports this module.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import typing
import urllib.parse

import requests

from ntcli import errors
from ntcli.loopback import LoopbackListener
from ntcli_authority import oidc
from ntcli_core import oauth
from ntcli_core.terminal import escape

if typing.TYPE_CHECKING:
    from ntcli.endpoints import SignInProvider
    from ntcli_authority.oidc import Issuer, ProviderMetadata, VerifiedToken

__all__ = ['ProviderClient', 'TokenSet']


#: Seconds between two polls when the provider names no interval (RFC 8628
#: section 3.5), and what a slow_down adds.
DEFAULT_INTERVAL = 5
SLOW_DOWN = 5
#: How long the browser flow waits for the provider's redirect.
BROWSER_WAIT = 300


class TokenSet(typing.NamedTuple):
    """What the provider's token endpoint gave."""

    id_token: str
    refresh_token: str | None
    access_token: str | None


class ProviderClient:
    """ntcli as a public client of one OpenID Provider."""

    def __init__(self, provider: SignInProvider, *, timeout: float,
                 say: typing.Callable[[str], object],
                 session: requests.Session | None = None,
                 sleep: typing.Callable[[float], None] = time.sleep,
                 clock: typing.Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.timeout = timeout
        self.say = say
        self.http = session or requests.Session()
        self.http.headers['Accept'] = 'application/json'
        self.sleep = sleep
        self.clock = clock
        try:
            self.issuer: Issuer = oidc.Issuer(provider.issuer,
                                              timeout=timeout)
        except oidc.PyJWTMissing as exc:
            raise errors.ConfigError(
                'Signing in through an identity provider needs PyJWT, '
                'which is not installed',
                f"Install it: pip install 'ntcli[{exc.extra}]'") from None

    @property
    def metadata(self) -> ProviderMetadata:
        try:
            return self.issuer.metadata()
        except oidc.ProviderUnavailable as exc:
            raise errors.EndpointUnreachable(
                f'The identity provider {self.provider.issuer} cannot be '
                f'reached: {exc.message}',
                'Check your network, or ask the administrator of the '
                'server whether the provider is up.') from None

    @property
    def scope(self) -> str:
        return ' '.join(self.provider.scopes)

    # -- the token endpoint ------------------------------------------------
    def _token_request(self, form: dict[str, str]) -> tuple[int, dict]:
        """POST to the token endpoint; (status, JSON object)."""
        endpoint = self.metadata.token_endpoint
        if endpoint is None:
            raise errors.EndpointError(
                f'The identity provider {self.provider.issuer} has no '
                'token endpoint')
        return self._post(endpoint, form)

    def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict]:
        try:
            response = self.http.post(
                url, data={'client_id': self.provider.client_id, **form},
                timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise errors.EndpointUnreachable(
                f'The identity provider {self.provider.issuer} cannot be '
                f'reached: {type(exc).__name__}',
                'Check your network and try again.') from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code == 200 and not response.content:
                return 200, {}        # a revocation answers with nothing
            raise errors.EndpointError(
                f'The identity provider {self.provider.issuer} answered '
                f'something that is not OAuth (HTTP {response.status_code})')
        return response.status_code, body

    @staticmethod
    def _tokens(body: dict) -> TokenSet:
        id_token = body.get('id_token')
        if not isinstance(id_token, str) or not id_token:
            raise errors.EndpointError(
                'The identity provider gave no ID token; the client needs '
                "the 'openid' scope")
        refresh = body.get('refresh_token')
        access = body.get('access_token')
        return TokenSet(id_token=id_token,
                        refresh_token=refresh if isinstance(refresh, str)
                        else None,
                        access_token=access if isinstance(access, str)
                        else None)

    @staticmethod
    def _error(body: dict) -> tuple[str, str]:
        error = body.get('error')
        description = body.get('error_description')
        error = error if isinstance(error, str) else 'unknown_error'
        return error, escape(description if isinstance(description, str)
                             else error)[:300]

    # -- the device authorization grant (RFC 8628) -------------------------
    def device_flow(self) -> TokenSet:
        """Show a code, wait for the person to approve it elsewhere."""
        endpoint = self.metadata.device_authorization_endpoint
        if endpoint is None:
            raise errors.UsageError(
                f'The identity provider {self.provider.issuer} does not '
                'offer the device flow',
                'Sign in with a browser on this machine: ntcli auth login '
                '--web.')
        status, body = self._post(endpoint, {'scope': self.scope})
        if status != 200:
            error, description = self._error(body)
            raise errors.EndpointError(
                f'The identity provider refused to start a sign-in: '
                f'{description}')
        try:
            device_code = str(body['device_code'])
            user_code = str(body['user_code'])
            uri = str(body['verification_uri'])
            expires_in = int(body['expires_in'])
            interval = int(body.get('interval') or DEFAULT_INTERVAL)
        except (KeyError, TypeError, ValueError):
            raise errors.EndpointError(
                'The identity provider answered a device authorization '
                'this ntcli does not understand') from None
        complete = body.get('verification_uri_complete')
        self.say(f'To sign in, open {escape(uri)} in a browser and enter '
                 f'the code {escape(user_code)}')
        if isinstance(complete, str):
            self.say(f'(or open {escape(complete)})')
        self.say(f'The code expires in {max(expires_in // 60, 1)} '
                 'minute(s). Waiting for you to approve it... '
                 '(Ctrl-C to cancel)')
        interval = min(max(interval, 1), 60)
        deadline = self.clock() + expires_in
        while True:
            if self.clock() + interval > deadline:
                raise errors.AuthenticationRequired(
                    'The sign-in code expired before it was approved',
                    'Run ntcli auth login again.')
            self.sleep(interval)
            status, body = self._token_request({
                'grant_type': oauth.GRANT_DEVICE_CODE,
                'device_code': device_code})
            if status == 200:
                return self._tokens(body)
            error, description = self._error(body)
            if error == 'authorization_pending':
                continue
            if error == 'slow_down':
                interval += SLOW_DOWN
                continue
            if error == 'access_denied':
                raise errors.AuthenticationRequired(
                    'The sign-in was denied at the identity provider',
                    'Run ntcli auth login again to retry.')
            if error == 'expired_token':
                raise errors.AuthenticationRequired(
                    'The sign-in code expired before it was approved',
                    'Run ntcli auth login again.')
            raise errors.EndpointError(
                f'The identity provider refused the sign-in: {description}')

    # -- the authorization code grant with PKCE (RFC 7636, RFC 8252) -------
    def browser_flow(self, open_browser: typing.Callable[[str], bool],
                     wait: float = BROWSER_WAIT) -> tuple[TokenSet, str]:
        """Sign in in a browser; return the tokens and the nonce sent."""
        metadata = self.metadata
        if metadata.authorization_endpoint is None:
            raise errors.UsageError(
                f'The identity provider {self.provider.issuer} does not '
                'offer the browser sign-in', 'Use ntcli auth login --device.')
        if metadata.code_challenge_methods and \
                'S256' not in metadata.code_challenge_methods:
            raise errors.EndpointError(
                f'The identity provider {self.provider.issuer} does not '
                'support PKCE with S256')
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(
            verifier.encode()).digest()).decode().rstrip('=')
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with LoopbackListener(state) as listener:
            redirect_uri = listener.redirect_uri
            url = metadata.authorization_endpoint + (
                '&' if '?' in metadata.authorization_endpoint else '?') + \
                urllib.parse.urlencode({
                    'response_type': 'code',
                    'client_id': self.provider.client_id,
                    'redirect_uri': redirect_uri, 'scope': self.scope,
                    'state': state, 'nonce': nonce,
                    'code_challenge': challenge,
                    'code_challenge_method': 'S256',
                    # a refresh token needs the person's consent to
                    # offline access (OpenID Connect Core 11)
                    **({'prompt': 'consent'}
                       if 'offline_access' in self.provider.scopes else {})})
            if open_browser(url):
                self.say('Your browser has been opened to sign in. If it '
                         'did not open, visit:')
            else:
                self.say('Open this URL in a browser on this machine to '
                         'sign in:')
            self.say(url)
            self.say(f'Waiting up to {int(wait)} seconds for the sign-in... '
                     '(Ctrl-C to cancel)')
            code = listener.wait(wait)
        status, body = self._token_request({
            'grant_type': 'authorization_code', 'code': code,
            'redirect_uri': redirect_uri, 'code_verifier': verifier})
        if status != 200:
            error, description = self._error(body)
            raise errors.AuthenticationRequired(
                f'The identity provider refused the sign-in: {description}',
                'Run ntcli auth login again.')
        return self._tokens(body), nonce

    # -- refreshing and revoking ------------------------------------------
    def refresh(self, refresh_token: str) -> TokenSet | None:
        """New tokens for a refresh token; None when the provider no
        longer honours it (the person must sign in again)."""
        status, body = self._token_request({
            'grant_type': 'refresh_token', 'refresh_token': refresh_token,
            'scope': self.scope})
        if status == 200:
            tokens = self._tokens(body)
            # a provider that does not rotate refresh tokens keeps the old
            return tokens._replace(
                refresh_token=tokens.refresh_token or refresh_token)
        error, description = self._error(body)
        if error in ('invalid_grant', 'unauthorized_client'):
            return None
        raise errors.EndpointError(
            f'The identity provider could not renew the sign-in: '
            f'{description}')

    def revoke(self, token: str, hint: str = 'refresh_token') -> bool:
        """Revoke a token at the provider (RFC 7009); False when the
        provider has no revocation endpoint."""
        endpoint = self.metadata.revocation_endpoint
        if endpoint is None:
            return False
        status, body = self._post(endpoint, {'token': token,
                                             'token_type_hint': hint})
        if status != 200:
            error, description = self._error(body)
            raise errors.EndpointError(
                f'The identity provider did not revoke the sign-in: '
                f'{description}')
        return True

    def verify(self, tokens: TokenSet, nonce: str | None = None
               ) -> VerifiedToken:
        """The ID token, checked (OpenID Connect Core 3.1.3.7)."""
        try:
            return self.issuer.verify_id_token(
                tokens.id_token, client_id=self.provider.client_id,
                nonce=nonce)
        except oidc.TokenRejected as exc:
            raise errors.AuthenticationRequired(
                f'The ID token from {self.provider.issuer} is not valid: '
                f'{exc.message}', 'Run ntcli auth login again.') from None
        except oidc.ProviderUnavailable as exc:
            raise errors.EndpointUnreachable(
                f'The identity provider {self.provider.issuer} cannot be '
                f'reached: {exc.message}') from None
