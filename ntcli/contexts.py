"""Named contexts: which endpoint, CA bundle, workspace and sign-in a
command uses, and why.

A context is a name for an endpoint, its CA bundle, a workspace and the
sign-in kept for it in the encrypted credentials store. Its sign-in is
stored under the context's *key*, which starts with the endpoint's own key
(``local``, ``https://host``) and is fixed when the context is made: a
context renamed keeps its sign-in, and a sign-in is never used for an
endpoint its key does not name.

One rule of precedence decides which context is in force: ``--context``,
then ``NTCLI_CONTEXT``, then a ``.ntcli-context`` file in the current
directory or a parent, then the current context (``ntcli context use``),
then ``local``. ``--endpoint`` and ``NTCLI_ENDPOINT`` rank as a flag and an
environment variable: one that outranks the context's own source picks the
context of that endpoint (made, named after its host, when none has it).
"""

from __future__ import annotations

import os
import re
import stat
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ntcli import errors, fileio
from ntcli.endpoints import normalize_url
from ntcli_core.records import Record
from ntcli_core.terminal import quoted

LOCAL = 'local'
DIRECTORY_FILE = '.ntcli-context'
ENV_CONTEXT = 'NTCLI_CONTEXT'
ENV_ENDPOINT = 'NTCLI_ENDPOINT'
# A context name is a short word: it appears in prompts, file names and
# completion; hosts (ntcli.example.com, 127.0.0.1) are valid names.
NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,62}', re.ASCII)
NAME_RULE = ('1 to 63 letters, digits, dots, hyphens or underscores, '
             'starting with a letter or digit')
# The directory file names one context: a line, not a document.
MAX_DIRECTORY_FILE = 256
_KEY_SUFFIX = re.compile(r'#[0-9a-f]{16}', re.ASCII)

# How strongly a choice was made, for the one rule of precedence
FLAG, ENVIRONMENT, DIRECTORY, CURRENT, DEFAULT = 4, 3, 2, 1, 0


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def check_name(name: str, what: str = 'context name') -> str:
    """A valid context name, or UsageError."""
    if not is_valid_name(name):
        raise errors.UsageError(f'Invalid {what} {quoted(name)}',
                                f'Use {NAME_RULE}.')
    return name


def endpoint_key(url: str) -> str:
    """The key an endpoint's sign-ins are stored under: ``local``, the
    normalized URL of an http(s) endpoint, or a plugin's URL as given."""
    url = url.strip()
    if url == LOCAL:
        return LOCAL
    scheme = url.split('://', 1)[0].lower() if '://' in url else ''
    if scheme in ('http', 'https'):
        return normalize_url(url)
    return url.rstrip('/')


def new_key(endpoint: str) -> str:
    """A fresh sign-in key for a context of ``endpoint``: two contexts of
    one server (two accounts) never share a sign-in."""
    return f'{endpoint_key(endpoint)}#{os.urandom(8).hex()}'


def key_endpoint(key: str) -> str:
    """The endpoint key a sign-in key belongs to."""
    head, sep, tail = key.rpartition('#')
    if sep and _KEY_SUFFIX.fullmatch(sep + tail):
        return head
    return key


def name_for_endpoint(key: str, taken: Iterable[str]) -> str:
    """A name for a context made from an endpoint: its host, then host and
    port, then a number, whichever is free first."""
    if key == LOCAL:
        candidates = [LOCAL]
    else:
        try:
            parts = urllib.parse.urlsplit(key)
            host, port = parts.hostname or '', parts.port
        except ValueError:
            host, port = '', None
        host = re.sub(r'[^A-Za-z0-9._-]+', '-', host).strip('.-_')
        base = host[:50] or 'server'
        if not base[0].isalnum():
            base = 'server-' + base
        candidates = [base] if base != LOCAL else []
        if port is not None:
            candidates.append(f'{base}-{port}')
    used = set(taken)
    for candidate in candidates:
        if candidate not in used:
            return candidate
    stem = candidates[-1] if candidates else 'server'
    number = 2
    while f'{stem}-{number}' in used:
        number += 1
    return f'{stem}-{number}'


