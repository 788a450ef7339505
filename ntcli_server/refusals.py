"""How many refused authentications reach the audit trail.

Each refusal (a missing, unknown, invalid, expired or revoked credential)
used to be one ``auth.refused`` event: an unauthenticated client could grow
the database as fast as it could send requests, into a workspace's trail of
its choosing. Now each worker process records at most one such event per
client address per :data:`WINDOW` seconds; the refusals left out in
between are counted, and the next event recorded for that address says how
many there were. So one address adds at most ``workers × nodes`` events a
minute, whatever it sends; the metrics (``--metrics``) still count every
refusal.

The table has a fixed size: past :data:`MAX_ADDRESSES`, the address seen
longest ago is forgotten (its count of left-out refusals with it).
"""

from __future__ import annotations

import collections
import threading
import time
import typing

WINDOW = 60.0
MAX_ADDRESSES = 4096


class RefusalSampler:
    """Decides which refusals of each client address are recorded."""

    def __init__(self, clock: typing.Callable[[], float] | None = None,
                 window: float = WINDOW,
                 size: int = MAX_ADDRESSES) -> None:
        self._clock = clock or (lambda: time.monotonic())
        self._window = window
        self._size = size
        # address -> (when its last event was recorded, refusals left out)
        self._seen: collections.OrderedDict[str, tuple[float, int]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def admit(self, address: str) -> int | None:
        """None: leave this refusal out (it is counted); otherwise record
        it, and this many were left out before it."""
        now = self._clock()
        with self._lock:
            seen = self._seen.pop(address, None)
            if seen is not None and now - seen[0] < self._window:
                self._seen[address] = (seen[0], seen[1] + 1)
                return None
            self._seen[address] = (now, 0)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return 0 if seen is None else seen[1]
