"""``config.json``: ntcli's non-secret settings.

The named contexts (each: an endpoint, its CA bundle, the selected
workspace and the known workspace names, and the key its sign-in is stored
under), the current context, and simple options (``timeout``). Secrets live
in the encrypted credential store (:mod:`ntcli.credential_store`), never here.

Version 1 kept the same settings per endpoint URL; a version 1 file is
upgraded to contexts named after the endpoints' hosts when it is read, and
written back in one atomic rename (:meth:`Config.update`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from typing import Any

from ntcli import contexts, errors, fileio
from ntcli.contexts import LOCAL, endpoint_key, name_for_endpoint
from ntcli.errors import ConfigError
from ntcli.validate import check_timeout
from ntcli_core.tokens import SECRET_PREFIXES

CONFIG_FILE = 'config.json'
LOCK_FILE = 'config.lock'
VERSION = 2


def _reject_constant(name: str) -> Any:
    raise ValueError(f'{name} is not a number JSON allows')


def _parse(raw: bytes) -> Any:
    """JSON without NaN and Infinity (RecursionError when nested too
    deeply for the parser)."""
    return json.loads(raw.decode('utf-8'), parse_constant=_reject_constant)


def _workspaces_problem(entry: dict[str, Any], what: str) -> str | None:
    workspaces = entry.get('workspaces', {})
    if not isinstance(workspaces, dict) or not all(
            isinstance(k, str) and isinstance(v, str)
            for k, v in workspaces.items()):
        return f"'workspaces' of {what} must map names to ids"
    return None


def _v1_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a version 1 document (settings per endpoint)."""
    for key in ('endpoint', 'ca_bundle'):
        if key in data and not isinstance(data[key], str):
            return f"'{key}' must be a string"
    endpoints = data.get('endpoints', {})
    if not isinstance(endpoints, dict):
        return "'endpoints' must be an object"
    for name, entry in endpoints.items():
        if not isinstance(entry, dict):
            return f"endpoint '{name}' must be an object"
        problem = _workspaces_problem(entry, f"endpoint '{name}'")
        if problem:
            return problem
        active = entry.get('active_workspace')
        if active is not None and not isinstance(active, str):
            return (f"'active_workspace' of endpoint '{name}' must be a "
                    'workspace id')
    return None


def _v2_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a version 2 document (named contexts)."""
    current = data.get('current_context')
    if current is not None and not contexts.is_valid_name(current):
        return "'current_context' must be a context name"
    entries = data.get('contexts', {})
    if not isinstance(entries, dict):
        return "'contexts' must be an object"
    for name, entry in entries.items():
        if not contexts.is_valid_name(name):
            return f'{name!r} is not a valid context name'
        if not isinstance(entry, dict):
            return f"context '{name}' must be an object"
        for key in ('endpoint', 'key'):
            if not isinstance(entry.get(key), str) or not entry[key]:
                return f"context '{name}' needs '{key}' (a string)"
        for key in ('ca_bundle', 'workspace'):
            if key in entry and not isinstance(entry[key], str):
                return f"'{key}' of context '{name}' must be a string"
        problem = _workspaces_problem(entry, f"context '{name}'")
        if problem:
            return problem
    return None


def _problem(data: Any) -> str | None:
    """What is wrong with the shape of a config document, if anything."""
    if not isinstance(data, dict):
        return 'not a JSON object'
    version = data.get('version', 1)
    if isinstance(version, bool) or not isinstance(version, int):
        return "'version' must be a whole number"
    if 'timeout' in data:
        try:
            check_timeout(data['timeout'])
        except ValueError as exc:
            return f"'timeout' {exc}"
    if version == 1:
        return _v1_problem(data)
    if version == VERSION:
        return _v2_problem(data)
    return None


def _upgraded(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A version 1 document (settings per endpoint URL) as version 2 (named
    contexts), and the names of the contexts made from its endpoints.

    Each endpoint becomes a context named after its host whose sign-in key
    is the endpoint's key, under which its logins are already stored: the
    credentials file is not rewritten. The CA bundle, which applied to
    every https endpoint, goes with each of them.
    """
    data = dict(data)
    old = data.pop('endpoints', {})
    chosen = data.pop('endpoint', None)
    bundle = data.pop('ca_bundle', None)
    data['version'] = VERSION
    keys = sorted(old, key=lambda k: (k != contexts.LOCAL, k))
    current = None
    if chosen:
        try:
            current = contexts.endpoint_key(chosen)
        except errors.UsageError as exc:
            raise ValueError(f"'endpoint' {chosen!r}: {exc.message}") \
                from None
        if current not in keys:
            keys.append(current)
    made: dict[str, Any] = {}
    for key in keys:
        name = contexts.name_for_endpoint(key, made)
        entry: dict[str, Any] = {'endpoint': key, 'key': key}
        if bundle and key.startswith('https://'):
            entry['ca_bundle'] = bundle
        previous = old.get(key, {})
        if previous.get('active_workspace'):
            entry['workspace'] = previous['active_workspace']
        if previous.get('workspaces'):
            entry['workspaces'] = dict(previous['workspaces'])
        made[name] = entry
        if key == current:
            data['current_context'] = name
    data['contexts'] = made
    return data, list(made)


