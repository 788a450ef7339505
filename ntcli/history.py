"""The local audit trail of token rotations and revocations.

``<config_dir>/history.jsonl`` gets one JSON object per line, appended with
a single ``write`` on an ``O_APPEND`` descriptor so that concurrent ntcli
processes never interleave their lines. It records JTIs and outcomes, never
token values. It is read from its end, so that showing the latest entries
of a history of any length is quick, and a line ntcli did not write is
skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from ntcli import fileio
from ntcli.errors import ConfigError, NtcliError
from ntcli_core.tokens import SECRET_PREFIXES

LOG = logging.getLogger(__name__)

HISTORY_FILE = 'history.jsonl'
#: A line longer than this was not written by ntcli: it is skipped unread.
MAX_LINE = 1 << 16
#: The latest time an entry may hold (the end of year 9999, UTC).
LATEST = 253402300799
#: The fields of an entry that hold text (or nothing).
TEXT_FIELDS = ('action', 'jti', 'outcome', 'workspace_id', 'endpoint',
               'context', 'detail')


class AuditLog:
    """Append-only history of what ntcli did with tokens."""

    def __init__(self, config_dir: str,
                 context: Callable[[], str | None] | None = None) -> None:
        self.config_dir = config_dir
        self.path = os.path.join(config_dir, HISTORY_FILE)
        # the name of the context in force when an entry is written
        self._context = context or (lambda: None)

    def record(self, action: str, *, jti: str | None, outcome: str,
               workspace_id: str | None = None, endpoint: str | None = None,
               detail: str | None = None) -> None:
        """Append one entry.

        Anything that looks like a token or credential is redacted before
        it is written. Nothing here raises: the audit trail must not fail
        an operation that already succeeded (a file that cannot be written
        is logged).
        """
        from ntcli_core.clock import now
        from ntcli_core.redact import redact
        entry: dict[str, Any] = {
            'time': now(), 'action': action, 'jti': jti,
            'outcome': outcome, 'workspace_id': workspace_id,
            'endpoint': endpoint, 'context': self._context(),
            'detail': detail}
        line = json.dumps(entry, separators=(',', ':')) + '\n'
        if any(marker in line for marker in SECRET_PREFIXES):
            LOG.warning('A secret was redacted from the history entry of '
                        '%r; please report this as a bug.', action)
            line = redact(line)
        try:
            fileio.ensure_private_dir(self.config_dir)
            fileio.append_private(self.path, line.encode('utf-8'))
        except OSError as exc:
            LOG.warning('Could not write the history file %s: %s',
                        self.path, exc.strerror or exc)
        except NtcliError as exc:
            LOG.warning('Could not write the history file: %s', exc.message)

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The recorded entries, oldest first; the last ``limit`` if given."""
        return self.recent(limit).entries

    def recent(self, limit: int | None) -> Recent:
        """The last ``limit`` readable entries (every one when None),
        oldest first, read from the end of the file: time and memory grow
        with ``limit``, not with the file.

        A line that is not an entry ntcli writes (torn, foreign, a field of
        the wrong type, a time out of range, longer than
        :data:`MAX_LINE`) is skipped and counted; the file is not changed.
        """
        try:
            fd = fileio.open_file(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return Recent([], False, 0)
        except OSError as exc:
            raise ConfigError(
                f'Cannot read the history file {self.path}: '
                f'{exc.strerror or exc}',
                'Check its owner and permissions.') from None
        try:
            if os.fstat(fd).st_size == 0:
                return Recent([], False, 0)
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
                return _read_backwards(data, limit)
        finally:
            os.close(fd)


class Recent(NamedTuple):
    """What :meth:`AuditLog.recent` read."""

    entries: list[dict[str, Any]]
    more: bool          # older entries were left out (``limit``)
    skipped: int        # unreadable lines among those read


def _read_backwards(data: mmap.mmap, limit: int | None) -> Recent:
    found: list[dict[str, Any]] = []
    skipped = 0
    end = len(data)
    if data[end - 1:end] == b'\n':
        end -= 1
    while end >= 0:
        if limit is not None and len(found) > limit:
            # one entry more than asked for: older ones are left out
            return Recent(found[limit - 1::-1] if limit else [], True,
                          skipped)
        start = data.rfind(b'\n', 0, end) + 1
        if end - start > MAX_LINE:
            skipped += 1
        elif start < end:
            entry = _entry(data[start:end])
            if entry is None:
                skipped += 1
            else:
                found.append(entry)
        end = start - 1
    if limit is not None and len(found) > limit:
        return Recent(found[limit - 1::-1] if limit else [], True, skipped)
    return Recent(found[::-1], False, skipped)


def _entry(raw: bytes) -> dict[str, Any] | None:
    """One line as an entry, or None when it is not one ntcli writes."""
    try:
        entry = json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(entry, dict):
        return None
    when = entry.get('time')
    if when is not None and (type(when) is not int
                             or not 0 <= when <= LATEST):
        return None
    for name in TEXT_FIELDS:
        if not isinstance(entry.get(name), (str, type(None))):
            return None
    return entry
