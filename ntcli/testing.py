"""Test fixtures for ntcli and for plugin authors.

Public and stable API (see docs/plugins/index.md, "Testing a plugin"):

:class:`IsolatedHome`
    A temporary HOME with its own XDG directories and no ``NTCLI_*``
    settings; ``store_token()`` puts a token in its credential store.
:class:`EmbeddedEndpoint`
    A fresh embedded token authority on a temporary (or given) data
    directory, to create workspaces and issue or revoke tokens directly.
:class:`CLIRunner`
    An :class:`IsolatedHome` and a way to run ntcli in it: ``run()`` as a
    subprocess, ``run_in_process()`` in this process; ``embedded_endpoint()``
    is the authority that the runs in that home use.
:class:`Result`
    What a run left: ``returncode``, ``stdout``, ``stderr``; ``check()``
    and ``json()``.
:func:`run_ntcli`, :func:`run_in_process`, :func:`ntcli_command`
    Run ntcli once without a fixture, or get the installed command's argv.
:class:`ImportPath`
    A directory put first on the import path, here and in subprocesses.
:class:`PluginDistribution`
    A throwaway installed distribution declaring entry points, with
    optional modules written for it.
:class:`PluginSourceTree`
    A plugin's source tree made to look installed (its real metadata and
    entry points, written by setuptools), without pip.

They are ``fixtures`` fixtures: in a ``testtools.TestCase`` write
``home = self.useFixture(IsolatedHome())``; elsewhere use one as a context
manager (``with CLIRunner() as runner: ...``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import fixtures
from stevedore import extension

from ntcli import credential_store, credentials, endpoints, errors, paths
from ntcli import main as ntcli_main
from ntcli.endpoints import (
    Endpoint,
    IssuedToken,
    Revocation,
    TokenRecord,
    Workspace,
)
from ntcli_core.lifetimes import YEAR

__all__ = ['CLIRunner', 'EmbeddedEndpoint', 'ImportPath', 'IsolatedHome',
           'PluginDistribution', 'PluginSourceTree', 'Result',
           'ntcli_command', 'run_in_process', 'run_ntcli']

ONE_YEAR = YEAR


@dataclasses.dataclass
class Result:
    """What a run of ntcli left: exit status, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (for runs with ``-f json``)."""
        return json.loads(self.stdout)

    def check(self, returncode: int = 0) -> Result:
        """Return self if the exit status is ``returncode``, else raise
        AssertionError showing both streams."""
        if self.returncode != returncode:
            raise AssertionError(
                f'expected exit status {returncode}, got {self}')
        return self

    def __str__(self) -> str:
        return (f'exit status {self.returncode}\n--- stdout\n{self.stdout}'
                f'--- stderr\n{self.stderr}---')


class IsolatedHome(fixtures.Fixture):
    """A temporary HOME with its own XDG directories and no NTCLI_* settings.

    ``path`` is the HOME, ``config_dir`` where ntcli keeps its files,
    ``data_dir`` where the embedded endpoint keeps its database, ``env``
    the environment to give a subprocess. Every ``NTCLI_*`` variable of
    the outer environment is removed; a known Fernet key is not set, so
    the key file is exercised unless a test sets one.
    """

    def _setUp(self) -> None:
        self.path = self.useFixture(fixtures.TempDir()).path
        values = {
            'HOME': self.path,
            'XDG_CONFIG_HOME': os.path.join(self.path, '.config'),
            'XDG_DATA_HOME': os.path.join(self.path, '.local', 'share'),
            'XDG_CACHE_HOME': os.path.join(self.path, '.cache'),
            'XDG_STATE_HOME': os.path.join(self.path, '.local', 'state'),
            # no keyring probing in tests unless a test asks for it
            'PYTHON_KEYRING_BACKEND': 'keyring.backends.fail.Keyring',
            'TMPDIR': os.path.join(self.path, 'tmp'),
        }
        os.makedirs(values['TMPDIR'])
        for name in list(os.environ):
            if name.startswith('NTCLI_'):
                self.useFixture(fixtures.EnvironmentVariable(name))
        for name, value in values.items():
            self.useFixture(fixtures.EnvironmentVariable(name, value))
        self.useFixture(fixtures.MonkeyPatch('tempfile.tempdir', None))
        # where ntcli itself will look, on this platform, in this home
        self.config_dir = paths.config_dir()
        self.data_dir = paths.data_dir()

    @property
    def env(self) -> dict[str, str]:
        """The current environment (this home's), as a new dict."""
        return dict(os.environ)

    def store_token(self, issued: IssuedToken,
                    endpoint_key: str = 'local') -> None:
        """Store ``issued`` as its workspace's token, as ``token refresh``
        would (encrypted, under this home's key)."""
        stored = credentials.StoredToken(
            token=issued.token, jti=issued.jti,
            workspace_id=issued.workspace_id,
            created_at=issued.created_at, expires_at=issued.expires_at)
        store = credential_store.CredentialStore(self.config_dir)
        with store.transaction() as creds:
            creds.set_token(endpoint_key, issued.workspace_id, stored)


class EmbeddedEndpoint(fixtures.Fixture):
    """A fresh embedded token authority, for preparing a test's state.

    ``EmbeddedEndpoint()`` uses a new temporary data directory;
    ``EmbeddedEndpoint(home.data_dir)`` (or ``CLIRunner.embedded_endpoint``)
    is the authority that ntcli runs in that home talk to. ``endpoint`` is
    the :class:`ntcli.endpoints.Endpoint`; the helpers below take a
    :class:`~ntcli.endpoints.Workspace`, a workspace name, or None for the
    ``default`` workspace.
    """

    def __init__(self, data_dir: str | None = None) -> None:
        super().__init__()
        self._given_data_dir = data_dir

    def _setUp(self) -> None:
        self.data_dir = (self._given_data_dir
                         or self.useFixture(fixtures.TempDir()).path)
        self.endpoint: Endpoint = endpoints.load_endpoint(
            'local', endpoints.EndpointOptions(data_dir=self.data_dir))
        self.addCleanup(self.endpoint.close)

    def workspace(self, workspace: Workspace | str | None = None
                  ) -> Workspace:
        """The workspace given by object or name (None: ``default``)."""
        if isinstance(workspace, Workspace):
            return workspace
        if workspace is None:
            default = self.endpoint.default_workspace()
            assert default is not None
            return default
        for candidate in self.endpoint.list_workspaces(None):
            if candidate.name == workspace:
                return candidate
        raise errors.WorkspaceNotFound(f"Workspace '{workspace}' not found")

    def create_workspace(self, name: str,
                         description: str | None = None) -> Workspace:
        """Create a workspace called ``name``."""
        return self.endpoint.create_workspace(None, name, description)

    def issue_token(self, workspace: Workspace | str | None = None, *,
                    expires_in: int | None = ONE_YEAR,
                    expires_at: int | None = None,
                    description: str | None = None) -> IssuedToken:
        """Issue a token: for a year by default; ``expires_at`` (Unix
        seconds) instead if given; never expiring if both are None."""
        if expires_at is not None:
            expires_in = None
        return self.endpoint.issue_token(
            None, self.workspace(workspace).id, expires_in=expires_in,
            expires_at=expires_at, description=description)

    def revoke_token(self, jti: str,
                     workspace: Workspace | str | None = None) -> Revocation:
        """Revoke the token ``jti``."""
        return self.endpoint.revoke_token(None, self.workspace(workspace).id,
                                          jti)

    def list_tokens(self, workspace: Workspace | str | None = None, *,
                    include_expired: bool = True,
                    include_revoked: bool = True) -> list[TokenRecord]:
        """Every token of the workspace, expired and revoked included."""
        return self.endpoint.list_tokens(
            None, self.workspace(workspace).id,
            include_expired=include_expired, include_revoked=include_revoked)


def ntcli_command() -> list[str]:
    """The installed ntcli as an argv prefix (beside this interpreter)."""
    script = os.path.join(os.path.dirname(sys.executable), 'ntcli')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'ntcli']


