"""The local audit trail of token rotations and revocations.

``<config_dir>/history.jsonl`` gets one JSON object per line, appended with
a single ``write`` on an ``O_APPEND`` descriptor so that concurrent ntcli
processes never interleave their lines. It records JTIs and outcomes, never
token values.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from ntcli import fileio
from ntcli.errors import ConfigError, NtcliError
from ntcli_core.tokens import SECRET_PREFIXES

LOG = logging.getLogger(__name__)

HISTORY_FILE = 'history.jsonl'


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
        try:
            raw = fileio.read_private(self.path)
        except OSError as exc:
            raise ConfigError(
                f'Cannot read the history file {self.path}: '
                f'{exc.strerror or exc}',
                'Check its owner and permissions.') from None
        lines = raw.splitlines() if raw is not None else []
        result = []
        for raw in lines:
            try:
                entry = json.loads(raw.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                continue  # a torn or foreign line; keep the rest readable
            if isinstance(entry, dict):
                result.append(entry)
        if limit is not None:
            result = result[-limit:] if limit > 0 else []
        return result
