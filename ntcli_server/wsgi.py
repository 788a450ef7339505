"""The token API over HTTP (SPEC section 6): a Falcon WSGI app.

Each handler is thin: parse the request, authenticate the caller, make one
authority call with that caller (the authority authorizes it, see
ntcli_authority.access.RULES), serialize the result. Every failure leaves
as the envelope ``{"error": {"code", "message", "details"?}}``; an
unexpected exception becomes a 500 ``INTERNAL_ERROR`` whose details stay in
the server log, never in the answer.

Wire decisions (the NimbleTools management API's shapes):

* ``POST .../tokens`` without ``expires_in`` and ``expires_at`` issues a
  token for one year; a non-expiring token is asked for explicitly with
  ``"expires_in": null`` (or ``"expires_at": null``), and only a user may
  (a workspace token gets ``403 FORBIDDEN``). ``expires_at`` may be Unix
  seconds or an ISO-8601 time.
* Malformed JSON is ``400 INVALID_REQUEST``; a body that is JSON but does
  not fit the request (unknown field, wrong type, missing field) is
  ``422 VALIDATION_ERROR``; a value the authority refuses (a bad name, a
  lifetime out of range) is ``400 INVALID_REQUEST``.
* Times are ISO-8601 UTC with ``Z``, except ``created_at`` in a token
  listing, which is Unix seconds as in the NimbleTools API.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import traceback
import typing

import falcon

from ntcli_authority import access, errors
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority, SignInPolicy
from ntcli_authority.models import (
    AuditEvent,
    IssuedToken,
    Origin,
    TokenInfo,
    TrustPolicy,
    Workspace,
)
from ntcli_core import redact, timefmt
from ntcli_core.lifetimes import DEFAULT_LIFETIME
from ntcli_core.tokens import TOKEN_PREFIX
from ntcli_server import edge, ingress, ratelimit, refusals, request_ids

if typing.TYPE_CHECKING:
    from ntcli_server.signin import SignInSettings

LOG = logging.getLogger('ntcli_server.wsgi')

MAX_BODY = 64 * 1024
SERVICE_NAME = 'ntcli-server'
DEFAULT_PAGE = 100                   # events
MAX_USER_AGENT = 256                 # what the audit trail keeps of one
RETRY_UNAVAILABLE = 5                # Retry-After of a 503, seconds
#: Probes of load balancers and monitoring: never refused for the failed
#: authentications of their address.
PROBES = ('/healthz', '/readyz', '/health', '/metrics')

AuthorityFactory = typing.Callable[[], Authority]
Fields = typing.Mapping[str, tuple[type, ...]]

_NULL = type(None)
_TRUE = frozenset({'true', '1', 'yes'})
_FALSE = frozenset({'false', '0', 'no'})
# Codes for the errors Falcon itself raises (unknown route, bad method...).
_HTTP_CODES = {400: 'INVALID_REQUEST', 401: 'AUTHENTICATION_REQUIRED',
               403: 'FORBIDDEN', 404: 'NOT_FOUND',
               405: 'METHOD_NOT_ALLOWED', 413: 'PAYLOAD_TOO_LARGE',
               415: 'UNSUPPORTED_MEDIA_TYPE', 422: 'VALIDATION_ERROR'}


def validation_error(message: str,
                     **details: object) -> errors.AuthorityError:
    """A request body or query that does not fit the API (422)."""
    return errors.AuthorityError('VALIDATION_ERROR', message, 422,
                                 details or None)


# -- request parsing ------------------------------------------------------
def _check_type(name: str, value: object, types: tuple[type, ...]) -> None:
    if isinstance(value, bool) and bool not in types:
        ok = False               # JSON true is not a number of seconds
    else:
        ok = isinstance(value, types)
    if not ok:
        wanted = ' or '.join('null' if t is _NULL else
                             {'int': 'integer', 'str': 'string'}.get(
                                 t.__name__, t.__name__) for t in types)
        raise validation_error(f"Field '{name}' must be {wanted}",
                               field=name)


def body_bytes(req: falcon.Request) -> bytes:
    """The raw request body, whatever its framing, at most MAX_BODY bytes.

    With Content-Length, Falcon's bounded stream reads exactly that much.
    A chunked body has no length: the server de-chunks it, and reading to
    the end is safe only where it says so (``wsgi.input_terminated``);
    elsewhere the request is refused (411) rather than read as empty, as
    is an HTTP/1.0 request with neither (its body would end at the close
    of the connection), and a transfer coding other than chunked (501).
    """
    coding = req.get_header('Transfer-Encoding')
    if coding is not None and [
            c.strip().lower() for c in coding.split(',')] != ['chunked']:
        # gzip and the like: gunicorn would hand them over as if plain
        # chunked (a front proxy may read them otherwise).
        raise errors.AuthorityError(
            'NOT_IMPLEMENTED', 'The only transfer coding this server reads '
            f'is chunked, not {coding!r}', 501)
    if req.content_length is not None:
        stream: typing.Any = req.bounded_stream
    elif coding:
        if not req.env.get('wsgi.input_terminated'):
            raise errors.AuthorityError(
                'LENGTH_REQUIRED', 'This server needs a Content-Length '
                'for a request body', 411)
        stream = req.stream
    elif req.env.get('SERVER_PROTOCOL') == 'HTTP/1.0':
        # HTTP/1.0 delimits a body by closing the connection: a body sent
        # that way is there, unread; refuse rather than act without it.
        raise errors.AuthorityError(
            'LENGTH_REQUIRED', 'An HTTP/1.0 request needs a Content-Length '
            '(0 for no body)', 411)
    else:
        return b''
    chunks, size = [], 0
    while size <= MAX_BODY:
        try:
            chunk = stream.read(MAX_BODY + 1 - size)
        except Exception:       # noqa: BLE001 - each server has its own
            # A broken chunk size, a truncated body, a dropped connection.
            raise errors.InvalidRequest(
                'The request body could not be read (broken framing or a '
                'closed connection)') from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY:
        raise errors.AuthorityError(
            'PAYLOAD_TOO_LARGE',
            f'The request body is larger than {MAX_BODY} bytes', 413)
    return b''.join(chunks)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's members; a name given twice is refused (which one
    counts is up to each parser: ``{"expires_in": 60, "expires_in":
    null}`` must not be read as a token that never expires)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError('duplicate member name')
    return data


def _has_nul(value: object) -> bool:
    """Whether a string in ``value`` (a JSON value) holds NUL; a loop, not
    recursion: a body may nest deeper than Python's stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if edge.has_nul(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _json_document(raw: bytes) -> object:
    """JSON text to a value; malformed, too deep, not UTF-8 (a lone
    surrogate escape included) or with a member name twice is a 400; NUL
    in a string a 422."""
    try:
        data = json.loads(raw.decode('utf-8'), object_pairs_hook=_unique_keys)
        # '"\\ud800"' is valid JSON for a string no UTF-8 can hold (nor
        # the database): refuse it here rather than fail later.
        json.dumps(data, ensure_ascii=False).encode('utf-8')
    except (UnicodeError, ValueError, RecursionError):
        raise errors.InvalidRequest(
            'The request body is not valid JSON in UTF-8 (each member '
            'name once)') from None
    if _has_nul(data):
        # PostgreSQL cannot store it; SQLite can, and a copy then fails.
        raise validation_error('Text in the request body must not '
                               'contain NUL')
    return data


