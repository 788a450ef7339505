"""``POST /v1/oauth/token``: OAuth 2.0 Token Exchange (RFC 8693).

A client trades a token it holds (the *subject token*, issued by someone
the server trusts) for a token of this server. The request is
form-encoded, as RFC 6749 §3.2 and RFC 8693 §2.1 say::

    grant_type=urn:ietf:params:oauth:grant-type:token-exchange
    subject_token=…   subject_token_type=urn:ietf:params:oauth:token-type:…
    requested_token_type=…   (optional)   audience=… scope=… (optional)

and the answer is RFC 8693 §2.2's JSON: ``access_token``,
``issued_token_type``, ``token_type`` ("Bearer"), ``expires_in`` (and
whatever else the exchange adds). Errors are RFC 6749 §5.2's
``{"error", "error_description"}``: ``invalid_request`` (a malformed or
repeated parameter), ``unsupported_grant_type``, ``invalid_grant`` (the
subject token is refused), ``invalid_target`` (nothing here issues the
requested token type), and ``temporarily_unavailable`` with 503 when the
subject token's issuer cannot be reached.

One endpoint, several exchanges: each :class:`Exchange` names the token
type it issues and the subject token types it accepts, and the resource
picks the one whose ``issued_token_type`` is the request's
``requested_token_type``, or, when the request names none, the one that
accepts its ``subject_token_type`` (the first registered, when several
do). A new kind of exchange is a new :class:`Exchange` passed to
:func:`add_route`; none of the others changes.
"""

from __future__ import annotations

import typing
import urllib.parse

import falcon

from ntcli_authority import errors
from ntcli_authority.models import Origin
from ntcli_core import oauth

#: Parameters a request may carry (RFC 8693 §2.1), each at most once.
PARAMETERS = frozenset({
    'grant_type', 'subject_token', 'subject_token_type',
    'requested_token_type', 'audience', 'scope', 'resource',
    'actor_token', 'actor_token_type', 'client_id'})
MAX_PARAMETER = 16 * 1024


class ExchangeRequest(typing.NamedTuple):
    """A token-exchange request whose shape has been checked."""

    subject_token: str
    subject_token_type: str
    requested_token_type: str | None
    audience: str | None
    scope: str | None
    resource: str | None
    origin: Origin


class ExchangeError(errors.AuthorityError):
    """A refusal in RFC 6749 §5.2's terms (``error``, a description)."""

    def __init__(self, error: str, description: str,
                 http_status: int = 400) -> None:
        super().__init__(error, description, http_status)
        self.error = error


class Exchange(typing.Protocol):
    """One kind of exchange: what it takes and what it gives."""

    #: The token type it issues (its ``issued_token_type``).
    issued_token_type: str
    #: The subject token types it accepts.
    subject_token_types: tuple[str, ...]

    def exchange(self, request: ExchangeRequest) -> dict[str, typing.Any]:
        """RFC 8693 §2.2's answer (``access_token``, ``issued_token_type``,
        ``token_type``, ``expires_in``, …); raise ExchangeError, or an
        AuthorityError the resource turns into one."""


def parse_form(req: falcon.Request, body: bytes) -> dict[str, str]:
    """The request's parameters: form-encoded UTF-8, each known and given
    once (RFC 6749 §3.2), each at most :data:`MAX_PARAMETER` long."""
    media = (req.content_type or '').split(';')[0].strip().lower()
    if media != 'application/x-www-form-urlencoded':
        raise ExchangeError(
            'invalid_request', 'The request must be form-encoded '
            '(application/x-www-form-urlencoded)')
    try:
        text = body.decode('utf-8')
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True,
                                       strict_parsing=bool(text),
                                       errors='strict',
                                       max_num_fields=len(PARAMETERS))
    except (UnicodeDecodeError, ValueError):
        raise ExchangeError('invalid_request', 'The form is malformed') \
            from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMETERS:
            raise ExchangeError('invalid_request',
                                f'Unknown parameter: {name[:40]!r}')
        if name in form:
            raise ExchangeError('invalid_request',
                                f'The parameter {name} is repeated')
        if len(value) > MAX_PARAMETER or any(
                ord(c) < 0x20 or ord(c) == 0x7f or 0xd800 <= ord(c) < 0xe000
                for c in value):
            raise ExchangeError('invalid_request',
                                f'The parameter {name} is not valid')
        form[name] = value
    return form


