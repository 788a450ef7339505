"""The one error hierarchy of ntcli.

Every expected failure is an :class:`NtcliError` carrying the message the user
sees and, usually, a hint saying what to do. Only the app turns these into
stderr lines and exit statuses (1 for a failed operation, 2 for bad usage).
"""

from __future__ import annotations

__all__ = ['AuthenticationRequired', 'CommandNotExecutable', 'CommandNotFound',
           'ConfigError', 'Conflict', 'CredentialStoreError',
           'EndpointError', 'EndpointUnreachable', 'Forbidden',
           'InsufficientScope', 'Interrupted', 'InvalidExpiration',
           'InvalidRequest', 'IssueInDoubt', 'KeyUnavailable',
           'LockTimeout', 'NoStoredToken', 'NoWorkspaceSelected',
           'NotFound', 'NtcliError', 'OutputUndelivered',
           'PluginError', 'ReplayedTokenGone', 'SignInRequired',
           'TokenExpired', 'TokenInvalid', 'TokenNotFound',
           'TokenRejected', 'TokenRevoked', 'UnsafePath',
           'UsageError', 'WorkspaceNotFound', 'from_api_error']


class NtcliError(Exception):
    """An expected failure, with a message for the user and a hint."""

    exit_code = 1
    message = 'ntcli failed'
    hint: str | None = None
    code: str | None = None     # the token API's error code, if from one

    def __init__(self, message: str | None = None, hint: str | None = None,
                 *, details: object = None) -> None:
        if message is not None:
            self.message = message
        if hint is not None:
            self.hint = hint
        self.details = details
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UsageError(NtcliError):
    """The command line was wrong; exit status 2."""

    exit_code = 2


class InvalidExpiration(UsageError):
    """An expiration option that cannot be honoured."""

    message = 'Invalid expiration time'


class NoWorkspaceSelected(NtcliError):
    """No workspace could be determined for a workspace command."""

    message = 'No workspace selected'
    hint = ("Pass --workspace NAME, set NTCLI_WORKSPACE, "
            "or run 'ntcli workspace select NAME'.")


class AuthenticationRequired(NtcliError):
    """There is no usable credential for the endpoint."""

    message = 'Authentication required. Try running ntcli token refresh'


class SignInRequired(AuthenticationRequired):
    """The endpoint wants the person to sign in (again) through its
    identity provider: a session that ended, or credentials it refuses."""

    message = 'Sign in through the identity provider: run ntcli auth login'
    hint = 'Run ntcli auth login.'


class NoStoredToken(AuthenticationRequired):
    """The workspace has no token: none stored and none in NTCLI_TOKEN."""


class Forbidden(NtcliError):
    """The credential is valid but may not do this."""

    message = 'Permission denied'


class InsufficientScope(Forbidden):
    """The token is valid but lacks a scope the operation needs."""

    message = 'The token does not hold the scope this needs'
    hint = ("Use a user credential ('ntcli auth login'), or a token issued "
            'with the scopes needed (ntcli token create --scope ...).')


class NotFound(NtcliError):
    """Something named on the command line does not exist."""

    message = 'Not found'


class TokenNotFound(NotFound):
    """A token JTI that the endpoint does not know."""


class WorkspaceNotFound(NotFound):
    """A workspace name or id that the endpoint does not know."""

    hint = "Run 'ntcli workspace list' to see the workspaces."


class TokenRejected(NtcliError):
    """The endpoint refused a token: expired, revoked or malformed."""

    status = 'invalid'


class TokenExpired(TokenRejected):
    status = 'expired'
    message = 'The token has expired'
    hint = 'Run ntcli token refresh to get a new one.'


class TokenRevoked(TokenRejected):
    status = 'revoked'
    message = 'The token has been revoked'
    hint = 'Run ntcli token refresh to get a new one.'


class TokenInvalid(TokenRejected):
    status = 'invalid'
    message = 'The token is not valid'
    hint = 'Run ntcli token refresh to get a new one.'


class Conflict(NtcliError):
    """The request conflicts with the current state (a duplicate name...)."""


class InvalidRequest(UsageError):
    """The endpoint rejected the request as malformed."""


class EndpointError(NtcliError):
    """The endpoint failed or answered something we cannot use."""

    hint = 'Try again later; run with --debug for details.'
    #: True when the request was never sent (no connection could be made):
    #: the endpoint cannot have acted on it (see ntcli.issues)
    nothing_sent = False


