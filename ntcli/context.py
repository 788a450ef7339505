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
#: A session of a sign-in is renewed when it has less than this many
#: seconds left.
RENEW_MARGIN = 120


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
        """The user credential stored for this endpoint (``auth login``):
        a session of a sign-in is renewed first when it is about to end
        (see ntcli.signin)."""
        if self.endpoint.embedded:
            return None
        creds = self.store.read()
        credential = creds.get_user_credential(self.endpoint.key)
        record = creds.get_sign_in(self.endpoint.key)
        if (credential and record is not None and record.refresh_token
                and record.expires_at - self.now() < RENEW_MARGIN):
            from ntcli import signin
            credential = signin.renew(self, record) or credential
        return credential

    def stored_token(self, workspace_id: str) -> StoredToken | None:
        """The stored workspace token of ``workspace_id``, or None."""
        return self.store.read().get_token(self.endpoint.key, workspace_id)

    def workspace_bearer(self, workspace_id: str) -> str | None:
        """The credential for workspace calls: NTCLI_TOKEN, the user
        credential, or the stored workspace token (None when embedded)."""
        if self.endpoint.embedded:
            return None
        creds = self.store.read()
        bearer = self.env_token() or self.user_credential()
        if not bearer:
            stored = creds.get_token(self.endpoint.key, workspace_id)
            bearer = stored.token if stored else None
        if not bearer:
            raise errors.AuthenticationRequired(
                hint="Log in with 'ntcli auth login' (a user credential or a "
                     'workspace token) or set NTCLI_TOKEN.')
        return bearer

    def admin_bearer(self) -> str | None:
        """The credential for workspace administration and revocation."""
        if self.endpoint.embedded:
            return None
        credential = self.user_credential()
        if not credential:
            raise errors.AuthenticationRequired(
                'Authentication required: this needs a user credential',
                "Run 'ntcli auth login' with your user credential.")
        return credential

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
            default = endpoint.default_workspace()
            if default is not None:
                return default
            token = self.env_token()
            if token:
                from ntcli.tokeninfo import token_claims
                sub = token_claims(token).get('sub')
                if sub:
                    return Workspace(id=sub, name=sub)
            if not self.store.read().get_user_credential(endpoint.key):
                raise errors.NoWorkspaceSelected(
                    hint=f"Log in to {endpoint.url} first with 'ntcli auth "
                         "login', then select a workspace with 'ntcli "
                         "workspace select NAME'.")
            raise errors.NoWorkspaceSelected()
        from ntcli import validate
        if validate.is_uuid(wanted):
            names = {v: k for k, v in known.items()}
            return Workspace(id=wanted.lower(),
                             name=names.get(wanted.lower(), wanted))
        if wanted in known:
            return Workspace(id=known[wanted], name=wanted)
        for workspace in endpoint.list_workspaces(self.admin_bearer()):
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