class Config:
    """The settings in ``<config_dir>/config.json``."""

    def __init__(self, config_dir: str,
                 data: dict[str, Any] | None = None) -> None:
        self.config_dir = config_dir
        self.path = os.path.join(config_dir, CONFIG_FILE)
        self._data: dict[str, Any] = data if data is not None else {}
        self._data.setdefault('version', VERSION)
        #: contexts made from a version 1 file's endpoints, when the file
        #: read was of that version (not yet written back)
        self.upgraded: list[str] | None = None

    @classmethod
    def load(cls, config_dir: str, *, look: bool = False) -> Config:
        """Read the config; a missing file gives the defaults. A version 1
        file is upgraded in memory (see :attr:`upgraded`). A ``look``
        (shell completion) leaves the file's mode as it is."""
        path = os.path.join(config_dir, CONFIG_FILE)
        try:
            raw = fileio.read_private(path, tighten=not look)
        except OSError as exc:
            raise ConfigError(
                f'Cannot read the configuration file {path}: '
                f'{exc.strerror or exc}',
                'Check its owner and permissions.') from None
        if raw is None:
            return cls(config_dir)
        hint = ('Fix it by hand, or move it aside so that ntcli starts '
                'again from defaults.')
        try:
            data = _parse(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            where = (f' (line {exc.lineno}, column {exc.colno})'
                     if isinstance(exc, json.JSONDecodeError) else '')
            raise ConfigError(f'The configuration file {path} is not valid '
                              f'JSON{where}', hint) from None
        except RecursionError:
            raise ConfigError(f'The configuration file {path} is nested too '
                              'deeply to be ntcli settings',
                              hint) from None
        problem = _problem(data)
        if problem:
            raise ConfigError(f'The configuration file {path} does not hold '
                              f'ntcli settings: {problem}', hint)
        version = data.get('version', 1)
        if version not in (1, VERSION):
            raise ConfigError(
                f'The configuration file {path} has version {version}; '
                f'this ntcli understands versions 1 and {VERSION}',
                'It was written by another version of ntcli: upgrade ntcli, '
                'or move the file aside to start again from defaults.')
        if version == 1:
            try:
                data, made = _upgraded(data)
            except ValueError as exc:
                raise ConfigError(f'The configuration file {path} cannot be '
                                  f'upgraded: {exc}', hint) from None
            config = cls(config_dir, data)
            config.upgraded = made
            return config
        return cls(config_dir, data)

    def save(self) -> None:
        """Write the config atomically (0600)."""
        data = json.dumps(self._data, indent=2, sort_keys=True) + '\n'
        # Tokens and user credentials never go into this file.
        if any(marker in data for marker in SECRET_PREFIXES):
            # A bug upstream, never the user's doing; the text stays out of
            # the message because it is a secret.
            raise ConfigError(f'Refusing to write a secret into {self.path}',
                              'This is a bug in ntcli; please report it.')
        try:
            fileio.ensure_private_dir(self.config_dir)
            fileio.atomic_write(self.path, data.encode('utf-8'), 0o600)
        except OSError as exc:
            raise ConfigError(
                f'Cannot write the configuration file {self.path}: '
                f'{exc.strerror or exc}',
                'Check the free space and permissions of '
                f'{self.config_dir}.') from None

    @classmethod
    @contextlib.contextmanager
    def update(cls, config_dir: str,
               timeout: float | None = 30) -> Iterator[Config]:
        """Load, yield and save under ``config.lock``; not saved on error.
        A version 1 file is written back as version 2 in the same rename."""
        try:
            fileio.ensure_private_dir(config_dir)
        except OSError as exc:
            raise ConfigError(
                f'Cannot create the config directory {config_dir}: '
                f'{exc.strerror or exc}',
                'Check the path and its permissions, or pass --config-dir.'
            ) from None
        with fileio.FileLock(os.path.join(config_dir, LOCK_FILE), timeout,
                             'the configuration'):
            config = cls.load(config_dir)
            before = copy.deepcopy(config._data)
            yield config
            if config._data != before or config.upgraded is not None:
                config.save()

    # -- simple settings -------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a simple setting; None removes it."""
        if key in ('contexts', 'current_context', 'version'):
            raise KeyError(key)
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    # -- contexts ----------------------------------------------------------

    @property
    def current_context(self) -> str | None:
        """The context ``ntcli context use`` chose; None: ``local``."""
        return self._data.get('current_context')

    @current_context.setter
    def current_context(self, name: str | None) -> None:
        if name is None:
            self._data.pop('current_context', None)
        else:
            self._data['current_context'] = name

    def contexts(self) -> dict[str, dict[str, Any]]:
        """Every context by name (copies), ``local`` always among them."""
        result = {LOCAL: {'endpoint': LOCAL, 'key': LOCAL}}
        result.update(copy.deepcopy(self._data.get('contexts', {})))
        return result

    def _context(self, name: str, create: bool = False) -> dict[str, Any]:
        entries = self._data.get('contexts', {})
        if name in entries or not create:
            return entries.get(name, {})
        if name != LOCAL:
            raise KeyError(name)
        entry = {'endpoint': LOCAL, 'key': LOCAL}
        self._data.setdefault('contexts', {})[name] = entry
        return entry

    def add_context(self, name: str, *, endpoint: str, key: str,
                    ca_bundle: str | None = None,
                    workspace: str | None = None) -> None:
        """Keep a new context; its name must be unused."""
        if name in self.contexts():
            raise KeyError(name)
        entry: dict[str, Any] = {'endpoint': endpoint, 'key': key}
        if ca_bundle:
            entry['ca_bundle'] = ca_bundle
        if workspace:
            entry['workspace'] = workspace
        self._data.setdefault('contexts', {})[name] = entry

    def adopt_endpoint(self, key: str, name: str | None = None,
                       ca_bundle: str | None = None) -> str:
        """The name of the context of the endpoint ``key``, made (named
        ``name`` if free, else after the host) when there is none."""
        for existing, entry in sorted(self.contexts().items()):
            if endpoint_key(entry['endpoint']) == key:
                return existing
        taken = self.contexts()
        if name is None or name in taken:
            name = name_for_endpoint(key, taken)
        self.add_context(name, endpoint=key, key=key, ca_bundle=ca_bundle)
        return name

    def remove_context(self, name: str) -> None:
        self._data.get('contexts', {}).pop(name, None)
        if self.current_context == name:
            self.current_context = None

    def rename_context(self, old: str, new: str) -> None:
        """Rename a context; its sign-in key, hence its sign-in, stays."""
        if new in self.contexts():
            raise KeyError(new)
        entries = self._data.setdefault('contexts', {})
        entries[new] = entries.pop(old) if old in entries else \
            self.contexts()[old]
        if self.current_context == old:
            self.current_context = new

    def context_setting(self, name: str, key: str) -> Any:
        """A setting of one context (None when unset)."""
        return self._context(name).get(key)

    def set_context_setting(self, name: str, key: str, value: Any) -> None:
        """Set (or, with None, remove) a setting of one context."""
        if key in ('endpoint', 'key'):
            raise KeyError(key)     # fixed when the context is made
        entry = self._context(name, create=True)
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value

    # -- workspaces, per context -----------------------------------------

    def active_workspace(self, context: str) -> str | None:
        """The workspace of ``context``: an id, or a name not yet seen."""
        chosen = self._context(context).get('workspace')
        if chosen is None:
            return None
        return self.known_workspaces(context).get(chosen, chosen)

    def select_workspace(self, context: str, workspace_id: str,
                         name: str) -> None:
        self.remember_workspace(context, workspace_id, name)
        self._context(context, create=True)['workspace'] = workspace_id

    def remember_workspace(self, context: str, workspace_id: str,
                           name: str) -> None:
        workspaces = self._context(context, create=True).setdefault(
            'workspaces', {})
        # one name per id: a renamed workspace does not linger
        for old in [n for n, i in workspaces.items() if i == workspace_id]:
            del workspaces[old]
        workspaces[name] = workspace_id

    def forget_workspace(self, context: str, workspace_id: str) -> None:
        entry = self._context(context)
        workspaces = entry.get('workspaces', {})
        names = [n for n, i in workspaces.items() if i == workspace_id]
        for name in names:
            del workspaces[name]
        if entry.get('workspace') in (workspace_id, *names):
            del entry['workspace']

    def known_workspaces(self, context: str) -> dict[str, str]:
        """Workspace names to ids, as last seen in ``context``."""
        return dict(self._context(context).get('workspaces', {}))
