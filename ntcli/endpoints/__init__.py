"""Endpoints: the token authorities ntcli talks to.

An endpoint is chosen by URL: ``local`` (the embedded authority, the default)
or ``http://`` / ``https://`` (a remote token API). Each scheme is a plugin in
the ``ntcli.endpoints`` entry point namespace, so a third party can add
another token source by implementing :class:`Endpoint`.

Every time is an integer of Unix seconds (UTC); ``None`` means "never".
"""

from __future__ import annotations

import abc
import typing
import urllib.parse

from stevedore import driver
from stevedore.exception import NoMatches

from ntcli import errors
from ntcli_core.records import Record, field
from ntcli_core.terminal import quoted

__all__ = ['Endpoint', 'EndpointOptions', 'Event', 'ExchangedToken',
           'IssuedToken', 'Revocation', 'Session', 'SignInProvider',
           'TokenRecord', 'TrustPolicy', 'Validation', 'Workspace',
           'normalize_url']

_DEFAULT_PORTS = {'http': 80, 'https': 443}

#: Scopes as an endpoint reports them (see ntcli_core.scopes); None: not said.
ScopeList = tuple[str, ...] | None


class EndpointOptions(Record):
    """Settings an endpoint is constructed with."""

    timeout: float = 30.0
    data_dir: str | None = None      # where the local endpoint keeps its db
    ca_bundle: str | None = None     # private CA for https endpoints
    debug: bool = False


class Workspace(Record):
    id: str
    name: str
    created_at: int | None = None


class IssuedToken(Record):
    """A token just issued: the only time its value is known."""

    token: str
    jti: str
    workspace_id: str
    expires_at: int | None
    created_at: int | None = None
    scope: ScopeList = None
    # the answer to a repeated request (same idempotency key): the token
    # was issued before, so it must be checked before it is kept
    replayed: bool = False


class ExchangedToken(Record):
    """A token an endpoint gave for a CI job's ID token, and the name of
    the trust policy that allowed it (None when the endpoint does not
    say)."""

    issued: IssuedToken
    policy: str | None = None


class TrustPolicy(Record):
    """A trust policy of a workspace: tokens of ``issuer`` whose claims
    meet ``conditions`` (claim, pattern) buy workspace tokens holding
    ``scope`` for ``max_lifetime`` seconds."""

    id: str
    name: str
    issuer: str
    conditions: tuple[tuple[str, str], ...]
    scope: ScopeList
    max_lifetime: int
    created_at: int | None = None
    created_by: str | None = None
    description: str | None = None


class TokenRecord(Record):
    """What an endpoint knows of a token (never its value)."""

    jti: str
    created_at: int | None
    expires_at: int | None
    status: str                      # active, expired or revoked
    description: str | None = None
    revoked_at: int | None = None
    scope: ScopeList = None


class Revocation(Record):
    """A revoke's outcome; ``retiring``: the token stays valid until
    ``revoked_at``, the end of the grace period that was asked for."""

    jti: str
    workspace_id: str
    revoked_at: int
    already_revoked: bool = False
    retiring: bool = False


class Validation(Record):
    """A token the endpoint accepted; ``revoked_at``: when it stops being
    valid, for a token retiring (in the grace period of a rotation)."""

    jti: str
    workspace_id: str
    expires_at: int | None
    revoked_at: int | None = None


class Event(Record):
    """An entry of the authority's audit trail for a workspace: what was
    done, by whom (a user id or a token's JTI), from where."""

    id: int
    time: int
    action: str                      # token.issue, token.revoke...
    outcome: str                     # success, unchanged or refused
    actor: str | None = None
    target_jti: str | None = None
    client: str | None = None
    request_id: str | None = None
    user_agent: str | None = None
    detail: str | None = None


