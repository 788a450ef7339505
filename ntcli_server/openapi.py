"""The OpenAPI 3.1 document of the token API, served at ``/openapi.json``.

The document is data: :data:`SCHEMAS` (components), :data:`PATHS` (one
entry per route and method) and the error responses every operation
shares. A new route adds its entry to :data:`PATHS` and its schemas to
:data:`SCHEMAS`; ``tests/unit/server/test_openapi.py`` fails while a
route of the app is missing here (or the other way round), and runs
schemathesis against a live server from this document.

Limits and patterns come from the modules that enforce them, so that the
document cannot drift from the code.
"""

from __future__ import annotations

import copy
import typing

from ntcli_authority import authority, models, trust
from ntcli_core import scopes
from ntcli_core.lifetimes import MAX_GRACE, MAX_LIFETIME
from ntcli_core.names import NAME_PATTERN
from ntcli_server import exchange, signin

OPENAPI_VERSION = '3.1.0'
TITLE = 'ntcli token API'

_NULL = {'type': 'null'}


def ref(name: str) -> dict:
    """A reference to the component schema ``name``."""
    return {'$ref': f'#/components/schemas/{name}'}


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    return {'anyOf': [schema, _NULL]}


def _string(**extra: object) -> dict:
    return {'type': 'string', **extra}


_TIME = _string(format='date-time')
# Scopes as one space-separated string (what the server splits and checks).
_SCOPE_NAME = '(?:' + '|'.join(scopes.VOCABULARY).replace('.', r'\.') + ')'
_SCOPE_TEXT = (f'^ *{_SCOPE_NAME}(?: +{_SCOPE_NAME}){{0,'
               f'{scopes.MAX_SCOPES - 1}}} *$')
_UUID = _string(format='uuid')
_JTI = _string(pattern=r'^jti_[0-9a-f]{32}$')



def _page(items: str, schema: str) -> dict:
    """A listing of a workspace's ``items`` (component ``schema``)."""
    return {
        'type': 'object',
        'required': ['workspace_id', items, 'count', 'next_cursor'],
        'properties': {
            'workspace_id': _UUID,
            items: {'type': 'array', 'items': ref(schema)},
            'count': {'type': 'integer', 'minimum': 0,
                      'description': f'The number of {items} in this '
                                     'answer'},
            'next_cursor': nullable(_string())}}


_TOKEN_TYPE = _string(description='A token type URI (RFC 8693 section 3)')

