"""The HTTP endpoint: a remote token API (``ntcli-server`` or NimbleTools).

This module is imported only when an ``http(s)://`` endpoint is used, so
``requests`` stays off the CLI's start-up path for the embedded endpoint.

How a call is sent, repeated where that is safe, and answered is
:mod:`ntcli.endpoints.transport`; this module maps the endpoint's operations
onto the API's routes and reads their answers.
"""

from __future__ import annotations

import time
import typing
import urllib.parse
import uuid

import requests

from ntcli import errors
from ntcli.endpoints import (
    Endpoint,
    EndpointOptions,
    Event,
    ExchangedToken,
    IssuedToken,
    Revocation,
    Session,
    SignInProvider,
    TokenRecord,
    TrustPolicy,
    Validation,
    Workspace,
    normalize_url,
)
from ntcli.endpoints.transport import Transport
from ntcli_core import oauth, scopes, timefmt
from ntcli_core.terminal import escape

# RFC 6749 errors of the token endpoint, as ntcli's own.
_OAUTH_ERRORS: dict[str, type[errors.NtcliError]] = {
    'invalid_grant': errors.AuthenticationRequired,
    'access_denied': errors.Forbidden,
    'invalid_request': errors.InvalidRequest,
    'invalid_scope': errors.InvalidRequest,
}


def _unix(value: object) -> int | None:
    """Unix seconds from the API's ISO-8601 or integer times."""
    if value is None:
        return None
    if isinstance(value, str):
        return timefmt.parse_iso(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f'not a time: {value!r}')


