"""Signing in through the team's identity provider (OpenID Connect).

The operator names one OpenID Provider (issuer URL and the client id the
CLI uses there) with ``ntcli-server serve --oidc-issuer URL
--oidc-client-id ID`` or the matching ``NTCLI_SERVER_OIDC_*`` environment
variables (:class:`SignInSettings`). The server then:

* tells clients how to sign in: ``GET /v1/auth/providers`` (no
  credential needed) gives the issuer, client id and scopes, and whether
  user credentials (``ntu_``) are still accepted;
* trades a provider's ID token for a user session at the token-exchange
  endpoint (:mod:`ntcli_server.exchange`, ``subject_token_type`` id_token,
  ``issued_token_type`` :data:`ntcli_core.oauth.TOKEN_TYPE_SESSION`): the
  token is verified by :mod:`ntcli_authority.oidc` (OpenID Connect Core
  §3.1.3.7), the person
  is mapped to a user by (issuer, subject) and a session opened by
  :meth:`ntcli_authority.authority.Authority.sign_in`;
* ends the caller's session: ``DELETE /v1/auth/session`` (logout).

A refresh is a new exchange: the CLI gets a fresh ID token from the
provider with its refresh token (the provider still vouching for the
person) and trades it for a new session, then ends the old one.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import typing

import falcon

from ntcli_authority import errors, oidc
from ntcli_authority.authority import (
    DEFAULT_SESSION_LIFETIME,
    MAX_SESSION_LIFETIME,
    SignInPolicy,
)
from ntcli_core import oauth, timefmt
from ntcli_server import exchange
from ntcli_server.api import TokenAPI, origin

#: The token type of a user session (RFC 8693 §3 allows URIs of our own).
DEFAULT_SCOPES = ('openid', 'profile', 'email', 'offline_access')

ENV_ISSUER = 'NTCLI_SERVER_OIDC_ISSUER'
ENV_CLIENT_ID = 'NTCLI_SERVER_OIDC_CLIENT_ID'
ENV_SCOPES = 'NTCLI_SERVER_OIDC_SCOPES'
ENV_AUTO_CREATE = 'NTCLI_SERVER_OIDC_AUTO_CREATE'
ENV_REQUIRE = 'NTCLI_SERVER_OIDC_REQUIRE'
ENV_SESSION_LIFETIME = 'NTCLI_SERVER_SESSION_LIFETIME'


class SignInSettings(typing.NamedTuple):
    """The identity provider the server trusts, and the sign-in policy."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    policy: SignInPolicy = SignInPolicy()


def _flag(value: str | None) -> bool:
    return (value or '').strip().lower() in ('1', 'true', 'yes', 'on')


def required_by_environment() -> bool:
    """Whether the environment turns ``--oidc-require`` on (what the admin
    commands on the server's machine can know of it)."""
    return _flag(os.environ.get(ENV_REQUIRE))


def lifetime(text: str) -> int:
    """Seconds from ``28800`` or a duration such as ``8h``, ``90m``,
    ``1d``: 5 minutes to a week (argparse type)."""
    units = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            seconds = int(text[:-1]) * units[text[-1]]
        else:
            seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'not a duration: {text!r} (seconds, or a number with s, m, h '
            'or d)') from None
    if not 300 <= seconds <= MAX_SESSION_LIFETIME:
        raise argparse.ArgumentTypeError(
            'a session lasts 5 minutes to 7 days')
    return seconds


