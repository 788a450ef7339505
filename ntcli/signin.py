"""Signing in through the identity provider an endpoint trusts.

``ntcli auth login`` asks the endpoint how to sign in
(``GET /v1/auth/providers``), then runs one of two OAuth 2.0 flows as a
public client of the provider (no secret), gets the person's ID token,
checks it (:mod:`ntcli_authority.oidc`: signature, issuer, audience, times,
and the nonce it sent), and trades it at the endpoint for a ntcli session
(RFC 8693 token exchange). The session is stored as the endpoint's user
credential, with the provider's refresh token beside it, only in the
encrypted credentials store.

* :meth:`ProviderClient.device_flow`, the device authorization grant
  (RFC 8628), where no browser can be opened (SSH, a container): it shows
  the verification URL and the user code, polls the token endpoint at the
  interval the provider asks (5 seconds when it names none), adds 5
  seconds for good at each ``slow_down``, and stops at ``access_denied``,
  at ``expired_token`` or when the code's lifetime is over.
* :meth:`ProviderClient.browser_flow`, the authorization code grant with
  PKCE (S256) and a loopback redirect (RFC 8252): a listener on
  127.0.0.1 with a port the system picks, one request accepted on
  ``/callback`` (its ``state`` must be the one sent), then closed; the
  ID token's ``nonce`` must be the one sent; a timeout.

A session is renewed without the person doing anything
(:func:`renew`): shortly before it expires, the refresh token gets a new ID
token from the provider, which is exchanged for a new session; the old one
is ended. When the provider no longer vouches for the person (the refresh
token is refused), they must sign in again.

Libraries: the provider's endpoints are called with ``requests``, as the
rest of ntcli's HTTP is (one timeout, TLS and debug-trace policy); the
protocol steps are a handful of form posts, tested against a certified
provider (tests/oidc). Authlib's requests client would cover the code flow
and refreshing, but not the device grant's polling rules nor the
token exchange, and would be one more dependency; PyJWT (through
:mod:`ntcli_authority.oidc`, the oidc extra) checks the ID token. This
module is imported only by ``auth login``, ``auth logout`` and a renewal.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import secrets
import threading
import time
import typing
import urllib.parse

import requests

from ntcli import errors
from ntcli_core import oauth

if typing.TYPE_CHECKING:
    from ntcli.context import Context
    from ntcli.endpoints import SignInProvider
    from ntcli.store import SignIn
    from ntcli_authority.oidc import Issuer, ProviderMetadata, VerifiedToken

#: Seconds between two polls when the provider names no interval (RFC 8628
#: section 3.5), and what a slow_down adds.
DEFAULT_INTERVAL = 5
SLOW_DOWN = 5
#: How long the browser flow waits for the provider's redirect.
BROWSER_WAIT = 300
CALLBACK_PATH = '/callback'


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
        from ntcli_authority import oidc
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
        from ntcli_authority import oidc
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
        from ntcli_core.terminal import escape
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
        from ntcli_core.terminal import escape
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
        from ntcli_authority import oidc
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


class LoopbackListener:
    """The redirect target of a browser sign-in: 127.0.0.1, a free port,
    one request on :data:`CALLBACK_PATH` accepted, then closed."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.result: tuple[str, str] | None = None   # ('code'|'error', text)
        self._done = threading.Event()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != CALLBACK_PATH or listener._done.is_set():
                    self._page(404, 'Not found.')
                    return
                query = urllib.parse.parse_qs(parts.query)
                listener.result = listener._read(query)
                listener._done.set()
                kind, _ = listener.result
                self._page(200 if kind == 'code' else 400,
                           'Signed in. You can close this window and go '
                           'back to the terminal.' if kind == 'code' else
                           'The sign-in failed; see the terminal.')

            def _page(self, status: int, text: str) -> None:
                body = (f'<!doctype html><title>ntcli</title>'
                        f'<p>{html.escape(text)}</p>').encode()
                self.send_response(status)
                self.send_header('Content-Type', 'text/html; charset=utf-8')
                self.send_header('Content-Length', str(len(body)))
                self.send_header('Cache-Control', 'no-store')
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: typing.Any) -> None:
                pass            # the query holds the code: log nothing

        self.server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        self.server.timeout = 0.5
        self.redirect_uri = (f'http://127.0.0.1:{self.server.server_port}'
                             f'{CALLBACK_PATH}')

    def _read(self, query: dict[str, list[str]]) -> tuple[str, str]:
        def one(name: str) -> str | None:
            values = query.get(name) or []
            return values[0] if len(values) == 1 else None
        if one('state') != self.state:
            return 'error', ('the answer does not carry the state this '
                             'sign-in sent (another sign-in, or a forged '
                             'request)')
        error = one('error')
        if error is not None:
            if error == 'access_denied':
                return 'error', 'access was denied at the identity provider'
            from ntcli_core.terminal import escape
            return 'error', escape(one('error_description') or error)[:300]
        code = one('code')
        if not code:
            return 'error', 'the answer carries no authorization code'
        return 'code', code

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.server_close()

    def wait(self, seconds: float) -> str:
        """The authorization code of the one request; raises on a wrong
        state, an error, or no request within ``seconds``."""
        deadline = time.monotonic() + seconds
        while not self._done.is_set():
            if time.monotonic() >= deadline:
                raise errors.AuthenticationRequired(
                    f'No sign-in came back within {int(seconds)} seconds',
                    'Run ntcli auth login again (or --device to sign in '
                    'from another device).')
            self.server.handle_request()
        assert self.result is not None
        kind, text = self.result
        if kind != 'code':
            raise errors.AuthenticationRequired(
                f'The sign-in failed: {text}', 'Run ntcli auth login again.')
        return text