class SignInProvider(Record):
    """An identity provider an endpoint trusts (``GET /v1/auth/providers``)."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...]


class Session(Record):
    """A session an endpoint opened for a signed-in person."""

    token: str = field(repr=False)
    session_id: str
    user_id: str
    user_name: str
    expires_at: int
    user_created: bool = False


class Endpoint(abc.ABC):
    """The interface every token authority implements.

    ``credential`` is the bearer for the call: a user credential or a
    workspace token. The embedded endpoint trusts its local user and accepts
    ``None``; given a workspace token, it applies the same access rules as
    a server. Errors are raised as :mod:`ntcli.errors` classes.
    """

    #: True when the endpoint runs in this process (no network, no login).
    embedded = False

    def __init__(self, url: str, options: EndpointOptions) -> None:
        self.url = url
        self.options = options

    @property
    def key(self) -> str:
        """The name credentials for this endpoint are stored under."""
        return self.url

    # -- workspaces -------------------------------------------------------
    @abc.abstractmethod
    def create_workspace(self, credential: str | None, name: str,
                         description: str | None = None) -> Workspace:
        """Create a workspace; its name must be unused."""

    @abc.abstractmethod
    def list_workspaces(self, credential: str | None) -> list[Workspace]:
        """The workspaces the credential may see."""

    @abc.abstractmethod
    def delete_workspace(self, credential: str | None,
                         workspace_id: str) -> None:
        """Delete a workspace, revoking all of its tokens."""

    def default_workspace(self) -> Workspace | None:
        """The workspace to use when none is selected (embedded only)."""
        return None

    # -- tokens -----------------------------------------------------------
    @abc.abstractmethod
    def issue_token(self, credential: str | None, workspace_id: str, *,
                    expires_in: int | None = None,
                    expires_at: int | None = None,
                    description: str | None = None,
                    idempotency_key: str | None = None,
                    scope: typing.Sequence[str] | None = None
                    ) -> IssuedToken:
        """Issue a token; neither expiry given means a non-expiring token.

        ``scope`` None asks for the endpoint's default scopes. Retrying
        with the same ``idempotency_key`` returns the same token.
        """

    @abc.abstractmethod
    def list_tokens_page(self, credential: str | None, workspace_id: str, *,
                         include_expired: bool = False,
                         include_revoked: bool = False,
                         limit: int = 100,
                         cursor: str | None = None,
                         ) -> tuple[list[TokenRecord], str | None]:
        """One page of tokens, oldest first, and the cursor of the next."""

    def list_tokens(self, credential: str | None, workspace_id: str, *,
                    include_expired: bool = False,
                    include_revoked: bool = False) -> list[TokenRecord]:
        """Every token of the workspace, following the pages."""
        records: list[TokenRecord] = []
        cursor = None
        while True:
            page, cursor = self.list_tokens_page(
                credential, workspace_id, include_expired=include_expired,
                include_revoked=include_revoked, limit=500, cursor=cursor)
            records.extend(page)
            if not cursor:
                return records

    @abc.abstractmethod
    def revoke_token(self, credential: str | None, workspace_id: str,
                     jti: str, *, grace: int | None = None) -> Revocation:
        """Revoke a token; revoking a revoked token is not an error.

        ``grace`` (seconds; ntcli passes it only when it is given, so an
        endpoint plugin written before grace periods keeps working): the
        token stays valid that long, then the endpoint refuses it. An
        endpoint that cannot wait revokes at once and says so (``retiring``
        False)."""

    @abc.abstractmethod
    def validate_token(self, token: str) -> Validation:
        """Check a token; raise TokenExpired/TokenRevoked/TokenInvalid."""

    def exchange_ci_token(self, subject_token: str, *,
                          workspace: str | None = None,
                          scope: typing.Sequence[str] | None = None
                          ) -> ExchangedToken:
        """A short-lived workspace token for a CI job's OIDC ID token, as
        a trust policy of the endpoint allows (RFC 8693 token exchange):
        of ``workspace`` (a name or id; None: the one whose policy
        matches), with ``scope`` or all the policy grants. Endpoints that
        trust no external issuer say so."""
        raise errors.UsageError(
            f'The endpoint {self.url} takes no CI identity tokens',
            'Use an ntcli-server endpoint (--endpoint https://…) whose '
            'operator set up a trust policy for this CI.')

    # -- trust policies ---------------------------------------------------
    def _no_trust_policies(self) -> typing.NoReturn:
        raise errors.UsageError(
            f'The endpoint {self.url} keeps no trust policies',
            'Trust policies live on an ntcli-server: give --endpoint (or '
            'NTCLI_ENDPOINT) its URL.')

    def create_trust_policy(self, credential: str | None,
                            workspace_id: str, name: str, *, issuer: str,
                            conditions: typing.Sequence[tuple[str, str]],
                            scope: typing.Sequence[str] | None = None,
                            max_lifetime: int | None = None,
                            description: str | None = None) -> TrustPolicy:
        """Create a trust policy in the workspace (see
        ``docs/operator/trust.md``)."""
        self._no_trust_policies()

    def list_trust_policies(self, credential: str | None,
                            workspace_id: str) -> list[TrustPolicy]:
        """The workspace's trust policies, by name."""
        self._no_trust_policies()

    def get_trust_policy(self, credential: str | None, workspace_id: str,
                         policy: str) -> TrustPolicy:
        """The workspace's trust policy with this id or name."""
        self._no_trust_policies()

    def delete_trust_policy(self, credential: str | None, workspace_id: str,
                            policy: str) -> TrustPolicy:
        """Delete the workspace's trust policy with this id or name."""
        self._no_trust_policies()

    # -- the audit trail --------------------------------------------------
    def list_events_page(self, credential: str | None, workspace_id: str, *,
                         since: int | None = None,
                         actions: typing.Sequence[str] = (),
                         limit: int = 100, cursor: str | None = None,
                         ) -> tuple[list[Event], str | None]:
        """One page of the workspace's audit trail, oldest first, and the
        cursor of the next. Endpoints without an audit trail say so."""
        raise errors.EndpointError(
            f'The endpoint at {self.url} keeps no audit trail')

    def list_events(self, credential: str | None, workspace_id: str, *,
                    since: int | None = None,
                    actions: typing.Sequence[str] = ()) -> list[Event]:
        """Every event of the workspace's audit trail, following pages."""
        events: list[Event] = []
        cursor = None
        while True:
            page, cursor = self.list_events_page(
                credential, workspace_id, since=since, actions=actions,
                limit=500, cursor=cursor)
            events.extend(page)
            if not cursor:
                return events

    def whoami(self, credential: str | None) -> str:
        """Who ``credential`` stands for, in words (for ``auth status``)."""
        return 'unknown'

    # -- signing in through an identity provider (optional) ---------------
    def sign_in_providers(self) -> list[SignInProvider]:
        """The identity providers people sign in with here (none by
        default: an endpoint without them takes a pasted credential)."""
        return []

    def exchange_id_token(self, id_token: str) -> Session:
        """A session for the person an ID token names (RFC 8693)."""
        raise NotImplementedError

    def end_session(self, credential: str) -> bool:
        """End the session ``credential`` is; False when it had ended."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional: a no-op by default
        """Release connections; the endpoint is not used afterwards."""


def normalize_url(url: str) -> str:
    """``scheme://host[:port][/path]``: lower-case scheme and host, no
    default port, no trailing slash; credentials stay out of URLs."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    # urlsplit drops tabs and newlines, and keeps spaces in a host name
    if any(c.isspace() or not c.isprintable() for c in url.strip()) or (
            parts is None or parts.scheme.lower() not in _DEFAULT_PORTS
            or not parts.hostname):
        raise errors.UsageError(f"Invalid endpoint URL '{url}'",
                                'Give http(s)://HOST[:PORT][/PATH].')
    if parts.username or parts.password:
        raise errors.UsageError(
            'The endpoint URL must not contain credentials',
            "Log in with 'ntcli auth login' instead.")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    netloc = f'[{host}]' if ':' in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f':{port}'
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def load_endpoint(url: str, options: EndpointOptions) -> Endpoint:
    """Instantiate the endpoint plugin for ``url`` (by its scheme)."""

    scheme = url.split('://', 1)[0] if '://' in url else url
    unknown = errors.UsageError(
        f'Unknown endpoint {quoted(url)}',
        "Use 'local' or an http(s):// URL, or install the plugin that "
        'provides it.')
    if not scheme or any(c.isspace() or not c.isprintable() for c in url):
        raise unknown
    try:
        mgr: driver.DriverManager[Endpoint] = driver.DriverManager(
            'ntcli.endpoints', scheme, invoke_on_load=True,
            invoke_args=(url, options))
    except errors.NtcliError:
        raise  # the plugin's own verdict on the URL or options
    except NoMatches:
        raise unknown from None
    except Exception as exc:
        raise errors.PluginError(
            f"The endpoint plugin '{scheme}' could not be loaded: {exc}") \
            from exc
    endpoint = mgr.driver
    if not isinstance(endpoint, Endpoint):
        raise errors.PluginError(
            f"The endpoint plugin '{scheme}' gave {type(endpoint).__name__}, "
            'not a subclass of ntcli.endpoints.Endpoint')
    return endpoint