def read_body(req: falcon.Request, fields: Fields,
              required: typing.Collection[str] = ()) -> dict:
    """The request's JSON object, checked against ``fields``; an empty
    body is an empty object."""
    raw = body_bytes(req)
    data: object = {}
    if raw.strip():
        media = (req.content_type or '').split(';')[0].strip().lower()
        if media != 'application/json' and not media.endswith('+json'):
            raise errors.AuthorityError(
                'UNSUPPORTED_MEDIA_TYPE',
                'The request body must be JSON (Content-Type: '
                'application/json)', 415)
        data = _json_document(raw)
    if not isinstance(data, dict):
        raise validation_error('The request body must be a JSON object')
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise validation_error(f"Unknown field(s): {', '.join(unknown)}",
                               fields=unknown)
    for name in required:
        if name not in data:
            raise validation_error(f"Field '{name}' is required",
                                   field=name)
    for name, value in data.items():
        if (isinstance(value, float) and int in fields[name]
                and value.is_integer()):
            # 60.0 is an integer to JSON Schema (and to the document)
            data[name] = value = int(value)
        _check_type(name, value, fields[name])
    return data


def query_flag(req: falcon.Request, name: str) -> bool:
    """A true/false query parameter (absent: false)."""
    value = req.get_param(name)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise validation_error(f"Query parameter '{name}' must be true or false",
                           field=name)