SCHEMAS: dict[str, dict] = {
    'TokenExchangeRequest': {
        'type': 'object',
        'required': ['grant_type', 'subject_token', 'subject_token_type'],
        'additionalProperties': False,
        'description': 'RFC 8693 section 2.1, form-encoded; each parameter '
                       'at most once.',
        'properties': {
            'grant_type': {'const': exchange.GRANT_TYPE},
            'subject_token': _string(maxLength=exchange.MAX_PARAMETER),
            'subject_token_type': _string(examples=[
                exchange.TOKEN_TYPE_ID_TOKEN, exchange.TOKEN_TYPE_JWT]),
            'requested_token_type': _string(examples=[
                signin.TOKEN_TYPE_SESSION,
                exchange.TOKEN_TYPE_ACCESS_TOKEN]),
            'audience': _string(description='For a workspace token: the '
                                            'workspace (name or id)'),
            'scope': _string(description='For a workspace token: '
                                         'space-separated scopes, of those '
                                         'the trust policy grants'),
            'resource': _string(), 'client_id': _string(),
            'actor_token': _string(description='Not supported'),
            'actor_token_type': _string(description='Not supported')}},
    'TokenExchangeResponse': {
        'type': 'object',
        'required': ['access_token', 'issued_token_type', 'token_type',
                     'expires_in'],
        'description': 'RFC 8693 section 2.2. A session (issued_token_type '
                       f'{signin.TOKEN_TYPE_SESSION}) also carries '
                       'expires_at, session_id, user_id, user_name and '
                       'user_created; a workspace token for a CI job '
                       f'({exchange.TOKEN_TYPE_ACCESS_TOKEN}) carries '
                       'expires_at, scope, jti, workspace_id, created_at '
                       'and trust_policy (the name of the policy that '
                       'allowed it).',
        'properties': {
            'access_token': _string(), 'issued_token_type': _TOKEN_TYPE,
            'token_type': {'const': 'Bearer'},
            'expires_in': {'type': 'integer', 'minimum': 0},
            'expires_at': _TIME, 'session_id': _string(),
            'user_id': _string(), 'user_name': _string(),
            'user_created': {'type': 'boolean'},
            'scope': _string(description='space-separated'),
            'jti': _JTI, 'workspace_id': _UUID, 'created_at': _TIME,
            'trust_policy': _string()}},
    'OAuthError': {
        'type': 'object', 'required': ['error'],
        'description': 'RFC 6749 section 5.2',
        'properties': {
            'error': _string(enum=[
                'invalid_request', 'invalid_grant', 'invalid_target',
                'invalid_scope', 'unsupported_grant_type',
                'access_denied', 'temporarily_unavailable']),
            'error_description': _string(),
            'request_id': nullable(_string())}},
    'SignInProviders': {
        'type': 'object', 'required': ['providers', 'user_credentials'],
        'properties': {
            'providers': {'type': 'array', 'items': {
                'type': 'object',
                'required': ['issuer', 'client_id', 'scopes'],
                'properties': {
                    'issuer': _string(format='uri'),
                    'client_id': _string(),
                    'scopes': {'type': 'array', 'items': _string()},
                    'token_exchange': _string(),
                    'subject_token_type': _TOKEN_TYPE,
                    'requested_token_type': _TOKEN_TYPE}}},
            'user_credentials': {
                'type': 'boolean',
                'description': 'Whether user credentials (ntu_...) are '
                               'accepted; false when people must sign in '
                               'through a provider'}}},
    'SessionEnded': {
        'type': 'object', 'required': ['session_id', 'status'],
        'properties': {'session_id': _string(),
                       'status': _string(enum=['revoked',
                                               'already_revoked'])}},
    'Error': {
        'type': 'object', 'required': ['error'],
        'properties': {'error': {
            'type': 'object', 'required': ['code', 'message'],
            'properties': {
                'code': _string(examples=['AUTHENTICATION_REQUIRED',
                                          'INSUFFICIENT_SCOPE']),
                'message': _string(),
                'details': {'type': 'object'},
                'request_id': _string(
                    description='The X-Request-Id of the answer: what the '
                                "server's logs know this request by")}}}},
    'Scope': _string(enum=list(scopes.VOCABULARY),
                     description='resource:action; write implies read'),
    'ScopeList': {'type': 'array', 'items': ref('Scope'),
                  'description': 'In canonical form: every write with its '
                                 'read, in vocabulary order.'},
    'Workspace': {
        'type': 'object',
        'required': ['workspace_id', 'workspace_name', 'created'],
        'properties': {'workspace_id': _UUID,
                       'workspace_name': _string(),
                       'created': _TIME}},
    'WorkspaceCreateRequest': {
        'type': 'object', 'required': ['name'],
        'additionalProperties': False,
        'properties': {
            'name': _string(pattern=f'^{NAME_PATTERN.pattern}$'),
            'description': nullable(_string(
                maxLength=authority.MAX_DESCRIPTION))}},
    'WorkspaceCreated': {
        'allOf': [ref('Workspace')],
        'type': 'object', 'required': ['description'],
        'properties': {'description': nullable(_string())}},
    'WorkspaceList': {
        'type': 'object', 'required': ['workspaces', 'total'],
        'properties': {'workspaces': {'type': 'array',
                                      'items': ref('Workspace')},
                       'total': {'type': 'integer', 'minimum': 0}}},
    'WorkspaceDeleted': {
        'type': 'object',
        'required': ['workspace_id', 'status', 'tokens_revoked'],
        'properties': {'workspace_id': _UUID,
                       'status': {'const': 'deleted'},
                       'tokens_revoked': {'type': 'integer',
                                          'minimum': 0}}},
    'TokenCreateRequest': {
        'type': 'object', 'additionalProperties': False,
        # not both a lifetime and an expiry time
        'not': {'required': ['expires_in', 'expires_at'], 'properties': {
            'expires_in': {'type': 'integer'},
            'expires_at': {'type': ['integer', 'string']}}},
        'description': 'Without expires_in and expires_at the token lives '
                       'one year; null in either asks for a token that '
                       'never expires (a user credential only).',
        'properties': {
            'expires_in': nullable({
                'type': 'integer', 'minimum': 1,
                'maximum': MAX_LIFETIME}),
            'expires_at': {'anyOf': [
                {'type': 'integer'}, _TIME, _NULL],
                'description': 'Unix seconds or ISO-8601'},
            'scope': {'anyOf': [
                {'type': 'array', 'items': ref('Scope'), 'minItems': 1,
                 'maxItems': scopes.MAX_SCOPES},
                _string(description='space-separated scopes',
                        pattern=_SCOPE_TEXT), _NULL],
                'default': list(scopes.DEFAULT)},
            'description': nullable(_string(
                maxLength=authority.MAX_DESCRIPTION))}},
    'TokenCreateResponse': {
        'type': 'object',
        'required': ['access_token', 'token_type', 'expires_in',
                     'expires_at', 'scope', 'jti', 'workspace_id',
                     'created_at'],
        'properties': {
            'access_token': _string(pattern='^wst_'),
            'token_type': {'const': 'Bearer'},
            'expires_in': nullable({'type': 'integer', 'minimum': 1}),
            'expires_at': nullable(_TIME),
            'scope': ref('ScopeList'),
            'jti': _JTI, 'workspace_id': _UUID,
            'created_at': _TIME}},
    'TokenInfo': {
        'type': 'object',
        'required': ['jti', 'created_at', 'expires_at', 'status',
                     'description', 'revoked_at', 'scope'],
        'properties': {
            'jti': _JTI,
            'created_at': {'type': 'integer',
                           'description': 'Unix seconds'},
            'expires_at': nullable(_TIME),
            'status': _string(enum=['active', 'expired', 'revoked']),
            'description': nullable(_string()),
            'revoked_at': nullable(_string(format='date-time', description=(
                'When the token was revoked; a time still to come: the '
                'token is retiring (the grace period of a rotation, see '
                'the grace parameter of a revoke): its status is active and '
                'it is valid until then, then refused. A client that '
                'ignores this field loses nothing: the status says '
                'whether the token is valid now.'))),
            'scope': ref('ScopeList')}},
    'TokenList': _page('tokens', 'TokenInfo'),
    'TokenRevokeResponse': {
        'type': 'object',
        'required': ['workspace_id', 'token_jti', 'status', 'revoked_at',
                     'already_revoked'],
        'properties': {'workspace_id': _UUID, 'token_jti': _string(),
                       'status': _string(enum=['revoked', 'retiring'],
                                         description=(
                           'retiring only when grace was asked for: the '
                           'token is valid until revoked_at')),
                       'revoked_at': _TIME,
                       'already_revoked': {'type': 'boolean'}}},
    'TokenAuthResponse': {
        'type': 'object',
        'required': ['valid', 'workspace_id', 'jti', 'scope', 'expires_at'],
        'properties': {'valid': {'const': True}, 'workspace_id': _UUID,
                       'jti': _JTI, 'scope': ref('ScopeList'),
                       'expires_at': nullable(_TIME),
                       'revoked_at': _string(format='date-time', description=(
                           'Only for a retiring token (the grace period of a '
                           'rotation): when it stops being valid. Optional: '
                           'a client that ignores it loses nothing.'))}},
    'WhoAmI': {
        'type': 'object',
        'required': ['kind', 'user_id', 'user_name', 'workspace_id', 'jti'],
        'properties': {'kind': _string(enum=['user', 'workspace']),
                       'user_id': nullable(_UUID),
                       'user_name': nullable(_string()),
                       'workspace_id': nullable(_UUID),
                       'jti': nullable(_JTI)}},
    'AuditEvent': {
        'type': 'object',
        'required': ['id', 'time', 'action', 'outcome', 'actor',
                     'workspace_id', 'target_jti', 'client', 'request_id',
                     'user_agent', 'detail'],
        'properties': {
            'id': {'type': 'integer'}, 'time': _TIME,
            'action': _string(enum=list(models.AUDIT_ACTIONS)),
            'outcome': _string(),
            **{name: nullable(_string()) for name in (
                'actor', 'workspace_id', 'target_jti', 'client',
                'request_id', 'user_agent', 'detail')}}},
    'EventList': _page('events', 'AuditEvent'),
    'TrustConditions': {
        'type': 'object', 'minProperties': 1,
        'maxProperties': trust.MAX_CONDITIONS,
        'propertyNames': {'pattern': '^[A-Za-z][A-Za-z0-9_-]{0,63}$',
                          'not': {'enum': sorted(trust.RESERVED_CLAIMS)}},
        'additionalProperties': _string(minLength=1,
                                        maxLength=trust.MAX_PATTERN),
        'description': 'Claim name to pattern: the claim (a string, or an '
                       "integer's digits) must equal the pattern, where an "
                       'asterisk stands for any text; all must hold, and at '
                       'least one must have no asterisk.'},
    'TrustPolicyCreateRequest': {
        'type': 'object', 'required': ['name', 'issuer', 'conditions'],
        'additionalProperties': False,
        'properties': {
            'name': _string(pattern=f'^{NAME_PATTERN.pattern}$'),
            'issuer': _string(maxLength=trust.MAX_ISSUER,
                              description='The iss of the tokens trusted: '
                                          'an https URL'),
            'conditions': ref('TrustConditions'),
            'scope': {'anyOf': [
                {'type': 'array', 'items': ref('Scope'), 'minItems': 1,
                 'maxItems': scopes.MAX_SCOPES},
                _string(description='space-separated scopes',
                        pattern=_SCOPE_TEXT), _NULL],
                'default': list(scopes.DEFAULT),
                'description': 'Never tokens:write; a token creating the '
                               'policy grants only scopes it holds'},
            'max_lifetime': nullable({
                'type': 'integer', 'minimum': trust.MIN_MAX_LIFETIME,
                'maximum': trust.MAX_MAX_LIFETIME,
                'default': trust.DEFAULT_MAX_LIFETIME}),
            'description': nullable(_string(
                maxLength=trust.MAX_DESCRIPTION))}},
    'TrustPolicy': {
        'type': 'object',
        'required': ['id', 'workspace_id', 'name', 'issuer', 'conditions',
                     'scope', 'max_lifetime', 'created_at', 'created_by',
                     'description'],
        'properties': {
            'id': _string(pattern='^tp_[0-9a-f]{16}$'),
            'workspace_id': _UUID, 'name': _string(),
            'issuer': _string(), 'conditions': ref('TrustConditions'),
            'scope': ref('ScopeList'),
            'max_lifetime': {'type': 'integer'},
            'created_at': _TIME,
            'created_by': nullable(_string(
                description='The user id or token JTI that created it, or '
                            'local')),
            'description': nullable(_string())}},
    'TrustPolicyList': {
        'type': 'object',
        'required': ['workspace_id', 'trust_policies', 'count'],
        'properties': {
            'workspace_id': _UUID,
            'trust_policies': {'type': 'array',
                               'items': ref('TrustPolicy')},
            'count': {'type': 'integer', 'minimum': 0}}},
    'TrustPolicyDeleted': {
        'type': 'object',
        'required': ['workspace_id', 'id', 'name', 'status'],
        'properties': {'workspace_id': _UUID, 'id': _string(),
                       'name': _string(), 'status': {'const': 'deleted'}}},
    'HealthCheck': {
        'type': 'object',
        'required': ['status', 'version', 'service', 'timestamp'],
        'properties': {'status': _string(), 'version': _string(),
                       'service': _string(), 'timestamp': _TIME}},
    'Healthz': {'type': 'object', 'required': ['status'],
                'properties': {'status': {'const': 'ok'}}},
    'Readyz': {'type': 'object', 'required': ['status'],
               'properties': {'status': {'const': 'ready'}}},
}

