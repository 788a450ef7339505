"""CI jobs without stored secrets: their OIDC tokens for workspace tokens.

At the token-exchange endpoint (:mod:`ntcli_server.exchange`, RFC 8693) a
CI job presents its own ID token (GitHub Actions, GitLab, a Kubernetes
service account) and receives an ordinary workspace token, as a trust
policy of the workspace allows (:meth:`Authority.exchange
<ntcli_authority.authority.Authority.exchange>`)::

    grant_type=urn:ietf:params:oauth:grant-type:token-exchange
    subject_token=<the job's JWT>
    subject_token_type=urn:ietf:params:oauth:token-type:jwt
    requested_token_type=urn:ietf:params:oauth:token-type:access_token
    audience=<workspace name or id>                  (optional)
    scope=<space-separated scopes>                   (optional)

The JWT's ``aud`` must be this server's audience, which the operator sets
with ``ntcli-server serve --ci-audience`` (its public URL, which is what
``ntcli auth login --ci`` asks GitHub for): without one, this exchange is
off. A token that is not acceptable is ``400 invalid_grant``; a valid
one no policy accepts is ``403 access_denied``, saying which condition
failed; an issuer that cannot be reached ``503 temporarily_unavailable``.
"""

from __future__ import annotations

import argparse
import os
import typing

from ntcli_authority import errors, oidc
from ntcli_core import oauth, timefmt
from ntcli_server import exchange

if typing.TYPE_CHECKING:
    from ntcli_server.api import TokenAPI

ENV_AUDIENCE = 'NTCLI_SERVER_CI_AUDIENCE'


def add_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s option for CI identities."""
    parser.add_argument(
        '--ci-audience', metavar='URL', default=os.environ.get(ENV_AUDIENCE),
        help='Accept CI jobs\' OIDC tokens (as the trust policies allow) '
             'whose aud is this: the URL clients use for this server '
             f'(env {ENV_AUDIENCE}). Without it, CI tokens are refused.')


def check_audience(audience: str | None) -> str | None:
    """The ``--ci-audience`` value, checked; ValueError for a bad one."""
    if audience is None:
        return None
    if not audience or len(audience) > 512 or not audience.isprintable() \
            or audience != audience.strip():
        raise ValueError('--ci-audience takes printable text of at most '
                         '512 characters, such as https://tokens.example.com')
    return audience


class WorkspaceTokenExchange:
    """The exchange of a CI job's JWT for a workspace token."""

    issued_token_type = oauth.TOKEN_TYPE_ACCESS_TOKEN
    # jwt only: an id_token subject is a person signing in (signin)
    subject_token_types: tuple[str, ...] = (oauth.TOKEN_TYPE_JWT,)

    def __init__(self, api: TokenAPI, audience: str | None,
                 issuers: oidc.IssuerCache | None = None) -> None:
        self.api = api
        self.audience = audience
        self.issuers = issuers or oidc.IssuerCache()

    def exchange(self, request: exchange.ExchangeRequest
                 ) -> dict[str, typing.Any]:
        if self.audience is None:
            raise exchange.ExchangeError(
                'invalid_target', 'This server takes no CI identity tokens: '
                'its operator has not set ntcli-server serve --ci-audience')
        if request.resource is not None:
            raise exchange.ExchangeError(
                'invalid_target', 'Name the workspace with audience, not '
                'resource')
        authority = self.api.authority
        try:
            result = authority.exchange(
                request.subject_token, issuers=self.issuers,
                audience=self.audience, workspace=request.audience,
                scope=request.scope, origin=request.origin)
        except errors.NoMatchingPolicy as exc:
            raise exchange.ExchangeError('access_denied', exc.message,
                                         403) from None
        except errors.ValidationError as exc:
            raise exchange.ExchangeError('invalid_scope', exc.message) \
                from None
        except errors.SubjectTokenRejected as exc:
            raise exchange.ExchangeError('invalid_grant', exc.message) \
                from None
        issued = result.issued
        assert issued.expires_at is not None      # a policy's lifetime
        self.api.metrics.token_issued(False)
        return {'access_token': issued.token,
                'issued_token_type': oauth.TOKEN_TYPE_ACCESS_TOKEN,
                'token_type': 'Bearer',
                'expires_in': issued.expires_at - issued.created_at,
                'expires_at': timefmt.iso(issued.expires_at),
                'scope': ' '.join(issued.scope),
                'jti': issued.jti, 'workspace_id': issued.workspace_id,
                'created_at': timefmt.iso(issued.created_at),
                'trust_policy': result.policy.name}
