"""The component schemas of the token API's OpenAPI document
(:mod:`ntcli_server.openapi`): the bodies of requests and answers.

Limits and patterns come from the modules that enforce them, so that the
document cannot drift from the code.
"""

from __future__ import annotations

from ntcli_authority import authority, models, trust
from ntcli_core import oauth, scopes
from ntcli_core.lifetimes import MAX_LIFETIME
from ntcli_core.names import NAME_PATTERN
from ntcli_server import exchange

_NULL = {'type': 'null'}


def ref(name: str) -> dict:
    """A reference to the component schema ``name``."""
    return {'$ref': f'#/components/schemas/{name}'}


def nullable(schema: dict) -> dict:
    """``schema`` or null."""
    return {'anyOf': [schema, _NULL]}


def string(**extra: object) -> dict:
    """A string schema, with ``extra`` keywords."""
    return {'type': 'string', **extra}


_TIME = string(format='date-time')
# Scopes as one space-separated string (what the server splits and checks).
_SCOPE_NAME = '(?:' + '|'.join(scopes.VOCABULARY).replace('.', r'\.') + ')'
_SCOPE_TEXT = (f'^ *{_SCOPE_NAME}(?: +{_SCOPE_NAME}){{0,'
               f'{scopes.MAX_SCOPES - 1}}} *$')
# An OpenID Connect issuer as trust.check_issuer takes it (a subset: no
# IPv6 host, ports below 10000).
_ISSUER = (r'^(?:https://[A-Za-z0-9.-]+|http://(?:localhost|127\.0\.0\.1))'
           r"(?::[0-9]{1,4})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$")
# Text a request may carry: no NUL (PostgreSQL cannot store it), which the
# server refuses at the edge. (It refuses a lone surrogate too, which a
# pattern cannot name in every regex dialect that reads this document.)
_TEXT = '^[^\\x00]*$'
_UUID = string(format='uuid')
_JTI = string(pattern=r'^jti_[0-9a-f]{32}$')



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
            'next_cursor': nullable(string())}}


_TOKEN_TYPE = string(description='A token type URI (RFC 8693 section 3)')

def _form_text(**extra: object) -> dict:
    """A parameter of the token-exchange form: text without control
    characters, at most exchange.MAX_PARAMETER characters."""
    return string(pattern='^[^\\x00-\\x1f\\x7f]*$',
                  maxLength=exchange.MAX_PARAMETER, **extra)