@typing.overload
def query_int(req: falcon.Request, name: str, default: int) -> int: ...


@typing.overload
def query_int(req: falcon.Request, name: str,
              default: None) -> int | None: ...


def query_int(req: falcon.Request, name: str,
              default: int | None) -> int | None:
    """An integer query parameter."""
    value = req.get_param(name)
    if value is None:
        return default
    number = edge.ascii_int(value)
    if number is None:
        raise validation_error(f"Query parameter '{name}' must be an "
                               'integer (ASCII digits, 64 bits)', field=name)
    return number


def query_time(name: str, value: str) -> int:
    """A time query parameter: Unix seconds or ISO-8601."""
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    try:
        if not value.isascii():         # fromisoformat takes other digits
            raise ValueError(value)
        return timefmt.parse_iso(value)
    except ValueError:
        raise validation_error(f"Query parameter '{name}' must be Unix "
                               'seconds or an ISO-8601 time',
                               field=name) from None


def unix_time(name: str, value: object) -> int | None:
    """Unix seconds from an integer or an ISO-8601 string (None stays)."""
    if not isinstance(value, str):
        return typing.cast('int | None', value)
    try:
        if not value.isascii():         # fromisoformat takes other digits
            raise ValueError(value)
        return timefmt.parse_iso(value)
    except ValueError:
        raise validation_error(f"Field '{name}' must be Unix seconds or an "
                               'ISO-8601 time', field=name) from None


def bearer(req: falcon.Request) -> str:
    """The credential of ``Authorization: Bearer …``."""
    scheme, _, value = (req.get_header('Authorization') or '').partition(' ')
    if scheme.lower() != 'bearer' or not value.strip():
        raise errors.AuthenticationRequired(
            'Authentication required: no usable credential in the '
            'Authorization header (expected the "Bearer" scheme)')
    return value.strip()


# -- serialization --------------------------------------------------------
def workspace_json(workspace: Workspace, *, full: bool = False) -> dict:
    body = {'workspace_id': workspace.id, 'workspace_name': workspace.name,
            'created': timefmt.iso(workspace.created_at)}
    if full:
        body['description'] = workspace.description
    return body


def issued_json(issued: IssuedToken) -> dict:
    lifetime = None if issued.expires_at is None else \
        issued.expires_at - issued.created_at
    return {'access_token': issued.token, 'token_type': 'Bearer',
            'expires_in': lifetime,
            'expires_at': timefmt.iso(issued.expires_at),
            'scope': list(issued.scope), 'jti': issued.jti,
            'workspace_id': issued.workspace_id,
            'created_at': timefmt.iso(issued.created_at)}


def token_json(info: TokenInfo) -> dict:
    return {'jti': info.jti, 'created_at': info.created_at,
            'expires_at': timefmt.iso(info.expires_at),
            'status': info.status, 'description': info.description,
            'revoked_at': timefmt.iso(info.revoked_at),
            'scope': list(info.scope)}


def policy_json(policy: TrustPolicy) -> dict:
    return {'id': policy.id, 'workspace_id': policy.workspace_id,
            'name': policy.name, 'issuer': policy.issuer,
            'conditions': dict(policy.conditions),
            'scope': list(policy.granted),
            'max_lifetime': policy.max_lifetime,
            'created_at': timefmt.iso(policy.created_at),
            'created_by': policy.created_by,
            'description': policy.description}


def event_json(event: AuditEvent) -> dict:
    return {'id': event.id, 'time': timefmt.iso(event.at),
            'action': event.action, 'outcome': event.outcome,
            'actor': event.actor, 'workspace_id': event.workspace_id,
            'target_jti': event.target_jti, 'client': event.client,
            'request_id': event.request_id, 'user_agent': event.user_agent,
            'detail': event.detail}


# -- the audit trail's view of a request -----------------------------------
_REFUSALS = (errors.AuthenticationRequired, errors.TokenInvalid,
             errors.TokenExpired, errors.TokenRevoked)
