"""``config.json``: ntcli's non-secret settings.

The chosen endpoint, the active workspace and the known workspace names of
each endpoint, and simple options (``timeout``, ``ca_bundle``). Secrets
live in the encrypted credential store (:mod:`ntcli.store`), never here.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from typing import Any

from ntcli import fileio
from ntcli.errors import ConfigError
from ntcli_core.tokens import SECRET_PREFIXES

CONFIG_FILE = 'config.json'
LOCK_FILE = 'config.lock'
VERSION = 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f'{name} is not a number JSON allows')


def _parse(raw: bytes) -> Any:
    """JSON without NaN and Infinity (RecursionError when nested too
    deeply for the parser)."""
    return json.loads(raw.decode('utf-8'), parse_constant=_reject_constant)


def _problem(data: Any) -> str | None:
    """What is wrong with the shape of a config document, if anything."""
    if not isinstance(data, dict):
        return 'not a JSON object'
    version = data.get('version', VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        return "'version' must be a whole number"
    for key in ('endpoint', 'ca_bundle'):
        if key in data and not isinstance(data[key], str):
            return f"'{key}' must be a string"
    if 'timeout' in data:
        from ntcli.validate import check_timeout
        try:
            check_timeout(data['timeout'])
        except ValueError as exc:
            return f"'timeout' {exc}"
    endpoints = data.get('endpoints', {})
    if not isinstance(endpoints, dict):
        return "'endpoints' must be an object"
    for name, entry in endpoints.items():
        if not isinstance(entry, dict):
            return f"endpoint '{name}' must be an object"
        workspaces = entry.get('workspaces', {})
        if not isinstance(workspaces, dict) or not all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in workspaces.items()):
            return f"'workspaces' of endpoint '{name}' must map names to ids"
        active = entry.get('active_workspace')
        if active is not None and not isinstance(active, str):
            return (f"'active_workspace' of endpoint '{name}' must be a "
                    'workspace id')
    return None


class Config:
    """The settings in ``<config_dir>/config.json``."""

    def __init__(self, config_dir: str,
                 data: dict[str, Any] | None = None) -> None:
        self.config_dir = config_dir
        self.path = os.path.join(config_dir, CONFIG_FILE)
        self._data: dict[str, Any] = data if data is not None else {}
        self._data.setdefault('version', VERSION)

    @classmethod
    def load(cls, config_dir: str) -> Config:
        """Read the config; a missing file gives the defaults."""
        path = os.path.join(config_dir, CONFIG_FILE)
        try:
            raw = fileio.read_private(path)
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
        version = data.get('version', VERSION)
        if version != VERSION:
            raise ConfigError(
                f'The configuration file {path} has version {version}; '
                f'this ntcli understands version {VERSION} only',
                'It was written by another version of ntcli: upgrade ntcli, '
                'or move the file aside to start again from defaults.')
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
        """Load, yield and save under ``config.lock``; not saved on error."""
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
            if config._data != before:
                config.save()

    # -- simple settings -------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set a simple setting; None removes it."""
        if key in ('endpoints', 'version'):
            raise KeyError(key)
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    @property
    def endpoint(self) -> str | None:
        value = self._data.get('endpoint')
        return value if isinstance(value, str) and value else None

    @endpoint.setter
    def endpoint(self, value: str | None) -> None:
        self.set('endpoint', value)

    # -- workspaces, per endpoint -----------------------------------------

    def _endpoint(self, endpoint_key: str,
                  create: bool = False) -> dict[str, Any]:
        if not create:
            return self._data.get('endpoints', {}).get(endpoint_key, {})
        return self._data.setdefault('endpoints', {}).setdefault(
            endpoint_key, {})

    def active_workspace(self, endpoint_key: str) -> str | None:
        """The id of the selected workspace of ``endpoint_key``."""
        return self._endpoint(endpoint_key).get('active_workspace')

    def select_workspace(self, endpoint_key: str, workspace_id: str,
                         name: str) -> None:
        self.remember_workspace(endpoint_key, workspace_id, name)
        self._endpoint(endpoint_key, create=True)['active_workspace'] = (
            workspace_id)

    def remember_workspace(self, endpoint_key: str, workspace_id: str,
                           name: str) -> None:
        workspaces = self._endpoint(endpoint_key, create=True).setdefault(
            'workspaces', {})
        # one name per id: a renamed workspace does not linger
        for old in [n for n, i in workspaces.items() if i == workspace_id]:
            del workspaces[old]
        workspaces[name] = workspace_id

    def forget_workspace(self, endpoint_key: str, workspace_id: str) -> None:
        entry = self._endpoint(endpoint_key)
        workspaces = entry.get('workspaces', {})
        for name in [n for n, i in workspaces.items() if i == workspace_id]:
            del workspaces[name]
        if entry.get('active_workspace') == workspace_id:
            del entry['active_workspace']

    def known_workspaces(self, endpoint_key: str) -> dict[str, str]:
        """Workspace names to ids, as last seen at ``endpoint_key``."""
        return dict(self._endpoint(endpoint_key).get('workspaces', {}))
