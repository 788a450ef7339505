"""Retention: what the database need not keep is deleted in the background.

``ntcli-server serve`` starts :class:`Retention`: a process of its own
that, at start and then every hour, deletes the sessions that expired over
a day ago, the idempotency keys too old to replay and, with
``--audit-retention-days N``, the audit events older than N days, a
bounded batch per transaction
(:meth:`ntcli_authority.authority.Authority.purge_events`), so that
requests never wait behind one long delete. Each database call waits at
most ``--db-wait``, as the workers' do; a pass that fails is logged and
tried again at the next.

A process of its own, started fresh by ``subprocess``, not a thread of the
gunicorn master (the workers are forked from the master, and a fork taken
while another thread holds a lock hung new workers) nor a
``multiprocessing`` child (a forked worker inherits multiprocessing's list
of children and, when it exits, terminates the retention process as its
own). Its settings, the database DSN among them, reach it on stdin, never
in its arguments (visible to every local user); it ends when the server
stops or when its parent has gone.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

from ntcli_authority import errors
from ntcli_authority.access import Principal
from ntcli_authority.authority import Authority
from ntcli_server import logs

LOG = logging.getLogger('ntcli_server.retention')
INTERVAL_SECONDS = 3600
PARENT_CHECK_SECONDS = 5


def purge_once(target: str, days: int | None,
               wait: float | None = None) -> int:
    """One pass: expired sessions, old idempotency keys and (with
    ``days``) old events; return how many events went. A failure is
    logged and retried at the next pass."""
    local = Principal.local()
    try:
        with Authority.open(target, create=False, wait=wait) as authority:
            sessions = authority.purge_sessions(local)
            keys = authority.purge_idempotency_keys(local)
            deleted = authority.purge_events(local, days) if days else 0
    except errors.AuthorityError as exc:
        LOG.error('Retention failed (will retry): %s', exc.message)
        return 0
    if sessions or keys:
        LOG.info('Retention: deleted %d expired sessions and %d idempotency '
                 'keys', sessions, keys)
    if deleted:
        LOG.info('Audit retention: deleted %d events older than %d days',
                 deleted, days)
    return deleted


def _run(target: str, days: int | None, wait: float | None,
         interval: float, log_level: str, log_format: str) -> None:
    """The retention process: purge, sleep, until terminated or orphaned."""
    logs.configure(log_level, log_format)
    parent = os.getppid()
    while True:
        purge_once(target, days, wait)
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if os.getppid() != parent:
                return
            time.sleep(min(PARENT_CHECK_SECONDS,
                           max(0.0, deadline - time.monotonic())))


def main() -> None:
    """Entry of the retention process: its settings are a JSON object on
    stdin."""
    settings = json.loads(sys.stdin.readline())
    _run(settings['target'], settings['days'], settings['wait'],
         float(settings['interval']), settings['log_level'],
         settings['log_format'])


class Retention:
    """The retention process of the database at ``target``: ``days`` of
    audit trail kept (None: all), ``wait`` the bound on each database
    call."""

    def __init__(self, target: str, days: int | None, *,
                 wait: float | None = None,
                 interval: float = INTERVAL_SECONDS,
                 log_level: str = 'info', log_format: str = 'text') -> None:
        self._settings = {'target': target, 'days': days, 'wait': wait,
                          'interval': interval, 'log_level': log_level,
                          'log_format': log_format}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, '-m', 'ntcli_server.retention'],
            stdin=subprocess.PIPE, close_fds=True)
        assert self._process.stdin is not None
        self._process.stdin.write(
            json.dumps(self._settings).encode() + b'\n')
        self._process.stdin.close()

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == '__main__':
    main()