_SANE_ID = re.compile(r'[A-Za-z0-9_-]{1,64}')


def _printable(text: str | None, limit: int) -> str | None:
    """``text`` without control characters, cut to ``limit``."""
    if text is None:
        return None
    return ''.join(c for c in text if c.isprintable())[:limit] or None


class AuditContext:
    """Falcon middleware: note the workspace a request names, so that a
    refused credential is recorded against it."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, params: dict) -> None:
        workspace_id = params.get('workspace_id')
        # A client chooses this string: only an id-shaped one is kept.
        req.context.workspace_id = (
            workspace_id if isinstance(workspace_id, str)
            and _SANE_ID.fullmatch(workspace_id) else None)


def origin(req: falcon.Request) -> Origin:
    """What the audit trail records of where ``req`` came from (who sent
    it, the authority takes from the principal)."""
    return Origin(actor=None, client=_printable(req.remote_addr, 64),
                  request_id=getattr(req.context, 'request_id', None),
                  user_agent=_printable(req.user_agent, MAX_USER_AGENT))


# -- the API ----------------------------------------------------------------
class Metrics(typing.Protocol):
    """What the API tells its metrics (see NoMetrics for each call)."""

    def token_issued(self, replayed: bool) -> None: ...

    def token_revoked(self, already: bool) -> None: ...

    def validation(self, outcome: str) -> None: ...

    def sign_in(self, outcome: str) -> None: ...


class NoMetrics:
    """What the API tells its metrics; nothing when ``--metrics`` is off
    (see :class:`ntcli_server.metrics.PrometheusMetrics`)."""

    def token_issued(self, replayed: bool) -> None:
        """A token was issued, or an earlier one replayed."""

    def token_revoked(self, already: bool) -> None:
        """A token was revoked (``already``: it had been before)."""

    def validation(self, outcome: str) -> None:
        """A workspace token was checked, with this outcome."""

    def sign_in(self, outcome: str) -> None:
        """A sign-in through the identity provider ended so."""


# The outcome label of each way a token check fails.
_VALIDATION_OUTCOMES: dict[type, str] = {
    errors.AuthenticationRequired: 'missing',
    errors.TokenInvalid: 'invalid', errors.TokenExpired: 'expired',
    errors.TokenRevoked: 'revoked', errors.Forbidden: 'forbidden',
    errors.InsufficientScope: 'forbidden'}


class _CountedValidation:
    """Counts the token check inside a ``with`` by its outcome (a class,
    not a generator: this is on every validation's path)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None,
                 *exc_info: object) -> None:
        if kind is None:
            self.metrics.validation('valid')
            return
        outcome = _VALIDATION_OUTCOMES.get(kind)
        if outcome is not None:
            self.metrics.validation(outcome)


class TokenAPI:
    """What every resource shares: the authority of this process and the
    metrics it feeds."""

    def __init__(self, factory: AuthorityFactory,
                 metrics: Metrics | None = None) -> None:
        self._factory = factory
        self._authority: Authority | None = None
        self._lock = threading.Lock()
        self.metrics = metrics or NoMetrics()
        self.refusals = refusals.RefusalSampler()
        self._counted = _CountedValidation(self.metrics)

    @property
    def authority(self) -> Authority:
        """The authority, opened on first use (so, in each worker)."""
        authority = self._authority
        if authority is None:
            with self._lock:
                if self._authority is None:
                    self._authority = self._factory()
                authority = self._authority
        return authority

    def caller(self, req: falcon.Request) -> Principal:
        """The authenticated principal of the request; a refused
        credential is recorded in the audit trail."""
        try:
            credential = bearer(req)
            if not credential.startswith(TOKEN_PREFIX):
                return self.authority.authenticate(credential)
            with self.validation():
                return self.authority.authenticate(credential)
        except _REFUSALS as exc:
            left_out = self.refusals.admit(req.remote_addr or '')
            if left_out is not None:
                self.authority.record_refusal(
                    exc, origin=origin(req), left_out=left_out,
                    workspace_id=getattr(req.context, 'workspace_id', None))
            raise

    def validation(self) -> _CountedValidation:
        """Count the token check inside (``with``) by its outcome."""
        return self._counted


class _Resource:
    def __init__(self, api: TokenAPI) -> None:
        self.api = api


