"""Durations as both CLIs take them: ``86400`` seconds, or a number with a
unit, ``90s``, ``15m``, ``24h``, ``30d``, ``2w``, ``1y``."""

from __future__ import annotations

import re

from ntcli_core.lifetimes import DAY, YEAR

UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': DAY, 'w': 7 * DAY, 'y': YEAR}
#: More digits than any accepted duration needs: a 5000-digit number is
#: refused, not converted.
MAX_DIGITS = 20
# ASCII digits only (int() would take '١٢٣')
_DURATION = re.compile(rf' *([0-9]{{1,{MAX_DIGITS}}}) *([smhdwy]?) *',
                       re.ASCII | re.IGNORECASE)


def parse(text: str) -> int:
    """Seconds from ``86400`` or ``24h``/``30d``/``1y``; ValueError for
    anything else."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f'not a duration: {text!r}')
    return int(match.group(1)) * UNITS[(match.group(2) or 's').lower()]


def describe(seconds: int) -> str:
    """``7 days``, ``1 year``, ``90 seconds``: the largest exact unit."""
    for unit, size in (('year', UNITS['y']), ('day', UNITS['d']),
                       ('hour', UNITS['h']), ('minute', UNITS['m'])):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