# -- responses ----------------------------------------------------------------
ERRORS: dict[int, str] = {
    400: 'Malformed request (INVALID_REQUEST): bad JSON, or a value out '
         'of range',
    401: 'No valid credential (AUTHENTICATION_REQUIRED, TOKEN_INVALID, '
         'TOKEN_EXPIRED, TOKEN_REVOKED)',
    403: 'The credential may not do this (FORBIDDEN, INSUFFICIENT_SCOPE)',
    404: 'Unknown workspace, token or trust policy (WORKSPACE_NOT_FOUND, '
         'TOKEN_NOT_FOUND, TRUST_POLICY_NOT_FOUND)',
    409: 'The name is taken (WORKSPACE_EXISTS, TRUST_POLICY_EXISTS)',
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


def _paging(limit: str) -> list[dict]:
    """``limit`` (described as ``limit`` says) and ``cursor``."""
    return [_query('limit', {'type': 'integer', 'minimum': 1,
                             'maximum': authority.MAX_PAGE}, limit),
            _query('cursor', _string(), 'next_cursor of the page before')]


def _header(name: str, description: str, **schema: object) -> dict:
    return {'name': name, 'in': 'header', 'required': False,
            'schema': _string(**schema), 'description': description}


_WORKSPACE_ID = _path_param('workspace_id', _string())
_TOKEN_JTI = _path_param('jti', _string())
_GRACE = _query(
    'grace', {'type': 'integer', 'minimum': 0, 'maximum': MAX_GRACE},
    'Seconds the token stays valid before the revocation takes effect (a '
    f'rotation without downtime; at most {MAX_GRACE // 86400} days); absent '
    'or 0: at once. '
    'Revoking again never postpones a revocation; without grace it ends a '
    'grace period at once.')
_POLICY = _path_param('policy', _string(description='Its id or name'))
_BOOLEAN_TEXT = _string(enum=['true', 'false', '1', '0', 'yes', 'no'])
_AUTH_HEADERS = {
    name: {'description': description, 'schema': _string()}
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
    exchange.PATH: {'post': {
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
            body=ref('TokenCreateRequest'), errors=_IN_WORKSPACE,
            parameters=[_header('Idempotency-Key', 'A retry with the same '
                                'key within 24 hours returns the same '
                                'token', minLength=1,
                                maxLength=authority.MAX_IDEMPOTENCY_KEY)],
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
                *_paging('Page size; absent: every token')],
            operation_id='list_tokens')},
    '/v1/workspaces/{workspace_id}/events': {
        'parameters': [_WORKSPACE_ID],
        'get': operation(
            "The workspace's audit trail, oldest first, paged (its owner)",
            (200, _json(ref('EventList'), 'Events')),
            errors=_IN_WORKSPACE + _WITH_QUERY,
            parameters=[
                _query('since', {'anyOf': [
                    _string(pattern=r'^[0-9]{1,12}$'),
                    _string(format='date-time')]},
                    'Unix seconds or an ISO-8601 time'),
                _query('action', {'type': 'array', 'items': _string(
                    enum=list(models.AUDIT_ACTIONS))}, 'Only these'),
                *_paging('Page size (default 100)')],
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
    from importlib import metadata
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