class WorkspacesResource(_Resource):
    """``/v1/workspaces``: create and list workspaces (users only)."""

    FIELDS: Fields = {'name': (str,), 'description': (str, _NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS, required=('name',))
        workspace = self.api.authority.create_workspace(
            principal, body['name'], body.get('description'),
            origin=origin(req))
        resp.status = falcon.HTTP_201
        resp.media = workspace_json(workspace, full=True)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        workspaces = self.api.authority.list_workspaces(self.api.caller(req))
        resp.media = {'workspaces': [workspace_json(w) for w in workspaces],
                      'total': len(workspaces)}


class WorkspaceResource(_Resource):
    """``/v1/workspaces/{id}``: delete a workspace and revoke its tokens."""

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str) -> None:
        revoked = self.api.authority.delete_workspace(
            self.api.caller(req), workspace_id, origin=origin(req))
        resp.media = {'workspace_id': workspace_id, 'status': 'deleted',
                      'tokens_revoked': revoked}


class TokensResource(_Resource):
    """``/v1/workspaces/{id}/tokens``: issue and list tokens."""

    FIELDS: Fields = {'expires_in': (int, _NULL),
                      'expires_at': (int, str, _NULL),
                      'scope': (list, str, _NULL),
                      'description': (str, _NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS)
        if 'expires_in' in body or 'expires_at' in body:
            expires_in = body.get('expires_in')
            expires_at = unix_time('expires_at', body.get('expires_at'))
        else:
            expires_in, expires_at = DEFAULT_LIFETIME, None
        issued = self.api.authority.issue(
            principal, workspace_id, expires_in=expires_in,
            expires_at=expires_at, description=body.get('description'),
            scope=body.get('scope'),
            idempotency_key=req.get_header('Idempotency-Key'),
            origin=origin(req))
        self.api.metrics.token_issued(issued.replayed)
        resp.status = falcon.HTTP_201
        if issued.replayed:
            resp.set_header('Idempotent-Replayed', 'true')
        resp.media = issued_json(issued)

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        include_expired = query_flag(req, 'include_expired')
        include_revoked = query_flag(req, 'include_revoked')
        # without a limit, every token: clients that know no cursor (the
        # NimbleTools CLI) would otherwise show a truncated list
        limit = query_int(req, 'limit', None)
        page = self.api.authority.list_tokens(
            principal, workspace_id, include_expired=include_expired,
            include_revoked=include_revoked, limit=limit,
            cursor=req.get_param('cursor') or None)
        resp.media = {'workspace_id': workspace_id,
                      'tokens': [token_json(t) for t in page.tokens],
                      'count': len(page.tokens),
                      'next_cursor': page.next_cursor}


def revoke(api: TokenAPI, req: falcon.Request, resp: falcon.Response,
           workspace_id: str, jti: str) -> None:
    """Revoke a token (idempotent), for either route that does it."""
    # ?grace=SECONDS: valid until then (a rotation without downtime);
    # clients that never send it (the NimbleTools CLI) revoke at once
    result = api.authority.revoke(api.caller(req), workspace_id, jti,
                                  grace=query_int(req, 'grace', None),
                                  origin=origin(req))
    api.metrics.token_revoked(result.already_revoked)
    resp.media = {'workspace_id': workspace_id, 'token_jti': jti,
                  'status': 'retiring' if result.retiring else 'revoked',
                  'revoked_at': timefmt.iso(result.revoked_at),
                  'already_revoked': result.already_revoked}


class TokenResource(_Resource):
    """``/v1/workspaces/{id}/tokens/{jti}``: revoke a token (idempotent)."""

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str, jti: str) -> None:
        revoke(self.api, req, resp, workspace_id, jti)


class TokenRevokeResource(_Resource):
    """``/v1/workspaces/{id}/tokens/{jti}/revoke``: the same revocation by
    POST, the way the NimbleTools CLI asks for it."""

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str, jti: str) -> None:
        revoke(self.api, req, resp, workspace_id, jti)


