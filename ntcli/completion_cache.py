"""The files that let Tab answer without starting the application.

They live in ``$XDG_CACHE_HOME/ntcli/completion`` (``~/.cache/...``):

* ``table-*.marshal``, the completion table of one installation
  (:mod:`ntcli.completion_table`);
* ``values-*.marshal``, the values last looked up for one config directory:
  workspace names, JTIs, context names and endpoints, each under a digest
  of the line's global options, the environment and the working directory
  they were asked with, and the state of the config and data directories
  then.
  None of them is a secret: a JTI names a token, it does not let anyone
  use it; tokens, credentials and keys are never written here.

A file is used only when it is a regular file of the user's, not a
symbolic link, that no one else may write to, in a directory of the same
kind, small, and well formed; anything else is ignored as if it were not
there, silently. Values older than :data:`FRESH` seconds, or looked up
before the config or data directory last changed, are still offered, and
refreshed by a background ``ntcli complete --refresh`` (its input and
output /dev/null, in a session of its own: it can neither ask nor print
anything), at most one every :data:`REFRESH_EVERY` seconds per config
directory.

Imported on every Tab, before anything else: the standard library's
lightest modules only (``binascii``; ``marshal`` is loaded with the
interpreter). The files are in :mod:`marshal`'s format, written and read by
ntcli alone: ``json`` would import ``re`` for its decoder, 5-10 ms of a
25 ms Tab, measured (benchmarks/RESULTS.md). Only plain data (dicts, lists,
strings, numbers) is accepted back; the files are the user's own (see
above), so :mod:`marshal`'s warning against data from others does not
apply.
"""

from __future__ import annotations

import binascii
import marshal
import os
import stat
import sys
import time

from ntcli import paths

# typing is left out at run time: see ntcli.main
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FORMAT = 2
# Values looked up less than FRESH seconds ago, with the config and data
# directories unchanged since, are offered without a refresh.
FRESH = 30
# At most one background refresh every REFRESH_EVERY seconds per config
# directory.
REFRESH_EVERY = 5
# The most a cache file may hold; the most values entries it keeps.
MAX_BYTES = 1 << 20
MAX_ENTRIES = 64
# What a value lookup depends on besides the line's options: the
# environment variables that choose the context, endpoint, workspace and
# directories (NTCLI_TOKEN only as set or not: it is a secret).
ENVIRONMENT = ('NTCLI_CONTEXT', 'NTCLI_ENDPOINT', 'NTCLI_WORKSPACE',
               'NTCLI_DATA_DIR', 'XDG_DATA_HOME', 'HOME')

_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
_NONBLOCK = getattr(os, 'O_NONBLOCK', 0)


def directory() -> str | None:
    """The cache directory, or None where it is not plain XDG (left to
    the slow path there)."""
    base = paths.cache_home()
    return None if base is None else os.path.join(base, 'ntcli',
                                                  'completion')


