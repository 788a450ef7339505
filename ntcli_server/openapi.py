"""The OpenAPI 3.1 document of the token API, served at ``/openapi.json``.

The document is data: the component schemas
(:data:`ntcli_server.openapi_schemas.SCHEMAS`), :data:`PATHS` (one entry
per route and method) and the error responses every operation shares
(:data:`ERRORS`). A new route adds its entry to :data:`PATHS` and its
schemas to ``SCHEMAS``; ``tests/unit/ntcli_server/test_openapi.py`` fails while
a route of the app is missing here (or the other way round), and
``tests/contract/test_openapi.py`` runs schemathesis against a live
server from this document.
"""

from __future__ import annotations

import copy
import typing
from importlib import metadata

from ntcli_authority import authority, models
from ntcli_core import oauth
from ntcli_core.lifetimes import MAX_GRACE
from ntcli_server.openapi_schemas import SCHEMAS, ref, string

OPENAPI_VERSION = '3.1.0'
TITLE = 'ntcli token API'


# -- responses ----------------------------------------------------------------
ERRORS: dict[int, str] = {
    400: 'Malformed request (INVALID_REQUEST): bad JSON, or a value out '
         'of range',
    401: 'No valid credential (AUTHENTICATION_REQUIRED, TOKEN_INVALID, '
         'TOKEN_EXPIRED, TOKEN_REVOKED)',
    403: 'The credential may not do this (FORBIDDEN, INSUFFICIENT_SCOPE)',
    404: 'Unknown workspace, token or trust policy (WORKSPACE_NOT_FOUND, '
         'TOKEN_NOT_FOUND, TRUST_POLICY_NOT_FOUND)',
    409: 'The name is taken (WORKSPACE_EXISTS, TRUST_POLICY_EXISTS), or '
         "the Idempotency-Key names another caller's request "
         '(IDEMPOTENCY_KEY_CONFLICT)',
    410: 'The token an Idempotency-Key issued has since been revoked or '
         'has expired: a replay hands out nothing (REPLAYED_TOKEN_GONE)',
    413: 'Request body too large (PAYLOAD_TOO_LARGE)',
    411: 'A body without a length where one is needed (LENGTH_REQUIRED: '
         'HTTP/1.0 without Content-Length)',
    414: 'Request line too long (URI_TOO_LONG)',
    415: 'Request body is not JSON (UNSUPPORTED_MEDIA_TYPE)',
    422: 'The request does not fit this document (VALIDATION_ERROR)',
    429: 'Too many failed authentications from this address '
         '(TOO_MANY_REQUESTS; see Retry-After)',
    431: 'Too many or too large header fields (HEADERS_TOO_LARGE)',
    500: 'The server failed (INTERNAL_ERROR)',
    501: 'A transfer coding other than chunked (NOT_IMPLEMENTED)',
    503: 'The database does not answer within the bound on database '
         'waits (STORAGE_UNAVAILABLE; see Retry-After)',
}
# What every operation may answer (an address that failed to authenticate
# too often gets 429 for everything), and what each kind of input adds.
_ALWAYS = (414, 429, 431, 500, 503)
_AUTHENTICATED = (401, 403)
_WITH_BODY = (400, 411, 413, 415, 422, 501)
_WITH_QUERY = (400, 422)
_IN_WORKSPACE = (404,)


def _error_responses(statuses: typing.Iterable[int]) -> dict:
    return {str(status): {'$ref': f'#/components/responses/E{status}'}
            for status in sorted(set(statuses) | set(_ALWAYS))}


def _json(schema: dict, description: str,
          headers: dict | None = None) -> dict:
    response: dict = {'description': description,
                      'content': {'application/json': {'schema': schema}}}
    if headers:
        response['headers'] = headers
    return response


def operation(summary: str, ok: tuple[int, dict], *,
              errors: typing.Iterable[int] = (), authenticated: bool = True,
              body: dict | None = None, parameters: list | None = None,
              body_required: bool = False, operation_id: str) -> dict:
    """One operation: its success answer, its errors and its inputs."""
    status, response = ok
    statuses = set(errors)
    if authenticated:
        statuses.update(_AUTHENTICATED)
    if body is not None:
        statuses.update(_WITH_BODY)
    op: dict = {'operationId': operation_id, 'summary': summary,
                'responses': {str(status): response,
                              **_error_responses(statuses)},
                'security': [{'bearer': []}] if authenticated else []}
    if parameters:
        op['parameters'] = parameters
    if body is not None:
        op['requestBody'] = {'required': body_required, 'content': {
            'application/json': {'schema': body}}}
    return op


