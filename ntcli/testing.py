"""Test fixtures for ntcli and for plugin authors.

Public and stable: :class:`IsolatedHome`, :class:`EmbeddedEndpoint`,
:class:`Result`, :func:`run_ntcli` and :class:`CLIRunner`. They use the
``fixtures`` library, so a ``testtools.TestCase`` can say
``home = self.useFixture(IsolatedHome())``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys

import fixtures


@dataclasses.dataclass
class Result:
    """What a run of ntcli left: exit status, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


class IsolatedHome(fixtures.Fixture):
    """A temporary HOME with its own XDG directories and no NTCLI_* settings.

    ``path`` is the HOME, ``config_dir`` where ntcli keeps its files,
    ``env`` the environment to give a subprocess. Every ``NTCLI_*``
    variable of the outer environment is removed; a known Fernet key is
    not set, so the key file is exercised unless a test sets one.
    """

    def _setUp(self) -> None:
        self.path = self.useFixture(fixtures.TempDir()).path
        self.config_dir = os.path.join(self.path, '.config', 'ntcli')
        self.data_dir = os.path.join(self.path, '.local', 'share', 'ntcli')
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

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ)


def ntcli_command() -> list[str]:
    """The installed ntcli as an argv prefix (beside this interpreter)."""
    script = os.path.join(os.path.dirname(sys.executable), 'ntcli')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'ntcli']


def run_ntcli(*args: str, input: str | None = None,
              env: dict[str, str] | None = None,
              timeout: float = 60) -> Result:
    """Run the installed ``ntcli`` as a subprocess and capture its result.

    Standard input is closed (not a terminal) unless ``input`` is given.
    """
    proc = subprocess.run(
        ntcli_command() + list(args), input=input if input is not None
        else '', capture_output=True, text=True,
        env=env if env is not None else dict(os.environ), timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_in_process(*args: str, input: str = '') -> Result:
    """Run the ntcli app in this process; faster, same result as run_ntcli."""
    import logging

    from ntcli import app as ntcli_app

    stdin, stdout, stderr = (io.StringIO(input), io.StringIO(),
                             io.StringIO())
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    try:
        code = ntcli_app.main(list(args), stdin=stdin, stdout=stdout,
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
    """

    def _setUp(self) -> None:
        self.home = self.useFixture(IsolatedHome())

    def run(self, *args: str, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        full_env = self.home.env
        full_env.update(env or {})
        return run_ntcli(*args, input=input, env=full_env, timeout=timeout)

    def run_in_process(self, *args: str, input: str = '') -> Result:
        return run_in_process(*args, input=input)



class PluginDistribution(fixtures.Fixture):
    """A throwaway installed distribution with entry points, for tests.

    ``PluginDistribution('hello', {'ntcli.commands': {'hello':
    'hello_mod:Hello'}}, modules={'hello_mod.py': source})`` writes the
    modules and a ``.dist-info`` into a temporary directory and puts it on
    ``PYTHONPATH`` (for subprocesses) and ``sys.path`` (in-process).
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
        info = os.path.join(self.path, f'{self.name}-0.1.dist-info')
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
        current = os.environ.get('PYTHONPATH')
        self.useFixture(fixtures.EnvironmentVariable(
            'PYTHONPATH',
            self.path + (os.pathsep + current if current else '')))
        self.useFixture(fixtures.MonkeyPatch('sys.path',
                                             [self.path] + sys.path))
