"""Audit trail retention: old events are deleted in the background.

``ntcli-server serve --audit-retention-days N`` runs :class:`AuditRetention`
in the gunicorn master: at start and then every hour it deletes the events
older than N days, a bounded batch per transaction
(:meth:`ntcli_server.authority.Authority.purge_events`), so that requests
never wait behind one long delete.
"""

from __future__ import annotations

import logging
import threading

from ntcli_server import errors

LOG = logging.getLogger('ntcli_server.retention')
INTERVAL_SECONDS = 3600


class AuditRetention(threading.Thread):
    """Deletes old audit events of the database at ``target`` until
    :meth:`stop` is called."""

    def __init__(self, target: str, days: int,
                 interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(name='audit-retention', daemon=True)
        self.target = target
        self.days = days
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            self.purge_once()
            self._stopped.wait(self.interval)

    def purge_once(self) -> int:
        """One pass; a failure is logged and retried at the next pass."""
        from ntcli_server.authority import Authority
        try:
            with Authority.open(self.target, create=False) as authority:
                deleted = authority.purge_events(self.days)
        except errors.AuthorityError as exc:
            LOG.error('Audit retention failed (will retry): %s', exc.message)
            return 0
        if deleted:
            LOG.info('Audit retention: deleted %d events older than %d '
                     'days', deleted, self.days)
        return deleted

    def stop(self) -> None:
        self._stopped.set()
