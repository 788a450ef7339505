"""A limit on failed authentications per client address, for one node.

After ``limit`` failed authentications (answers 401, and subject tokens
refused at the token-exchange endpoint) from one address
within ``window`` seconds, that address gets ``429 TOO_MANY_REQUESTS``
with ``Retry-After`` for every request until the window ends; its
credential is not even looked at. Other addresses are not affected, and
successes neither count nor reset the count (else one valid credential
would reset an attacker's).

The counts live in anonymous shared memory made before gunicorn forks its
workers, so that the limit holds for the node (the whole ``ntcli-server
serve``), not for each worker. Nodes do not share counts: behind a load
balancer over N nodes, an address can fail up to N × limit times a window.

The table has a fixed size (no memory grows with the number of
addresses): a full bucket forgets its oldest entry, so an attacker with
many addresses can make the server forget some of them early, never
remember more.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import tempfile
import threading
import time
import typing

import falcon

from ntcli_authority import errors

DEFAULT_LIMIT = 20
DEFAULT_WINDOW = 60
MAX_LIMIT = 10 ** 6
MAX_WINDOW = 86400

# key digest, window start (ms), failures, blocked until (ms)
_SLOT = struct.Struct('<QqIxxxxq')
_BUCKETS = 1024
_WAYS = 4
# A bucket's slots, read at once
_BUCKET = struct.Struct('<' + _SLOT.format[1:] * _WAYS)
_FIELDS = len(_SLOT.unpack(bytes(_SLOT.size)))
# Digests of recent keys, per process: a client address is hashed once,
# not on every request (its cost: benchmarks/RESULTS.md).
_DIGESTS = 4096
# Held for a few microseconds; past this wait a request is let through
# unlimited rather than kept waiting.
_LOCK_WAIT = 0.05
# How often a waiter tries the lock again.
_LOCK_POLL = 0.0005


class NodeLock:
    """A lock of the processes forked from its maker, fit for gevent.

    A POSIX record lock on an unlinked file: the kernel drops the locks of
    a process that dies, so a worker killed while holding it stops nobody
    (a ``multiprocessing.Lock`` would stay taken for good). It is only
    ever tried without blocking, and a waiter sleeps between tries: in a
    gevent worker that sleep lets the worker's other requests run, where a
    blocking system call would stop them all. Record locks do not exclude
    each other within one process, so a thread lock does that: one made in
    each process on first use, after gevent (if any) has patched
    ``threading``, so that it too is waited for cooperatively.
    """

    def __init__(self) -> None:
        # lives as long as the server; its descriptor is shared on fork
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._local: tuple[int, threading.Lock] | None = None

    def _process_lock(self) -> threading.Lock:
        pid = os.getpid()
        if self._local is None or self._local[0] != pid:
            self._local = (pid, threading.Lock())
        return self._local[1]

    def acquire(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds; False if not."""
        deadline = time.monotonic() + timeout
        local = self._process_lock()
        if not local.acquire(timeout=timeout):
            return False
        while True:
            try:
                fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:                  # EAGAIN or EACCES: taken
                if time.monotonic() >= deadline:
                    local.release()
                    return False
                time.sleep(_LOCK_POLL)

    def release(self) -> None:
        fcntl.lockf(self._file, fcntl.LOCK_UN)
        self._process_lock().release()


