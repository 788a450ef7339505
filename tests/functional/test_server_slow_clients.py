"""Slow clients against ``ntcli-server serve`` with its default settings:
clients that dribble their headers delay nobody else, and the server is
itself again as soon as they go."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from ntcli_server.testing import HOST
from tests.functional import rawhttp

SLOW_CLIENTS = 50
# Wide: a stalled server answers after its 30 s worker timeout, a healthy
# one in milliseconds (benchmarks/slow_clients.py measures it).
PATIENCE = 5.0


class TestSlowClients(rawhttp.LiveServerTest):

    server_options = {'workers': 2}        # serve's default

    def dribble(self, stop: threading.Event) -> None:
        """SLOW_CLIENTS connections, each sent one more header byte a
        second, never a whole request."""
        request = (b'GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                   b'X-Slow: ' + b'a' * 1000)
        sockets = [socket.create_connection((HOST, self.server.port), 5)
                   for _ in range(SLOW_CLIENTS)]
        try:
            for byte in request:
                for sock in sockets:
                    with contextlib.suppress(OSError):
                        sock.sendall(bytes([byte]))
                if stop.wait(1.0):
                    break
        finally:
            for sock in sockets:
                sock.close()

    def probe(self) -> float:
        begin = time.monotonic()
        answer = self.call('GET', '/v1/whoami', timeout=PATIENCE)
        self.assertEqual(200, answer.status, answer.body)
        return time.monotonic() - begin

    def test_dribbling_clients_delay_nobody(self):
        stop = threading.Event()
        attacker = threading.Thread(target=self.dribble, args=(stop,),
                                    daemon=True)
        attacker.start()
        self.addCleanup(attacker.join, 10)
        self.addCleanup(stop.set)
        time.sleep(2)              # every slow connection is open
        for _ in range(10):
            self.assertLess(self.probe(), PATIENCE)
            time.sleep(0.3)
        stop.set()
        attacker.join(10)
        # and after they go, the server is as it was
        for _ in range(5):
            self.assertLess(self.probe(), PATIENCE)
        self.assertNotIn('Traceback', self.server.log())
