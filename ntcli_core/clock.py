"""The current time, with one seam for tests.

Every part of ntcli that decides by the clock (the authority's validation,
the CLI's expiry warnings, ``ntcli-server``) reads it here. Tests move
"now" without sleeping by setting :data:`OFFSET_ENV` to a whole number of
seconds (negative allowed) that is added to the system clock, in the CLI
and in a server alike; a value that is not such a number is ignored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: Seconds added to the system clock: a seam for tests, not a setting.
OFFSET_ENV = 'NTCLI_TEST_CLOCK_OFFSET'
#: The largest offset honoured (about a hundred years either way).
MAX_OFFSET = 100 * 366 * 86400


def offset() -> int:
    """The test offset in seconds; 0 when none (or a bad one) is set."""
    text = os.environ.get(OFFSET_ENV)
    if not text:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        return 0
    return value if -MAX_OFFSET <= value <= MAX_OFFSET else 0


def now() -> int:
    """The current time, integer Unix seconds (UTC)."""
    return int(time.time()) + offset()


def offset_read_once() -> Callable[[], int]:
    """:func:`now`, with the test offset read once, here: for a long-lived
    process whose environment does not change (a server worker), where
    reading it cost 1 us of every validation (benchmarks/RESULTS.md)."""
    shift = offset()

    def now() -> int:
        return int(time.time()) + shift
    return now