def _path_param(name: str, schema: dict) -> dict:
    return {'name': name, 'in': 'path', 'required': True, 'schema': schema}


def _query(name: str, schema: dict, description: str) -> dict:
    return {'name': name, 'in': 'query', 'required': False,
            'schema': schema, 'description': description}


def _paging(limit: str, cursor: dict) -> list[dict]:
    """``limit`` (described as ``limit`` says) and ``cursor`` (of the
    ``cursor`` schema)."""
    return [_query('limit', {'type': 'integer', 'minimum': 1,
                             'maximum': authority.MAX_PAGE}, limit),
            _query('cursor', cursor, 'next_cursor of the page before')]


def _header(name: str, description: str, **schema: object) -> dict:
    return {'name': name, 'in': 'header', 'required': False,
            'schema': string(**schema), 'description': description}


_WORKSPACE_ID = _path_param('workspace_id', string())
_TOKEN_JTI = _path_param('jti', string())
_GRACE = _query(
    'grace', {'type': 'integer', 'minimum': 0, 'maximum': MAX_GRACE},
    'Seconds the token stays valid before the revocation takes effect (a '
    f'rotation without downtime; at most {MAX_GRACE // 86400} days); absent '
    'or 0: at once. '
    'Revoking again never postpones a revocation; without grace it ends a '
    'grace period at once.')
_POLICY = _path_param('policy', string(description='Its id or name'))
_BOOLEAN_TEXT = string(enum=['true', 'false', '1', '0', 'yes', 'no'])
_AUTH_HEADERS = {
    name: {'description': description, 'schema': string()}
    for name, description in (
        ('X-Workspace-Id', 'The workspace of the token'),
        ('X-Token-Jti', 'The JTI of the token'),
        ('X-Token-Scope', 'The scopes of the token, space-separated'))}

_TOKEN_AUTH = operation(
    'Validate the bearer token, for an ingress auth_request: with '
    'X-Original-URL and X-Original-Method also check that the URL is of '
    "the token's workspace and that the token holds resource:read (GET, "
    'HEAD, OPTIONS) or resource:write (other methods), the resource being '
    'the path segment after the workspace id (workspace when none)',
    (200, _json(ref('TokenAuthResponse'), 'The token is valid (and may '
                'make the original request)', _AUTH_HEADERS)),
    parameters=[_header('X-Original-URL', 'The URL the ingress is about '
                        'to forward (a path, or an http(s) URL)'),
                _header('X-Original-Method', 'Its method')],
    operation_id='token_auth')

#: The token-exchange endpoint's errors, in RFC 6749's shape.
OAUTH_ERRORS = {
    'OAuth400': 'Refused (RFC 6749 section 5.2): invalid_request, '
                'invalid_grant, invalid_target, invalid_scope or '
                'unsupported_grant_type',
    'OAuth403': 'access_denied: a valid CI token that no trust policy '
                'accepts (the description says which condition failed)',
    'OAuth503': "temporarily_unavailable: the subject token's issuer or "
                'the database cannot be reached'}


def _oauth_error(name: str) -> dict:
    return {'$ref': f'#/components/responses/{name}'}