def _ours(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    getuid = getattr(os, 'geteuid', None)
    return ((getuid is None or st.st_uid == getuid())
            and not stat.S_IMODE(st.st_mode) & 0o022)


def _safe_directory(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _ours(st)


def digest(text: str) -> str:
    """A short name for ``text`` in a file name (the file says in full what
    it is for, and is checked)."""
    return format(binascii.crc32(text.encode('utf-8', 'surrogateescape')),
                  '08x')


def read(name: str) -> dict | None:
    """The dictionary in the cache file ``name``; None when it is missing,
    unsafe, too large or not one of plain data."""
    folder = directory()
    if folder is None or not _safe_directory(folder):
        return None
    try:
        fd = os.open(os.path.join(folder, name),
                     os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or not _ours(st)
                or st.st_size > MAX_BYTES):
            return None
        data = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        found = marshal.loads(data)
    except (ValueError, EOFError, TypeError):   # damaged, or not marshal
        return None
    if type(found) is not dict or not _plain(found) \
            or found.get('format') != FORMAT:
        return None
    return found


_PLAIN = (str, int, float, type(None))


def _plain(value: object, depth: int = 0) -> bool:
    """Only what ntcli writes: dictionaries keyed by strings, lists,
    strings, numbers, booleans and None (not code, bytes or sets)."""
    if isinstance(value, _PLAIN):
        return True
    if depth > 20:
        return False
    if type(value) is list:
        return all(_plain(item, depth + 1) for item in value)
    return type(value) is dict and all(
        type(key) is str and _plain(item, depth + 1)
        for key, item in value.items())


def _make_directory(path: str) -> None:
    """Create ``path`` and its missing parents, 0700."""
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        _make_directory(parent)
    try:  # noqa: SIM105 - contextlib is not imported on a Tab
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


def write(name: str, content: dict) -> None:
    """Replace the cache file ``name`` (0600, in a 0700 directory); a cache
    that cannot be written is not used, silently."""
    folder = directory()
    if folder is None:
        return
    from ntcli import fileio
    try:
        _make_directory(folder)
        if not _safe_directory(folder):
            return
        data = marshal.dumps(dict(content, format=FORMAT))
        if len(data) > MAX_BYTES:
            return
        fileio.atomic_write(os.path.join(folder, name), data, 0o600)
    except (OSError, ValueError):       # ValueError: not plain data
        pass


# -- values -------------------------------------------------------------------

def _directories(options: dict[str, Any]) -> tuple[str, str]:
    """The config and data directories of a lookup with ``options``."""
    return (paths.config_dir(options.get('config_dir')),
            paths.data_dir(options.get('config_dir')))


def _values_file(config_dir: str) -> str:
    return f'values-{digest(config_dir)}.marshal'


def entry_key(source: str, options: dict[str, Any]) -> str:
    """What a lookup of ``source`` depends on, but the files (see
    :func:`stamp`), as a digest: the line's options are kept out of the
    file (an endpoint given with a password in it, say)."""
    environment: dict[str, Any] = {name: os.environ.get(name)
                                   for name in ENVIRONMENT}
    environment['NTCLI_TOKEN'] = bool(os.environ.get('NTCLI_TOKEN'))
    try:
        cwd = os.getcwd()           # a .ntcli-context file chooses too
    except OSError:
        cwd = None
    text = repr([source, sorted(options.items()),
                 sorted(environment.items()), cwd])
    return _sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()


def _sha256(data: bytes) -> Any:
    """hashlib's SHA-256 without hashlib, which loads OpenSSL for it:
    measured, 3-5 ms of a Tab for values."""
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # 3.12+
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:                 # built without them
            from hashlib import sha256
    return sha256(data)


def stamp(options: dict[str, Any]) -> list:
    """The state of the files values come from: each file of the config
    and data directories, its size and modification time (SQLite's shared
    memory index, written by readers too, aside)."""
    found = []
    for folder in _directories(options):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith('-shm'):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append([entry.path, st.st_size, st.st_mtime_ns])
    return sorted(found)


def _candidates(stored: object) -> list[tuple[str, str]] | None:
    """The values of an entry, if they are what ntcli writes."""
    if not isinstance(stored, list):
        return None
    found = []
    for item in stored:
        if (not isinstance(item, list) or len(item) != 2
                or not all(isinstance(x, str) for x in item)):
            return None
        found.append((item[0], item[1]))
    return found


def cached_values(source: str, options: dict[str, Any]
                  ) -> tuple[list[tuple[str, str]] | None, bool]:
    """The values last looked up for ``source`` with the line's global
    ``options``, and whether they are fresh; (None, False) when there are
    none."""
    config_dir = _directories(options)[0]
    content = read(_values_file(config_dir))
    if content is None or content.get('config_dir') != config_dir:
        return None, False
    entries = content.get('entries')
    entry = entries.get(entry_key(source, options)) if isinstance(
        entries, dict) else None
    if not isinstance(entry, dict):
        return None, False
    found = _candidates(entry.get('values'))
    at = entry.get('at')
    if found is None or not isinstance(at, (int, float)):
        return None, False
    fresh = (0 <= time.time() - at < FRESH
             and entry.get('stamp') == stamp(options))
    return found, fresh


def store_values(source: str, options: dict[str, Any],
                 found: list[tuple[str, str]]) -> None:
    """Keep the values just looked up (the most recent MAX_ENTRIES)."""
    config_dir = _directories(options)[0]
    name = _values_file(config_dir)
    content = read(name)
    entries = content.get('entries') if content is not None and \
        content.get('config_dir') == config_dir else None
    if not isinstance(entries, dict):
        entries = {}
    entries[entry_key(source, options)] = {
        'at': time.time(), 'stamp': stamp(options),
        'values': [list(pair) for pair in found]}

    def at(key: str) -> float:
        value = entries[key].get('at') if isinstance(
            entries[key], dict) else None
        return value if isinstance(value, (int, float)) else 0.0
    for key in sorted(entries, key=at)[:max(0, len(entries) - MAX_ENTRIES)]:
        del entries[key]
    write(name, {'config_dir': config_dir, 'entries': entries})


# What the background refresh runs: ntcli's entry point with the sys.path
# of the Tab that started it (not ``python -m ntcli``, which would put the
# working directory first: Tab in a directory holding an ``ntcli`` package
# would run it), ending as the console script does (ntcli.main.run).
_REFRESH = ('import sys; sys.path[0] = sys.argv.pop(1); '
            'from ntcli.main import run; sys.exit(run())')


def refresh_in_background(options: dict[str, Any], argv: list[str]) -> None:
    """Start ``ntcli complete --refresh ARGV`` detached, unless one started
    less than REFRESH_EVERY seconds ago for the config directory of the
    line's global ``options``."""
    config_dir = _directories(options)[0]
    folder = directory()
    if folder is None or not hasattr(os, 'fork') or \
            not _safe_directory(folder):
        return
    mark = os.path.join(folder, f'refresh-{digest(config_dir)}')
    try:
        st = os.lstat(mark)
        if 0 <= time.time() - st.st_mtime < REFRESH_EVERY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        fd = os.open(mark, os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _NONBLOCK,
                     0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            os.utime(fd)
        finally:
            os.close(fd)
        pid = os.fork()
    except OSError:
        return
    if pid:
        try:  # noqa: SIM105 - contextlib is not imported on a Tab
            os.waitpid(pid, 0)
        except OSError:
            pass
        return
    # the child: a session of its own, and a grandchild that outlives it,
    # so that the shell waits for neither
    try:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            # ntcli started as this Tab's was: the same sys.path, whose
            # first entry (the script's directory) comes first again
            os.execv(sys.executable, [sys.executable, '-c', _REFRESH,
                                      sys.path[0], 'complete', '--refresh',
                                      *argv])
    finally:
        os._exit(0)