def add_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s sign-in options (each defaults to its environment
    variable)."""
    env = os.environ
    group = parser.add_argument_group(
        'signing in through an OpenID Provider')
    group.add_argument(
        '--oidc-issuer', metavar='URL', default=env.get(ENV_ISSUER),
        help='The issuer URL of the identity provider people sign in with '
             f'(env {ENV_ISSUER}); https, or http on the loopback interface.')
    group.add_argument(
        '--oidc-client-id', metavar='ID', default=env.get(ENV_CLIENT_ID),
        help='The client id ntcli uses at the provider: a public client '
             'with the device and authorization code grants '
             f'(env {ENV_CLIENT_ID}).')
    group.add_argument(
        '--oidc-scopes', metavar='SCOPES',
        default=env.get(ENV_SCOPES, ' '.join(DEFAULT_SCOPES)),
        help='The scopes ntcli asks for, space-separated (default '
             f'"{" ".join(DEFAULT_SCOPES)}"; env {ENV_SCOPES}).')
    group.add_argument(
        '--oidc-auto-create', action='store_true',
        default=_flag(env.get(ENV_AUTO_CREATE)),
        help='Create a user for a person who signs in for the first time '
             'and is linked to none (default: off; the operator links each '
             f'one with user link; env {ENV_AUTO_CREATE}=1).')
    group.add_argument(
        '--oidc-require', action='store_true',
        default=_flag(env.get(ENV_REQUIRE)),
        help='Refuse user credentials: people sign in through the '
             'provider only. The admin commands on this machine keep '
             f'working (env {ENV_REQUIRE}=1).')
    group.add_argument(
        '--session-lifetime', metavar='DURATION', type=lifetime,
        default=lifetime(env.get(ENV_SESSION_LIFETIME)
                         or str(DEFAULT_SESSION_LIFETIME)),
        help='How long a sign-in lasts before it is refreshed: seconds or '
             '30m, 8h, 1d (default 8h, a working day; 5m to 7d; env '
             f'{ENV_SESSION_LIFETIME}).')


def settings_from(args: argparse.Namespace) -> SignInSettings | None:
    """The settings ``serve``'s options give; None without a provider.
    Raises ValueError with a message for an inconsistent set."""
    issuer, client_id = args.oidc_issuer, args.oidc_client_id
    if not issuer:
        if client_id or args.oidc_require or args.oidc_auto_create:
            raise ValueError('--oidc-client-id, --oidc-require and '
                             '--oidc-auto-create need --oidc-issuer')
        return None
    if not client_id:
        raise ValueError('--oidc-issuer needs --oidc-client-id')
    try:
        oidc.check_url(issuer, what='--oidc-issuer')
    except errors.AuthorityError as exc:
        raise ValueError(exc.message) from None
    scopes = tuple(args.oidc_scopes.split())
    if 'openid' not in scopes:
        raise ValueError("--oidc-scopes must include 'openid'")
    return SignInSettings(
        issuer=issuer, client_id=client_id, scopes=scopes,
        policy=SignInPolicy(auto_create=args.oidc_auto_create,
                            require_provider=args.oidc_require,
                            session_lifetime=args.session_lifetime))


def _unverified_identity(token: str) -> tuple[str | None, str | None,
                                              str | None]:
    """What a refused token says of whom it names (for the audit trail:
    marked refused, so never taken as true), each shortened."""
    try:
        payload = token.split('.')[1]
        claims = json.loads(base64.urlsafe_b64decode(
            payload + '=' * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError, RecursionError):
        return None, None, None
    if not isinstance(claims, dict):
        return None, None, None

    def text(name: str, limit: int) -> str | None:
        value = claims.get(name)
        if not isinstance(value, str):
            return None
        return ''.join(c for c in value if c.isprintable()
                       and not c.isspace())[:limit] or None
    return text('iss', 200), text('sub', 100), text('email', 100)


class SignInExchange:
    """The exchange of a provider's ID token for a user session."""

    issued_token_type = oauth.TOKEN_TYPE_SESSION
    subject_token_types: tuple[str, ...] = (oauth.TOKEN_TYPE_ID_TOKEN,)

    def __init__(self, api: TokenAPI, settings: SignInSettings,
                 issuer: oidc.Issuer) -> None:
        self.api = api
        self.settings = settings
        self.issuer = issuer

    def exchange(self, request: exchange.ExchangeRequest
                 ) -> dict[str, typing.Any]:
        authority = self.api.authority
        metrics = self.api.metrics
        try:
            verified = self.issuer.verify_id_token(
                request.subject_token, client_id=self.settings.client_id)
        except oidc.ProviderUnavailable:
            metrics.sign_in('provider_unavailable')
            raise
        except oidc.TokenRejected as exc:
            metrics.sign_in('rejected')
            authority.record_sign_in_refusal(
                *_unverified_identity(request.subject_token),
                f'token_{exc.reason}', origin=request.origin)
            raise exchange.ExchangeError('invalid_grant', exc.message) \
                from None
        try:
            new = authority.sign_in(verified, origin=request.origin)
        except errors.IdentityNotLinked as exc:
            metrics.sign_in('not_linked')
            raise exchange.ExchangeError('invalid_grant', exc.message) \
                from None
        metrics.sign_in('success')
        session = new.session
        return {'access_token': new.token,
                'issued_token_type': oauth.TOKEN_TYPE_SESSION,
                'token_type': 'Bearer',
                'expires_in': session.expires_at - authority.now(),
                'expires_at': timefmt.iso(session.expires_at),
                'session_id': session.id,
                'user_id': new.user.id, 'user_name': new.user.name,
                'user_created': new.created_user}


class ProvidersResource:
    """``GET /v1/auth/providers``: how to sign in here."""

    def __init__(self, settings: SignInSettings | None) -> None:
        self.settings = settings

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        settings = self.settings
        providers = [] if settings is None else [{
            'issuer': settings.issuer, 'client_id': settings.client_id,
            'scopes': list(settings.scopes),
            'token_exchange': oauth.EXCHANGE_PATH,
            'subject_token_type': oauth.TOKEN_TYPE_ID_TOKEN,
            'requested_token_type': oauth.TOKEN_TYPE_SESSION}]
        resp.media = {
            'providers': providers,
            'user_credentials': settings is None
            or not settings.policy.require_provider}


class SessionResource:
    """``DELETE /v1/auth/session``: end the caller's session (logout)."""

    def __init__(self, api: TokenAPI) -> None:
        self.api = api

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.api.caller(req)
        ended = self.api.authority.end_session(
            principal, origin=origin(req))
        resp.media = {'session_id': principal.session_id,
                      'status': 'revoked' if ended else 'already_revoked'}