PATHS: dict[str, dict] = {
    oauth.EXCHANGE_PATH: {'post': {
        'operationId': 'token_exchange',
        'summary': "Trade a token of a trusted issuer (an identity "
                   "provider's ID token, a CI job's OIDC token) for a "
                   'token of this server (OAuth 2.0 Token Exchange, '
                   'RFC 8693)',
        'security': [],
        'requestBody': {'required': True, 'content': {
            'application/x-www-form-urlencoded': {
                'schema': ref('TokenExchangeRequest')}}},
        'responses': {
            '200': _json(ref('TokenExchangeResponse'), 'Exchanged'),
            '400': _oauth_error('OAuth400'),
            '403': _oauth_error('OAuth403'),
            '413': {'$ref': '#/components/responses/E413'},
            '429': {'$ref': '#/components/responses/E429'},
            '500': {'$ref': '#/components/responses/E500'},
            '503': _oauth_error('OAuth503')}}},
    '/v1/auth/providers': {'get': operation(
        'How people sign in here: the identity providers trusted, and '
        'whether user credentials are accepted',
        (200, _json(ref('SignInProviders'), 'Sign-in methods')),
        authenticated=False, operation_id='sign_in_providers')},
    '/v1/auth/session': {'delete': operation(
        "End the caller's session (opened by signing in): logout",
        (200, _json(ref('SessionEnded'), 'Ended')),
        errors=(400,), operation_id='end_session')},
    '/health': {'get': operation(
        'Health check', (200, _json(ref('HealthCheck'), 'Healthy')),
        authenticated=False, operation_id='health')},
    '/healthz': {
        'get': operation(
            'Liveness of the server process (answered from memory)',
            (200, _json(ref('Healthz'), 'Serving')),
            authenticated=False, operation_id='healthz'),
        'head': operation(
            'Liveness of the server process, without a body',
            (200, {'description': 'Serving'}),
            authenticated=False, operation_id='healthz_head')},
    '/readyz': {
        'get': operation(
            'Readiness: whether the database answers (503 within the '
            'bound on database waits when it does not)',
            (200, _json(ref('Readyz'), 'Ready')),
            authenticated=False, operation_id='readyz'),
        'head': operation(
            'Readiness, without a body',
            (200, {'description': 'Ready'}),
            authenticated=False, operation_id='readyz_head')},
    '/openapi.json': {'get': operation(
        'This document', (200, _json({'type': 'object'}, 'OpenAPI 3.1')),
        authenticated=False, operation_id='openapi')},
    '/v1/whoami': {'get': operation(
        'Who the bearer credential stands for',
        (200, _json(ref('WhoAmI'), 'The caller')),
        operation_id='whoami')},
    '/v1/token_auth': {
        'get': _TOKEN_AUTH,
        'post': {**_TOKEN_AUTH, 'operationId': 'token_auth_post'}},
    '/v1/workspaces': {
        'get': operation(
            "The caller's workspaces: a user's own, a workspace token's "
            'own one',
            (200, _json(ref('WorkspaceList'), 'Workspaces by name')),
            operation_id='list_workspaces'),
        'post': operation(
            'Create a workspace (a user credential)',
            (201, _json(ref('WorkspaceCreated'), 'Created')),
            body=ref('WorkspaceCreateRequest'), errors=(409,),
            body_required=True, operation_id='create_workspace')},
    '/v1/workspaces/{workspace_id}': {
        'parameters': [_WORKSPACE_ID],
        'delete': operation(
            'Delete a workspace and revoke its tokens (a user credential)',
            (200, _json(ref('WorkspaceDeleted'), 'Deleted')),
            errors=_IN_WORKSPACE, operation_id='delete_workspace')},
    '/v1/workspaces/{workspace_id}/tokens': {
        'parameters': [_WORKSPACE_ID],
        'post': operation(
            'Issue a token: a user credential may grant any scope in its '
            'workspaces; a token of the workspace needs tokens:write and '
            'grants only scopes it holds',
            (201, _json(ref('TokenCreateResponse'), 'Issued (or replayed '
                        'for the same Idempotency-Key)')),
            body=ref('TokenCreateRequest'),
            errors=_IN_WORKSPACE + (409, 410),
            parameters=[_header('Idempotency-Key', 'A retry with the same '
                                'key within 24 hours, by the same caller, '
                                'returns the same token (with '
                                'Idempotent-Replayed: true) while it is '
                                'valid', minLength=1,
                                maxLength=authority.MAX_IDEMPOTENCY_KEY,
                                pattern='^[!-~](?:[ -~]*[!-~])?$')],
            operation_id='issue_token'),
        'get': operation(
            'List tokens, oldest first: without limit every matching '
            'token, with limit one page and next_cursor',
            (200, _json(ref('TokenList'), 'Tokens')),
            errors=_IN_WORKSPACE + _WITH_QUERY,
            parameters=[
                _query('include_expired', _BOOLEAN_TEXT,
                       'Also expired tokens'),
                _query('include_revoked', _BOOLEAN_TEXT,
                       'Also revoked tokens'),
                *_paging('Page size; absent: every token', string(
                    pattern='^[A-Za-z0-9_-]*$',
                    description='Opaque: only a next_cursor this server '
                                'gave (any other is 400)'))],
            operation_id='list_tokens')},
    '/v1/workspaces/{workspace_id}/events': {
        'parameters': [_WORKSPACE_ID],
        'get': operation(
            "The workspace's audit trail, oldest first, paged (its owner)",
            (200, _json(ref('EventList'), 'Events')),
            errors=_IN_WORKSPACE + _WITH_QUERY,
            parameters=[
                _query('since', {'anyOf': [
                    string(pattern=r'^[0-9]{1,12}$'),
                    string(format='date-time')]},
                    'Unix seconds or an ISO-8601 time'),
                _query('action', {'type': 'array', 'items': string(
                    enum=list(models.AUDIT_ACTIONS))}, 'Only these'),
                *_paging('Page size (default 100)', string(
                    pattern='^[0-9]{0,18}$',
                    description='The id of the last event seen'))],
            operation_id='list_events')},
    '/v1/workspaces/{workspace_id}/trust-policies': {
        'parameters': [_WORKSPACE_ID],
        'post': operation(
            "Let CI jobs of an OIDC issuer whose tokens' claims meet the "
            'conditions obtain tokens of the workspace (its owner, or a '
            'token of it holding tokens:write)',
            (201, _json(ref('TrustPolicy'), 'Created')),
            body=ref('TrustPolicyCreateRequest'),
            errors=_IN_WORKSPACE + (409,),
            body_required=True,
            operation_id='create_trust_policy'),
        'get': operation(
            "The workspace's trust policies, by name",
            (200, _json(ref('TrustPolicyList'), 'Trust policies')),
            errors=_IN_WORKSPACE, operation_id='list_trust_policies')},
    '/v1/workspaces/{workspace_id}/trust-policies/{policy}': {
        'parameters': [_WORKSPACE_ID, _POLICY],
        'get': operation(
            'One trust policy', (200, _json(ref('TrustPolicy'),
                                            'The policy')),
            errors=_IN_WORKSPACE, operation_id='show_trust_policy'),
        'delete': operation(
            'Delete a trust policy: its issuer\'s tokens buy nothing more',
            (200, _json(ref('TrustPolicyDeleted'), 'Deleted')),
            errors=_IN_WORKSPACE, operation_id='delete_trust_policy')},
    '/v1/workspaces/{workspace_id}/tokens/{jti}': {
        'parameters': [_WORKSPACE_ID, _TOKEN_JTI],
        'delete': operation(
            'Revoke a token (idempotent): a user credential, or the token '
            'itself; with grace, at the end of the grace period',
            (200, _json(ref('TokenRevokeResponse'), 'Revoked')),
            errors=_IN_WORKSPACE + _WITH_QUERY, parameters=[_GRACE],
            operation_id='revoke_token')},
    '/v1/workspaces/{workspace_id}/tokens/{jti}/revoke': {
        'parameters': [_WORKSPACE_ID, _TOKEN_JTI],
        'post': operation(
            'Revoke a token, as DELETE on the token does',
            (200, _json(ref('TokenRevokeResponse'), 'Revoked')),
            errors=_IN_WORKSPACE + _WITH_QUERY, parameters=[_GRACE],
            operation_id='revoke_token_post')},
}


def release() -> str:
    """The version of the installed ntcli distribution (the server does
    not import the CLI package that defines it)."""
    try:
        return metadata.version('ntcli')
    except metadata.PackageNotFoundError:
        return 'unknown'


def document() -> dict:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy({
        'openapi': OPENAPI_VERSION,
        'info': {'title': TITLE, 'version': release(),
                 'description': 'Workspace tokens: issue, list, revoke, '
                                'validate (also for an ingress).'},
        'paths': PATHS,
        'components': {
            'schemas': SCHEMAS,
            'responses': {
                **{f'E{status}': _json(ref('Error'), description)
                   for status, description in ERRORS.items()},
                **{name: _json(ref('OAuthError'), description)
                   for name, description in OAUTH_ERRORS.items()}},
            'securitySchemes': {'bearer': {
                'type': 'http', 'scheme': 'bearer',
                'description': 'A user credential (ntu_...), a session '
                               '(nts_..., from signing in) or a workspace '
                               'token (wst_...)'}}},
    })
