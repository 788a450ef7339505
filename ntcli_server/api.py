"""What every resource of the token API shares: the authority of this
process (:class:`TokenAPI`), the metrics it feeds, the authenticated
caller of a request, and what the audit trail records of where a request
came from.

Each resource is thin: parse the request (:mod:`ntcli_server.parsing`),
authenticate the caller, make one authority call with that caller (the
authority authorizes it, see ntcli_authority.access.RULES), serialize the
result.
"""

from __future__ import annotations

import re
import threading
import typing

import falcon

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_authority.models import Origin
from ntcli_core.tokens import TOKEN_PREFIX
from ntcli_server import refusals
from ntcli_server.parsing import bearer

MAX_USER_AGENT = 256                 # what the audit trail keeps of one

AuthorityFactory = typing.Callable[[], Authority]


_REFUSALS = (errors.AuthenticationRequired, errors.TokenInvalid,
             errors.TokenExpired, errors.TokenRevoked)
_SANE_ID = re.compile(r'[A-Za-z0-9_-]{1,64}')


def _printable(text: str | None, limit: int) -> str | None:
    """``text`` without control characters, cut to ``limit``."""
    if text is None:
        return None
    return ''.join(c for c in text if c.isprintable())[:limit] or None


class AuditContext:
    """Falcon middleware: note the workspace a request names, so that a
    refused credential is recorded against it."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, params: dict) -> None:
        workspace_id = params.get('workspace_id')
        # A client chooses this string: only an id-shaped one is kept.
        req.context.workspace_id = (
            workspace_id if isinstance(workspace_id, str)
            and _SANE_ID.fullmatch(workspace_id) else None)


def origin(req: falcon.Request) -> Origin:
    """What the audit trail records of where ``req`` came from (who sent
    it, the authority takes from the principal)."""
    return Origin(actor=None, client=_printable(req.remote_addr, 64),
                  request_id=getattr(req.context, 'request_id', None),
                  user_agent=_printable(req.user_agent, MAX_USER_AGENT))


class Metrics(typing.Protocol):
    """What the API tells its metrics (see NoMetrics for each call)."""

    def token_issued(self, replayed: bool) -> None: ...

    def token_revoked(self, already: bool) -> None: ...

    def validation(self, outcome: str) -> None: ...

    def sign_in(self, outcome: str) -> None: ...


class NoMetrics:
    """What the API tells its metrics; nothing when ``--metrics`` is off
    (see :class:`ntcli_server.metrics.PrometheusMetrics`)."""

    def token_issued(self, replayed: bool) -> None:
        """A token was issued, or an earlier one replayed."""

    def token_revoked(self, already: bool) -> None:
        """A token was revoked (``already``: it had been before)."""

    def validation(self, outcome: str) -> None:
        """A workspace token was checked, with this outcome."""

    def sign_in(self, outcome: str) -> None:
        """A sign-in through the identity provider ended so."""


# The outcome label of each way a token check fails.
_VALIDATION_OUTCOMES: dict[type, str] = {
    errors.AuthenticationRequired: 'missing',
    errors.TokenInvalid: 'invalid', errors.TokenExpired: 'expired',
    errors.TokenRevoked: 'revoked', errors.Forbidden: 'forbidden',
    errors.InsufficientScope: 'forbidden'}


class _CountedValidation:
    """Counts the token check inside a ``with`` by its outcome (a class,
    not a generator: this is on every validation's path)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None,
                 *exc_info: object) -> None:
        if kind is None:
            self.metrics.validation('valid')
            return
        outcome = _VALIDATION_OUTCOMES.get(kind)
        if outcome is not None:
            self.metrics.validation(outcome)


class TokenAPI:
    """What every resource shares: the authority of this process and the
    metrics it feeds."""

    def __init__(self, factory: AuthorityFactory,
                 metrics: Metrics | None = None) -> None:
        self._factory = factory
        self._authority: Authority | None = None
        self._lock = threading.Lock()
        self.metrics = metrics or NoMetrics()
        self.refusals = refusals.RefusalSampler()
        self._counted = _CountedValidation(self.metrics)

    @property
    def authority(self) -> Authority:
        """The authority, opened on first use (so, in each worker)."""
        authority = self._authority
        if authority is None:
            with self._lock:
                if self._authority is None:
                    self._authority = self._factory()
                authority = self._authority
        return authority

    def caller(self, req: falcon.Request) -> Principal:
        """The authenticated principal of the request; a refused
        credential is recorded in the audit trail."""
        try:
            credential = bearer(req)
            if not credential.startswith(TOKEN_PREFIX):
                return self.authority.authenticate(credential)
            with self.validation():
                return self.authority.authenticate(credential)
        except _REFUSALS as exc:
            left_out = self.refusals.admit(req.remote_addr or '')
            if left_out is not None:
                self.authority.record_refusal(
                    exc, origin=origin(req), left_out=left_out,
                    workspace_id=getattr(req.context, 'workspace_id', None))
            raise

    def validation(self) -> _CountedValidation:
        """Count the token check inside (``with``) by its outcome."""
        return self._counted


class Resource:
    """A resource of the token API: it reaches the authority through
    ``api``."""

    def __init__(self, api: TokenAPI) -> None:
        self.api = api

