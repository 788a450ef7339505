"""Errors of the token authority.

Each error carries a code of the token API (docs/reference/api.rst), the
HTTP status that code means and a message safe to show to a client: no
token value, key or credential ever goes into one.
``ntcli.errors.API_ERRORS`` maps the same codes to the CLI's own error
classes.
"""

from __future__ import annotations


class AuthorityError(Exception):
    """A failure the authority reports to its caller as an API error."""

    def __init__(self, code: str, message: str, http_status: int,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = details

    def to_dict(self) -> dict:
        """The error as the token API's JSON body."""
        body: dict = {'code': self.code, 'message': self.message}
        if self.details:
            body['details'] = self.details
        return {'error': body}

    def __str__(self) -> str:
        return self.message


class _CodedError(AuthorityError):
    """An AuthorityError whose code and status are fixed by its class."""

    code = 'INTERNAL_ERROR'
    http_status = 500
    default_message = 'The token authority failed'

    def __init__(self, message: str | None = None,
                 details: dict | None = None) -> None:
        super().__init__(type(self).code, message or self.default_message,
                         type(self).http_status, details)


class AuthenticationRequired(_CodedError):
    """No credential, or one the authority does not know."""

    code = 'AUTHENTICATION_REQUIRED'
    http_status = 401
    default_message = 'Authentication required'


class TokenInvalid(_CodedError):
    """A token that is malformed, forged or signed by an unknown key."""

    code = 'TOKEN_INVALID'
    http_status = 401
    default_message = 'The token is not valid'


class TokenExpired(_CodedError):
    """A genuine token past its expiry time."""

    code = 'TOKEN_EXPIRED'
    http_status = 401
    default_message = 'The token has expired'


class TokenRevoked(_CodedError):
    """A genuine token that has been revoked."""

    code = 'TOKEN_REVOKED'
    http_status = 401
    default_message = 'The token has been revoked'


class Forbidden(_CodedError):
    """A valid credential that may not do what it asked."""

    code = 'FORBIDDEN'
    http_status = 403
    default_message = 'Permission denied'


class InsufficientScope(Forbidden):
    """A valid token whose scopes do not cover what it asked for."""

    code = 'INSUFFICIENT_SCOPE'
    http_status = 403
    default_message = 'The token does not hold the scope this needs'


class WorkspaceNotFound(_CodedError):
    """A workspace id or name the authority does not know."""

    code = 'WORKSPACE_NOT_FOUND'
    http_status = 404
    default_message = 'Workspace not found'


class TokenNotFound(_CodedError):
    """A JTI the workspace does not have."""

    code = 'TOKEN_NOT_FOUND'
    http_status = 404
    default_message = 'Token not found'


class InvalidRequest(_CodedError):
    """A request with a malformed or out-of-range argument."""

    code = 'INVALID_REQUEST'
    http_status = 400
    default_message = 'Invalid request'


class ValidationError(_CodedError):
    """A request value that does not fit the API's schema."""

    code = 'VALIDATION_ERROR'
    http_status = 422
    default_message = 'The request does not fit the API'


class WorkspaceExists(_CodedError):
    """A workspace name already taken."""

    code = 'WORKSPACE_EXISTS'
    http_status = 409
    default_message = 'A workspace with this name already exists'


class UserExists(_CodedError):
    """A user name already taken."""

    code = 'USER_EXISTS'
    http_status = 409
    default_message = 'A user with this name already exists'


class DatabaseNotEmpty(_CodedError):
    """A database to copy into already holds data (details: row counts)."""

    code = 'DATABASE_NOT_EMPTY'
    http_status = 409
    default_message = 'The target database is not empty'


class StorageUnavailable(_CodedError):
    """The authority's database failed (disk, corruption, lock timeout)."""

    code = 'STORAGE_UNAVAILABLE'
    http_status = 503
    default_message = 'The token database is unavailable'


class DatabaseMissing(StorageUnavailable):
    """``open_store(..., create=False)`` found no database at ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(f'No token database at {path}', {'path': path})
        self.path = path


class IdempotencyKeyConflict(_CodedError):
    """An idempotency key that names a request of another caller: a key is
    bound to the principal that first sent it."""

    code = 'IDEMPOTENCY_KEY_CONFLICT'
    http_status = 409
    default_message = ('This idempotency key names a request of another '
                       'caller')


class ReplayedTokenGone(_CodedError):
    """A replay of an issue whose token is no longer valid (revoked or
    expired): the replay hands out nothing; ``details`` say which token and
    why."""

    code = 'REPLAYED_TOKEN_GONE'
    http_status = 410
    default_message = ('The token this idempotency key issued is no '
                       'longer valid')


class UserNotFound(_CodedError):
    """A user id or name the authority does not know."""

    code = 'USER_NOT_FOUND'
    http_status = 404
    default_message = 'User not found'


class IdentityExists(_CodedError):
    """An identity (issuer, subject) is linked to a user already."""

    code = 'IDENTITY_EXISTS'
    http_status = 409
    default_message = 'This identity is linked to a user already'


class IdentityNotLinked(_CodedError):
    """A person signed in at the provider who is no user of this server."""

    code = 'IDENTITY_NOT_LINKED'
    http_status = 403
    default_message = ('This identity is not linked to a user of this '
                       'server: ask its operator to link it '
                       '(ntcli-server user link)')


class SessionExpired(AuthenticationRequired):
    """A session whose lifetime is over: sign in (or refresh) again."""

    code = 'SESSION_EXPIRED'
    http_status = 401
    default_message = 'The session has expired: sign in again'


class ProviderRequired(AuthenticationRequired):
    """The server admits people only through its identity provider."""

    code = 'PROVIDER_REQUIRED'
    http_status = 401
    default_message = ('This server requires signing in through its '
                       'identity provider: run ntcli auth login')
class TrustPolicyNotFound(_CodedError):
    """A trust policy id or name the workspace does not have."""

    code = 'TRUST_POLICY_NOT_FOUND'
    http_status = 404
    default_message = 'Trust policy not found'


class TrustPolicyExists(_CodedError):
    """A trust policy name already taken in the workspace."""

    code = 'TRUST_POLICY_EXISTS'
    http_status = 409
    default_message = 'A trust policy with this name already exists'


class SubjectTokenRejected(_CodedError):
    """An external token offered for exchange that is not valid: malformed,
    from an untrusted issuer, for another audience, expired, badly signed
    or already used. The message says which, never the token."""

    code = 'INVALID_GRANT'
    http_status = 400
    default_message = 'The subject token is not valid'


class NoMatchingPolicy(Forbidden):
    """A valid external token that no trust policy accepts; the message
    says which condition failed."""

    code = 'NO_MATCHING_POLICY'
    http_status = 403
    default_message = 'No trust policy accepts this token'
