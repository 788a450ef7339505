"""The HTTP endpoint: a remote token API (``ntcli-server`` or NimbleTools).

This module is imported only when an ``http(s)://`` endpoint is used, so
``requests`` stays off the CLI's start-up path for the embedded endpoint.

Retries are made where repeating a call cannot do harm:

* a connection that could not be made at all (refused, unresolved, timed
  out connecting: nothing was sent) is retried with a backoff for every
  call, by urllib3;
* 502/503/504 answers are retried for the idempotent GET and DELETE;
* a call whose answer was lost (connection reset after sending) is repeated
  when it is idempotent: GET, DELETE, and the POST that issues a token,
  which carries an ``Idempotency-Key`` so the server answers a repeat with
  the same token instead of a second one.

A server that accepts the call and then says nothing is not asked again:
once the read timeout (``--timeout``) has passed, the user has waited
enough.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import typing
import urllib.parse
import uuid

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

import ntcli
from ntcli import errors
from ntcli.endpoints import (
    Endpoint,
    EndpointOptions,
    Event,
    ExchangedToken,
    IssuedToken,
    Revocation,
    Session,
    SignInProvider,
    TokenRecord,
    TrustPolicy,
    Validation,
    Workspace,
    normalize_url,
)
from ntcli_core import oauth, redact, scopes, timefmt

LOG = logging.getLogger('ntcli.http')

IDEMPOTENT_METHODS = frozenset({'GET', 'DELETE'})
RETRY_STATUSES = frozenset({502, 503, 504})
CONNECT_RETRIES = 2
LOST_ANSWER_RETRIES = 2
BACKOFF_SECONDS = 0.2
#: RFC 8693 token exchange at ntcli-server's token endpoint.
TOKEN_ENDPOINT = '/v1/oauth/token'
GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt'
TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
# RFC 6749 errors of the token endpoint, as ntcli's own.
_OAUTH_ERRORS: dict[str, type[errors.NtcliError]] = {
    'invalid_grant': errors.AuthenticationRequired,
    'access_denied': errors.Forbidden,
    'invalid_request': errors.InvalidRequest,
    'invalid_scope': errors.InvalidRequest,
}



def _unix(value: object) -> int | None:
    """Unix seconds from the API's ISO-8601 or integer times."""
    if value is None:
        return None
    if isinstance(value, str):
        return timefmt.parse_iso(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f'not a time: {value!r}')


def _causes(exc: BaseException) -> typing.Iterator[BaseException]:
    """``exc`` and every exception it wraps (urllib3 nests them deeply)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, 'reason', None), current.__cause__,
                      current.__context__, *current.args):
            if isinstance(inner, BaseException):
                stack.append(inner)


def _not_connected(exc: BaseException) -> bool:
    """True when no connection was made, so nothing was sent."""
    return any(isinstance(e, ConnectTimeoutError) for e in _causes(exc))


def _timed_out(exc: BaseException) -> bool:
    """True when the server accepted the call but said nothing in time."""
    return not _not_connected(exc) and any(
        isinstance(e, (requests.Timeout, ReadTimeoutError, TimeoutError))
        for e in _causes(exc))


def _answer_lost(exc: BaseException) -> bool:
    """True when the call may have reached the server but its answer was
    lost (a reset or closed connection): worth asking again if safe."""
    return isinstance(exc, requests.ConnectionError) and not (
        _timed_out(exc) or _not_connected(exc))


def _reason(exc: BaseException) -> str:
    """What went wrong with a connection, in a few words."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(cause, socket.gaierror) or \
                type(cause).__name__ == 'NameResolutionError':
            return 'the host name could not be resolved'
    if _not_connected(exc):
        return 'no connection could be made'
    return 'the connection was closed before an answer came'