def can_open_browser() -> bool:
    """Whether a browser on this machine can show a page to the person:
    not over SSH, and with a display (or on macOS and Windows)."""
    import os
    import sys
    if os.environ.get('SSH_CONNECTION') or os.environ.get('SSH_TTY'):
        return False
    if sys.platform in ('darwin', 'win32'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get(
        'WAYLAND_DISPLAY') or os.environ.get('BROWSER'))


def open_browser(url: str) -> bool:
    import webbrowser
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def client_for(context: Context, provider: SignInProvider
               ) -> ProviderClient:
    return ProviderClient(provider, timeout=context.timeout,
                          say=lambda line: context.app.stderr.write(
                              line + '\n'))


def sign_in(context: Context, provider: SignInProvider, *,
            browser: bool, wait: float = BROWSER_WAIT) -> tuple[
                SignIn, bool]:
    """Run a flow, exchange the ID token for a session, store both;
    return the sign-in and whether the server created the user."""
    from ntcli.store import SignIn
    endpoint = context.endpoint
    client = client_for(context, provider)
    if browser:
        tokens, nonce = client.browser_flow(open_browser, wait)
        verified = client.verify(tokens, nonce)
    else:
        tokens = client.device_flow()
        verified = client.verify(tokens)
    session = endpoint.exchange_id_token(tokens.id_token)
    record = SignIn(issuer=provider.issuer, client_id=provider.client_id,
                    subject=verified.subject, user_name=session.user_name,
                    session_id=session.session_id,
                    expires_at=session.expires_at, email=verified.email,
                    refresh_token=tokens.refresh_token)
    with context.store.transaction() as creds:
        previous = creds.get_user_credential(context.credentials_key)
        creds.set_sign_in(context.credentials_key, session.token, record)
    if previous and previous.startswith('nts_'):
        # the session of an earlier sign-in on this machine
        _end_quietly(context, previous)
    return record, session.user_created


def renew(context: Context, record: SignIn) -> str | None:
    """A new session for a sign-in about to expire, from the provider's
    refresh token; None when it cannot be renewed (then the old session
    is used as long as it lasts, and the person is told)."""
    from ntcli.endpoints import SignInProvider
    endpoint = context.endpoint
    if not record.refresh_token:
        return None
    client = client_for(context, SignInProvider(
        issuer=record.issuer, client_id=record.client_id, scopes=(
            'openid', 'profile', 'email', 'offline_access')))
    try:
        tokens = client.refresh(record.refresh_token)
        if tokens is None:
            context.warn(f'{record.issuer} no longer renews your sign-in: '
                         'run ntcli auth login.')
            key = context.credentials_key
            with context.store.transaction() as creds:
                current = creds.get_sign_in(key)
                if current is not None and \
                        current.session_id == record.session_id:
                    current.refresh_token = None
                    token = creds.get_user_credential(key)
                    if token:
                        creds.set_sign_in(key, token, current)
            return None
        verified = client.verify(tokens)
        if verified.subject != record.subject:
            raise errors.AuthenticationRequired(
                'The identity provider renewed the sign-in of someone else',
                'Run ntcli auth login.')
        session = endpoint.exchange_id_token(tokens.id_token)
    except errors.NtcliError as exc:
        context.warn(f'the sign-in could not be renewed: {exc.message}')
        return None
    renewed = record.replace(session_id=session.session_id,
                         user_name=session.user_name,
                         expires_at=session.expires_at,
                         email=verified.email or record.email,
                         refresh_token=tokens.refresh_token)
    with context.store.transaction() as creds:
        old = creds.get_user_credential(context.credentials_key)
        creds.set_sign_in(context.credentials_key, session.token,
                          renewed)
    context.history.record('login', jti=None, outcome='sign-in renewed',
                           endpoint=endpoint.key)
    if old and old != session.token:
        _end_quietly(context, old)
    return session.token


def _end_quietly(context: Context, session_token: str) -> None:
    import contextlib
    with contextlib.suppress(errors.NtcliError):    # it expires anyway
        context.endpoint.end_session(session_token)


def sign_out(context: Context, record: SignIn, session_token: str
             ) -> list[str]:
    """End the session at the endpoint and revoke the refresh token at the
    provider when it can; return warnings for what could not be done."""
    from ntcli.endpoints import SignInProvider
    problems = []
    try:
        context.endpoint.end_session(session_token)
    except errors.NtcliError as exc:
        problems.append(f'the session could not be ended at the server: '
                        f'{exc.message} (it expires on its own)')
    if record.refresh_token:
        client = client_for(context, SignInProvider(
            issuer=record.issuer, client_id=record.client_id, scopes=()))
        try:
            if not client.revoke(record.refresh_token):
                problems.append(f'{record.issuer} offers no revocation: its '
                                'refresh token was forgotten and lapses on '
                                'its own')
        except errors.NtcliError as exc:
            problems.append(f'the sign-in could not be revoked at '
                            f'{record.issuer}: {exc.message}')
    return problems
