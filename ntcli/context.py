"""The context of one ntcli run: settings, storage, endpoint, workspace.

Commands reach everything through ``self.context``; each piece is built on
first use so that a command pays only for what it touches. Settings resolve
as flag, then environment variable, then config file, then default. The
named context in force (:mod:`ntcli.contexts`) gives the endpoint, its CA
bundle, the workspace and the key its sign-in is stored under.

One import stays inside the method that needs it, for its start-up cost:
:mod:`ntcli.signin` (requests and the OIDC client), 90-260 ms by
``python -X importtime`` after ``import ntcli.context`` on a loaded
machine, which only the renewal of a sign-in's session needs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ntcli import (
    config,
    contexts,
    endpoints,
    errors,
    expiring,
    fileio,
    history,
    paths,
    progress,
    validate,
)
from ntcli.credential_store import CredentialStore
from ntcli.endpoints import Workspace
from ntcli.endpoints.local import LocalEndpoint
from ntcli_core import clock, redact
from ntcli_core.fernet import parse_keys
from ntcli_core.terminal import escape, quoted
from ntcli_core.tokens import unverified_claims

__all__ = ['PluginContext', 'choose_bearer']

if TYPE_CHECKING:
    from ntcli.config import Config
    from ntcli.contexts import InForce
    from ntcli.credentials import StoredToken
    from ntcli.endpoints import Endpoint
    from ntcli.history import AuditLog

#: A session of a sign-in is renewed when it has less than this many
#: seconds left.
RENEW_MARGIN = 120


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


def _under_a_home(directory: str, variable: str) -> str:
    """``directory``; ConfigError when it lies under a home directory that
    does not exist, which ntcli would otherwise create."""
    home = paths.missing_home(directory)
    if home is None:
        return directory
    raise errors.ConfigError(
        f'The home directory {home} does not exist, and ntcli keeps its '
        f'files under it ({directory})',
        f'Set HOME to your home directory, or {variable} to a directory '
        'for them.')


def names_by_id(known: dict[str, str]) -> dict[str, str]:
    """Workspace names by id, from the names-to-ids the config knows."""
    return {v: k for k, v in known.items()}


class AppStreams(Protocol):
    """What the context needs of its application: where to warn."""

    @property
    def stderr(self) -> TextIO: ...


class Context:
    """Everything a command needs, built lazily."""

    def __init__(self, app: AppStreams, options: argparse.Namespace, *,
                 look: bool = False) -> None:
        self.app = app
        self.options = options
        self._endpoint: Endpoint | None = None
        # a look (shell completion, 'auth status --all') writes nothing:
        # not even the state of the expiry warning
        self.look = look
        # whether ntcli.unfinished.finish ran for the command running now
        self.pending_finished = False
        # True for a context named by a command's argument (see of()):
        # settings meant for the context in force do not apply
        self.one_of_several = False

    # -- settings ----------------------------------------------------------
    @functools.cached_property
    def config_dir(self) -> str:
        return _under_a_home(paths.config_dir(self.options.config_dir),
                             'NTCLI_CONFIG_DIR')

    @functools.cached_property
    def data_dir(self) -> str:
        return _under_a_home(paths.data_dir(self.options.config_dir),
                             'NTCLI_DATA_DIR')

    @functools.cached_property
    def config(self) -> Config:
        loaded = config.Config.load(self.config_dir, look=self.look)
        if loaded.upgraded is not None and not self.look:
            return self._upgrade_config(loaded)
        return loaded

    def _upgrade_config(self, loaded: Config) -> Config:
        """Write a version 1 config back as contexts, in one atomic rename,
        with a line saying so. Endpoints with a sign-in but no settings
        (a login that saw no workspace) get a context too."""
        stored: list[str] = []
        if self.store.exists():
            # unreadable: the command that needs them will say why
            with contextlib.suppress(errors.NtcliError):
                stored = self.store.read().endpoint_keys()
        if not loaded.upgraded and not stored:
            return loaded   # nothing per endpoint to move: upgrade in memory
        try:
            with config.Config.update(self.config_dir) as upgraded:
                for key in stored:
                    upgraded.adopt_endpoint(key)
                made = sorted(upgraded.contexts())
        except errors.ConfigError as exc:
            self.warn(f'{exc.message}; the settings are used as they are')
            return loaded
        if upgraded.upgraded is not None:   # not done meanwhile by another
            self.note('The logins and workspace selections kept per '
                      'endpoint are now contexts named after their hosts: '
                      + ', '.join(made) + '.')
        upgraded.upgraded = None
        return upgraded

    @contextlib.contextmanager
    def update_config(self) -> Iterator[Config]:
        """Change config.json under its lock, so that concurrent ntcli
        commands never lose each other's changes. A context made for an
        endpoint given on the command line is kept from now on."""
        named = self.__dict__.get('named')
        made = None
        with config.Config.update(self.config_dir) as updated:
            if named is not None and not named.saved:
                made = updated.adopt_endpoint(named.key, named.name,
                                              named.ca_bundle)
                self.__dict__['named'] = named.replace(name=made, saved=True)
            yield updated
        self.__dict__['config'] = updated  # later reads see the change
        if made is not None and named is not None:
            self.note(f"The context '{made}' now keeps what is stored for "
                      f'{named.endpoint}.')

    # -- the named context -------------------------------------------------
    @functools.cached_property
    def named(self) -> InForce:
        """The context in force, and why (ntcli.contexts)."""
        config = self.config
        bundle = self.options.ca_bundle
        choices = contexts.Choices(
            context=getattr(self.options, 'context', None),
            endpoint=self.options.endpoint,
            # kept with a context made here: valid from any directory
            ca_bundle=os.path.abspath(os.path.expanduser(bundle))
            if bundle else None)
        return contexts.resolve(config.contexts(), config.current_context,
                                choices, os.environ,
                                contexts.find_directory_pin, self.warn)

    def reresolve(self) -> None:
        """Forget the context in force and what came of it, after the
        contexts changed (the interactive mode runs several commands)."""
        self.close()
        for name in ('named', 'workspace'):
            self.__dict__.pop(name, None)

    def of(self, name: str, *, look: bool = False) -> Context:
        """This run's settings with the context ``name`` in force, and
        nothing given for one context only (endpoint, CA bundle,
        workspace, NTCLI_TOKEN): for commands that act on a context named
        as their argument, or on every context (``look``: to show it,
        changing nothing)."""
        options = argparse.Namespace(**vars(self.options))
        options.context, options.endpoint = name, None
        options.ca_bundle, options.workspace = None, None
        other = Context(self.app, options, look=look)
        other.__dict__['config'] = self.config
        if 'store' in self.__dict__:
            other.__dict__['store'] = self.store
        other.one_of_several = True
        return other

    @property
    def context_name(self) -> str:
        """The name of the context in force."""
        return self.named.name

    @property
    def credentials_key(self) -> str:
        """Where the sign-in of the context in force is stored."""
        return self.named.key

    def setting(self, flag: Any, env: str, key: str, default: Any) -> Any:
        """Resolve one setting: flag, environment, config file, default."""
        if flag is not None:
            return flag
        if os.environ.get(env):
            return os.environ[env]
        value = self.config.get(key)
        return default if value is None else value

    @property
    def endpoint_url(self) -> str:
        """The endpoint of the context in force."""
        return self.named.endpoint.rstrip('/')

    @functools.cached_property
    def timeout(self) -> float:
        value = self.setting(self.options.timeout, 'NTCLI_TIMEOUT',
                             'timeout', validate.DEFAULT_TIMEOUT)
        try:
            return validate.check_timeout(value)
        except ValueError as exc:
            raise errors.UsageError(
                f'Invalid timeout {quoted(str(value))}: it {exc}',
                'Give --timeout, NTCLI_TIMEOUT or the config setting '
                "'timeout' a number of seconds such as 30.") from None

    def check_settings(self) -> None:
        """Check every global setting before a command does anything, so
        that a bad one is a usage error with nothing changed yet."""
        if os.path.isdir(self.config_dir):
            fileio.ensure_config_dir(self.config_dir)
        self.config            # noqa: B018 - loads and checks config.json
        if getattr(self.options, 'context', None):
            contexts.check_name(self.options.context)
        self.timeout           # noqa: B018
        wanted = self.options.workspace or os.environ.get('NTCLI_WORKSPACE')
        if wanted and not (validate.is_workspace_name(wanted)
                           or validate.is_uuid(wanted)):
            raise errors.UsageError(
                f'Invalid workspace {quoted(wanted)}',
                'Give --workspace or NTCLI_WORKSPACE a workspace name (3 to '
                '32 lowercase letters, digits or hyphens) or id.')
        expiring.threshold(self)   # a bad setting fails here, not later
        if os.environ.get('NTCLI_KEY', '').strip():
            try:
                parse_keys(os.environ['NTCLI_KEY'], ',')
            except ValueError as exc:
                raise errors.UsageError(
                    f'NTCLI_KEY is not valid: {exc}',
                    'Set NTCLI_KEY to one or more Fernet keys separated by '
                    'commas, primary first, or unset it.') from None

    # -- local storage -----------------------------------------------------
    @functools.cached_property
    def store(self) -> CredentialStore:
        return CredentialStore(self.config_dir)

    @functools.cached_property
    def history(self) -> AuditLog:
        return history.AuditLog(self.config_dir, context=self._history_name)

    def _history_name(self) -> str | None:
        """The context an entry of the history is recorded for."""
        named = self.__dict__.get('named')
        return named.name if named is not None else None

    def warn(self, message: str) -> None:
        """A warning line on stderr (never on stdout)."""
        self.note(f'Warning: {message}')

    def note(self, message: str) -> None:
        """A line for the user on stderr (never on stdout)."""
        # a line of information must not fail the command that gave it
        with contextlib.suppress(OSError, ValueError):
            self.app.stderr.write(f'{escape(redact.redact(message))}\n')

    # -- endpoint ----------------------------------------------------------
    @property
    def endpoint(self) -> Endpoint:
        """The endpoint of the context in force, built on first use; it is
        contacted only by the calls made on it."""
        if self._endpoint is None:
            options = endpoints.EndpointOptions(
                timeout=self.timeout, data_dir=self.data_dir,
                ca_bundle=self.named.ca_bundle,
                debug=bool(self.options.debug))
            endpoint = endpoints.load_endpoint(self.endpoint_url, options)
            if not endpoint.embedded and self.app.stderr.isatty():
                endpoint = progress.spinning(endpoint, self.app.stderr)
            self._endpoint = endpoint
        return self._endpoint

    def embedded_database_missing(self) -> bool:
        """Whether the endpoint is the embedded one and its database does not
        exist yet: a look (completion, ``auth status``, ``token show``)
        then finds nothing, and creates nothing."""
        endpoint = self.endpoint
        return (isinstance(endpoint, LocalEndpoint)
                and not os.path.exists(endpoint.database_path))

    def close(self) -> None:
        """Release the endpoint; the next command (interactive mode) builds
        it again and finishes the pending work again."""
        self.pending_finished = False
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    # -- credentials -------------------------------------------------------
    def env_token(self) -> str | None:
        """The workspace token given in NTCLI_TOKEN, if any."""
        if self.one_of_several:
            return None
        return os.environ.get('NTCLI_TOKEN') or None

    def user_credential(self) -> str | None:
        """The user credential stored for the context (``auth login``): a
        session of a sign-in is renewed first when it is about to end (see
        ntcli.signin)."""
        if self.endpoint.embedded:
            return None
        creds = self.store.read()
        credential = creds.get_user_credential(self.credentials_key)
        record = creds.get_sign_in(self.credentials_key)
        if (credential and record is not None and record.refresh_token
                and record.expires_at - self.now() < RENEW_MARGIN):
            from ntcli import signin
            credential = signin.renew(self, record) or credential
        return credential

    def stored_token(self, workspace_id: str) -> StoredToken | None:
        """The stored workspace token of ``workspace_id``, or None; a
        warning on stderr when it expires soon (ntcli.expiring)."""
        stored = self.store.read().get_token(self.credentials_key,
                                             workspace_id)
        if stored is not None:
            self._warn_if_expiring(stored)
        return stored

    def _warn_if_expiring(self, stored: StoredToken) -> None:
        if not self.look:       # its state is written once a day
            expiring.warn_if_expiring(self, stored)

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
        stored = (creds.get_token(self.credentials_key, workspace_id)
                  if workspace_id is not None else None)
        bearer = choose_bearer(False, None, self.user_credential(),
                               stored.token if stored else None)
        if stored is not None and bearer == stored.token:
            self._warn_if_expiring(stored)
        return bearer

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
                  or (None if self.one_of_several
                      else os.environ.get('NTCLI_WORKSPACE'))
                  or self.config.active_workspace(self.context_name))
        return self.resolve_workspace(wanted)

    def resolve_workspace(self, wanted: str | None) -> Workspace:
        """A Workspace from a name or id, or the endpoint's default."""
        endpoint = self.endpoint
        known = self.config.known_workspaces(self.context_name)
        if not wanted:
            token = self.env_token()
            if token:       # the workspace of the token the run acts with
                try:
                    sub = unverified_claims(token).get('sub')
                except ValueError:
                    sub = None      # the endpoint will refuse it
                if isinstance(sub, str) and sub:
                    return Workspace(id=sub, name=names_by_id(known).get(
                        sub, sub))
            default = endpoint.default_workspace()
            if default is not None:
                return default
            if not self.store.read().get_user_credential(
                    self.credentials_key):
                raise errors.NoWorkspaceSelected(
                    hint=f"Log in to {endpoint.url} first with 'ntcli auth "
                         "login', then select a workspace with 'ntcli "
                         "workspace select NAME'.")
            raise errors.NoWorkspaceSelected()
        if validate.is_uuid(wanted):
            return Workspace(id=wanted.lower(), name=names_by_id(known).get(
                wanted.lower(), wanted))
        if wanted in known:
            return Workspace(id=known[wanted], name=wanted)
        for workspace in endpoint.list_workspaces(self.bearer()):
            if workspace.name == wanted:
                with self.update_config() as config:
                    config.remember_workspace(self.context_name,
                                              workspace.id, workspace.name)
                return workspace
        raise errors.WorkspaceNotFound(
            f'Workspace {quoted(wanted)} not found',
            "Run 'ntcli workspace list' to see the workspaces.")

    def now(self) -> int:
        return clock.now()


