"""Audit trail retention: old events are deleted in the background.

``ntcli-server serve --audit-retention-days N`` starts
:class:`AuditRetention`: a process of its own that, at start and then every
hour, deletes the events older than N days, a bounded batch per
transaction (:meth:`ntcli_server.authority.Authority.purge_events`), so
that requests never wait behind one long delete.

A process, started fresh (``spawn``), not a thread of the gunicorn master:
the workers are forked from the master, and a fork taken while another
thread holds a lock (SQLite's, gevent's hub) hung new workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import time

from ntcli_server import errors

LOG = logging.getLogger('ntcli_server.retention')
INTERVAL_SECONDS = 3600


def purge_once(target: str, days: int) -> int:
    """One pass; a failure is logged and retried at the next pass."""
    from ntcli_server.authority import Authority
    try:
        with Authority.open(target, create=False) as authority:
            deleted = authority.purge_events(days)
    except errors.AuthorityError as exc:
        LOG.error('Audit retention failed (will retry): %s', exc.message)
        return 0
    if deleted:
        LOG.info('Audit retention: deleted %d events older than %d days',
                 deleted, days)
    return deleted


def _run(target: str, days: int, interval: float, log_level: str,
         log_format: str) -> None:
    """The retention process: purge, sleep, until terminated."""
    from ntcli_server import logs
    logs.configure(log_level, log_format)
    while True:
        purge_once(target, days)
        time.sleep(interval)


class AuditRetention:
    """The retention process of the database at ``target``."""

    def __init__(self, target: str, days: int, *,
                 interval: float = INTERVAL_SECONDS,
                 log_level: str = 'info', log_format: str = 'text') -> None:
        self._process = multiprocessing.get_context('spawn').Process(
            target=_run, name='ntcli-server audit retention', daemon=True,
            args=(target, days, interval, log_level, log_format))

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
