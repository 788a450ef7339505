"""``/v1/token_auth`` (the target of an ingress ``auth_request``) and
``/v1/whoami``: who a credential stands for.

An ingress asks ``/v1/token_auth`` before every request it lets through,
so its answer to a valid token is also given without Falcon
(:class:`ValidShortcut`): the same bytes, headers and counts, by the same
checks, in a third of the time (benchmarks/RESULTS.md). Anything else
(a refusal, an error, another route) is Falcon's, as before.
"""

from __future__ import annotations

import functools
import json
import time
import typing

import falcon

from ntcli_authority import access, token_cache
from ntcli_authority.models import ValidatedToken
from ntcli_core import timefmt
from ntcli_server import ingress, request_ids
from ntcli_server.api import Resource, TokenAPI
from ntcli_server.parsing import CACHE_CONTROL, bearer, bearer_of

if typing.TYPE_CHECKING:
    from ntcli_server.ratelimit import FailureTable

PATH = '/v1/token_auth'


# As many answers as a worker keeps token rows: an answer is written once
# for each token the worker validates while its row is kept (a new token
# each time, 4,096 in turn: about 11 us of a validation's 180 in-process,
# benchmarks/RESULTS.md); about 0.4 KiB each, no secret in them.
@functools.lru_cache(maxsize=token_cache.SIZE)
def _valid_answer(workspace_id: str, jti: str, scope: tuple[str, ...],
                  expires_at: int | None, retires_at: int | None) -> bytes:
    """The body of a 200 from /v1/token_auth, as Falcon's JSON media would
    write it: the same for every validation of a token, so it is written
    once (what that saves: benchmarks/RESULTS.md). A retiring token's answer
    adds ``revoked_at``, the end of its grace period."""
    body: dict[str, object] = {'valid': True, 'workspace_id': workspace_id,
                               'jti': jti, 'scope': list(scope),
                               'expires_at': timefmt.iso(expires_at)}
    if retires_at is not None:
        body['revoked_at'] = timefmt.iso(retires_at)
    return json.dumps(body, ensure_ascii=False).encode('utf-8')


class TokenAuthResource(Resource):
    """``/v1/token_auth``: the target of an ingress ``auth_request``.

    200 for a valid bearer token, 401 otherwise. With ``X-Original-URL``
    and ``X-Original-Method`` (see ntcli_server.ingress) also 403 when the
    URL is another workspace's or the token lacks the scope the request
    needs. A 200 tells the upstream who calls: ``X-Workspace-Id``,
    ``X-Token-Jti`` and ``X-Token-Scope`` (space-separated).
    """

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.api.validation():
            valid = _check(self.api, bearer(req),
                           req.get_header('X-Original-URL'),
                           req.get_header('X-Original-Method'))
        for name, value in _who(valid):
            resp.set_header(name, value)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _body(valid)

    on_post = on_get


def _check(api: TokenAPI, token: str, original_url: str | None,
           original_method: str | None) -> ValidatedToken:
    """The token, validated by the authority, and allowed the request the
    ingress names (if it names one); raise what refuses it."""
    valid = api.authority.validate(token)
    target = ingress.target(original_url, original_method)
    if target is not None:
        access.check_request(valid.scope, valid.workspace_id, target)
    return valid


def _who(valid: ValidatedToken) -> tuple[tuple[str, str], ...]:
    """The headers that tell the upstream who calls (names as Falcon
    writes them)."""
    return (('x-workspace-id', valid.workspace_id),
            ('x-token-jti', valid.jti),
            ('x-token-scope', ' '.join(valid.scope)))


def _body(valid: ValidatedToken) -> bytes:
    return _valid_answer(valid.workspace_id, valid.jti, valid.scope,
                         valid.expires_at, valid.retires_at)


class ValidShortcut:
    """The token API's WSGI app, answering a valid ``GET /v1/token_auth``
    without Falcon.

    The request must be the plain one an ingress sends (GET, this path, no
    query, no body, a client address) from an address the failed-
    authentication limit lets in; then the token is checked as the
    resource checks it (:func:`_check`: the authority validates it, the
    access rules judge the ingress's request), under the request's id, and
    a valid one is answered with what Falcon would write: the request id,
    :func:`_who`, the JSON body, ``Cache-Control`` and the length, counted
    in the metrics as Falcon's answer is. Any other request, and any
    refusal or failure of the check, goes to Falcon, which checks again and
    answers, counts and logs it as always: the shortcut never answers
    anything but a 200.
    """

    def __init__(self, app: falcon.App, api: TokenAPI,
                 failures: FailureTable | None = None,
                 count_request: typing.Callable[[str, str, int, float],
                                                None] | None = None
                 ) -> None:
        """``count_request(method, route, status, seconds)``: what the
        metrics' request middleware counts, when they are on."""
        self.app = app
        self.api = api
        self.failures = failures
        self.count_request = count_request

    def __call__(self, environ: dict, start_response: typing.Callable
                 ) -> typing.Iterable[bytes]:
        started = time.perf_counter()
        answer = self._valid_answer(environ)
        if answer is None:
            return self.app(environ, start_response)
        headers, body = answer
        start_response('200 OK', headers)
        if self.count_request is not None:
            self.count_request('GET', PATH, 200,
                               time.perf_counter() - started)
        return [body]

    def _valid_answer(self, environ: dict
                      ) -> tuple[list[tuple[str, str]], bytes] | None:
        address = environ.get('REMOTE_ADDR')
        if (environ.get('PATH_INFO') != PATH
                or environ.get('REQUEST_METHOD') != 'GET'
                or environ.get('QUERY_STRING')
                or environ.get('CONTENT_LENGTH', '0') not in ('', '0')
                or 'HTTP_TRANSFER_ENCODING' in environ
                or not isinstance(address, str)
                or (self.failures is not None
                    and self.failures.retry_after(address))):
            return None
        request_id = request_ids.accept(environ.get('HTTP_X_REQUEST_ID'))
        context = request_ids.enter(request_id)
        try:
            valid = _check(self.api,
                           bearer_of(environ.get('HTTP_AUTHORIZATION')),
                           environ.get('HTTP_X_ORIGINAL_URL'),
                           environ.get('HTTP_X_ORIGINAL_METHOD'))
        except Exception:
            return None          # Falcon's to answer, count and log
        finally:
            request_ids.leave(context)
        self.api.metrics.validation('valid')
        body = _body(valid)
        return ([(request_ids.HEADER.lower(), request_id), *_who(valid),
                 ('content-type', falcon.MEDIA_JSON),
                 ('cache-control', CACHE_CONTROL),
                 ('content-length', str(len(body)))], body)


class WhoAmIResource(Resource):
    """``/v1/whoami``: who the bearer credential stands for."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        resp.media = {'kind': principal.kind, 'user_id': principal.user_id,
                      'user_name': principal.user_name,
                      'workspace_id': principal.workspace_id,
                      'jti': principal.jti}