class HTTPEndpoint(Endpoint):
    """A token API reached over HTTP(S) with a bearer credential."""

    def __init__(self, url: str, options: EndpointOptions) -> None:
        super().__init__(normalize_url(url), options)
        # An explicit bundle beats REQUESTS_CA_BUNDLE, which requests
        # applies itself when verify is True.
        self._verify: bool | str = options.ca_bundle or True
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """The HTTP session, made on first use."""
        if self._session is None:
            bundle = self.options.ca_bundle
            if bundle and not os.path.exists(bundle):
                raise errors.UsageError(
                    f'CA bundle {bundle} not found',
                    'Give the path of a PEM file with --ca-bundle.')
            retry = Retry(
                # read=False: a read error is raised as it is (a timeout
                # stays a timeout); lost answers are repeated in _call
                total=CONNECT_RETRIES, connect=CONNECT_RETRIES, read=False,
                status=CONNECT_RETRIES, other=0,
                backoff_factor=BACKOFF_SECONDS,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=IDEMPOTENT_METHODS, raise_on_status=False)
            if not self.options.debug:
                # urllib3 warns on stderr at each retry; the outcome is ours
                # to report (--debug keeps the warnings).
                logging.getLogger('urllib3.connectionpool').setLevel(
                    logging.ERROR)
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=retry)
            session.mount('http://', adapter)
            session.mount('https://', adapter)
            session.headers['User-Agent'] = f'ntcli/{ntcli.__version__}'
            session.headers['Accept'] = 'application/json'
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, credential: str | None, name: str,
                         description: str | None = None) -> Workspace:
        body: dict[str, object] = {'name': name}
        if description is not None:
            body['description'] = description
        answer = self._call('POST', '/v1/workspaces', credential, json=body)
        with self._reading('workspace'):
            return self._workspace(answer)

    def list_workspaces(self, credential: str | None) -> list[Workspace]:
        answer = self._call('GET', '/v1/workspaces', credential)
        with self._reading('workspace list'):
            return [self._workspace(w) for w in answer['workspaces']]

    def delete_workspace(self, credential: str | None,
                         workspace_id: str) -> None:
        self._call('DELETE', f'/v1/workspaces/{_quote(workspace_id)}',
                   credential)

    # -- tokens -----------------------------------------------------------
    def issue_token(self, credential: str | None, workspace_id: str, *,
                    expires_in: int | None = None,
                    expires_at: int | None = None,
                    description: str | None = None,
                    idempotency_key: str | None = None,
                    scope: typing.Sequence[str] | None = None
                    ) -> IssuedToken:
        body: dict[str, object] = {}
        if expires_in is not None:
            body['expires_in'] = expires_in
        if expires_at is not None:
            body['expires_at'] = timefmt.iso(expires_at)
        if not body:
            body['expires_in'] = None     # explicitly: never expires
        if description is not None:
            body['description'] = description
        if scope is not None:
            body['scope'] = list(scope)
        answer = self._call(
            'POST', f'/v1/workspaces/{_quote(workspace_id)}/tokens',
            credential, json=body,
            idempotency_key=idempotency_key or str(uuid.uuid4()))
        with self._reading('issued token'):
            return IssuedToken(
                token=answer['access_token'], jti=answer['jti'],
                workspace_id=answer.get('workspace_id') or workspace_id,
                expires_at=_unix(answer.get('expires_at')),
                created_at=_unix(answer.get('created_at')),
                scope=scopes.reported(answer.get('scope')))

    def list_tokens_page(self, credential: str | None, workspace_id: str, *,
                         include_expired: bool = False,
                         include_revoked: bool = False,
                         limit: int = 100,
                         cursor: str | None = None,
                         ) -> tuple[list[TokenRecord], str | None]:
        params = {'include_expired': str(include_expired).lower(),
                  'include_revoked': str(include_revoked).lower(),
                  'limit': str(limit)}
        if cursor:
            params['cursor'] = cursor
        answer = self._call(
            'GET', f'/v1/workspaces/{_quote(workspace_id)}/tokens',
            credential, params=params)
        with self._reading('token list'):
            records = [TokenRecord(
                jti=t['jti'], created_at=_unix(t.get('created_at')),
                expires_at=_unix(t.get('expires_at')), status=t['status'],
                description=t.get('description'),
                revoked_at=_unix(t.get('revoked_at')),
                scope=scopes.reported(t.get('scope')))
                for t in answer['tokens']]
            return records, answer.get('next_cursor') or None

    def revoke_token(self, credential: str | None, workspace_id: str,
                     jti: str, *, grace: int | None = None) -> Revocation:
        # A server without grace periods (NimbleTools) ignores the query
        # and revokes at once: its answer says 'revoked', not 'retiring'.
        answer = self._call(
            'DELETE',
            f'/v1/workspaces/{_quote(workspace_id)}/tokens/{_quote(jti)}',
            credential, params=None if grace is None
            else {'grace': str(grace)})
        with self._reading('revocation'):
            return Revocation(
                jti=answer.get('token_jti') or jti,
                workspace_id=answer.get('workspace_id') or workspace_id,
                revoked_at=typing.cast(int, _unix(answer['revoked_at'])),
                already_revoked=bool(answer.get('already_revoked', False)),
                retiring=answer.get('status') == 'retiring')

    def validate_token(self, token: str) -> Validation:
        answer, headers = self._call('GET', '/v1/token_auth', token,
                                     with_headers=True)
        with self._reading('token check'):
            workspace_id = (answer.get('workspace_id')
                            or headers['X-Workspace-Id'])
            jti = answer.get('jti') or headers.get('X-Token-Jti')
            if not jti:
                from ntcli.tokeninfo import token_claims
                jti = token_claims(token)['jti']
            return Validation(jti=jti, workspace_id=workspace_id,
                              expires_at=_unix(answer.get('expires_at')),
                              revoked_at=_unix(answer.get('revoked_at')))

    def list_events_page(self, credential: str | None, workspace_id: str, *,
                         since: int | None = None,
                         actions: typing.Sequence[str] = (),
                         limit: int = 100, cursor: str | None = None,
                         ) -> tuple[list[Event], str | None]:
        params: dict[str, typing.Any] = {'limit': str(limit)}
        if since is not None:
            params['since'] = str(since)
        if actions:
            params['action'] = list(actions)
        if cursor:
            params['cursor'] = cursor
        answer = self._call(
            'GET', f'/v1/workspaces/{_quote(workspace_id)}/events',
            credential, params=params)
        with self._reading('audit trail'):
            events = [Event(
                id=int(e['id']), time=typing.cast(int, _unix(e['time'])),
                action=str(e['action']), outcome=str(e['outcome']),
                actor=e.get('actor'), target_jti=e.get('target_jti'),
                client=e.get('client'), request_id=e.get('request_id'),
                user_agent=e.get('user_agent'), detail=e.get('detail'))
                for e in answer['events']]
            return events, answer.get('next_cursor') or None

    # -- trust policies ---------------------------------------------------
    def _policies_path(self, workspace_id: str, *rest: str) -> str:
        return '/'.join((f'/v1/workspaces/{_quote(workspace_id)}'
                         '/trust-policies', *map(_quote, rest)))

    @staticmethod
    def _policy(item: dict) -> TrustPolicy:
        conditions = item['conditions']
        if not isinstance(conditions, dict) or not all(
                isinstance(v, str) for v in conditions.values()):
            raise ValueError('conditions')
        return TrustPolicy(
            id=str(item['id']), name=str(item['name']),
            issuer=str(item['issuer']),
            conditions=tuple(sorted(conditions.items())),
            scope=scopes.reported(item.get('scope')),
            max_lifetime=int(item['max_lifetime']),
            created_at=_unix(item.get('created_at')),
            created_by=item.get('created_by'),
            description=item.get('description'))

    def create_trust_policy(self, credential: str | None,
                            workspace_id: str, name: str, *, issuer: str,
                            conditions: typing.Sequence[tuple[str, str]],
                            scope: typing.Sequence[str] | None = None,
                            max_lifetime: int | None = None,
                            description: str | None = None) -> TrustPolicy:
        body: dict[str, object] = {'name': name, 'issuer': issuer,
                                   'conditions': dict(conditions)}
        if scope is not None:
            body['scope'] = list(scope)
        if max_lifetime is not None:
            body['max_lifetime'] = max_lifetime
        if description is not None:
            body['description'] = description
        answer = self._call('POST', self._policies_path(workspace_id),
                            credential, json=body)
        with self._reading('trust policy'):
            return self._policy(answer)

    def list_trust_policies(self, credential: str | None,
                            workspace_id: str) -> list[TrustPolicy]:
        answer = self._call('GET', self._policies_path(workspace_id),
                            credential)
        with self._reading('trust policy list'):
            return [self._policy(p) for p in answer['trust_policies']]

    def get_trust_policy(self, credential: str | None, workspace_id: str,
                         policy: str) -> TrustPolicy:
        answer = self._call('GET', self._policies_path(workspace_id, policy),
                            credential)
        with self._reading('trust policy'):
            return self._policy(answer)

    def delete_trust_policy(self, credential: str | None, workspace_id: str,
                            policy: str) -> TrustPolicy:
        shown = self.get_trust_policy(credential, workspace_id, policy)
        self._call('DELETE', self._policies_path(workspace_id, shown.id),
                   credential)
        return shown

    def exchange_ci_token(self, subject_token: str, *,
                          workspace: str | None = None,
                          scope: typing.Sequence[str] | None = None
                          ) -> ExchangedToken:
        form = {'grant_type': GRANT_TOKEN_EXCHANGE,
                'subject_token': subject_token,
                'subject_token_type': TOKEN_TYPE_JWT,
                'requested_token_type': TOKEN_TYPE_ACCESS_TOKEN}
        if workspace:
            form['audience'] = workspace
        if scope:
            form['scope'] = ' '.join(scope)
        # Sent once: the subject token is accepted once, so a repeat after
        # a lost answer could only be refused.
        try:
            response = self._send('POST', TOKEN_ENDPOINT, {}, None, None,
                                  form=form)
        except requests.RequestException as exc:
            raise self._unreachable(exc) from exc
        answer = self._exchange_answer(response)
        with self._reading('token exchange answer'):
            token = answer['access_token']
            if not isinstance(token, str) or not token:
                raise ValueError('no access_token')
            expires_in = answer.get('expires_in')
            expires_at = _unix(answer.get('expires_at'))
            if expires_at is None and isinstance(expires_in, int):
                expires_at = int(time.time()) + expires_in
            policy = answer.get('trust_policy')
            return ExchangedToken(
                issued=IssuedToken(
                    token=token, jti=answer['jti'],
                    workspace_id=answer['workspace_id'],
                    expires_at=expires_at,
                    created_at=_unix(answer.get('created_at')),
                    scope=scopes.reported(answer.get('scope'))),
                policy=policy if isinstance(policy, str) else None)

    def _exchange_answer(self, response: requests.Response) -> dict:
        """The JSON of a token endpoint's answer; RFC 6749's
        ``{"error", "error_description"}`` raised as ntcli's errors."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get('error') if isinstance(body, dict) else None
        if response.status_code >= 300 and isinstance(error, str):
            from ntcli_core.terminal import escape
            description = body.get('error_description')
            text = escape(description) if isinstance(description, str) \
                else error
            if error in ('invalid_target', 'unsupported_grant_type'):
                raise errors.EndpointError(
                    f'The endpoint at {self.url} does not exchange CI '
                    f'identity tokens: {text}',
                    'Ask its operator to enable it (ntcli-server serve '
                    '--ci-audience) and to create a trust policy.')
            cls = _OAUTH_ERRORS.get(error, errors.EndpointError)
            raise cls(f'The endpoint at {self.url} refused the CI identity '
                      f'token: {text}', details={'error': error})
        return self._answer(response)

    def whoami(self, credential: str | None) -> str:
        answer = self._call('GET', '/v1/whoami', credential)
        with self._reading('identity'):
            if answer['kind'] == 'user':
                return f"user {answer['user_name']}"
            return (f"workspace token {answer['jti']} of workspace "
                    f"{answer['workspace_id']}")

    # -- signing in through an identity provider -------------------------
    def sign_in_providers(self) -> list[SignInProvider]:
        try:
            answer = self._call('GET', oauth.PROVIDERS_PATH, None)
        except errors.NotFound:
            return []           # a server from before sign-in
        with self._reading('list of identity providers'):
            return [SignInProvider(
                issuer=str(p['issuer']), client_id=str(p['client_id']),
                scopes=tuple(str(s) for s in p['scopes']))
                for p in answer['providers']]

    def exchange_id_token(self, id_token: str) -> Session:
        """POST /v1/oauth/token (RFC 8693); its errors are RFC 6749's."""
        url = self.url + oauth.EXCHANGE_PATH
        started = time.monotonic()
        try:
            response = self.session.post(
                url, data={'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                           'subject_token': id_token,
                           'subject_token_type': oauth.TOKEN_TYPE_ID_TOKEN,
                           'requested_token_type': oauth.TOKEN_TYPE_SESSION},
                verify=self._verify, timeout=self.options.timeout,
                allow_redirects=False)
        except requests.RequestException as exc:
            self._trace('POST', url, type(exc).__name__, started, {})
            raise self._unreachable(exc) from exc
        self._trace('POST', url, response.status_code, started, {})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._not_the_api(response.status_code, response.headers.get(
                'Content-Type', ''))
        if response.status_code != 200:
            error, description = body.get('error'), body.get(
                'error_description')
            text = description if isinstance(description, str) else error
            if error == 'invalid_grant':
                raise errors.AuthenticationRequired(
                    f'{self.url} refused the sign-in: {text}',
                    'Ask the administrator of the server to link your '
                    'identity (ntcli-server user link), or sign in as '
                    'someone it knows.')
            raise errors.EndpointError(
                f'{self.url} could not complete the sign-in: {text} '
                f'(HTTP {response.status_code})')
        with self._reading('session'):
            return Session(token=str(body['access_token']),
                           session_id=str(body['session_id']),
                           user_id=str(body['user_id']),
                           user_name=str(body['user_name']),
                           expires_at=int(body['expires_in'])
                           + int(time.time()),
                           user_created=bool(body.get('user_created')))

    def end_session(self, credential: str) -> bool:
        try:
            answer = self._call('DELETE', oauth.SESSION_PATH, credential)
        except errors.AuthenticationRequired:
            return False        # ended already, or expired
        return answer.get('status') == 'revoked'

    # -- plumbing ---------------------------------------------------------
    @staticmethod
    def _workspace(item: dict) -> Workspace:
        return Workspace(id=item['workspace_id'], name=item['workspace_name'],
                         created_at=_unix(item.get('created')))

    @contextlib.contextmanager
    def _reading(self, what: str) -> typing.Iterator[None]:
        """Turn a body of the wrong shape into one clear error."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.EndpointError(
                f'The endpoint at {self.url} answered a {what} this ntcli '
                'does not understand',
                'Check that the endpoint is a compatible token API; run '
                'with --debug for details.') from exc

    def _call(self, method: str, path: str, credential: str | None, *,
              json: object = None, params: dict[str, str] | None = None,
              idempotency_key: str | None = None,
              with_headers: bool = False) -> typing.Any:
        """Send one API call (repeated where that is safe, see the module
        doc) and return its JSON body, or raise its error."""
        headers = {}
        if credential:
            headers['Authorization'] = f'Bearer {credential}'
        if idempotency_key:
            headers['Idempotency-Key'] = idempotency_key
        repeatable = method in IDEMPOTENT_METHODS or bool(idempotency_key)
        attempts = 1 + LOST_ANSWER_RETRIES if repeatable else 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            final = attempt == attempts - 1
            try:
                response = self._send(method, path, headers, json, params)
            except requests.RequestException as exc:
                if final or not _answer_lost(exc):
                    raise self._unreachable(exc) from exc
                continue
            # urllib3 has already retried the gateway errors of GET, DELETE
            if final or method in IDEMPOTENT_METHODS or \
                    response.status_code not in RETRY_STATUSES:
                body = self._answer(response)
                return (body, response.headers) if with_headers else body
        raise AssertionError('the last attempt returns or raises')

    def _send(self, method: str, path: str, headers: dict[str, str],
              json: object, params: dict[str, str] | None, *,
              form: dict[str, str] | None = None) -> requests.Response:
        """One HTTP exchange (a JSON or ``form`` body), traced under
        --debug."""
        url = self.url + path
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, json=json, data=form, params=params,
                headers=headers, verify=self._verify,
                timeout=self.options.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            self._trace(method, url, type(exc).__name__, started, headers)
            raise
        self._trace(method, response.url, response.status_code, started,
                    headers)
        return response

    def _answer(self, response: requests.Response) -> dict:
        """The JSON object of a 2xx answer; the error of any other."""
        status = response.status_code
        media = response.headers.get('Content-Type', '').split(';')[0] \
            .strip().lower()
        body: object = None
        if media == 'application/json' or media.endswith('+json'):
            try:
                body = response.json()
            except ValueError:
                body = None
        if 200 <= status < 300 and body is None and not response.content:
            return {}              # e.g. token_auth behind some proxies
        if 300 <= status < 400 and response.headers.get('Location'):
            raise errors.EndpointError(
                f'The endpoint at {self.url} redirects (HTTP {status}) to '
                f"{response.headers['Location']}",
                'Use the URL it redirects to as the endpoint.')
        if not isinstance(body, dict):
            raise self._not_the_api(status, media)
        if 200 <= status < 300:
            return body
        error = body.get('error')
        if not isinstance(error, dict) or not isinstance(
                error.get('code'), str):
            raise self._not_the_api(status, media)
        code = error['code']
        message = error.get('message')
        message = message if isinstance(message, str) else None
        if self.options.debug:
            LOG.debug(redact.redact(f'error answer: {code}: {message}'))
        if errors.API_ERRORS.get(code, errors.EndpointError) is \
                errors.EndpointError:
            # The request id lets the server's operator find the cause.
            request_id = error.get('request_id')
            reference = (f', request id {request_id}'
                         if isinstance(request_id, str)
                         and request_id.isprintable() else '')
            message = (f'The endpoint at {self.url} failed: '
                       f'{message or code} (HTTP {status}{reference})')
        raise errors.from_api_error(code, message, error.get('details'))

    def _not_the_api(self, status: int, media: str) -> errors.NtcliError:
        hint = ('A proxy or gateway in front of the token API may be '
                'failing; try again later.' if status >= 500 else
                'Check the endpoint URL (--endpoint): it must be the base '
                'URL of a token API such as ntcli-server.')
        return errors.EndpointError(
            f'The endpoint at {self.url} answered something that is not '
            f'the token API (HTTP {status}, {media or "no content type"})',
            hint + ' Run with --debug to see the exchange.')

    def _unreachable(self, exc: requests.RequestException
                     ) -> errors.NtcliError:
        if isinstance(exc, requests.exceptions.SSLError):
            return errors.EndpointUnreachable(
                f'The TLS connection to {self.url} failed: the certificate '
                'could not be verified',
                'For a private CA give --ca-bundle PATH (or set '
                'REQUESTS_CA_BUNDLE).')
        if _timed_out(exc):
            seconds = self.options.timeout
            return errors.EndpointUnreachable(
                f'The endpoint at {self.url} did not answer within '
                f'{seconds:g} second{"" if seconds == 1 else "s"}',
                'The server may be overloaded or stuck. Try again, or '
                'give a longer --timeout.')
        if isinstance(exc, requests.ConnectionError):
            return errors.EndpointUnreachable(
                f'Cannot reach the endpoint at {self.url}: {_reason(exc)}',
                'Check the URL, your network, and that the server is '
                'running; then try again.')
        return errors.EndpointError(
            f'The request to {self.url} failed: {type(exc).__name__}')

    def _trace(self, method: str, url: str, outcome: object,
               started: float, headers: dict[str, str]) -> None:
        """One debug line per exchange; no secret is ever in it."""
        if self.options.debug:
            elapsed = (time.monotonic() - started) * 1000
            shown = {**headers, 'Authorization': 'Bearer ***'} \
                if 'Authorization' in headers else headers
            sent = ''.join(f', {name}: {value}'
                           for name, value in shown.items())
            LOG.debug(redact.redact(
                f'HTTP {method} {url} -> {outcome} ({elapsed:.0f} ms)'
                f'{sent}'))


def _quote(segment: str) -> str:
    """One path segment, so that an id can never change the path."""
    return urllib.parse.quote(str(segment), safe='')
