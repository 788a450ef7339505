"""Running a program with the workspace token in its environment, for
``ntcli token exec``.

ntcli replaces itself with the program (``execve``) instead of starting it
as a child and waiting:

* the program is the process its caller started: every signal sent to it
  (SIGINT, SIGTERM, SIGHUP, and SIGKILL, which no parent could forward)
  reaches the program itself, a terminal's Ctrl-C once and not twice, and
  its exit status, a death by a signal included, is what the caller sees
  (a shell shows 128+N);
* nothing of ntcli stays behind holding the token, a lock or a connection.

What a supervising parent would have done afterwards is done before: the
refresh, its revocation (or its recorded retry) and the store lock are all
finished, and ntcli's files are closed (Python opens them close-on-exec)
when the program starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from ntcli import errors
from ntcli.keychain import ENV_VAR as KEY_ENV_VAR

DEFAULT_ENV_NAME = 'NTCLI_TOKEN'
# What POSIX shells accept as a variable name.
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
# Python ignores these at start-up; an ignored signal stays ignored across
# exec, so the program gets them back as the shell would have given them
# (subprocess's restore_signals does the same).
_RESTORED_SIGNALS = ('SIGPIPE', 'SIGXFZ', 'SIGXFSZ')
_PATH_HINT = 'Check the name of the command and the PATH it is looked up in.'
# Variables that the dynamic loader, the shell or the program's runtime
# act on: the token as their value would be loaded, run, printed in an
# error ("ld.so: object 'wst_...' cannot be preloaded") or would break
# the program's lookup of commands and files.
RESERVED_ENV_NAMES = frozenset((
    'PATH', 'HOME', 'SHELL', 'USER', 'LOGNAME', 'PWD', 'TMPDIR', 'TERM',
    'IFS', 'ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'CDPATH',
    'GLOBIGNORE', 'PS4', 'PROMPT_COMMAND', 'LANG', 'LANGUAGE',
    'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PERL5OPT', 'PERL5LIB',
    'RUBYOPT', 'NODE_OPTIONS', 'JAVA_TOOL_OPTIONS', 'GCONV_PATH',
    'LOCPATH', 'NLSPATH', 'MALLOC_CHECK_'))
RESERVED_ENV_PREFIXES = ('LD_', 'DYLD_', 'LC_', 'BASH_FUNC_')


def check_env_name(name: str) -> str:
    """``name`` if it can name an environment variable; else UsageError."""
    if not _ENV_NAME.match(name):
        raise errors.UsageError(
            f'Invalid environment variable name for --env: {name!r}',
            'Use letters, digits and underscores, not starting with a '
            'digit (NTCLI_TOKEN, API_TOKEN).')
    if name == KEY_ENV_VAR:
        raise errors.UsageError(
            f'{KEY_ENV_VAR} is the key of the credentials file and cannot '
            'carry the token', 'Choose another name for --env.')
    if name.upper() in RESERVED_ENV_NAMES or \
            name.upper().startswith(RESERVED_ENV_PREFIXES):
        raise errors.UsageError(
            f'{name} cannot carry the token: the loader, the shell or the '
            "program's runtime acts on it (and may print it)",
            'Choose a name of your own for --env (NTCLI_TOKEN, API_TOKEN).')
    return name


def find_program(name: str, search_path: str | None) -> str:
    """The file that ``name`` runs, found as a shell finds it.

    A name with a slash is a path; any other is looked up in
    ``search_path`` (PATH). Raises CommandNotFound (127) or
    CommandNotExecutable (126) with the shell's wording. (shutil.which
    skips a file it cannot run, so it cannot tell 126 from 127.)
    """
    if '/' in name:
        if os.path.isdir(name):
            raise _not_executable(name, 'Is a directory')
        if not os.path.exists(name):
            raise errors.CommandNotFound(
                f'{name!r}: No such file or directory', _PATH_HINT)
        if not os.access(name, os.X_OK):
            raise _not_executable(name, 'Permission denied')
        return name
    denied = None
    directories = (os.defpath if search_path is None else search_path)
    for directory in directories.split(os.pathsep) if name else ():
        candidate = os.path.join(directory or '.', name)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = denied or candidate
    if denied:
        raise _not_executable(denied, 'Permission denied')
    raise errors.CommandNotFound(f'{name!r}: command not found', _PATH_HINT)


def _not_executable(name: str, reason: str) -> errors.CommandNotExecutable:
    return errors.CommandNotExecutable(
        f'{name!r}: {reason}',
        'Give a program that this user may run (chmod +x, or a #! line '
        'for a script).')


def child_environment(environ: Mapping[str, str], name: str,
                      token: str) -> dict[str, str]:
    """``environ`` with the token under ``name`` and without NTCLI_KEY.

    The program needs the token, not the key that decrypts every
    credential ntcli keeps.
    """
    env = {k: v for k, v in environ.items() if k != KEY_ENV_VAR}
    env[name] = token
    return env


def replace_process(program: str, argv: Sequence[str],
                    env: Mapping[str, str],
                    streams: Sequence[TextIO] = ()) -> None:
    """Become ``program``; return only by raising CommandNot*.

    What ntcli wrote to ``streams`` (and to sys.stdout and sys.stderr) is
    flushed first: exec discards whatever is still buffered.
    """
    for stream in (*streams, sys.stdout, sys.stderr):
        if stream is None:                  # closed when ntcli started
            continue
        # closed or broken: nothing is left to lose
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    restored = {}
    for signame in _RESTORED_SIGNALS:
        if hasattr(signal, signame):
            number = getattr(signal, signame)
            restored[number] = signal.signal(number, signal.SIG_DFL)
    try:
        os.execve(program, list(argv), dict(env))
    except OSError as exc:
        for number, handler in restored.items():   # still ntcli: as before
            signal.signal(number, handler)
        if isinstance(exc, FileNotFoundError) and os.path.exists(program):
            # the file is there: its #! interpreter is not (bash: 126)
            raise _not_executable(
                argv[0], 'bad interpreter: No such file or directory') \
                from None
        if isinstance(exc, FileNotFoundError):
            raise errors.CommandNotFound(
                f'{argv[0]!r}: No such file or directory',
                _PATH_HINT) from None
        raise _not_executable(argv[0], exc.strerror or str(exc)) from None
