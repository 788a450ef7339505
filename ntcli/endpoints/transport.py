"""How the HTTP endpoint talks to a token API: one call, sent, repeated
where that is safe, and answered or turned into ntcli's error.

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
enough. Each exchange is one debug line of the log (``-v``, ``--debug``,
``--log-file``), with no secret in it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import typing

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

import ntcli
from ntcli import errors
from ntcli.endpoints import EndpointOptions
from ntcli_core import redact

__all__ = ['Transport']

LOG = logging.getLogger('ntcli.http')

IDEMPOTENT_METHODS = frozenset({'GET', 'DELETE'})
RETRY_STATUSES = frozenset({502, 503, 504})
CONNECT_RETRIES = 2
LOST_ANSWER_RETRIES = 2
BACKOFF_SECONDS = 0.2


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


class Transport:
    """The HTTP(S) connection to the token API at ``url``."""

    def __init__(self, url: str, options: EndpointOptions) -> None:
        self.url = url
        self.options = options
        # An explicit bundle beats REQUESTS_CA_BUNDLE, which requests
        # applies itself when verify is True.
        self.verify: bool | str = options.ca_bundle or True
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
                # stays a timeout); lost answers are repeated in call
                total=CONNECT_RETRIES, connect=CONNECT_RETRIES, read=False,
                status=CONNECT_RETRIES, other=0,
                backoff_factor=BACKOFF_SECONDS,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=IDEMPOTENT_METHODS, raise_on_status=False)
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

    @contextlib.contextmanager
    def reading(self, what: str) -> typing.Iterator[None]:
        """Turn a body of the wrong shape into one clear error."""
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.EndpointError(
                f'The endpoint at {self.url} answered a {what} this ntcli '
                'does not understand',
                'Check that the endpoint is a compatible token API; run '
                'with --debug for details.') from exc

    def call(self, method: str, path: str, credential: str | None, *,
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
                response = self.send(method, path, headers, json, params)
            except requests.RequestException as exc:
                if final or not _answer_lost(exc):
                    raise self.unreachable(exc) from exc
                continue
            # urllib3 has already retried the gateway errors of GET, DELETE
            if final or method in IDEMPOTENT_METHODS or \
                    response.status_code not in RETRY_STATUSES:
                body = self.answer(response)
                return (body, response.headers) if with_headers else body
        raise AssertionError('the last attempt returns or raises')

    def send(self, method: str, path: str, headers: dict[str, str],
              json: object, params: dict[str, str] | None, *,
              form: dict[str, str] | None = None) -> requests.Response:
        """One HTTP exchange (a JSON or ``form`` body), traced under
        --debug."""
        url = self.url + path
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, json=json, data=form, params=params,
                headers=headers, verify=self.verify,
                timeout=self.options.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            self.trace(method, url, type(exc).__name__, started, headers)
            raise
        self.trace(method, response.url, response.status_code, started,
                    headers)
        return response

    def answer(self, response: requests.Response) -> dict:
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
            raise self.not_the_api(status, media)
        if 200 <= status < 300:
            return body
        error = body.get('error')
        if not isinstance(error, dict) or not isinstance(
                error.get('code'), str):
            raise self.not_the_api(status, media)
        code = error['code']
        message = error.get('message')
        message = message if isinstance(message, str) else None
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

    def not_the_api(self, status: int, media: str) -> errors.NtcliError:
        hint = ('A proxy or gateway in front of the token API may be '
                'failing; try again later.' if status >= 500 else
                'Check the endpoint URL (--endpoint): it must be the base '
                'URL of a token API such as ntcli-server.')
        return errors.EndpointError(
            f'The endpoint at {self.url} answered something that is not '
            f'the token API (HTTP {status}, {media or "no content type"})',
            hint + ' Run with --debug to see the exchange.')

    def unreachable(self, exc: requests.RequestException
                     ) -> errors.NtcliError:
        if isinstance(exc, requests.exceptions.SSLError):
            return errors.EndpointUnreachable(
                f'The TLS connection to {self.url} failed: the certificate '
                'could not be verified',
                'For a private CA give --ca-bundle PATH (or set '
                'REQUESTS_CA_BUNDLE).')
        if _not_connected(exc) or any(isinstance(e, ConnectionRefusedError)
                                      for e in _causes(exc)):
            error = errors.EndpointUnreachable(
                f'Cannot reach the endpoint at {self.url}: {_reason(exc)}',
                'Check the URL, your network, and that the server is '
                'running; then try again.')
            error.nothing_sent = True   # nothing can have been acted on
            return error
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

    def trace(self, method: str, url: str, outcome: object,
               started: float, headers: dict[str, str]) -> None:
        """One debug line per exchange (shown with -v or --debug, and
        written to --log-file); no secret is ever in it."""
        if not LOG.isEnabledFor(logging.DEBUG):
            return
        elapsed = (time.monotonic() - started) * 1000
        shown = {**headers, 'Authorization': 'Bearer ***'} \
            if 'Authorization' in headers else headers
        sent = ''.join(f', {name}: {value}' for name, value in shown.items())
        LOG.debug(redact.redact(
            f'HTTP {method} {url} -> {outcome} ({elapsed:.0f} ms){sent}'))
