"""How ntcli and ntcli-server write times: ISO-8601 UTC with ``Z`` for
machines (with milliseconds in log lines), a readable UTC form for people.
Times are Unix seconds, integers except in log lines; None is never."""

from __future__ import annotations

import argparse
import datetime
import time

__all__ = ['human', 'iso', 'iso_millis', 'parse_iso', 'parse_time',
           'time_argument']


def iso(ts: int | None) -> str | None:
    """``2025-08-07T12:00:00Z`` (None stays None)."""
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def iso_millis(seconds: float) -> str:
    """``2025-08-07T12:00:00.250Z``: for log lines, which need more than
    whole seconds."""
    whole = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))
    return f'{whole}.{int(seconds % 1 * 1000):03d}Z'


def human(ts: int | None, never: str = 'Never') -> str:
    """``2025-08-07 12:00:00 UTC``, or ``never`` for None."""
    if ts is None:
        return never
    return datetime.datetime.fromtimestamp(
        ts, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def parse_time(text: str) -> int:
    """Unix seconds from Unix seconds (up to 12 digits) or an ISO-8601
    time; ValueError for anything else."""
    if text.isdigit() and len(text) <= 12:
        return int(text)
    return parse_iso(text)


def time_argument(text: str) -> int:
    """An argparse type: :func:`parse_time`, refusing in argparse's way."""
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an ISO-8601 time or Unix seconds") from None


def parse_iso(text: str) -> int:
    """Unix seconds from an ISO-8601 time; a time without zone is UTC."""
    value = text.strip()
    if value.endswith(('Z', 'z')):
        value = value[:-1] + '+00:00'
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return int(parsed.timestamp())