class InForce(Record):
    """The context a command uses, and why."""

    name: str
    key: str                    # where its sign-in is kept
    endpoint: str
    ca_bundle: str | None
    reason: str                 # why this context, in words
    source: str                 # flag, environment, directory, current,
    #                             default or endpoint
    saved: bool = True          # False: made for an endpoint, not yet kept
    notes: tuple[str, ...] = ()  # overrides and ignored settings


class DirectoryPin(Record):
    """A ``.ntcli-context`` file found above the working directory."""

    path: str
    name: str | None            # None: the file was ignored
    problem: str | None = None  # why it was ignored


def _ceiling(cwd: str, home: str | None) -> str | None:
    """Where the walk up stops: HOME when the directory is under it."""
    if not home:
        return None
    home = os.path.realpath(home)
    try:
        inside = os.path.commonpath([cwd, home]) == home
    except ValueError:          # another drive on Windows
        return None
    return home if inside else None


def find_directory_pin(cwd: str | None = None,
                       home: str | None = None) -> DirectoryPin | None:
    """The nearest ``.ntcli-context`` in ``cwd`` or a parent, walking up
    to HOME (when under it) or the root; None when there is none."""
    try:
        directory = os.path.realpath(cwd or os.getcwd())
    except OSError:
        return None             # the working directory was removed
    stop = _ceiling(directory,
                    home if home is not None else os.environ.get('HOME'))
    while True:
        path = os.path.join(directory, DIRECTORY_FILE)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            return DirectoryPin(path, None, exc.strerror or str(exc))
        else:
            return _read_pin(path, st)
        parent = os.path.dirname(directory)
        if directory == stop or parent == directory:
            return None
        directory = parent


def _read_pin(path: str, st: os.stat_result) -> DirectoryPin:
    """The name a directory file gives, or why it is ignored."""
    if stat.S_ISLNK(st.st_mode):
        return DirectoryPin(path, None, 'it is a symbolic link')
    if not stat.S_ISREG(st.st_mode):
        return DirectoryPin(path, None, 'it is not a regular file')
    getuid = getattr(os, 'getuid', None)
    if getuid is not None and st.st_uid != getuid():
        return DirectoryPin(path, None, 'it is not owned by you')
    if os.name == 'posix' and st.st_mode & 0o022:
        return DirectoryPin(path, None, 'other users can write to it')
    if st.st_size > MAX_DIRECTORY_FILE:
        return DirectoryPin(path, None, f'it is larger than '
                                        f'{MAX_DIRECTORY_FILE} bytes')
    try:
        fd = fileio.open_file(path, os.O_RDONLY)
    except (OSError, errors.UnsafePath) as exc:
        reason = getattr(exc, 'strerror', None) or 'it cannot be opened'
        return DirectoryPin(path, None, str(reason))
    try:
        raw = os.read(fd, MAX_DIRECTORY_FILE + 1)
    except OSError as exc:
        return DirectoryPin(path, None, exc.strerror or str(exc))
    finally:
        os.close(fd)
    if len(raw) > MAX_DIRECTORY_FILE:
        return DirectoryPin(path, None, f'it is larger than '
                                        f'{MAX_DIRECTORY_FILE} bytes')
    try:
        text = raw.decode('ascii')
    except UnicodeDecodeError:
        return DirectoryPin(path, None, 'it is not plain ASCII text')
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith('#')]
    if len(lines) != 1 or not is_valid_name(lines[0]):
        return DirectoryPin(path, None, 'it must hold one context name '
                                        f'({NAME_RULE})')
    return DirectoryPin(path, lines[0])


class Choices(Record):
    """What the command line and the environment ask for."""

    context: str | None = None       # --context
    endpoint: str | None = None      # --endpoint
    ca_bundle: str | None = None     # --ca-bundle


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(name, '').strip()
    return value or None


