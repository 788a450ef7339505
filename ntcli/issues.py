"""The durable issue protocol: no token is left behind by a lost answer.

An issue request changes the endpoint before ntcli learns its result, so
what ntcli asked for is written down first:

1. **Write** a pending issue in the encrypted store: the request's
   idempotency key, what the token is for (``refresh``, ``create``), what
   was asked, and who asked (the user credential, a stored token, which
   ``NTCLI_TOKEN``, or the local owner). :func:`begin`
2. **Send** the request with that key. :func:`send`
3. **Keep** the token and drop the pending issue in one write (a refresh
   stores the token; ``create`` drops it once the token is printed).
   :func:`finish`

When the answer is lost (a timeout, a dropped connection, a 5xx, an answer
that is not the API's, a second Ctrl-C), :func:`send` asks once more with
the same key, which returns the same token if one was issued. When that
fails too, the pending issue stays, and the next command that talks to the
endpoint replays the key and revokes what it produced (:func:`settle`), as
pending revocations are finished. A replayed token is kept only once the
endpoint has validated it, and the server hands out none that was revoked
or has expired. The token history records each outcome.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ntcli import errors, revocations
from ntcli.credentials import PendingIssue, PendingRevocation
from ntcli.tokeninfo import token_claims

if TYPE_CHECKING:
    from ntcli.context import Context
    from ntcli.credentials import Credentials
    from ntcli.endpoints import Endpoint, IssuedToken

#: How long a server replays a key (ntcli_authority.authority.tokens'
#: IDEMPOTENCY_WINDOW): a pending issue older than that can no longer be
#: checked.
REPLAY_WINDOW = 24 * 3600
#: The lifetime a settling replay asks for, should the server never have
#: seen the key (then it issues a token now, which is revoked at once).
SETTLE_LIFETIME = 60


def new_key() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` makes it.

    The uuid module is not imported for this: it imports platform, about
    2.5 ms of every refresh.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40       # version 4
    raw[8] = raw[8] & 0x3F | 0x80       # the RFC 4122 variant
    text = raw.hex()
    return (f'{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-'
            f'{text[20:]}')


def begin(context: Context, creds: Credentials | None, bearer: str | None,
          workspace_id: str, *, purpose: str, expires_in: int | None,
          expires_at: int | None, scope: tuple[str, ...] | None,
          description: str | None = None) -> PendingIssue:
    """Step 1: write the pending issue, in the caller's transaction
    (``creds``) or one of its own; it is on disk before this returns, or
    this raises and nothing is sent."""
    if creds is None:
        with context.store.transaction() as own:
            return begin(context, own, bearer, workspace_id,
                         purpose=purpose, expires_in=expires_in,
                         expires_at=expires_at, scope=scope,
                         description=description)
    kind, bearer_jti, token = _who(context, creds, bearer)
    pending = PendingIssue(
        endpoint=context.credentials_key, workspace_id=workspace_id,
        key=new_key(),
        purpose=purpose, since=context.now(),
        request={'expires_in': expires_in, 'expires_at': expires_at,
                 'scope': None if scope is None else list(scope),
                 'description': description},
        bearer=kind, bearer_jti=bearer_jti, token=token)
    creds.add_pending_issue(pending)
    creds.commit()
    return pending


def send(context: Context, creds: Credentials | None, bearer: str | None,
         pending: PendingIssue) -> IssuedToken:
    """Step 2: send the request; ask once more when its answer is lost.

    A refusal drops the pending issue (nothing was issued); an answer lost
    twice keeps it and raises IssueInDoubt; a replayed token is validated
    before it is returned. ``creds``: as for :func:`begin`.
    """
    endpoint = context.endpoint
    request = pending.request
    failure: errors.NtcliError | None = None
    for _attempt in range(2):
        try:
            issued = endpoint.issue_token(
                bearer, pending.workspace_id,
                expires_in=request.get('expires_in'),
                expires_at=request.get('expires_at'),
                description=request.get('description'),
                idempotency_key=pending.key, scope=request.get('scope'))
        except errors.Interrupted as exc:
            if exc.detail is None:
                exc.detail = ('the endpoint may have issued a token; the '
                              'next ntcli command asks again and revokes '
                              'it.')
            raise
        except errors.NtcliError as exc:
            if not in_doubt(exc):
                _write(context, creds, lambda c: c.remove_pending_issue(
                    pending.endpoint, pending.key))
                raise
            failure = exc
            continue
        if issued.replayed:
            _check_replayed(context, creds, pending, issued)
        return issued
    assert failure is not None
    pending.attempts += 2
    pending.last_error = failure.message
    _write(context, creds, lambda c: c.update_pending_issue(pending))
    context.history.record(
        pending.purpose, jti=None, workspace_id=pending.workspace_id,
        endpoint=context.endpoint.key, outcome='answer lost; pending',
        detail=f'idempotency key {pending.key}')
    raise errors.IssueInDoubt(
        f'{failure.message}; the endpoint may have issued a token that '
        'ntcli did not receive',
        'Your stored token is unchanged; the next ntcli command that '
        'reaches the endpoint asks again with the same idempotency key and '
        'revokes that token, if there is one. '
        + (failure.hint or '')) from failure


def finish(creds: Credentials, pending: PendingIssue) -> None:
    """Step 3: the token is kept; the pending issue goes (in the caller's
    write)."""
    creds.remove_pending_issue(pending.endpoint, pending.key)


def delivered(context: Context, pending: PendingIssue) -> None:
    """Step 3 of ``token create``: the token reached its reader (or was
    revoked); the pending issue goes, in a write of its own."""
    _write(context, None, lambda c: finish(c, pending))


def in_doubt(exc: errors.NtcliError) -> bool:
    """True when a request may have been acted on though its answer did
    not arrive: an endpoint failure after the request was sent."""
    return isinstance(exc, errors.EndpointError) and not exc.nothing_sent


def settle(context: Context) -> None:
    """Finish the pending issues of the context's endpoint: replay each
    key and revoke the token it produced (nobody received it)."""
    endpoint = context.endpoint
    try:
        if not context.store.read().pending_issues(
                context.credentials_key):
            return                      # the common case: one cheap read
    except errors.NtcliError:
        return  # the command itself will report an unreadable store
    with context.store.transaction() as creds:
        for pending in creds.pending_issues(context.credentials_key):
            _settle_one(context, creds, endpoint, pending)


# -- helpers ------------------------------------------------------------------
def _who(context: Context, creds: Credentials, bearer: str | None
         ) -> tuple[str, str | None, str | None]:
    """Who asks: (kind, the JTI of NTCLI_TOKEN, a stored token's value).

    NTCLI_TOKEN is never written down (only its JTI, to recognize it); a
    stored token is, as a pending revocation keeps its token.
    """
    if bearer is None:
        return 'local', None, None
    if bearer == context.env_token():
        try:
            jti = token_claims(bearer).get('jti')
        except errors.TokenInvalid:
            jti = None
        return 'env', jti if isinstance(jti, str) else None, None
    if bearer == creds.get_user_credential(context.credentials_key):
        return 'user', None, None
    return 'token', None, bearer


def _bearer(context: Context, creds: Credentials,
            pending: PendingIssue) -> tuple[bool, str | None]:
    """(found, the credential the pending issue was asked with)."""
    if pending.bearer == 'local':
        return True, None
    if pending.bearer == 'user':
        user = creds.get_user_credential(pending.endpoint)
        return user is not None, user
    if pending.bearer == 'env':
        env = context.env_token()
        if env and pending.bearer_jti:
            try:
                if token_claims(env).get('jti') == pending.bearer_jti:
                    return True, env
            except errors.TokenInvalid:
                pass
        return False, None
    return pending.token is not None, pending.token


def _settle_one(context: Context, creds: Credentials, endpoint: Endpoint,
                pending: PendingIssue) -> None:
    found, bearer = _bearer(context, creds, pending)
    old = context.now() - pending.since > REPLAY_WINDOW
    if not found:
        _give_up_or_wait(context, creds, pending, old,
                         'the credential it was asked with is not here '
                         + ('(NTCLI_TOKEN)' if pending.bearer == 'env'
                            else '(logged out)'))
        return
    try:
        issued = endpoint.issue_token(
            bearer, pending.workspace_id, expires_in=SETTLE_LIFETIME,
            scope=pending.request.get('scope'),
            idempotency_key=pending.key)
    except errors.ReplayedTokenGone as exc:
        creds.remove_pending_issue(pending.endpoint, pending.key)
        _record(context, pending, exc.jti, 'nothing to revoke: the token '
                'was already revoked or has expired')
        return
    except errors.NtcliError as exc:
        if in_doubt(exc):
            pending.attempts += 1
            pending.last_error = exc.message
            creds.update_pending_issue(pending)
            context.warn(f'a token {pending.purpose} whose answer was lost '
                         f'is still unsettled: {exc.message}')
            return
        _give_up_or_wait(context, creds, pending, True, exc.message)
        return
    # Nobody received it: it goes, by its own hand (a token may revoke
    # itself whoever asked for it).
    _, failure = revocations.revoke_quietly(
        endpoint, issued.token, issued.workspace_id, issued.jti)
    if failure is not None:
        creds.add_pending_revocation(PendingRevocation(
            endpoint=pending.endpoint, workspace_id=issued.workspace_id,
            jti=issued.jti, since=context.now(), last_error=failure,
            token=issued.token))
    creds.remove_pending_issue(pending.endpoint, pending.key)
    outcome = ('revoked: its answer had been lost' if failure is None
               else 'revocation pending: its answer had been lost')
    _record(context, pending, issued.jti, outcome)
    context.warn(f'the token {issued.jti} of an earlier token '
                 f'{pending.purpose}, whose answer was lost, was '
                 + ('revoked.' if failure is None else
                    'not revoked yet; the revocation will be retried.'))


def _give_up_or_wait(context: Context, creds: Credentials,
                     pending: PendingIssue, give_up: bool,
                     reason: str) -> None:
    """Keep an unsettled pending issue for a later command, or, when it
    can never be settled, drop it and say what the user should check."""
    if not give_up:
        pending.attempts += 1
        pending.last_error = reason
        creds.update_pending_issue(pending)
        context.warn(f'a token {pending.purpose} whose answer was lost is '
                     f'still unsettled: {reason}')
        return
    creds.remove_pending_issue(pending.endpoint, pending.key)
    _record(context, pending, None, f'unsettled, given up: {reason}')
    context.warn(f'ntcli could not check whether an earlier token '
                 f'{pending.purpose} (idempotency key {pending.key}) '
                 f'issued a token: {reason}. Look for it with ntcli token '
                 'list and revoke it if nobody uses it.')


def _record(context: Context, pending: PendingIssue, jti: str | None,
            outcome: str) -> None:
    context.history.record(pending.purpose, jti=jti, outcome=outcome,
                           workspace_id=pending.workspace_id,
                           endpoint=context.endpoint.key,
                           detail=f'idempotency key {pending.key}')


def _check_replayed(context: Context, creds: Credentials | None,
                    pending: PendingIssue, issued: IssuedToken) -> None:
    """A replayed token is kept only once the endpoint has validated it."""
    try:
        context.endpoint.validate_token(issued.token)
    except errors.TokenRejected as exc:
        _write(context, creds, lambda c: c.remove_pending_issue(
            pending.endpoint, pending.key))
        raise errors.ReplayedTokenGone(
            f'The token the endpoint issued for this request ({issued.jti})'
            f' is no longer valid: {exc.message}',
            'Run the command again.') from exc


def _write(context: Context, creds: Credentials | None,
           change: Callable[[Credentials], None]) -> None:
    """Make ``change`` and write it now: in the caller's transaction
    (``creds``) or one of its own. A failure is a warning: the pending
    issue then stays, and the next command settles it."""
    try:
        if creds is not None:
            change(creds)
            creds.commit()
        else:
            with context.store.transaction() as own:
                change(own)
    except errors.NtcliError as exc:
        context.warn(f'could not update the pending issue: {exc.message}')