def read_request(form: dict[str, str], origin: Origin) -> ExchangeRequest:
    """The exchange request a form asks for."""
    grant = form.get('grant_type')
    if not grant:
        raise ExchangeError('invalid_request', 'grant_type is missing')
    if grant != oauth.GRANT_TOKEN_EXCHANGE:
        raise ExchangeError('unsupported_grant_type',
                            'This endpoint supports only '
                            f'{oauth.GRANT_TOKEN_EXCHANGE}')
    for needed in ('subject_token', 'subject_token_type'):
        if not form.get(needed):
            raise ExchangeError('invalid_request', f'{needed} is missing')
    if 'actor_token' in form or 'actor_token_type' in form:
        raise ExchangeError('invalid_request',
                            'Delegation (actor_token) is not supported')
    return ExchangeRequest(
        subject_token=form['subject_token'],
        subject_token_type=form['subject_token_type'],
        requested_token_type=form.get('requested_token_type') or None,
        audience=form.get('audience') or None,
        scope=form.get('scope') or None,
        resource=form.get('resource') or None,
        origin=origin)


def choose(exchanges: typing.Sequence[Exchange],
           request: ExchangeRequest) -> Exchange:
    """The exchange that serves ``request`` (see the module's docstring)."""
    if request.requested_token_type is not None:
        for exchange in exchanges:
            if exchange.issued_token_type == request.requested_token_type:
                if request.subject_token_type not in \
                        exchange.subject_token_types:
                    raise ExchangeError(
                        'invalid_request', 'A token of type '
                        f'{request.requested_token_type} is not issued for '
                        f'a subject token of type '
                        f'{request.subject_token_type}')
                return exchange
        raise ExchangeError('invalid_target', 'This server does not issue '
                            'the requested token type')
    for exchange in exchanges:
        if request.subject_token_type in exchange.subject_token_types:
            return exchange
    raise ExchangeError('invalid_request', 'This server accepts no subject '
                        'token of that type')


class TokenExchangeResource:
    """``POST /v1/oauth/token``."""

    def __init__(self, exchanges: typing.Sequence[Exchange],
                 read_body: typing.Callable[[falcon.Request], bytes],
                 origin: typing.Callable[[falcon.Request], Origin]) -> None:
        self.exchanges = list(exchanges)
        self._read_body = read_body
        self._origin = origin

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.set_header('Pragma', 'no-cache')
        try:
            form = parse_form(req, self._read_body(req))
            request = read_request(form, self._origin(req))
            resp.media = choose(self.exchanges, request).exchange(request)
        except errors.AuthorityError as exc:
            if exc.code == 'PAYLOAD_TOO_LARGE':
                raise
            refuse(req, resp, exc)


def refuse(req: falcon.Request, resp: falcon.Response,
           ex: errors.AuthorityError) -> None:
    """An error of this endpoint in RFC 6749 §5.2's shape."""
    if isinstance(ex, ExchangeError):
        error, status = ex.error, ex.http_status
    elif ex.http_status >= 500:
        error, status = 'temporarily_unavailable', 503
    elif ex.http_status in (400, 422):
        error, status = 'invalid_request', 400
    else:
        error, status = 'invalid_grant', 400
    req.context.error_code = ex.code
    resp.status = falcon.code_to_http_status(status)
    message = ex.message if status < 500 else getattr(
        type(ex), 'default_message', None) or ex.message
    resp.media = {'error': error, 'error_description': message,
                  'request_id': getattr(req.context, 'request_id', None)}


def add_route(app: falcon.App, exchanges: typing.Sequence[Exchange],
              read_body: typing.Callable[[falcon.Request], bytes],
              origin: typing.Callable[[falcon.Request], Origin]) -> None:
    """Serve ``POST /v1/oauth/token`` with these exchanges (none: the
    route answers every request with ``invalid_target``)."""
    resource = TokenExchangeResource(exchanges, read_body, origin)
    app.add_route(oauth.EXCHANGE_PATH, resource)