SCHEMAS: dict[str, dict] = {
    'TokenExchangeRequest': {
        'type': 'object',
        'required': ['grant_type', 'subject_token', 'subject_token_type'],
        'additionalProperties': False,
        'description': 'RFC 8693 section 2.1, form-encoded; each parameter '
                       'at most once, without control characters. '
                       'Delegation (actor_token) is not supported.',
        'properties': {
            'grant_type': {'const': oauth.GRANT_TOKEN_EXCHANGE},
            'subject_token': _form_text(minLength=1),
            'subject_token_type': {'enum': [
                oauth.TOKEN_TYPE_ID_TOKEN, oauth.TOKEN_TYPE_JWT]},
            'requested_token_type': {'enum': [
                oauth.TOKEN_TYPE_SESSION,
                oauth.TOKEN_TYPE_ACCESS_TOKEN]},
            'audience': _form_text(description='For a workspace token: '
                                               'the workspace (name or id)'),
            'scope': _form_text(description='For a workspace token: '
                                            'space-separated scopes, of '
                                            'those the trust policy grants'),
            'resource': _form_text(), 'client_id': _form_text()}},
    'TokenExchangeResponse': {
        'type': 'object',
        'required': ['access_token', 'issued_token_type', 'token_type',
                     'expires_in'],
        'description': 'RFC 8693 section 2.2. A session (issued_token_type '
                       f'{oauth.TOKEN_TYPE_SESSION}) also carries '
                       'expires_at, session_id, user_id, user_name and '
                       'user_created; a workspace token for a CI job '
                       f'({oauth.TOKEN_TYPE_ACCESS_TOKEN}) carries '
                       'expires_at, scope, jti, workspace_id, created_at '
                       'and trust_policy (the name of the policy that '
                       'allowed it).',
        'properties': {
            'access_token': string(), 'issued_token_type': _TOKEN_TYPE,
            'token_type': {'const': 'Bearer'},
            'expires_in': {'type': 'integer', 'minimum': 0},
            'expires_at': _TIME, 'session_id': string(),
            'user_id': string(), 'user_name': string(),
            'user_created': {'type': 'boolean'},
            'scope': string(description='space-separated'),
            'jti': _JTI, 'workspace_id': _UUID, 'created_at': _TIME,
            'trust_policy': string()}},
    'OAuthError': {
        'type': 'object', 'required': ['error'],
        'description': 'RFC 6749 section 5.2',
        'properties': {
            'error': string(enum=[
                'invalid_request', 'invalid_grant', 'invalid_target',
                'invalid_scope', 'unsupported_grant_type',
                'access_denied', 'temporarily_unavailable']),
            'error_description': string(),
            'request_id': nullable(string())}},
    'SignInProviders': {
        'type': 'object', 'required': ['providers', 'user_credentials'],
        'properties': {
            'providers': {'type': 'array', 'items': {
                'type': 'object',
                'required': ['issuer', 'client_id', 'scopes'],
                'properties': {
                    'issuer': string(format='uri'),
                    'client_id': string(),
                    'scopes': {'type': 'array', 'items': string()},
                    'token_exchange': string(),
                    'subject_token_type': _TOKEN_TYPE,
                    'requested_token_type': _TOKEN_TYPE}}},
            'user_credentials': {
                'type': 'boolean',
                'description': 'Whether user credentials (ntu_...) are '
                               'accepted; false when people must sign in '
                               'through a provider'}}},
    'SessionEnded': {
        'type': 'object', 'required': ['session_id', 'status'],
        'properties': {'session_id': string(),
                       'status': string(enum=['revoked',
                                               'already_revoked'])}},
    'Error': {
        'type': 'object', 'required': ['error'],
        'properties': {'error': {
            'type': 'object', 'required': ['code', 'message'],
            'properties': {
                'code': string(examples=['AUTHENTICATION_REQUIRED',
                                          'INSUFFICIENT_SCOPE']),
                'message': string(),
                'details': {'type': 'object'},
                'request_id': string(
                    description='The X-Request-Id of the answer: what the '
                                "server's logs know this request by")}}}},
    'Scope': string(enum=list(scopes.VOCABULARY),
                     description='resource:action; write implies read'),
    'ScopeList': {'type': 'array', 'items': ref('Scope'),
                  'description': 'In canonical form: every write with its '
                                 'read, in vocabulary order.'},
    'Workspace': {
        'type': 'object',
        'required': ['workspace_id', 'workspace_name', 'created'],
        'properties': {'workspace_id': _UUID,
                       'workspace_name': string(),
                       'created': _TIME}},
    'WorkspaceCreateRequest': {
        'type': 'object', 'required': ['name'],
        'additionalProperties': False,
        'properties': {
            'name': string(pattern=f'^{NAME_PATTERN.pattern}$'),
            'description': nullable(string(
                pattern=_TEXT,
                maxLength=authority.MAX_DESCRIPTION))}},
    'WorkspaceCreated': {
        'allOf': [ref('Workspace')],
        'type': 'object', 'required': ['description'],
        'properties': {'description': nullable(string())}},
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
                string(description='space-separated scopes',
                        pattern=_SCOPE_TEXT), _NULL],
                'default': list(scopes.DEFAULT)},
            'description': nullable(string(
                pattern=_TEXT,
                maxLength=authority.MAX_DESCRIPTION))}},
    'TokenCreateResponse': {
        'type': 'object',
        'required': ['access_token', 'token_type', 'expires_in',
                     'expires_at', 'scope', 'jti', 'workspace_id',
                     'created_at'],
        'properties': {
            'access_token': string(pattern='^wst_'),
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
            'status': string(enum=['active', 'expired', 'revoked']),
            'description': nullable(string()),
            'revoked_at': nullable(string(format='date-time', description=(
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
        'properties': {'workspace_id': _UUID, 'token_jti': string(),
                       'status': string(enum=['revoked', 'retiring'],
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
                       'revoked_at': string(format='date-time', description=(
                           'Only for a retiring token (the grace period of a '
                           'rotation): when it stops being valid. Optional: '
                           'a client that ignores it loses nothing.'))}},
    'WhoAmI': {
        'type': 'object',
        'required': ['kind', 'user_id', 'user_name', 'workspace_id', 'jti'],
        'properties': {'kind': string(enum=['user', 'workspace']),
                       'user_id': nullable(_UUID),
                       'user_name': nullable(string()),
                       'workspace_id': nullable(_UUID),
                       'jti': nullable(_JTI)}},
    'AuditEvent': {
        'type': 'object',
        'required': ['id', 'time', 'action', 'outcome', 'actor',
                     'workspace_id', 'target_jti', 'client', 'request_id',
                     'user_agent', 'detail'],
        'properties': {
            'id': {'type': 'integer'}, 'time': _TIME,
            'action': string(enum=list(models.AUDIT_ACTIONS)),
            'outcome': string(),
            **{name: nullable(string()) for name in (
                'actor', 'workspace_id', 'target_jti', 'client',
                'request_id', 'user_agent', 'detail')}}},
    'EventList': _page('events', 'AuditEvent'),
    'TrustConditions': {
        'type': 'object', 'minProperties': 1,
        'maxProperties': trust.MAX_CONDITIONS,
        'propertyNames': {'pattern': '^[A-Za-z][A-Za-z0-9_-]{0,63}$',
                          'not': {'enum': sorted(trust.RESERVED_CLAIMS)}},
        'additionalProperties': string(minLength=1, pattern=_TEXT,
                                       maxLength=trust.MAX_PATTERN),
        'description': 'Claim name to pattern: the claim (a string, or an '
                       "integer's digits) must equal the pattern, where an "
                       'asterisk stands for any text; all must hold, and at '
                       'least one must have no asterisk.'},
    'TrustPolicyCreateRequest': {
        'type': 'object', 'required': ['name', 'issuer', 'conditions'],
        'additionalProperties': False,
        'properties': {
            'name': string(pattern=f'^{NAME_PATTERN.pattern}$'),
            'issuer': string(maxLength=trust.MAX_ISSUER,
                             pattern=_ISSUER,
                             description='The iss of the tokens trusted: '
                                         'an https URL (http only on the '
                                         'loopback interface), without '
                                         'user, query or fragment'),
            'conditions': ref('TrustConditions'),
            'scope': {'anyOf': [
                {'type': 'array', 'items': ref('Scope'), 'minItems': 1,
                 'maxItems': scopes.MAX_SCOPES},
                string(description='space-separated scopes',
                        pattern=_SCOPE_TEXT), _NULL],
                'default': list(scopes.DEFAULT),
                'description': 'Never tokens:write; a token creating the '
                               'policy grants only scopes it holds'},
            'max_lifetime': nullable({
                'type': 'integer', 'minimum': trust.MIN_MAX_LIFETIME,
                'maximum': trust.MAX_MAX_LIFETIME,
                'default': trust.DEFAULT_MAX_LIFETIME}),
            'description': nullable(string(
                pattern=_TEXT,
                maxLength=trust.MAX_DESCRIPTION))}},
    'TrustPolicy': {
        'type': 'object',
        'required': ['id', 'workspace_id', 'name', 'issuer', 'conditions',
                     'scope', 'max_lifetime', 'created_at', 'created_by',
                     'description'],
        'properties': {
            'id': string(pattern='^tp_[0-9a-f]{16}$'),
            'workspace_id': _UUID, 'name': string(),
            'issuer': string(), 'conditions': ref('TrustConditions'),
            'scope': ref('ScopeList'),
            'max_lifetime': {'type': 'integer'},
            'created_at': _TIME,
            'created_by': nullable(string(
                description='The user id or token JTI that created it, or '
                            'local')),
            'description': nullable(string())}},
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
        'properties': {'workspace_id': _UUID, 'id': string(),
                       'name': string(), 'status': {'const': 'deleted'}}},
    'HealthCheck': {
        'type': 'object',
        'required': ['status', 'version', 'service', 'timestamp'],
        'properties': {'status': string(), 'version': string(),
                       'service': string(), 'timestamp': _TIME}},
    'Healthz': {'type': 'object', 'required': ['status'],
                'properties': {'status': {'const': 'ok'}}},
    'Readyz': {'type': 'object', 'required': ['status'],
               'properties': {'status': {'const': 'ready'}}},
}