class TooManyRequests(errors.AuthorityError):
    """Too many failed authentications from this address (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__('TOO_MANY_REQUESTS',
                         'Too many failed authentications from this address; '
                         f'try again in {retry_after} s', 429,
                         {'retry_after': retry_after})
        self.headers = {'Retry-After': str(retry_after)}


class FailureTable:
    """Failed authentications per key, in memory shared across a fork."""

    def __init__(self, limit: int = DEFAULT_LIMIT,
                 window: int = DEFAULT_WINDOW, *,
                 clock: typing.Callable[[], float] = time.time) -> None:
        if not (1 <= limit <= MAX_LIMIT and 1 <= window <= MAX_WINDOW):
            raise ValueError('limit or window out of range')
        self.limit = limit
        self.window_ms = window * 1000
        self.clock = clock
        self._memory = mmap.mmap(-1, _SLOT.size * _BUCKETS * _WAYS)
        self._lock = NodeLock()
        # Keyed, so that nobody can choose addresses that share a bucket.
        self._salt = os.urandom(16)
        self._digests: dict[str, int] = {}

    def _digest(self, key: str) -> int:
        digest = self._digests.get(key)
        if digest is None:
            raw = hashlib.blake2b(key.encode('utf-8', 'replace'),
                                  digest_size=8, key=self._salt).digest()
            digest = int.from_bytes(raw, 'little') | 1   # 0: an empty slot
            if len(self._digests) >= _DIGESTS:
                self._digests.clear()
            self._digests[key] = digest
        return digest

    def _slot(self, digest: int, now: int) -> tuple[int, tuple]:
        """The slot of ``digest``: its own, else a free or the oldest one
        of its bucket (cleared)."""
        first = (digest % _BUCKETS) * _WAYS
        values = _BUCKET.unpack_from(self._memory, first * _SLOT.size)
        oldest, oldest_start = first, None
        for way in range(_WAYS):
            index = first + way
            entry = values[way * _FIELDS:(way + 1) * _FIELDS]
            if entry[0] == digest:
                return index, entry
            start = -1 if entry[0] == 0 else max(entry[1], entry[3])
            if oldest_start is None or start < oldest_start:
                oldest, oldest_start = index, start
        return oldest, (digest, now, 0, 0)

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now).

        Every request asks, so the table is first read without the lock
        (two system calls); only an answer that refuses is read again
        under it. A read that races a write may see a slot half written:
        at worst a request racing the very write that blocks its address
        passes, and no request is refused on a torn read.
        """
        now = int(self.clock() * 1000)
        digest = self._digest(key)
        if self._slot(digest, now)[1][3] <= now:
            return 0
        if not self._lock.acquire(_LOCK_WAIT):
            return 0
        try:
            _, entry = self._slot(digest, now)
        finally:
            self._lock.release()
        return max(0, math.ceil((entry[3] - now) / 1000))

    def failed(self, key: str) -> None:
        """Count one failed authentication of ``key``."""
        now = int(self.clock() * 1000)
        digest = self._digest(key)
        if not self._lock.acquire(_LOCK_WAIT):
            return
        try:
            index, (_, start, failures, blocked) = self._slot(digest, now)
            if now - start >= self.window_ms:
                start, failures = now, 0
            failures += 1
            if failures >= self.limit:
                blocked = start + self.window_ms
            _SLOT.pack_into(self._memory, index * _SLOT.size, digest, start,
                            failures, blocked)
        finally:
            self._lock.release()


#: The error codes of the token-exchange endpoint's refusals of a subject
#: token (ntcli_server.exchange records them on the request): failed
#: authentications as much as a 401 is.
REFUSED_SUBJECT_TOKEN = frozenset({'invalid_grant', 'access_denied',
                                   'EXTERNAL_TOKEN_REJECTED'})


class AuthFailureLimit:
    """Falcon middleware: refuse blocked addresses, count 401 answers and
    refused subject tokens."""

    def __init__(self, table: FailureTable,
                 exempt: typing.Collection[str] = ()) -> None:
        """``exempt``: paths (probes) never refused."""
        self.table = table
        self.exempt = frozenset(exempt)

    def process_request(self, req: falcon.Request,
                        resp: falcon.Response) -> None:
        if req.path in self.exempt:
            return
        wait = self.table.retry_after(req.remote_addr or '')
        if wait:
            raise TooManyRequests(wait)

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        if (falcon.http_status_to_code(resp.status) == 401
                or getattr(req.context, 'error_code', None)
                in REFUSED_SUBJECT_TOKEN):
            self.table.failed(req.remote_addr or '')