class IssueInDoubt(EndpointError):
    """An issue request whose answer was lost: the endpoint may have
    issued a token; the next command settles it (ntcli.issues)."""


class ReplayedTokenGone(NtcliError):
    """The token an idempotency key issued is no longer valid: revoked or
    expired since."""

    @property
    def jti(self) -> str | None:
        jti = (self.details or {}).get('jti') if isinstance(
            self.details, dict) else None
        return jti if isinstance(jti, str) else None


class EndpointUnreachable(EndpointError):
    """The endpoint could not be reached at all (connection, timeout)."""


class CredentialStoreError(NtcliError):
    """The local credentials file cannot be read or written."""


class ConfigError(NtcliError):
    """The local configuration cannot be read or written."""


class KeyUnavailable(CredentialStoreError):
    """The key of the credentials is kept somewhere that cannot be used
    now (a locked or stopped keyring): the credentials themselves are
    intact and must not be moved aside."""


class UnsafePath(CredentialStoreError):
    """A file of ntcli's is a symlink or special file, or a directory for
    secrets is writable by others: refused, never followed or changed."""


class LockTimeout(NtcliError):
    """Another ntcli process holds the credentials lock for too long."""

    message = 'Another ntcli process is using the credentials'
    hint = 'Wait for it to finish and try again.'


class OutputUndelivered(NtcliError):
    """The command's output could not be written to standard output.

    Exit status 1; the message says what the command did all the same."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: the command stops, exit 128 + signal.

    A BaseException, like KeyboardInterrupt, so that no ``except
    Exception`` swallows it; transactions clean up and re-raise it.
    """

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.exit_code = 128 + signum
        self.name = name
        self.detail: str | None = None


class PluginError(NtcliError):
    """A plugin could not be loaded."""


class CommandNotFound(NtcliError):
    """A program to run does not exist; 127, as shells say it."""

    exit_code = 127


class CommandNotExecutable(NtcliError):
    """A program to run exists but cannot be run; 126, as shells say it."""

    exit_code = 126


# Error codes of the token API (docs/reference/api.rst) mapped to the classes
# above; both endpoints use it, so a code means the same thing wherever it
# comes from.
API_ERRORS: dict[str, type[NtcliError]] = {
    'AUTHENTICATION_REQUIRED': AuthenticationRequired,
    'INVALID_CREDENTIALS': AuthenticationRequired,
    'TOKEN_EXPIRED': TokenExpired,
    'TOKEN_REVOKED': TokenRevoked,
    'TOKEN_INVALID': TokenInvalid,
    'FORBIDDEN': Forbidden,
    'INSUFFICIENT_SCOPE': InsufficientScope,
    'WORKSPACE_NOT_FOUND': WorkspaceNotFound,
    'TOKEN_NOT_FOUND': TokenNotFound,
    'NOT_FOUND': NotFound,
    'INVALID_REQUEST': InvalidRequest,
    'VALIDATION_ERROR': InvalidRequest,
    'CONFLICT': Conflict,
    'WORKSPACE_EXISTS': Conflict,
    'USER_EXISTS': Conflict,
    'IDEMPOTENCY_KEY_CONFLICT': Conflict,
    'REPLAYED_TOKEN_GONE': ReplayedTokenGone,
    'USER_NOT_FOUND': NotFound,
    'PROVIDER_REQUIRED': SignInRequired,
    'SESSION_EXPIRED': SignInRequired,
    'TRUST_POLICY_NOT_FOUND': NotFound,
    'TRUST_POLICY_EXISTS': Conflict,
    'NO_MATCHING_POLICY': Forbidden,
    'PAYLOAD_TOO_LARGE': InvalidRequest,
    'UNSUPPORTED_MEDIA_TYPE': InvalidRequest,
    'METHOD_NOT_ALLOWED': EndpointError,
    'STORAGE_UNAVAILABLE': EndpointError,
    'INTERNAL_ERROR': EndpointError,
}


def from_api_error(code: str, message: str | None,
                   details: object = None) -> NtcliError:
    """Build the ntcli error for an error code of the token API.

    A missing credential is reported with the message the user's documents
    name, whatever the endpoint's wording.
    """
    cls = API_ERRORS.get(code, EndpointError)
    if cls is AuthenticationRequired:
        message = None
    named = details.get('workspace_id') if isinstance(details, dict) \
        else None
    if cls is WorkspaceNotFound and named and message \
            and named not in message:
        message = f'{message}: {named}'
    err = cls(message or None, details=details)
    err.code = code
    return err