class HTTPEndpoint(Endpoint):
    """A token API reached over HTTP(S) with a bearer credential."""

    def __init__(self, url: str, options: EndpointOptions) -> None:
        super().__init__(normalize_url(url), options)
        self.http = Transport(self.url, options)

    def close(self) -> None:
        self.http.close()

    # -- workspaces -------------------------------------------------------
    def create_workspace(self, credential: str | None, name: str,
                         description: str | None = None) -> Workspace:
        body: dict[str, object] = {'name': name}
        if description is not None:
            body['description'] = description
        answer = self.http.call('POST', '/v1/workspaces', credential,
                                json=body)
        with self.http.reading('workspace'):
            return self._workspace(answer)

    def list_workspaces(self, credential: str | None) -> list[Workspace]:
        answer = self.http.call('GET', '/v1/workspaces', credential)
        with self.http.reading('workspace list'):
            return [self._workspace(w) for w in answer['workspaces']]

    def delete_workspace(self, credential: str | None,
                         workspace_id: str) -> None:
        self.http.call('DELETE', f'/v1/workspaces/{_quote(workspace_id)}',
                       credential)

    # -- tokens -----------------------------------------------------------
    def issue_token(self, credential: str | None, workspace_id: str, *,
                    expires_in: int | None = None,
                    expires_at: int | None = None,
                    description: str | None = None,
                    idempotency_key: str | None = None,
                    scope: typing.Sequence[str] | None = None
                    ) -> IssuedToken:
        body: dict[str, object] = {}
        if expires_in is not None:
            body['expires_in'] = expires_in
        if expires_at is not None:
            body['expires_at'] = timefmt.iso(expires_at)
        if not body:
            body['expires_in'] = None     # explicitly: never expires
        if description is not None:
            body['description'] = description
        if scope is not None:
            body['scope'] = list(scope)
        answer, headers = self.http.call(
            'POST', f'/v1/workspaces/{_quote(workspace_id)}/tokens',
            credential, json=body,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            with_headers=True)
        with self.http.reading('issued token'):
            return IssuedToken(
                replayed=headers.get('Idempotent-Replayed') == 'true',
                token=answer['access_token'], jti=answer['jti'],
                workspace_id=answer.get('workspace_id') or workspace_id,
                expires_at=_unix(answer.get('expires_at')),
                created_at=_unix(answer.get('created_at')),
                scope=scopes.reported(answer.get('scope')))

    def list_tokens_page(self, credential: str | None, workspace_id: str, *,
                         include_expired: bool = False,
                         include_revoked: bool = False,
                         limit: int = 100,
                         cursor: str | None = None,
                         ) -> tuple[list[TokenRecord], str | None]:
        params = {'include_expired': str(include_expired).lower(),
                  'include_revoked': str(include_revoked).lower(),
                  'limit': str(limit)}
        if cursor:
            params['cursor'] = cursor
        answer = self.http.call(
            'GET', f'/v1/workspaces/{_quote(workspace_id)}/tokens',
            credential, params=params)
        with self.http.reading('token list'):
            records = [TokenRecord(
                jti=t['jti'], created_at=_unix(t.get('created_at')),
                expires_at=_unix(t.get('expires_at')), status=t['status'],
                description=t.get('description'),
                revoked_at=_unix(t.get('revoked_at')),
                scope=scopes.reported(t.get('scope')))
                for t in answer['tokens']]
            return records, answer.get('next_cursor') or None

    def revoke_token(self, credential: str | None, workspace_id: str,
                     jti: str, *, grace: int | None = None) -> Revocation:
        # A server without grace periods (NimbleTools) ignores the query
        # and revokes at once: its answer says 'revoked', not 'retiring'.
        answer = self.http.call(
            'DELETE',
            f'/v1/workspaces/{_quote(workspace_id)}/tokens/{_quote(jti)}',
            credential, params=None if grace is None
            else {'grace': str(grace)})
        with self.http.reading('revocation'):
            return Revocation(
                jti=answer.get('token_jti') or jti,
                workspace_id=answer.get('workspace_id') or workspace_id,
                revoked_at=typing.cast(int, _unix(answer['revoked_at'])),
                already_revoked=bool(answer.get('already_revoked', False)),
                retiring=answer.get('status') == 'retiring')

    def validate_token(self, token: str) -> Validation:
        answer, headers = self.http.call('GET', '/v1/token_auth', token,
                                         with_headers=True)
        with self.http.reading('token check'):
            workspace_id = (answer.get('workspace_id')
                            or headers['X-Workspace-Id'])
            jti = answer.get('jti') or headers.get('X-Token-Jti')
            if not jti:
                from ntcli.tokeninfo import token_claims
                jti = token_claims(token)['jti']
            return Validation(jti=jti, workspace_id=workspace_id,
                              expires_at=_unix(answer.get('expires_at')),
                              revoked_at=_unix(answer.get('revoked_at')))

    def list_events_page(self, credential: str | None, workspace_id: str, *,
                         since: int | None = None,
                         actions: typing.Sequence[str] = (),
                         limit: int = 100, cursor: str | None = None,
                         ) -> tuple[list[Event], str | None]:
        params: dict[str, typing.Any] = {'limit': str(limit)}
        if since is not None:
            params['since'] = str(since)
        if actions:
            params['action'] = list(actions)
        if cursor:
            params['cursor'] = cursor
        answer = self.http.call(
            'GET', f'/v1/workspaces/{_quote(workspace_id)}/events',
            credential, params=params)
        with self.http.reading('audit trail'):
            events = [Event(
                id=int(e['id']), time=typing.cast(int, _unix(e['time'])),
                action=str(e['action']), outcome=str(e['outcome']),
                actor=e.get('actor'), target_jti=e.get('target_jti'),
                client=e.get('client'), request_id=e.get('request_id'),
                user_agent=e.get('user_agent'), detail=e.get('detail'))
                for e in answer['events']]
            return events, answer.get('next_cursor') or None

    # -- trust policies ---------------------------------------------------
    def _policies_path(self, workspace_id: str, *rest: str) -> str:
        return '/'.join((f'/v1/workspaces/{_quote(workspace_id)}'
                         '/trust-policies', *map(_quote, rest)))

    @staticmethod
    def _policy(item: dict) -> TrustPolicy:
        conditions = item['conditions']
        if not isinstance(conditions, dict) or not all(
                isinstance(v, str) for v in conditions.values()):
            raise ValueError('conditions')
        return TrustPolicy(
            id=str(item['id']), name=str(item['name']),
            issuer=str(item['issuer']),
            conditions=tuple(sorted(conditions.items())),
            scope=scopes.reported(item.get('scope')),
            max_lifetime=int(item['max_lifetime']),
            created_at=_unix(item.get('created_at')),
            created_by=item.get('created_by'),
            description=item.get('description'))

    def create_trust_policy(self, credential: str | None,
                            workspace_id: str, name: str, *, issuer: str,
                            conditions: typing.Sequence[tuple[str, str]],
                            scope: typing.Sequence[str] | None = None,
                            max_lifetime: int | None = None,
                            description: str | None = None) -> TrustPolicy:
        body: dict[str, object] = {'name': name, 'issuer': issuer,
                                   'conditions': dict(conditions)}
        if scope is not None:
            body['scope'] = list(scope)
        if max_lifetime is not None:
            body['max_lifetime'] = max_lifetime
        if description is not None:
            body['description'] = description
        answer = self.http.call('POST', self._policies_path(workspace_id),
                                credential, json=body)
        with self.http.reading('trust policy'):
            return self._policy(answer)

    def list_trust_policies(self, credential: str | None,
                            workspace_id: str) -> list[TrustPolicy]:
        answer = self.http.call('GET', self._policies_path(workspace_id),
                                credential)
        with self.http.reading('trust policy list'):
            return [self._policy(p) for p in answer['trust_policies']]

    def get_trust_policy(self, credential: str | None, workspace_id: str,
                         policy: str) -> TrustPolicy:
        answer = self.http.call(
            'GET', self._policies_path(workspace_id, policy), credential)
        with self.http.reading('trust policy'):
            return self._policy(answer)

    def delete_trust_policy(self, credential: str | None, workspace_id: str,
                            policy: str) -> TrustPolicy:
        shown = self.get_trust_policy(credential, workspace_id, policy)
        self.http.call('DELETE', self._policies_path(workspace_id, shown.id),
                       credential)
        return shown

    def exchange_ci_token(self, subject_token: str, *,
                          workspace: str | None = None,
                          scope: typing.Sequence[str] | None = None
                          ) -> ExchangedToken:
        form = {'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                'subject_token': subject_token,
                'subject_token_type': oauth.TOKEN_TYPE_JWT,
                'requested_token_type': oauth.TOKEN_TYPE_ACCESS_TOKEN}
        if workspace:
            form['audience'] = workspace
        if scope:
            form['scope'] = ' '.join(scope)
        # Sent once: the subject token is accepted once, so a repeat after
        # a lost answer could only be refused.
        try:
            response = self.http.send('POST', oauth.EXCHANGE_PATH, {}, None,
                                      None,
                                      form=form)
        except requests.RequestException as exc:
            raise self.http.unreachable(exc) from exc
        answer = self._exchange_answer(response)
        with self.http.reading('token exchange answer'):
            token = answer['access_token']
            if not isinstance(token, str) or not token:
                raise ValueError('no access_token')
            expires_in = answer.get('expires_in')
            expires_at = _unix(answer.get('expires_at'))
            if expires_at is None and isinstance(expires_in, int):
                expires_at = int(time.time()) + expires_in
            policy = answer.get('trust_policy')
            return ExchangedToken(
                issued=IssuedToken(
                    token=token, jti=answer['jti'],
                    workspace_id=answer['workspace_id'],
                    expires_at=expires_at,
                    created_at=_unix(answer.get('created_at')),
                    scope=scopes.reported(answer.get('scope'))),
                policy=policy if isinstance(policy, str) else None)

    def _exchange_answer(self, response: requests.Response) -> dict:
        """The JSON of a token endpoint's answer; RFC 6749's
        ``{"error", "error_description"}`` raised as ntcli's errors."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get('error') if isinstance(body, dict) else None
        if response.status_code >= 300 and isinstance(error, str):
            description = body.get('error_description')
            text = escape(description) if isinstance(description, str) \
                else error
            if error in ('invalid_target', 'unsupported_grant_type'):
                raise errors.EndpointError(
                    f'The endpoint at {self.url} does not exchange CI '
                    f'identity tokens: {text}',
                    'Ask its operator to enable it (ntcli-server serve '
                    '--ci-audience) and to create a trust policy.')
            cls = _OAUTH_ERRORS.get(error, errors.EndpointError)
            raise cls(f'The endpoint at {self.url} refused the CI identity '
                      f'token: {text}', details={'error': error})
        return self.http.answer(response)

    def whoami(self, credential: str | None) -> str:
        answer = self.http.call('GET', '/v1/whoami', credential)
        with self.http.reading('identity'):
            if answer['kind'] == 'user':
                return f"user {answer['user_name']}"
            return (f"workspace token {answer['jti']} of workspace "
                    f"{answer['workspace_id']}")

    # -- signing in through an identity provider -------------------------
    def sign_in_providers(self) -> list[SignInProvider]:
        try:
            answer = self.http.call('GET', oauth.PROVIDERS_PATH, None)
        except errors.NotFound:
            return []           # a server from before sign-in
        with self.http.reading('list of identity providers'):
            return [SignInProvider(
                issuer=str(p['issuer']), client_id=str(p['client_id']),
                scopes=tuple(str(s) for s in p['scopes']))
                for p in answer['providers']]

    def exchange_id_token(self, id_token: str) -> Session:
        """POST /v1/oauth/token (RFC 8693); its errors are RFC 6749's."""
        try:
            response = self.http.send(
                'POST', oauth.EXCHANGE_PATH, {}, None, None,
                form={'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                      'subject_token': id_token,
                      'subject_token_type': oauth.TOKEN_TYPE_ID_TOKEN,
                      'requested_token_type': oauth.TOKEN_TYPE_SESSION})
        except requests.RequestException as exc:
            raise self.http.unreachable(exc) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self.http.not_the_api(
                response.status_code,
                response.headers.get('Content-Type', ''))
        if response.status_code != 200:
            error, description = body.get('error'), body.get(
                'error_description')
            text = description if isinstance(description, str) else error
            if error == 'invalid_grant':
                raise errors.AuthenticationRequired(
                    f'{self.url} refused the sign-in: {text}',
                    'Ask the administrator of the server to link your '
                    'identity (ntcli-server user link), or sign in as '
                    'someone it knows.')
            raise errors.EndpointError(
                f'{self.url} could not complete the sign-in: {text} '
                f'(HTTP {response.status_code})')
        with self.http.reading('session'):
            return Session(token=str(body['access_token']),
                           session_id=str(body['session_id']),
                           user_id=str(body['user_id']),
                           user_name=str(body['user_name']),
                           expires_at=int(body['expires_in'])
                           + int(time.time()),
                           user_created=bool(body.get('user_created')))

    def end_session(self, credential: str) -> bool:
        try:
            answer = self.http.call('DELETE', oauth.SESSION_PATH, credential)
        except errors.AuthenticationRequired:
            return False        # ended already, or expired
        return answer.get('status') == 'revoked'

    # -- plumbing ---------------------------------------------------------
    @staticmethod
    def _workspace(item: dict) -> Workspace:
        return Workspace(id=item['workspace_id'], name=item['workspace_name'],
                         created_at=_unix(item.get('created')))

def _quote(segment: str) -> str:
    """One path segment, so that an id can never change the path."""
    return urllib.parse.quote(str(segment), safe='')
