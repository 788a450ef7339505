"""Signing in through the identity provider an endpoint trusts.

``ntcli auth login`` asks the endpoint how to sign in
(``GET /v1/auth/providers``), then runs one of two OAuth 2.0 flows as a
public client of the provider (:mod:`ntcli.oidc_client`: the device grant,
or the authorization code grant with PKCE and a loopback redirect), gets
the person's ID token, checks it, and trades it at the endpoint for a ntcli
session (RFC 8693 token exchange). The session is stored as the
endpoint's user credential, with the provider's refresh token beside it,
only in the encrypted credentials store.

A session is renewed without the person doing anything
(:func:`renew`): shortly before it expires, the refresh token gets a new ID
token from the provider, which is exchanged for a new session; the old one
is ended. When the provider no longer vouches for the person (the refresh
token is refused), they must sign in again. This module is imported only
by ``auth login``, ``auth logout`` and a renewal.
"""

from __future__ import annotations

import contextlib
import typing

from ntcli import errors
from ntcli.credentials import SignIn
from ntcli.endpoints import SignInProvider
from ntcli.loopback import open_browser
from ntcli.oidc_client import BROWSER_WAIT, ProviderClient

if typing.TYPE_CHECKING:
    from ntcli.credential_store import CredentialStore
    from ntcli.endpoints import Endpoint
    from ntcli.history import AuditLog

__all__ = ['renew', 'sign_in', 'sign_out']


class Context(typing.Protocol):
    """What a sign-in needs of the run's context (ntcli.context, which
    renews a session through this module)."""

    @property
    def app(self) -> typing.Any: ...
    @property
    def credentials_key(self) -> str: ...
    @property
    def endpoint(self) -> Endpoint: ...
    @property
    def history(self) -> AuditLog: ...
    @property
    def store(self) -> CredentialStore: ...
    @property
    def timeout(self) -> float: ...
    def warn(self, message: str) -> None: ...


def client_for(context: Context, provider: SignInProvider
               ) -> ProviderClient:
    return ProviderClient(provider, timeout=context.timeout,
                          say=lambda line: context.app.stderr.write(
                              line + '\n'))


def sign_in(context: Context, provider: SignInProvider, *,
            browser: bool, wait: float = BROWSER_WAIT) -> tuple[
                SignIn, bool]:
    """Run a flow, exchange the ID token for a session, store both;
    return the sign-in and whether the server created the user."""
    endpoint = context.endpoint
    client = client_for(context, provider)
    if browser:
        tokens, nonce = client.browser_flow(open_browser, wait)
        verified = client.verify(tokens, nonce)
    else:
        tokens = client.device_flow()
        verified = client.verify(tokens)
    session = endpoint.exchange_id_token(tokens.id_token)
    record = SignIn(issuer=provider.issuer, client_id=provider.client_id,
                    subject=verified.subject, user_name=session.user_name,
                    session_id=session.session_id,
                    expires_at=session.expires_at, email=verified.email,
                    refresh_token=tokens.refresh_token)
    with context.store.transaction() as creds:
        previous = creds.get_user_credential(context.credentials_key)
        creds.set_sign_in(context.credentials_key, session.token, record)
    if previous and previous.startswith('nts_'):
        # the session of an earlier sign-in on this machine
        _end_quietly(context, previous)
    return record, session.user_created


def renew(context: Context, record: SignIn) -> str | None:
    """A new session for a sign-in about to expire, from the provider's
    refresh token; None when it cannot be renewed (then the old session
    is used as long as it lasts, and the person is told)."""
    endpoint = context.endpoint
    if not record.refresh_token:
        return None
    client = client_for(context, SignInProvider(
        issuer=record.issuer, client_id=record.client_id, scopes=(
            'openid', 'profile', 'email', 'offline_access')))
    try:
        tokens = client.refresh(record.refresh_token)
        if tokens is None:
            context.warn(f'{record.issuer} no longer renews your sign-in: '
                         'run ntcli auth login.')
            key = context.credentials_key
            with context.store.transaction() as creds:
                current = creds.get_sign_in(key)
                if current is not None and \
                        current.session_id == record.session_id:
                    current.refresh_token = None
                    token = creds.get_user_credential(key)
                    if token:
                        creds.set_sign_in(key, token, current)
            return None
        verified = client.verify(tokens)
        if verified.subject != record.subject:
            raise errors.AuthenticationRequired(
                'The identity provider renewed the sign-in of someone else',
                'Run ntcli auth login.')
        session = endpoint.exchange_id_token(tokens.id_token)
    except errors.NtcliError as exc:
        context.warn(f'the sign-in could not be renewed: {exc.message}')
        return None
    renewed = record.replace(session_id=session.session_id,
                         user_name=session.user_name,
                         expires_at=session.expires_at,
                         email=verified.email or record.email,
                         refresh_token=tokens.refresh_token)
    with context.store.transaction() as creds:
        old = creds.get_user_credential(context.credentials_key)
        creds.set_sign_in(context.credentials_key, session.token,
                          renewed)
    context.history.record('login', jti=None, outcome='sign-in renewed',
                           endpoint=endpoint.key)
    if old and old != session.token:
        _end_quietly(context, old)
    return session.token


def _end_quietly(context: Context, session_token: str) -> None:
    with contextlib.suppress(errors.NtcliError):    # it expires anyway
        context.endpoint.end_session(session_token)


def sign_out(context: Context, record: SignIn, session_token: str
             ) -> list[str]:
    """End the session at the endpoint and revoke the refresh token at the
    provider when it can; return warnings for what could not be done."""
    problems = []
    try:
        context.endpoint.end_session(session_token)
    except errors.NtcliError as exc:
        problems.append(f'the session could not be ended at the server: '
                        f'{exc.message} (it expires on its own)')
    if record.refresh_token:
        client = client_for(context, SignInProvider(
            issuer=record.issuer, client_id=record.client_id, scopes=()))
        try:
            if not client.revoke(record.refresh_token):
                problems.append(f'{record.issuer} offers no revocation: its '
                                'refresh token was forgotten and lapses on '
                                'its own')
        except errors.NtcliError as exc:
            problems.append(f'the sign-in could not be revoked at '
                            f'{record.issuer}: {exc.message}')
    return problems