class EventsResource(_Resource):
    """``/v1/workspaces/{id}/events``: the workspace's audit trail, oldest
    first, paged (its owner only)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        since = req.get_param('since')
        actions = req.get_param_as_list('action') or ()
        page = self.api.authority.list_events(
            principal, workspace_id,
            since=None if since is None else query_time('since', since),
            actions=tuple(actions),
            limit=query_int(req, 'limit', DEFAULT_PAGE),
            cursor=req.get_param('cursor') or None)
        resp.media = {'workspace_id': workspace_id,
                      'events': [event_json(e) for e in page.events],
                      'count': len(page.events),
                      'next_cursor': page.next_cursor}


class TrustPoliciesResource(_Resource):
    """``/v1/workspaces/{id}/trust-policies``: create and list the trust
    policies of a workspace (its owner, or a token of it holding
    tokens:write)."""

    FIELDS: Fields = {'name': (str,), 'issuer': (str,),
                      'conditions': (dict,), 'scope': (list, str, _NULL),
                      'max_lifetime': (int, _NULL),
                      'description': (str, _NULL)}

    def on_post(self, req: falcon.Request, resp: falcon.Response,
                workspace_id: str) -> None:
        principal = self.api.caller(req)
        body = read_body(req, self.FIELDS,
                         required=('name', 'issuer', 'conditions'))
        policy = self.api.authority.create_trust_policy(
            principal, workspace_id, body['name'], issuer=body['issuer'],
            conditions=body['conditions'], scope=body.get('scope'),
            max_lifetime=body.get('max_lifetime'),
            description=body.get('description'),
            origin=origin(req))
        resp.status = falcon.HTTP_201
        resp.media = policy_json(policy)

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str) -> None:
        principal = self.api.caller(req)
        policies = self.api.authority.list_trust_policies(principal,
                                                          workspace_id)
        resp.media = {'workspace_id': workspace_id,
                      'trust_policies': [policy_json(p) for p in policies],
                      'count': len(policies)}


class TrustPolicyResource(_Resource):
    """``/v1/workspaces/{id}/trust-policies/{policy}`` (an id or a name):
    show or delete one."""

    def on_get(self, req: falcon.Request, resp: falcon.Response,
               workspace_id: str, policy: str) -> None:
        principal = self.api.caller(req)
        resp.media = policy_json(self.api.authority.get_trust_policy(
            principal, workspace_id, policy))

    def on_delete(self, req: falcon.Request, resp: falcon.Response,
                  workspace_id: str, policy: str) -> None:
        principal = self.api.caller(req)
        deleted = self.api.authority.delete_trust_policy(
            principal, workspace_id, policy, origin=origin(req))
        resp.media = {'workspace_id': workspace_id, 'id': deleted.id,
                      'name': deleted.name, 'status': 'deleted'}


@functools.lru_cache(maxsize=1024)
def _valid_answer(workspace_id: str, jti: str, scope: tuple[str, ...],
                  expires_at: int | None, retires_at: int | None) -> bytes:
    """The body of a 200 from /v1/token_auth, as Falcon's JSON media would
    write it: the same for every validation of a token, so it is written
    once (the expiry's formatting and the JSON took 10 us each of a
    validation in a server worker, cProfile). A retiring token's answer
    adds ``revoked_at``, the end of its grace period."""
    body: dict[str, object] = {'valid': True, 'workspace_id': workspace_id,
                               'jti': jti, 'scope': list(scope),
                               'expires_at': timefmt.iso(expires_at)}
    if retires_at is not None:
        body['revoked_at'] = timefmt.iso(retires_at)
    return json.dumps(body, ensure_ascii=False).encode('utf-8')


class TokenAuthResource(_Resource):
    """``/v1/token_auth``: the target of an ingress ``auth_request``.

    200 for a valid bearer token, 401 otherwise. With ``X-Original-URL``
    and ``X-Original-Method`` (see ntcli_server.ingress) also 403 when the
    URL is another workspace's or the token lacks the scope the request
    needs. A 200 tells the upstream who calls: ``X-Workspace-Id``,
    ``X-Token-Jti`` and ``X-Token-Scope`` (space-separated).
    """

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.api.validation():
            valid = self.api.authority.validate(bearer(req))
            target = ingress.target(req.get_header('X-Original-URL'),
                                    req.get_header('X-Original-Method'))
            if target is not None:
                access.check_request(valid.scope, valid.workspace_id,
                                     target)
        resp.set_header('X-Workspace-Id', valid.workspace_id)
        resp.set_header('X-Token-Jti', valid.jti)
        resp.set_header('X-Token-Scope', ' '.join(valid.scope))
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _valid_answer(valid.workspace_id, valid.jti,
                                  valid.scope, valid.expires_at,
                                  valid.retires_at)

    on_post = on_get


class WhoAmIResource(_Resource):
    """``/v1/whoami``: who the bearer credential stands for."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        resp.media = {'kind': principal.kind, 'user_id': principal.user_id,
                      'user_name': principal.user_name,
                      'workspace_id': principal.workspace_id,
                      'jti': principal.jti}


