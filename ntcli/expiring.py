"""Warnings before the stored token expires.

A token expires silently: the day it does, every program that holds it
fails. So any command that uses the stored token of a workspace prints one
line on stderr when it expires within a threshold (default 14 days;
``NTCLI_EXPIRY_WARNING``, else the setting ``expiry_warning`` of the context
in force, else the top-level ``expiry_warning`` of config.json; ``off``
turns it off)
-- never on stdout, so no machine format carries it -- and at most once a
day for each token, so that a script run every minute is not flooded. The
last warning of each token (a JTI and a time, no secret) is remembered in
``<config_dir>/expiry-warnings.json``; when that file cannot be written,
the warning is still given.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import TYPE_CHECKING, Any, Protocol

from ntcli import errors, fileio
from ntcli_core import durations, timefmt
from ntcli_core.lifetimes import DAY, MAX_LIFETIME
from ntcli_core.terminal import quoted

if TYPE_CHECKING:
    from ntcli.config import Config
    from ntcli.credentials import StoredToken


class Context(Protocol):
    """What the warning needs of the run's context (ntcli.context, which
    calls it)."""

    @property
    def config(self) -> Config: ...
    @property
    def context_name(self) -> str: ...
    @property
    def config_dir(self) -> str: ...
    def setting(self, flag: Any, env: str, key: str, default: Any) -> Any: ...
    def now(self) -> int: ...
    def warn(self, message: str) -> None: ...

SETTING = 'expiry_warning'
ENV = 'NTCLI_EXPIRY_WARNING'
DEFAULT_THRESHOLD = 14 * DAY
OFF = frozenset({'off', 'never', 'no', 'false', '0'})
STATE_FILE = 'expiry-warnings.json'
#: How many tokens' last warnings are remembered (the oldest go first).
MAX_REMEMBERED = 64
HINT = (f"Give {ENV} or the setting '{SETTING}' (of the context, or of "
        "config.json) a duration such as 14d, 48h or 1209600 (seconds), or "
        "'off'.")


def parse_threshold(value: object) -> int | None:
    """Seconds from a setting's value; None for off. ValueError for a value
    that is neither."""
    if isinstance(value, bool):
        raise ValueError('not a duration')
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        if value.strip().lower() in OFF:
            return None
        seconds = durations.parse(value)
    else:
        raise ValueError('not a duration')
    if seconds == 0:
        return None
    if not 0 < seconds <= MAX_LIFETIME:
        raise ValueError('not a duration up to ten years')
    return seconds


def threshold(context: Context) -> int | None:
    """The warning threshold in seconds, None when warnings are off.
    Raises UsageError for a bad setting."""
    value: object = os.environ.get(ENV) or None
    if value is None:
        # no context in force: that is reported where it matters
        with contextlib.suppress(errors.NtcliError):
            value = context.config.context_setting(context.context_name,
                                                   SETTING)
    if value is None:
        value = context.setting(None, ENV, SETTING, DEFAULT_THRESHOLD)
    try:
        return parse_threshold(value)
    except ValueError:
        raise errors.UsageError(
            f'Invalid expiry warning threshold {quoted(str(value))}',
            HINT) from None


def warn_if_expiring(context: Context, stored: StoredToken) -> None:
    """Warn (once a day) when ``stored`` expires within the threshold."""
    if stored.expires_at is None:
        return
    limit = threshold(context)
    now = context.now()
    left = stored.expires_at - now
    if limit is None or not 0 < left <= limit:
        return
    path = os.path.join(context.config_dir, STATE_FILE)
    warned = _read(path)
    last = warned.get(stored.jti)
    if isinstance(last, int) and 0 <= now - last < DAY:
        return
    context.warn(
        f'the stored token {stored.jti} expires in '
        f'{durations.describe(_rounded(left))} '
        f'({timefmt.iso(stored.expires_at)}); run \'ntcli token refresh\' '
        "(with --grace DURATION if programs share it). "
        f'{ENV}=off silences this.')
    warned[stored.jti] = now
    recent = sorted(warned.items(), key=lambda item: item[1])
    _write(path, dict(recent[-MAX_REMEMBERED:]))


def _rounded(seconds: int) -> int:
    """Whole days above a day, whole hours above an hour, else minutes."""
    for unit in (DAY, 3600, 60):
        if seconds >= unit:
            return seconds // unit * unit
    return seconds


def _read(path: str) -> dict[str, int]:
    try:
        raw = fileio.read_private(path)
        data: Any = json.loads(raw.decode('utf-8')) if raw else {}
    except (OSError, ValueError, errors.NtcliError):
        return {}   # a lost memory means one more warning, no failure
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items()
            if isinstance(k, str) and isinstance(v, int)
            and not isinstance(v, bool)}


def _write(path: str, warned: dict[str, int]) -> None:
    # not written: warned again next time, better than no warning
    with contextlib.suppress(OSError, errors.NtcliError):
        fileio.atomic_write(path, json.dumps(warned).encode('utf-8'))