def run_ntcli(*args: str, input: str | None = None,
              env: Mapping[str, str] | None = None,
              timeout: float = 60, cwd: str | None = None) -> Result:
    """Run the installed ``ntcli`` as a subprocess and capture its result.

    ``env`` is the whole environment (default: this process's), ``cwd``
    the working directory. Standard input is empty and not a terminal
    unless ``input`` is given.
    """
    proc = subprocess.run(
        ntcli_command() + list(args), input=input if input is not None
        else '', capture_output=True, text=True,
        env=dict(env) if env is not None else dict(os.environ),
        timeout=timeout, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@contextlib.contextmanager
def _environment(env: Mapping[str, str] | None) -> Iterator[None]:
    """Replace os.environ with ``env`` for the block (None: unchanged)."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_in_process(*args: str, input: str = '',
                   env: Mapping[str, str] | None = None) -> Result:
    """Run the ntcli app in this process: faster, same result as
    :func:`run_ntcli`. ``env`` replaces the environment during the run."""

    stdin, stdout, stderr = (io.StringIO(input), io.StringIO(),
                             io.StringIO())
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    try:
        with _environment(env):
            code = ntcli_main.main(list(args), stdin=stdin, stdout=stdout,
                                  stderr=stderr)
    finally:
        # cliff adds console handlers on every run; drop them again
        root.handlers[:] = handlers
        root.setLevel(level)
    return Result(code, stdout.getvalue(), stderr.getvalue())


class CLIRunner(fixtures.Fixture):
    """An isolated HOME plus a way to run ntcli in it.

    ``runner.run('token', 'show')`` runs the installed command as a
    subprocess; ``runner.run_in_process(...)`` runs the app in this process.
    ``env`` adds variables to the home's environment for one run (a value
    of None removes one).
    """

    def _setUp(self) -> None:
        self.home = self.useFixture(IsolatedHome())
        self._endpoint: EmbeddedEndpoint | None = None

    def _env(self, extra: Mapping[str, str | None] | None) -> dict[str, str]:
        env = self.home.env
        for name, value in (extra or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def run(self, *args: str, input: str | None = None,
            env: Mapping[str, str | None] | None = None,
            timeout: float = 60, cwd: str | None = None) -> Result:
        """Run the installed ntcli in this home as a subprocess (in the
        working directory ``cwd``, default this process's)."""
        return run_ntcli(*args, input=input, env=self._env(env),
                         timeout=timeout, cwd=cwd)

    def run_in_process(self, *args: str, input: str = '',
                       env: Mapping[str, str | None] | None = None
                       ) -> Result:
        """Run the ntcli app in this process, in this home."""
        return run_in_process(*args, input=input,
                              env=self._env(env) if env else None)

    def embedded_endpoint(self) -> EmbeddedEndpoint:
        """The embedded authority that ntcli uses in this home."""
        if self._endpoint is None:
            self._endpoint = self.useFixture(
                EmbeddedEndpoint(self.home.data_dir))
        return self._endpoint


class ImportPath(fixtures.Fixture):
    """A directory put first on the import path, here and in subprocesses.

    It goes on ``sys.path`` and ``PYTHONPATH``; distributions in it
    (``*.dist-info``, ``*.egg-info``) count as installed. Modules imported
    from it are forgotten again on clean-up.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.path.abspath(path)

    def _setUp(self) -> None:
        current = os.environ.get('PYTHONPATH')
        self.useFixture(fixtures.EnvironmentVariable(
            'PYTHONPATH',
            self.path + (os.pathsep + current if current else '')))
        self.useFixture(fixtures.MonkeyPatch('sys.path',
                                             [self.path] + sys.path))
        _forget_installed()
        self.addCleanup(self._forget_modules)

    def _forget_modules(self) -> None:
        prefix = self.path + os.sep
        for name, module in list(sys.modules.items()):
            if (getattr(module, '__file__', None) or '').startswith(prefix):
                del sys.modules[name]
        _forget_installed()


def _forget_installed() -> None:
    """Make this process look for modules and entry points afresh."""
    importlib.invalidate_caches()
    # stevedore keeps each namespace's entry points for the life of the
    # process; an in-process run must see the plugins of the current path.
    extension.ExtensionManager.ENTRY_POINT_CACHE.clear()


class PluginDistribution(fixtures.Fixture):
    """A throwaway installed distribution with entry points, for tests.

    ``PluginDistribution('hello', {'ntcli.commands': {'hello':
    'hello_mod:Hello'}}, modules={'hello_mod.py': source})`` writes the
    modules and a ``.dist-info`` into a temporary directory, ``path``, and
    puts it on the import path (:class:`ImportPath`). Entry points may
    also name modules that are importable already.
    """

    def __init__(self, name: str, entry_points: dict[str, dict[str, str]],
                 modules: dict[str, str] | None = None) -> None:
        super().__init__()
        self.name = name
        self.entry_points = entry_points
        self.modules = modules or {}

    def _setUp(self) -> None:
        self.path = self.useFixture(fixtures.TempDir()).path
        for filename, source in self.modules.items():
            target = os.path.join(self.path, filename)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'w') as f:
                f.write(source)
        dist_name = self.name.replace('-', '_')
        info = os.path.join(self.path, f'{dist_name}-0.1.dist-info')
        os.makedirs(info)
        with open(os.path.join(info, 'METADATA'), 'w') as f:
            f.write(f'Metadata-Version: 2.1\nName: {self.name}\n'
                    'Version: 0.1\n')
        with open(os.path.join(info, 'entry_points.txt'), 'w') as f:
            for group, entries in self.entry_points.items():
                f.write(f'[{group}]\n')
                for ep_name, value in entries.items():
                    f.write(f'{ep_name} = {value}\n')
                f.write('\n')
        self.useFixture(ImportPath(self.path))


class PluginSourceTree(fixtures.Fixture):
    """A plugin's source tree, importable and registered as if installed.

    setuptools writes the distribution's metadata, entry points included,
    from the tree's own ``setup.cfg``/``pyproject.toml`` into a temporary
    directory (as an editable install would, but without pip, a network
    or a change to the tree); that directory and ``package_root`` (the
    tree itself, or e.g. ``src`` beneath it) go on the import path.

    ``metadata_dir`` keeps the metadata in a directory of the caller's
    (left in place): metadata already there is reused, so tests can share
    one build, for example a directory made in ``setUpClass``.
    """

    def __init__(self, source_dir: str, package_root: str = '.',
                 metadata_dir: str | None = None) -> None:
        super().__init__()
        self.source_dir = os.path.abspath(source_dir)
        self.package_root = os.path.normpath(
            os.path.join(self.source_dir, package_root))
        self._given_metadata_dir = metadata_dir

    def _setUp(self) -> None:
        self.metadata_dir = (self._given_metadata_dir
                             or self.useFixture(fixtures.TempDir()).path)
        if not glob.glob(os.path.join(self.metadata_dir, '*.egg-info')):
            self._write_metadata()
        self.useFixture(ImportPath(self.package_root))
        self.useFixture(ImportPath(self.metadata_dir))

    def _write_metadata(self) -> None:
        proc = subprocess.run(
            [sys.executable, '-c', 'import setuptools; setuptools.setup()',
             '-q', 'egg_info', '--egg-base', self.metadata_dir],
            cwd=self.source_dir, capture_output=True, text=True,
            timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(
                f'setuptools could not read the plugin in '
                f'{self.source_dir}:\n{proc.stdout}{proc.stderr}')