class PluginContext:
    """A command's view of the run's :class:`Context`: what
    the plugin guide documents for plugins, and nothing else (the stored
    credentials, the config file and the settings are ntcli's own)."""

    __slots__ = ('_whole',)

    def __init__(self, whole: Context) -> None:
        self._whole = whole

    @property
    def workspace(self) -> Workspace:
        """The workspace this run acts on."""
        return self._whole.workspace

    def resolve_workspace(self, wanted: str | None) -> Workspace:
        """A Workspace from a name or id, or the endpoint's default."""
        return self._whole.resolve_workspace(wanted)

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint of the context in force."""
        return self._whole.endpoint

    def bearer(self, workspace_id: str | None = None) -> str | None:
        """The credential this run acts with (:func:`choose_bearer`)."""
        return self._whole.bearer(workspace_id)

    def workspace_bearer(self, workspace_id: str) -> str | None:
        """:meth:`bearer` (its name in ntcli 0.1)."""
        return self._whole.bearer(workspace_id)

    def admin_bearer(self) -> str | None:
        """:meth:`bearer` without a workspace (its name in ntcli 0.1)."""
        return self._whole.bearer()

    def stored_token(self, workspace_id: str) -> StoredToken | None:
        """The stored workspace token of ``workspace_id``, or None."""
        return self._whole.stored_token(workspace_id)

    def env_token(self) -> str | None:
        """The workspace token given in NTCLI_TOKEN, if any."""
        return self._whole.env_token()

    def user_credential(self) -> str | None:
        """The user credential stored for the context (``auth login``),
        None on the embedded endpoint."""
        return self._whole.user_credential()

    @property
    def history(self) -> AuditLog:
        """The local audit trail (``token history``)."""
        return self._whole.history

    def warn(self, message: str) -> None:
        """A warning line on stderr, secrets redacted."""
        self._whole.warn(message)

    def note(self, message: str) -> None:
        """A line for the user on stderr, secrets redacted."""
        self._whole.note(message)

    @property
    def config_dir(self) -> str:
        return self._whole.config_dir

    @property
    def data_dir(self) -> str:
        return self._whole.data_dir

    def now(self) -> int:
        """Unix seconds, UTC (the clock tests move)."""
        return self._whole.now()

    def close(self) -> None:
        """Release the endpoint (before the process is replaced)."""
        self._whole.close()


def whole(context: Context | PluginContext) -> Context:
    """The run's Context behind a command's view of it: for ntcli's own
    modules, which the token operations of a plugin call."""
    return context._whole if isinstance(context, PluginContext) else context
