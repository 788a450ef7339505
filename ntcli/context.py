"""The context of one ntcli run: settings, storage, endpoint, workspace.

Commands reach everything through ``self.context``; each piece is built on
first use so that a command pays only for what it touches. Settings resolve
as flag, then environment variable, then config file, then default.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ntcli import errors

if TYPE_CHECKING:    # types only: each piece is imported on first use
    import argparse

    from ntcli.config import Config
    from ntcli.endpoints import Endpoint, Workspace
    from ntcli.history import AuditLog
    from ntcli.store import CredentialStore, StoredToken

DEFAULT_ENDPOINT = 'local'


def choose_bearer(embedded: bool, env_token: str | None,
                  user_credential: str | None = None,
                  workspace_token: str | None = None) -> str | None:
    """Which credential a command acts with: the one rule, for every
    command (docs/user/configuration.md).

    1. The workspace token in NTCLI_TOKEN, when set, on every endpoint, the
       embedded one included.
    2. The user credential stored for the endpoint (``ntcli auth login``);
       on the embedded endpoint, the local owner (None), who needs none.
    3. The workspace token stored for the workspace.

    Work an earlier command left to finish (a pending revocation or issue)
    is done with the credential that command had: the same rule without
    NTCLI_TOKEN, the token in question as the stored one.
    """
    if env_token:
        return env_token
    if embedded:
        return None
    if user_credential:
        return user_credential
    if workspace_token:
        return workspace_token
    raise errors.AuthenticationRequired(
        hint="Log in with 'ntcli auth login' (a user credential or a "
             'workspace token) or set NTCLI_TOKEN.')


def names_by_id(known: dict[str, str]) -> dict[str, str]:
    """Workspace names by id, from the names-to-ids the config knows."""
    return {v: k for k, v in known.items()}


class AppStreams(Protocol):
    """What the context needs of its application: where to warn."""

    @property
    def stderr(self) -> TextIO: ...


class Context:
    """Everything a command needs, built lazily."""

    def __init__(self, app: AppStreams,
                 options: argparse.Namespace) -> None:
        self.app = app
        self.options = options
        self._endpoint: Endpoint | None = None
        # False for a look that must change nothing (shell completion)
        self.retry_revocations = True

    # -- settings ----------------------------------------------------------
    @functools.cached_property
    def config_dir(self) -> str:
        from ntcli import paths
        return paths.config_dir(self.options.config_dir)

    @functools.cached_property
    def data_dir(self) -> str:
        from ntcli import paths
        return paths.data_dir(self.options.config_dir)

    @functools.cached_property
    def config(self) -> Config:
        from ntcli import config
        return config.Config.load(self.config_dir)

    @contextlib.contextmanager
    def update_config(self) -> Iterator[Config]:
        """Change config.json under its lock, so that concurrent ntcli
        commands never lose each other's changes."""
        from ntcli import config
        with config.Config.update(self.config_dir) as updated:
            yield updated
        self.__dict__['config'] = updated  # later reads see the change

    def setting(self, flag: Any, env: str, key: str, default: Any) -> Any:
        """Resolve one setting: flag, environment, config file, default."""
        if flag is not None:
            return flag
        if os.environ.get(env):
            return os.environ[env]
        value = self.config.get(key)
        return default if value is None else value

    @functools.cached_property
    def endpoint_url(self) -> str:
        url = self.setting(self.options.endpoint, 'NTCLI_ENDPOINT',
                           'endpoint', DEFAULT_ENDPOINT)
        return str(url).rstrip('/')

    @functools.cached_property
    def timeout(self) -> float:
        from ntcli import validate
        value = self.setting(self.options.timeout, 'NTCLI_TIMEOUT',
                             'timeout', validate.DEFAULT_TIMEOUT)
        try:
            return validate.check_timeout(value)
        except ValueError as exc:
            from ntcli_core.terminal import quoted
            raise errors.UsageError(
                f'Invalid timeout {quoted(str(value))}: it {exc}',
                'Give --timeout, NTCLI_TIMEOUT or the config setting '
                "'timeout' a number of seconds such as 30.") from None

    def check_settings(self) -> None:
        """Check every global setting before a command does anything, so
        that a bad one is a usage error with nothing changed yet."""
        from ntcli import fileio, validate
        if os.path.isdir(self.config_dir):
            fileio.ensure_config_dir(self.config_dir)
        self.config            # noqa: B018 - loads and checks config.json
        self.timeout           # noqa: B018
        wanted = self.options.workspace or os.environ.get('NTCLI_WORKSPACE')
        if wanted and not (validate.is_workspace_name(wanted)
                           or validate.is_uuid(wanted)):
            from ntcli_core.terminal import quoted
            raise errors.UsageError(
                f'Invalid workspace {quoted(wanted)}',
                'Give --workspace or NTCLI_WORKSPACE a workspace name (3 to '
                '32 lowercase letters, digits or hyphens) or id.')
        if os.environ.get('NTCLI_KEY', '').strip():
            from ntcli import keys
            try:
                keys.parse_keys(os.environ['NTCLI_KEY'], ',')
            except ValueError as exc:
                raise errors.UsageError(
                    f'NTCLI_KEY is not valid: {exc}',
                    'Set NTCLI_KEY to one or more Fernet keys separated by '
                    'commas, primary first, or unset it.') from None

    # -- local storage -----------------------------------------------------
    @functools.cached_property
    def store(self) -> CredentialStore:
        from ntcli import store
        return store.CredentialStore(self.config_dir)

    @functools.cached_property
    def history(self) -> AuditLog:
        from ntcli import history
        return history.AuditLog(self.config_dir)

    def warn(self, message: str) -> None:
        """A warning line on stderr (never on stdout)."""
        from ntcli_core import redact
        from ntcli_core.terminal import escape
        # a warning must not fail the command that gave it
        with contextlib.suppress(OSError, ValueError):
            self.app.stderr.write(
                f'Warning: {escape(redact.redact(message))}\n')

    # -- endpoint ----------------------------------------------------------
    @property
    def endpoint(self) -> Endpoint:
        """The endpoint, connected, with pending revocations retried."""
        if self._endpoint is None:
            from ntcli import endpoints
            options = endpoints.EndpointOptions(
                timeout=self.timeout, data_dir=self.data_dir,
                ca_bundle=(self.options.ca_bundle
                           or self.config.get('ca_bundle')),
                debug=bool(self.options.debug))
            endpoint = endpoints.load_endpoint(self.endpoint_url, options)
            if not endpoint.embedded and self.app.stderr.isatty():
                from ntcli import progress
                endpoint = progress.spinning(endpoint, self.app.stderr)
            self._endpoint = endpoint
            if self.retry_revocations:
                self.retry_pending_revocations()
        return self._endpoint

    def retry_pending_revocations(self) -> None:
        """Finish revocations that an earlier command could not complete."""
        from ntcli import revocations
        revocations.retry_pending(self)

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    # -- credentials -------------------------------------------------------
    def env_token(self) -> str | None:
        """The workspace token given in NTCLI_TOKEN, if any."""
        return os.environ.get('NTCLI_TOKEN') or None

    def user_credential(self) -> str | None:
        """The user credential stored for this endpoint (``auth login``)."""
        if self.endpoint.embedded:
            return None
        return self.store.read().get_user_credential(self.endpoint.key)

    def stored_token(self, workspace_id: str) -> StoredToken | None:
        """The stored workspace token of ``workspace_id``, or None."""
        return self.store.read().get_token(self.endpoint.key, workspace_id)

    def bearer(self, workspace_id: str | None = None) -> str | None:
        """The credential this run acts with: :func:`choose_bearer` over
        NTCLI_TOKEN, the stored user credential and the workspace token
        stored for ``workspace_id``. The endpoint's authority decides what
        it may do."""
        endpoint = self.endpoint
        env = self.env_token()
        if env or endpoint.embedded:
            return choose_bearer(endpoint.embedded, env)
        creds = self.store.read()
        stored = (creds.get_token(endpoint.key, workspace_id)
                  if workspace_id is not None else None)
        return choose_bearer(False, None,
                             creds.get_user_credential(endpoint.key),
                             stored.token if stored else None)

    # Plugins written for ntcli 0.1 ask under these names: the same rule.
    def workspace_bearer(self, workspace_id: str) -> str | None:
        """:meth:`bearer` (its name in ntcli 0.1)."""
        return self.bearer(workspace_id)

    def admin_bearer(self) -> str | None:
        """:meth:`bearer` without a workspace (its name in ntcli 0.1)."""
        return self.bearer()

    # -- workspace ---------------------------------------------------------
    @functools.cached_property
    def workspace(self) -> Workspace:
        """The workspace this run acts on (see :meth:`resolve_workspace`)."""
        wanted = (self.options.workspace
                  or os.environ.get('NTCLI_WORKSPACE')
                  or self.config.active_workspace(self.endpoint.key))
        return self.resolve_workspace(wanted)

    def resolve_workspace(self, wanted: str | None) -> Workspace:
        """A Workspace from a name or id, or the endpoint's default."""
        from ntcli.endpoints import Workspace
        endpoint = self.endpoint
        known = self.config.known_workspaces(endpoint.key)
        if not wanted:
            token = self.env_token()
            if token:       # the workspace of the token the run acts with
                from ntcli.tokeninfo import token_claims
                try:
                    sub = token_claims(token).get('sub')
                except errors.TokenInvalid:
                    sub = None      # the endpoint will refuse it
                if isinstance(sub, str) and sub:
                    return Workspace(id=sub, name=names_by_id(known).get(
                        sub, sub))
            default = endpoint.default_workspace()
            if default is not None:
                return default
            if not self.store.read().get_user_credential(endpoint.key):
                raise errors.NoWorkspaceSelected(
                    hint=f"Log in to {endpoint.url} first with 'ntcli auth "
                         "login', then select a workspace with 'ntcli "
                         "workspace select NAME'.")
            raise errors.NoWorkspaceSelected()
        from ntcli import validate
        if validate.is_uuid(wanted):
            return Workspace(id=wanted.lower(), name=names_by_id(known).get(
                wanted.lower(), wanted))
        if wanted in known:
            return Workspace(id=known[wanted], name=wanted)
        for workspace in endpoint.list_workspaces(self.bearer()):
            if workspace.name == wanted:
                with self.update_config() as config:
                    config.remember_workspace(endpoint.key, workspace.id,
                                              workspace.name)
                return workspace
        from ntcli_core.terminal import quoted
        raise errors.WorkspaceNotFound(
            f'Workspace {quoted(wanted)} not found',
            "Run 'ntcli workspace list' to see the workspaces.")

    def now(self) -> int:
        return int(time.time())
