"""What is known about the current workspace token, for show and status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ntcli import errors
from ntcli.context import whole
from ntcli_core import scopes, timefmt
from ntcli_core.tokens import unverified_claims

if TYPE_CHECKING:
    from ntcli.context import Context, PluginContext

__all__ = ['describe_current', 'scopes_of', 'token_claims', 'usable_token']

MESSAGES = {
    'active': 'Token is valid and ready to use.',
    'expired': 'Token has expired. Run ntcli token refresh to get a new one.',
    'revoked': 'Token has been revoked. Run ntcli token refresh to get a new '
               'one.',
    'invalid': 'Token cannot be decoded or is not valid. Run ntcli token '
               'refresh to replace it.',
}


def token_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a ``wst_`` token (for local display only);
    raises TokenInvalid when it cannot be decoded."""
    try:
        return unverified_claims(token)
    except ValueError as exc:
        raise errors.TokenInvalid(str(exc)) from exc


def scopes_of(token: str, recorded: scopes.Scopes | None = None
              ) -> scopes.Scopes | None:
    """A token's scopes: those the endpoint said it granted (``recorded``),
    else its own (unverified) scope claim; None when neither says."""
    if recorded is not None:
        return recorded
    try:
        return scopes.reported(token_claims(token).get('scope'))
    except errors.TokenInvalid:
        return None


def usable_token(view: Context | PluginContext) -> str:
    """The workspace token a command would use: NTCLI_TOKEN, else the
    stored token of the workspace; not one known to have expired, which
    its user could only fail with. Raises NoStoredToken or TokenExpired."""
    context = whole(view)
    token = context.env_token()
    if not token and context.embedded_database_missing():
        raise errors.NoStoredToken()    # and no workspace to look in
    if token:
        try:
            expires_at = token_claims(token).get('exp')
        except errors.TokenInvalid:
            expires_at = None     # the endpoint will judge it
        what, hint = 'The token in NTCLI_TOKEN', \
            'Set NTCLI_TOKEN to a valid token, or unset it.'
    else:
        stored = context.stored_token(context.workspace.id)
        if stored is None:
            raise errors.NoStoredToken()
        token, expires_at = stored.token, stored.expires_at
        what, hint = f'The stored token {stored.jti}', (
            "Run 'ntcli token refresh' (token exec: or add "
            '--refresh-if-expires-within DURATION).')
    if isinstance(expires_at, int) and expires_at <= context.now():
        raise errors.TokenExpired(f'{what} has expired', hint)
    return token


def describe_current(view: Context | PluginContext) -> dict[str, Any]:
    """The current token's facts, its status from the endpoint when it can
    be reached, and a message for people. Raises AuthenticationRequired when
    there is no token at all."""
    context = whole(view)
    token = context.env_token()
    if not token and context.embedded_database_missing():
        raise errors.NoStoredToken()    # and no workspace to look in
    workspace = context.workspace
    source = 'environment (NTCLI_TOKEN)'
    recorded = None
    if not token:
        stored = context.stored_token(workspace.id)
        if stored is None:
            raise errors.NoStoredToken()
        token, recorded = stored.token, stored.scope
        source = 'stored'
    now = context.now()
    try:
        claims = token_claims(token)
        jti = claims.get('jti')
        created = claims.get('iat')
        expires = claims.get('exp')
        local_status = 'expired' if expires is not None and expires <= now \
            else 'active'
    except errors.TokenInvalid:
        jti = created = expires = None
        local_status = 'invalid'
    status, verified, note = local_status, False, None
    retiring_until = None
    if local_status != 'invalid':
        try:
            valid = context.endpoint.validate_token(token)
            status, verified = 'active', True
            retiring_until = valid.revoked_at
        except errors.TokenRejected as exc:
            status, verified = exc.status, True
        except errors.NtcliError as exc:
            note = f'Status could not be verified: {exc.message}'
    else:
        verified = True  # nothing to ask: it cannot be decoded
    days = None
    if expires is not None:
        days = max(0, -(-(int(expires) - now) // 86400))  # rounded up
    if note is not None:
        message = f'{note}. Showing what is stored locally.'
    elif retiring_until is not None:
        message = (f'Token is valid until {timefmt.iso(retiring_until)}, '
                   'when its grace period ends: it was replaced by a '
                   "refresh. Use the new token ('ntcli token show' where it "
                   'was refreshed).')
    elif source == 'stored' or status == 'active':
        message = MESSAGES[status]
    else:
        message = (f'The token in NTCLI_TOKEN is {status}: unset NTCLI_TOKEN '
                   'to use the stored token, or set a valid one.')
    return {
        'jti': jti,
        'created_at': timefmt.iso(created),
        'expires_at': timefmt.iso(expires),
        'status': status,
        'workspace_id': claims.get('sub', workspace.id)
        if local_status != 'invalid' else workspace.id,
        'is_valid': status == 'active',
        'days_until_expiry': days,
        'retiring_until': timefmt.iso(retiring_until),
        'scope': None if local_status == 'invalid' else
        _listed(scopes_of(token, recorded)),
        'verified': verified,
        'source': source,
        'message': message,
        'token': token,
    }


def _listed(names: scopes.Scopes | None) -> list[str] | None:
    return None if names is None else list(names)
