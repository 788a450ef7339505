"""The ``ntcli`` command: its entry point and its exit status.

The cliff application itself (global options, plugin discovery, errors) is
:mod:`ntcli.application`. This module imports neither it nor cliff at
module level, so that ``ntcli --version`` can answer without them: they
cost about 60 ms of a 90 ms ``--version`` (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import sys

import ntcli
from ntcli import faults, quick_exit, stop


def _started_as_ntcli() -> bool:
    """Whether this process is the ``ntcli`` command (its console script,
    or ``python -m ntcli``), not a program importing ntcli."""
    program = sys.modules.get('__main__')
    spec = getattr(program, '__spec__', None)
    path = getattr(program, '__file__', None) or ''
    if getattr(spec, 'name', None) == 'ntcli.__main__' or \
            os.path.basename(path) == 'ntcli':
        return True
    # ``python -c`` as the completion scripts run it (ntcli.shell_scripts),
    # which names itself as the console script would
    return program is not None and not path and spec is None and \
        os.path.basename(sys.argv[0]) == 'ntcli'


if _started_as_ntcli():
    # before anything else is imported: a signal now ends ntcli with one
    # line, not an import's traceback
    stop.install()

# typing is left out at run time: importing it is a tenth of --version
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from ntcli.application import NtcliApp


def _program_name() -> str:
    """The name cliff prints before the version: ``cliff.app.App.NAME``."""
    cliff_app = sys.modules.get('cliff.app')
    if cliff_app is not None:
        return cliff_app.App.NAME
    # cliff's own rule, applied to the same sys.argv[0]
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    if name == '__main__':
        name = os.path.split(os.path.dirname(sys.argv[0]))[-1]
    return name


def _print(stream: TextIO, text: str) -> int:
    """Write ``text`` before cliff is imported; the exit status. Into a
    closed pipe, 141 and nothing more said, as a command's output."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError) as exc:
        from ntcli import output
        output.discard(stream)      # lest the exit fail on it again
        return 141 if isinstance(exc, BrokenPipeError) else 1
    return 0


def _print_version(stream: TextIO) -> int:
    """Print the line cliff's ``--version`` prints: the program name and
    the version.

    cliff has argparse's version action print it, which costs argparse and
    what it imports (shutil, textwrap, gettext, locale: 5 ms of a 26 ms
    ``--version``); the line is written here instead, the same bytes on
    any terminal wide enough for it (argparse wraps it on a narrower one).
    """
    return _print(stream, f'{_program_name()} {ntcli.__version__}\n')


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of the ``ntcli`` command."""
    faults.checkpoint('entry')
    if argv is None:
        argv = sys.argv[1:]
    # started with stdout or stderr closed (cron, '>&-'): Python sets them
    # to None; the work must not fail after the fact for want of somewhere
    # to print, and a command whose output is the point (token create)
    # is told, and refuses
    stdout = stdout or sys.stdout
    stdout_closed = stdout is None
    if stdout is None:
        stdout = open(os.devnull, 'w')  # noqa: SIM115 - open for good
    stderr = stderr or sys.stderr or open(  # noqa: SIM115 - open for good
        os.devnull, 'w')
    unreadable = _not_utf8(argv)
    if unreadable is not None:
        _print(stderr, f'ntcli: error: the argument {unreadable} is not '
                       'valid UTF-8\nHint: Give every argument in UTF-8.\n')
        return 2
    if argv == ['--version']:
        return _print_version(stdout)
    if argv[:2] == ['complete', '--query']:
        # a Tab: answered from the completion table and cache, before
        # cliff is imported, when they know the answer
        from ntcli import completion_quick
        text = completion_quick.answer(argv)
        if text is not None:
            return _print(stdout, text)
    from ntcli import interrupt
    from ntcli.errors import Interrupted
    with interrupt.handled():
        try:
            return _run(argv, stdin, stdout, stderr, stdout_closed)
        except (Interrupted, KeyboardInterrupt) as exc:
            name = getattr(exc, 'name', 'Interrupted')
            detail = getattr(exc, 'detail', None)
            _say(stderr, f'{name}: {detail}' if detail else f'{name}.')
            return getattr(exc, 'exit_code', 130)


def run() -> int:
    """The ``ntcli`` command: its console script, ``python -m ntcli`` and
    the completion scripts' interpreter. :func:`main`, then the end of the
    process without the interpreter's teardown (:mod:`ntcli.quick_exit`);
    when that is not safe, main's exit status, for ``sys.exit``."""
    return quick_exit.finish(main())


def _not_utf8(argv: list[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps its bytes
    as lone surrogates), shown with those bytes escaped; None if all are."""
    for arg in argv:
        try:
            arg.encode('utf-8')
        except UnicodeEncodeError:
            raw = arg.encode('utf-8', 'surrogateescape')
            return repr(raw)[1:]
    return None


def _say(stream: TextIO, line: str) -> None:
    """Write one line to stderr, come what may."""
    try:
        stream.write(line + '\n')
        stream.flush()
    except (OSError, ValueError):
        pass


def _entry_point_cache_elsewhere() -> str | None:
    """Where stevedore's cache of entry points must point while cliff and
    stevedore are imported, or None to leave it where it is.

    stevedore fixes its cache directory
    (``$XDG_CACHE_HOME/python-entrypoints``, else under ``~/.cache``) when
    it is imported and creates it when it writes the cache, which, run as
    root with ``HOME=/nonexistent``, would create the home directory;
    pointed at a path that cannot be created, it reads the entry points
    from the distributions instead. The environment is restored at once
    (:func:`_import_application`), so commands that ntcli runs (``token
    exec``) see the user's."""
    from ntcli import paths
    base = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    if (not sys.platform.startswith('linux')
            or paths.missing_home(base) is None):
        return None
    return os.devnull               # /dev/null/…: no directory


# a function, not a contextlib.contextmanager: contextlib, functools and
# collections would be imported on every Tab
def _import_application() -> type[NtcliApp]:
    """:class:`ntcli.application.NtcliApp`, imported with stevedore's cache
    kept out of a home directory that does not exist."""
    elsewhere = _entry_point_cache_elsewhere()
    saved = os.environ.get('XDG_CACHE_HOME')
    if elsewhere is not None:
        os.environ['XDG_CACHE_HOME'] = elsewhere
    try:
        from ntcli.application import NtcliApp  # noqa: F811 - at run time
    finally:
        if elsewhere is not None:
            if saved is None:
                del os.environ['XDG_CACHE_HOME']
            else:
                os.environ['XDG_CACHE_HOME'] = saved
    return NtcliApp


def _run(argv: list[str], stdin: TextIO | None, stdout: TextIO,
         stderr: TextIO, stdout_closed: bool) -> int:
    app = None
    try:
        faults.checkpoint('start')      # a signal while importing cliff
        app = _import_application()(stdin=stdin, stdout=stdout, stderr=stderr,
                       stdout_closed=stdout_closed)
        return app.run(argv)
    except SystemExit as exc:  # --help, --version, argparse errors
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return 1
    except Exception as exc:  # raised by cliff itself under --debug
        if app is None:
            raise
        return app.report_error(exc)
    finally:
        try:
            stdout.flush()
        except (OSError, ValueError):
            from ntcli import output
            output.discard(stdout)

if __name__ == '__main__':
    sys.exit(run())