def chosen_name(choices: Choices, current: str | None,
                environ: Mapping[str, str],
                pin: Callable[[], DirectoryPin | None],
                warn: Callable[[str], None]) -> tuple[str, int, str]:
    """The context name asked for, its rank and the reason, in words."""
    if choices.context:
        return check_name(choices.context), FLAG, 'from --context'
    named = _env(ENV_CONTEXT, environ)
    if named:
        if not is_valid_name(named):
            raise errors.UsageError(f'Invalid {ENV_CONTEXT} {quoted(named)}',
                                    f'Use {NAME_RULE}, or unset it.')
        return named, ENVIRONMENT, f'from {ENV_CONTEXT}'
    found = pin()
    if found is not None:
        if found.name is not None:
            return (found.name, DIRECTORY,
                    f'from {DIRECTORY_FILE} in '
                    f'{os.path.dirname(found.path)}')
        warn(f'{found.path} is ignored: {found.problem}; it can only name '
             'one of your contexts, in a file of yours that only you can '
             'write.')
    if current:
        return current, CURRENT, "the current context (ntcli context use)"
    return LOCAL, DEFAULT, 'the default context'


def resolve(contexts: Mapping[str, Mapping[str, Any]], current: str | None,
            choices: Choices, environ: Mapping[str, str],
            pin: Callable[[], DirectoryPin | None],
            warn: Callable[[str], None]) -> InForce:
    """The context in force, by the one rule of precedence.

    ``contexts`` maps every context name to its settings (``endpoint``,
    ``key``, ``ca_bundle``); ``local`` is always among them.
    """
    name, rank, reason = chosen_name(choices, current, environ, pin, warn)
    notes: list[str] = []
    url, url_rank, url_source = None, DEFAULT, ''
    if choices.endpoint:
        url, url_rank, url_source = choices.endpoint, FLAG, '--endpoint'
    elif _env(ENV_ENDPOINT, environ):
        url, url_rank = _env(ENV_ENDPOINT, environ), ENVIRONMENT
        url_source = ENV_ENDPOINT
    source = {FLAG: 'flag', ENVIRONMENT: 'environment',
              DIRECTORY: 'directory', CURRENT: 'current',
              DEFAULT: 'default'}[rank]
    entry = contexts.get(name)
    if url is not None:
        key = endpoint_key(url)
        if url_rank > rank:
            # the endpoint outranks the name: the context of that endpoint
            matches = [n for n, e in sorted(contexts.items())
                       if endpoint_key(str(e['endpoint'])) == key]
            if entry is not None and name in matches:
                matches = [name]
            if len(matches) > 1:
                raise errors.UsageError(
                    f'Several contexts use the endpoint {key}: '
                    f"{', '.join(matches)}",
                    'Name one with --context or NTCLI_CONTEXT.')
            reason = f'the context of the endpoint given by {url_source}'
            source = 'endpoint'
            if not matches:
                made = name_for_endpoint(key, contexts)
                return InForce(made, key, key, choices.ca_bundle,
                               reason + ' (new: kept when first used)',
                               source, saved=False)
            name, entry = matches[0], contexts[matches[0]]
        elif entry is not None and endpoint_key(str(entry['endpoint'])) \
                != key:
            if url_rank == rank:
                raise errors.UsageError(
                    f"The context '{name}' is for "
                    f"{endpoint_key(str(entry['endpoint']))}, not {key}",
                    "A context's sign-in is never sent to another endpoint: "
                    f'drop {url_source}, or name the context of {key}.')
            notes.append(f'{url_source} is ignored: --context outranks it')
    if entry is None:
        raise errors.UsageError(
            f'No context named {quoted(name)} ({reason})',
            "See 'ntcli context list'; make it with 'ntcli context create "
            f"{name} --endpoint URL'.")
    key = str(entry['key'])
    endpoint = str(entry['endpoint'])
    if key_endpoint(key) != endpoint_key(endpoint):
        raise errors.ConfigError(
            f"The context '{name}' keeps a sign-in of "
            f'{key_endpoint(key)} but names the endpoint {endpoint}',
            "A context's endpoint cannot be changed: delete the context and "
            'create it again.')
    ca_bundle = choices.ca_bundle or entry.get('ca_bundle')
    if choices.ca_bundle and entry.get('ca_bundle'):
        notes.append('--ca-bundle overrides the CA bundle of the context')
    return InForce(name, key, endpoint, ca_bundle, reason, source,
                   notes=tuple(notes))
