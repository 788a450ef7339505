"""PostgreSQL's change signal for token rows: a connection that LISTENs.

Schema version 8 makes every statement that updates, deletes or truncates
token rows send ``NOTIFY ntcli_tokens`` when it commits. Each process that
keeps token rows in memory (a server worker) holds one more connection,
in a thread of its own (a greenlet under gevent), that listens on that
channel: every notification starts a new generation, and the rows read
under an older one are dropped (see :mod:`ntcli_authority.token_cache`).

Failing closed. The listener answers a generation only while it has
heard from the database lately: every :data:`HEARTBEAT` seconds it sends
a query on the listening connection, and the database sends every
notification committed before that query ahead of its answer. A
generation is answered only within :data:`LEASE` seconds of sending the
last query that was answered; otherwise (the connection lost or
terminated, the database silent, the thread not scheduled) it answers
None, and validation reads the row, until a new connection listens again
(its first answered query resynchronises: a new generation).

So a token revoked on any node is refused by every node from
:data:`LEASE` seconds after the revoking transaction committed, at the
latest, within the bound the documentation states
(``ntcli_authority.storage.changes.BOUND``, 1 s). The lease leaves the
listener 0.6 s of delay (a busy worker, a slow database) before the rows
kept stop being trusted.
"""

from __future__ import annotations

import logging
import select
import threading
import time
import typing

import psycopg

from ntcli_authority.storage.dialect import one_line

#: The channel the tokens table's trigger notifies (schema version 8).
CHANNEL = 'ntcli_tokens'
#: Seconds between two queries on the listening connection.
HEARTBEAT = 0.2
#: Seconds after sending the last answered query during which the rows
#: read may be trusted without reading them again.
LEASE = 0.8
#: Seconds between two attempts to listen again after a loss.
RETRY = 0.25
#: The heartbeat: this session's process id, if it listens on CHANNEL.
HEARTBEAT_QUERY = ('SELECT pg_backend_pid() FROM pg_listening_channels() '
                   f"AS channel WHERE channel = '{CHANNEL}'")
#: The application_name of the listening connection (operators see it in
#: pg_stat_activity).
APPLICATION_NAME = 'ntcli-server listener'

LOG = logging.getLogger(__name__)


class Listener:
    """A LISTENing connection in a thread, and the generation it keeps."""

    def __init__(self, connect: typing.Callable[[], psycopg.Connection]
                 ) -> None:
        """``connect``: a new autocommit connection to the database."""
        self._connect = connect
        self._generation = 0
        # monotonic time at which the last answered query was sent
        self._heard = -LEASE
        self._stopped = threading.Event()
        self._listened = False   # an answered query on this connection
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='ntcli token listener')
        self._thread.start()

    def generation(self) -> object | None:
        if time.monotonic() - self._heard >= LEASE:
            return None
        return self._generation

    def close(self) -> None:
        """Stop listening: the thread ends within HEARTBEAT seconds."""
        self._stopped.set()
        self._heard = -LEASE

    def _changed(self, notify: psycopg.Notify) -> None:
        self._generation += 1

    def _run(self) -> None:
        reported = False    # a failure to listen again, once per loss
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - listen again
                # Whatever was read may be stale from now on (and an
                # unexpected error must not end the thread for good).
                self._heard = -LEASE
                self._generation += 1
                if self._listened:
                    reported = False
                if not reported and not self._stopped.is_set():
                    LOG.warning('Not listening for token changes (%s); '
                                'validation reads every token from the '
                                'database until listening again',
                                one_line(exc))
                    reported = True
                self._listened = False
            self._stopped.wait(RETRY)

    def _listen(self) -> None:
        conn = self._connect()
        try:
            conn.add_notify_handler(self._changed)
            conn.execute(f'LISTEN {CHANNEL}')
            session = conn.execute(HEARTBEAT_QUERY).fetchall()
            if len(session) != 1:
                raise psycopg.OperationalError(
                    'LISTEN did not take: a connection pooler in '
                    'transaction mode? The listener needs a session')
            # Rows read before the LISTEN took effect may have missed
            # their notification: a new generation drops them.
            self._generation += 1
            while not self._stopped.is_set():
                sent = time.monotonic()
                # Notifications committed before this query arrive ahead
                # of its answer, and are handled before execute returns.
                # The answer names the session, still listening (through
                # a pooler, another session would answer).
                if conn.execute(HEARTBEAT_QUERY).fetchall() != session:
                    raise psycopg.OperationalError(
                        'the listening session changed or stopped '
                        'listening')
                self._heard = sent
                self._listened = True
                # Until the next heartbeat, or at once when the database
                # sends something (a notification, or a farewell).
                select.select([conn.fileno()], [], [], HEARTBEAT)
        finally:
            self._heard = -LEASE
            conn.close()