class HealthResource:
    """``/healthz``: 200 while this process serves requests (liveness),
    from memory: whatever the database does, this answers at once."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {'status': 'ok'}

    on_head = on_get


class ReadyResource(_Resource):
    """``/readyz``: 200 while the database answers (readiness), else 503
    within the bound on database waits (``serve --db-wait``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.api.authority.store.schema_version()
        resp.media = {'status': 'ready'}

    on_head = on_get


class HealthCheckResource(_Resource):
    """``/health``: the platform's health check, with what answers and
    when; 503 (the error envelope) while the database does not answer."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        from ntcli_server.openapi import release
        authority = self.api.authority
        authority.store.schema_version()
        resp.media = {'status': 'healthy', 'version': release(),
                      'service': SERVICE_NAME,
                      'timestamp': timefmt.iso(authority.now())}


class OpenAPIResource:
    """``/openapi.json``: the OpenAPI document of this API."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        from ntcli_server import openapi
        resp.media = openapi.document()


# -- errors -----------------------------------------------------------------
def _send_error(req: falcon.Request, resp: falcon.Response,
                error: errors.AuthorityError) -> None:
    resp.status = falcon.code_to_http_status(error.http_status)
    req.context.error_code = error.code
    body = error.to_dict()
    # The id an operator finds this request by in the logs.
    body['error']['request_id'] = getattr(req.context, 'request_id', None)
    resp.media = body
    if error.http_status == 401:
        resp.set_header('WWW-Authenticate', 'Bearer realm="ntcli"')
    elif error.http_status == 503:
        resp.set_header('Retry-After', str(RETRY_UNAVAILABLE))
    for name, value in getattr(error, 'headers', {}).items():
        resp.set_header(name, value)       # Retry-After of a 429


def handle_authority_error(req: falcon.Request, resp: falcon.Response,
                           ex: errors.AuthorityError, params: dict) -> None:
    if ex.http_status >= 500:
        # The real cause (a path, a driver message) is for the server log.
        LOG.error('%s %s failed: %s: %s', req.method, req.path, ex.code,
                  redact.redact(ex.message))
        generic = getattr(type(ex), 'default_message',
                          'The token server failed')
        ex = errors.AuthorityError(ex.code, generic, ex.http_status)
    _send_error(req, resp, ex)


def handle_http_error(req: falcon.Request, resp: falcon.Response,
                      ex: falcon.HTTPError, params: dict) -> None:
    status = ex.status_code
    message = ex.description or f'{ex.title}: {req.method} {req.path}'
    _send_error(req, resp, errors.AuthorityError(
        _HTTP_CODES.get(status, 'HTTP_ERROR'), message, status))
    headers = ex.headers or {}
    items = (headers.items() if isinstance(headers, typing.Mapping)
             else headers)
    for name, value in items:
        resp.set_header(name, value)


def handle_unexpected(req: falcon.Request, resp: falcon.Response,
                      ex: Exception, params: dict) -> None:
    LOG.error('%s %s failed unexpectedly:\n%s', req.method, req.path,
              redact.redact(''.join(traceback.format_exception(ex))))
    _send_error(req, resp, errors.AuthorityError(
        'INTERNAL_ERROR', 'The token server failed unexpectedly', 500))


class BodyLimit:
    """Refuse a declared body over MAX_BODY before anything reads it."""

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise errors.AuthorityError(
                'PAYLOAD_TOO_LARGE',
                f'The request body is larger than {MAX_BODY} bytes', 413)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        # Answers may carry tokens: no cache keeps them.
        resp.set_header('Cache-Control', 'no-store')


def _with_policy(factory: AuthorityFactory,
                 policy: SignInPolicy) -> AuthorityFactory:
    def policed() -> Authority:
        authority = factory()
        authority.sign_in_policy = policy
        return authority
    return policed


def _add_sign_in_routes(app: falcon.App, api: TokenAPI,
                        settings: SignInSettings | None,
                        ci_audience: str | None) -> None:
    """The token-exchange endpoint with its exchanges (a sign-in, a CI
    job's token for a workspace token), and the sign-in routes
    (:mod:`ntcli_server.signin`, :mod:`ntcli_server.ci`)."""
    from ntcli_core import oauth
    from ntcli_server import ci, exchange, signin
    exchanges: list[exchange.Exchange] = []
    if settings is not None:
        from ntcli_authority import oidc
        exchanges.append(signin.SignInExchange(
            api, settings, oidc.Issuer(settings.issuer)))
    exchanges.append(ci.WorkspaceTokenExchange(api, ci_audience))
    exchange.add_route(app, exchanges, body_bytes, origin)
    app.add_route(oauth.PROVIDERS_PATH, signin.ProvidersResource(settings))
    app.add_route(oauth.SESSION_PATH, signin.SessionResource(api))


def create_app(target: str | AuthorityFactory, *,
               metrics: bool = False,
               auth_failures: ratelimit.FailureTable | None = None,
               wait: float | None = None,
               sign_in: SignInSettings | None = None,
               ci_audience: str | None = None) -> falcon.App:
    """The token API on an authority: a database target (SQLite path or
    PostgreSQL DSN) or a factory called once per process. ``metrics`` adds
    ``GET /metrics`` (:mod:`ntcli_server.metrics`, which needs
    prometheus-client). ``auth_failures`` limits failed authentications
    per client address (:mod:`ntcli_server.ratelimit`). ``wait`` bounds
    each database call of a ``target`` (see ``serve --db-wait``).
    ``sign_in`` names the identity provider people sign in with
    (:mod:`ntcli_server.signin`). ``ci_audience`` is the ``aud`` CI jobs'
    OIDC tokens must carry to be exchanged for workspace tokens
    (:mod:`ntcli_server.ci`); None refuses them.

    A target must exist: a missing SQLite file is not created (requests
    fail with 503), lest a mistyped path or a deleted file quietly start a
    new authority whose signing key no client token matches.
    """
    factory: AuthorityFactory = (
        (lambda: Authority.open(target, create=False, wait=wait,
                                 keep_tokens=True))
        if isinstance(target, str) else target)
    if sign_in is not None:
        factory = _with_policy(factory, sign_in.policy)
    middleware: list[typing.Any] = [request_ids.RequestIds()]
    recorder = None
    if metrics:
        # before the limit, so that what it refuses (429) is counted too
        from ntcli_server import metrics as prometheus
        recorder = prometheus.PrometheusMetrics(
            # the server's own gauges: read as whoever holds the database
            token_counts=lambda windows: api.authority.count_expiring(
                Principal.local(), windows))
        middleware.append(prometheus.RequestMetrics(recorder))
    if auth_failures is not None:
        middleware.append(ratelimit.AuthFailureLimit(auth_failures,
                                                     exempt=PROBES))
    api = TokenAPI(factory, recorder)
    app = falcon.App(middleware=[*middleware, edge.TextGuard(), AuditContext(),
                                 BodyLimit()])
    if recorder is not None:
        app.add_route(prometheus.PATH, prometheus.MetricsResource(recorder))
    app.add_route('/healthz', HealthResource())
    app.add_route('/readyz', ReadyResource(api))
    app.add_route('/health', HealthCheckResource(api))
    app.add_route('/openapi.json', OpenAPIResource())
    app.add_route('/v1/token_auth', TokenAuthResource(api))
    app.add_route('/v1/whoami', WhoAmIResource(api))
    app.add_route('/v1/workspaces', WorkspacesResource(api))
    app.add_route('/v1/workspaces/{workspace_id}', WorkspaceResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens',
                  TokensResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens/{jti}',
                  TokenResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/tokens/{jti}/revoke',
                  TokenRevokeResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/events',
                  EventsResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/trust-policies',
                  TrustPoliciesResource(api))
    app.add_route('/v1/workspaces/{workspace_id}/trust-policies/{policy}',
                  TrustPolicyResource(api))
    _add_sign_in_routes(app, api, sign_in, ci_audience)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(errors.AuthorityError, handle_authority_error)
    return app
