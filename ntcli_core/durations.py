"""Durations as both CLIs take them: ``86400`` seconds, or numbers with a
unit, ``90s``, ``15m``, ``24h``, ``30d``, ``2w``, ``1y``, and several of
them together, largest first, as Go and systemd write them: ``1h30m``,
``1d12h``."""

from __future__ import annotations

import re

from ntcli_core.lifetimes import DAY, YEAR

__all__ = ['MAX_DIGITS', 'UNITS', 'describe', 'parse']

UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': DAY, 'w': 7 * DAY, 'y': YEAR}
#: More digits than any accepted duration needs: a 5000-digit number is
#: refused, not converted.
MAX_DIGITS = 20
# ASCII digits only (int() would take '١٢٣')
_SECONDS = re.compile(rf' *([0-9]{{1,{MAX_DIGITS}}}) *', re.ASCII)
_PART = rf'([0-9]{{1,{MAX_DIGITS}}}) *([smhdwy])'
_DURATION = re.compile(rf' *(?:{_PART} *)+', re.ASCII | re.IGNORECASE)
_PARTS = re.compile(_PART, re.ASCII | re.IGNORECASE)
_ORDER = 'ywdhms'


def parse(text: str) -> int:
    """Seconds from ``86400``, ``24h``/``30d``/``1y`` or ``1h30m``;
    ValueError for anything else (a unit twice, or out of order)."""
    match = _SECONDS.fullmatch(text)
    if match:
        return int(match.group(1))
    if not _DURATION.fullmatch(text):
        raise ValueError(f'not a duration: {text!r}')
    parts = [(int(n), unit.lower()) for n, unit in _PARTS.findall(text)]
    ranks = [_ORDER.index(unit) for _, unit in parts]
    if ranks != sorted(set(ranks)):
        raise ValueError(f'not a duration: {text!r}')
    return sum(count * UNITS[unit] for count, unit in parts)


def describe(seconds: int) -> str:
    """``7 days``, ``1 year``, ``90 seconds``: the largest exact unit."""
    for unit, size in (('year', UNITS['y']), ('day', UNITS['d']),
                       ('hour', UNITS['h']), ('minute', UNITS['m'])):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
