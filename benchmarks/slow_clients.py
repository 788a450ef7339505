#!/usr/bin/env python3
"""How ``ntcli-server serve`` answers a normal client while slow clients
hold connections open (a "slowloris"), and how fast it recovers.

Usage (with the Python of the virtualenv ntcli[server] is installed in)::

    python benchmarks/slow_clients.py [--slow 50] [--hold 20] [--json FILE]
        [--command 'CMD with {port} and {db}'] [-- SERVE-OPTIONS...]

It starts ``ntcli-server serve`` (default settings, plus SERVE-OPTIONS) on
127.0.0.1 with a fresh SQLite database, or ``--command`` instead (to
compare other servers on the same app), then:

1. ``--slow`` connections each send a request's headers one byte a second
   for ``--hold`` seconds (they never finish them), while a normal client
   validates a token every 0.2 s on a new connection;
2. the slow connections are closed and the normal client goes on for 5 s.

It prints the normal client's worst and median latency during and after
the attack, and its failures. Everything stops by itself: every loop is
bounded in time, and the server is stopped when the script ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_load  # noqa: E402  (its HTTP client and server helpers)

PROBE_EVERY = 0.2
AFTER = 5.0
SLOW_REQUEST = (b'GET /v1/token_auth HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                b'X-Padding: ' + b'a' * 4000)


@contextlib.contextmanager
def custom_server(command: str, db: str, root: str) -> Iterator[int]:
    """A server started from a command template, stopped on exit."""
    port = server_load.free_port()
    argv = shlex.split(command.format(port=port, db=db))
    # closed in the finally below, once the server is stopped
    log = open(os.path.join(root, 'server.log'), 'wb')  # noqa: SIM115
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, 'NTCLI_SERVER_DB': db})
    try:
        deadline = time.monotonic() + server_load.READY_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if server_load.Client(port).call('GET', '/healthz',
                                                 {})[0] == 200:
                    break
            if proc.poll() is not None:
                raise server_load.BenchmarkError(f'{argv[0]} exited')
            time.sleep(0.1)
        yield port
    finally:
        server_load.stop_server(proc)
        log.close()


def serve_server(options: list[str], db: str, root: str) -> Iterator[int]:
    """``ntcli-server serve`` with its defaults plus ``options``."""
    command = ' '.join(shlex.quote(part) for part in
                       server_load.server_command() + [
                           '--db', '{db}', 'serve', '--bind',
                           '127.0.0.1:{port}', '--access-log',
                           os.path.join(root, 'access.log'),
                           '--log-level', 'warning', *options])
    return custom_server(command, db, root)


def dribble(port: int, stop: threading.Event, opened: list[int]) -> None:
    """One slow client: a byte a second until told to stop."""
    try:
        sock = socket.create_connection(('127.0.0.1', port), timeout=5)
    except OSError:
        return
    opened.append(1)
    with sock:
        for byte in SLOW_REQUEST:
            if stop.wait(1.0):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return            # the server gave up on us: fine


def probe(port: int, token: str, until: float) -> list[tuple[float, float,
                                                            int]]:
    """(start, latency, status) of one validation every PROBE_EVERY s."""
    results = []
    while time.monotonic() < until:
        begin = time.monotonic()
        client = server_load.Client(port)
        try:
            status, _ = client.call('GET', '/v1/token_auth',
                                    {'Authorization': 'Bearer ' + token,
                                     'Connection': 'close'})
        except OSError:
            status = 0
        finally:
            client.close()
        results.append((begin, time.monotonic() - begin, status))
        time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - begin)))
    return results


def summary(rows: list[tuple[float, float, int]]) -> dict[str, float]:
    latencies = [latency for _, latency, status in rows if status == 200]
    return {'requests': len(rows),
            'failed': sum(1 for *_, status in rows if status != 200),
            'p50_ms': round(statistics.median(latencies) * 1000, 1)
            if latencies else float('nan'),
            'max_ms': round(max(latencies) * 1000, 1)
            if latencies else float('nan')}


def attack(port: int, token: str, slow: int, hold: float) -> dict:
    stop = threading.Event()
    opened: list[int] = []
    threads = [threading.Thread(target=dribble, args=(port, stop, opened),
                                daemon=True) for _ in range(slow)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)           # every slow client has sent its first bytes
    during = probe(port, token, time.monotonic() + hold)
    stop.set()
    for thread in threads:
        thread.join(10)
    after = probe(port, token, time.monotonic() + AFTER)
    return {'slow_clients': slow, 'connected': len(opened), 'hold_s': hold,
            'during': summary(during), 'after': summary(after)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--slow', type=int, default=50)
    parser.add_argument('--hold', type=float, default=20.0)
    parser.add_argument('--command', default=None,
                        help='server command with {port} and {db}')
    parser.add_argument('--json', default=None)
    parser.add_argument('serve_options', nargs='*')
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix='ntcli-slow-')
    try:
        db = os.path.join(root, 'server.db')
        credential, workspace_id = server_load.setup(db)
        server = (custom_server(args.command, db, root) if args.command
                  else serve_server(args.serve_options, db, root))
        with server as port:
            token = server_load.call_json(
                port, 'POST', f'/v1/workspaces/{workspace_id}/tokens',
                credential, {'expires_in': 3600})['access_token']
            baseline = summary(probe(port, token, time.monotonic() + 2))
            result = {'server': args.command or 'ntcli-server serve '
                      + ' '.join(args.serve_options),
                      'baseline': baseline,
                      **attack(port, token, args.slow, args.hold)}
    finally:
        subprocess.run(['rm', '-rf', root], check=False)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
