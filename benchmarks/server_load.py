#!/usr/bin/env python3
"""Throughput and latency of ``ntcli-server serve``, and how they scale.

Usage (with the Python of the virtualenv ntcli[server] is installed in)::

    python benchmarks/server_load.py [--duration S] [--rounds N]
        [--concurrency N] [--workers N] [--sizes 100,1000,10000,100000]
        [--dsn postgresql://... [--nodes]] [--before DIR] [--json FILE]

It starts ``ntcli-server serve`` (gunicorn, with serve's own defaults:
worker class, logging, hooks) on 127.0.0.1 with a fresh SQLite database,
or the PostgreSQL database of ``--dsn`` (a throwaway one: it is written
to), and next to it the same ``serve`` with a bare Falcon app in place of
the token API, returning a constant JSON body of the size of a real
answer: the floor of the framework and the server under the same settings.
The bare app also answers, at another path, with the five headers a valid
token's answer carries besides the body's (request id, workspace, JTI,
scope, ``Cache-Control``): the floor of that answer.
With ``--before DIR`` (a source tree of another version, e.g. ``git archive
main | tar -x -C DIR``), that version's ``serve`` runs too, on the same
database, and is loaded in the same rounds. It measures:

1. Load: requests per second and p50/p99 latency of the bare app (both
   answers), of
   ``/v1/token_auth`` validating one token again and again (as an ingress's
   ``auth_request`` does for one client) and validating 4,096 tokens in
   turn (no signature is remembered), alternately in ``--rounds`` rounds
   that share ``--duration`` seconds per scenario; then of ``POST
   /v1/workspaces/{id}/tokens`` (issuing). The load comes from a second
   process (this script, run with ``_drive``): ``--concurrency`` threads,
   each with its own http.client connection, reused as long as the server
   keeps it open.
   With ``--nodes`` (and ``--dsn``), a second ``serve`` on the same
   database: validation with every client on one node, against the same
   clients split over both nodes, alternately.
2. Scale: workspaces of 100 to 100,000 tokens, filled through the token
   store in bulk (tests/unit/ntcli_authority/storage/bulk.py), then the
   latency of one validation and of one page of the listing (the first, and
   one in the middle through its cursor), over HTTP one request at a time
   and in-process through the authority.

Everything stops by itself: each load run ends after its duration, and the
server is stopped (SIGTERM, then SIGKILL to its process group) when the
script ends, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from ntcli_authority.access import Principal

OWNER = Principal.local()  # the local owner may do everything
# The repository: workspaces are filled by the tests' bulk insert
# (tests/unit/ntcli_authority/storage/bulk.py).
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DRIVER = '_drive'
BARE = '_bare'
# The bare Falcon app's answer: the size and shape of a real validation's.
BARE_BODY = {'valid': True,
             'workspace_id': '00000000-0000-4000-8000-000000000000',
             'jti': 'jti_' + '0' * 32, 'scope': 'workspace',
             'expires_at': '2030-01-01T00:00:00Z'}
# The bare app's other route answers with a valid token's headers as well
# (what an ingress needs: request id, who calls, no caching), the floor of
# an answer that carries them.
BARE_ANSWER_PATH = '/v1/token_auth/answer'
BARE_ANSWER_HEADERS = {'X-Request-Id': '0' * 32,
                       'X-Workspace-Id': BARE_BODY['workspace_id'],
                       'X-Token-Jti': BARE_BODY['jti'],
                       'X-Token-Scope': 'workspace',
                       'Cache-Control': 'no-store'}
READY_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0


class BenchmarkError(Exception):
    """The benchmark cannot run or the server misbehaved."""


# -- statistics -------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {'p50_ms': float('nan'), 'p99_ms': float('nan')}
    return {'p50_ms': round(percentile(seconds, 0.5) * 1000, 2),
            'p99_ms': round(percentile(seconds, 0.99) * 1000, 2),
            'max_ms': round(max(seconds) * 1000, 2)}


# -- HTTP -------------------------------------------------------------------
class Client:
    """One http.client connection, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(
            '127.0.0.1', port, timeout=REQUEST_TIMEOUT)
        self.connects = 0

    def call(self, method: str, path: str, headers: dict[str, str],
             body: bytes | None = None) -> tuple[int, bytes]:
        if self.connection.sock is None:
            self.connects += 1
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reopened by the next request
            raise
        if response.will_close:
            self.connection.close()
        return response.status, data

    def close(self) -> None:
        self.connection.close()


class RawClient:
    """HTTP/1.1 on one socket, reading no more of an answer than the load
    needs: its status, its length and whether the server closes.

    http.client parses every header of an answer in Python, on the cores
    the server shares: 41 us for the bare app's answer and 54 for a valid
    token's, which carries five headers more (benchmarks/RESULTS.md). An
    ingress (nginx, Envoy) parses them in C; so, nearly, does this, with
    bytes methods. ``--http-client`` loads with http.client instead.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b''
        self.connects = 0

    def call(self, method: str, path: str, headers: dict[str, str],
             body: bytes | None = None) -> tuple[int, bytes]:
        lines = [f'{method} {path} HTTP/1.1', f'Host: 127.0.0.1:{self.port}',
                 *(f'{name}: {value}' for name, value in headers.items())]
        if body is not None:
            lines.append(f'Content-Length: {len(body)}')
        request = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
        try:
            if self.sock is None:
                self.sock = socket.create_connection(
                    ('127.0.0.1', self.port), timeout=REQUEST_TIMEOUT)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                     1)
                self.connects += 1
            self.sock.sendall(request + (body or b''))
            # each header line ends with CRLF, the last one too
            head = self._until(b'\r\n\r\n').lower() + b'\r\n'
            status = int(head[9:12])
            start = head.find(b'\r\ncontent-length:')
            if start < 0 or b'\r\ntransfer-encoding:' in head:
                raise http.client.HTTPException('no Content-Length')
            length = int(head[start + 17:head.index(b'\r\n', start + 2)])
            data = self._exactly(length)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            self.close()             # reopened by the next request
            raise http.client.HTTPException(f'a bad or lost answer: {exc}'
                                            ) from exc
        if b'\r\nconnection: close' in head:
            self.close()
        return status, data

    def _until(self, end: bytes) -> bytes:
        """The buffered bytes up to ``end`` (consumed with it)."""
        while True:
            index = self.buffer.find(end)
            if index >= 0:
                found = self.buffer[:index]
                self.buffer = self.buffer[index + len(end):]
                return found
            self._receive()

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._receive()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _receive(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError('the server closed the connection')
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b''


def call_json(port: int, method: str, path: str, credential: str,
              payload: dict | None = None) -> dict:
    client = Client(port)
    try:
        headers = {'Authorization': 'Bearer ' + credential}
        body = None
        if payload is not None:
            headers['Content-Type'] = 'application/json'
            body = json.dumps(payload).encode()
        status, data = client.call(method, path, headers, body)
    finally:
        client.close()
    if status >= 300:
        raise BenchmarkError(
            f'{method} {path}: HTTP {status} {data[:300]!r}')
    return json.loads(data)


# -- the load generator (a second process) ----------------------------------
def drive(spec: dict) -> dict:
    """Run ``spec['concurrency']`` threads against one request for
    ``spec['duration']`` seconds after ``spec['warmup']``; summarise."""
    body = spec['body'].encode() if spec.get('body') is not None else None
    cpu_start = time.process_time()
    start = time.monotonic()
    measure_from = start + spec['warmup']
    stop_at = measure_from + spec['duration']
    latencies: list[list[float]] = []
    failures: list[int] = []
    connects: list[int] = []
    sent: list[int] = []          # every request, warm-up included
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    tokens = spec.get('tokens') or []

    def worker() -> None:
        client = (Client if spec.get('http_client') else RawClient)(
            spec['port'])
        headers = dict(spec['headers'])
        turn = threading.get_ident() % max(len(tokens), 1)
        mine: list[float] = []
        failed = calls = 0
        seen: dict[int, int] = {}
        try:
            while True:
                begin = time.monotonic()
                if begin >= stop_at:
                    break
                if tokens:   # a different token on every request
                    turn = (turn + 1) % len(tokens)
                    headers['Authorization'] = 'Bearer ' + tokens[turn]
                try:
                    status, _ = client.call(spec['method'], spec['path'],
                                            headers, body)
                except (OSError, http.client.HTTPException):
                    status = 0
                end = time.monotonic()
                calls += 1
                if begin < measure_from:
                    continue
                seen[status] = seen.get(status, 0) + 1
                if 200 <= status < 300:
                    mine.append(end - begin)
                else:
                    failed += 1
        finally:
            client.close()
            with lock:
                connects.append(client.connects)
                sent.append(calls)
                latencies.append(mine)
                failures.append(failed)
                for status, count in seen.items():
                    statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(spec['concurrency'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(spec['warmup'] + spec['duration'] + REQUEST_TIMEOUT + 5)
    ok = [value for chunk in latencies for value in chunk]
    elapsed = time.monotonic() - start
    result = {'requests': len(ok), 'failed': sum(failures),
              # how busy the load generator itself was (1.0 = one core)
              'generator_cpu': round((time.process_time() - cpu_start)
                                     / elapsed, 2),
              'statuses': {str(k): v for k, v in sorted(statuses.items())},
              'duration_s': spec['duration'],
              # gunicorn's sync workers close every connection: one
              # connection per request, warm-up included
              'connections': sum(connects), 'sent': sum(sent),
              'rps': round(len(ok) / spec['duration'], 1)}
    result.update(latency_summary(ok))
    result['latencies_ms'] = [round(value * 1000, 3) for value in ok]
    return result


def run_driver(spec: dict) -> dict:
    """The load generator in a process of its own, so that its CPU time is
    not the server's and its GIL not ours. Also notes the CPU time the
    server's processes spent meanwhile (``server_cpu_s``)."""
    limit = spec['warmup'] + spec['duration'] + REQUEST_TIMEOUT + 30
    before = server_cpu(spec['port'])
    proc = subprocess.run([sys.executable, os.path.abspath(__file__),
                           DRIVER], input=json.dumps(spec), text=True,
                          capture_output=True, timeout=limit)
    after = server_cpu(spec['port'])
    if proc.returncode != 0:
        raise BenchmarkError('the load generator failed: '
                             + proc.stderr.strip()[-800:])
    result = json.loads(proc.stdout)
    if before is not None and after is not None:
        result['server_cpu_s'] = after - before
    return result


# The process id of the server listening on each port (running_server).
SERVER_PIDS: dict[int, int] = {}


def server_cpu(port: int) -> float | None:
    """User + system CPU seconds of the server on ``port`` and its
    processes (gunicorn's workers) so far; None without Linux's /proc."""
    root = SERVER_PIDS.get(port)
    if root is None or not os.path.isdir('/proc'):
        return None
    stats = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f'/proc/{entry}/stat') as handle:
                    # after the command name: state, ppid, ... utime, stime
                    fields = handle.read().rsplit(')', 1)[1].split()
                stats[int(entry)] = (int(fields[1]),
                                     int(fields[11]) + int(fields[12]))
    family = {root}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in family and pid not in family:
                family.add(pid)
                grew = True
    ticks = sum(stats[pid][1] for pid in family if pid in stats)
    return ticks / os.sysconf('SC_CLK_TCK')


# -- the server -------------------------------------------------------------
def bare_app() -> Any:
    """A Falcon app returning a constant JSON body: the framework's floor."""
    import falcon

    class Constant:
        def on_get(self, req: Any, resp: Any) -> None:
            resp.media = BARE_BODY

    class Answer:
        def on_get(self, req: Any, resp: Any) -> None:
            resp.set_headers(BARE_ANSWER_HEADERS)
            resp.media = BARE_BODY

    app = falcon.App()
    app.add_route('/healthz', Constant())
    app.add_route('/v1/token_auth', Constant())
    app.add_route(BARE_ANSWER_PATH, Answer())
    return app


def serve_bare(argv: list[str]) -> int:
    """``ntcli-server serve`` itself (its gunicorn, worker model, logging,
    hooks and settings) with the bare app in place of the token API."""
    from ntcli_server import cli, wsgi
    wsgi.create_app = lambda *args, **kwargs: bare_app()  # type: ignore
    return cli.main(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def server_command() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), 'ntcli-server')
    if os.path.exists(script):
        return [script]
    found = shutil.which('ntcli-server')
    if found is None:
        raise BenchmarkError(f'No ntcli-server next to {sys.executable}: '
                             "install 'ntcli[server]' into this virtualenv")
    return [found]


@contextlib.contextmanager
def running_server(db: str, root: str, workers: int,
                   bare: bool = False, source: str | None = None,
                   name: str | None = None) -> Iterator[int]:
    """``ntcli-server serve`` on a free port, stopped on exit; with
    ``bare``, the same server serving the bare Falcon app; with
    ``source``, the serve of the ntcli source tree there."""
    port = free_port()
    name = name or ('bare' if bare else 'before' if source else 'server')
    command = ([sys.executable, os.path.abspath(__file__), BARE] if bare
               else server_command())
    env = None
    if source is not None:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(source))
    with open(os.path.join(root, f'{name}.log'), 'wb') as log:
        proc = subprocess.Popen(
            command + [
                '--db', db, 'serve', '--bind', f'127.0.0.1:{port}',
                '--workers', str(workers),
                '--access-log', os.path.join(root, f'{name}-access.log'),
                '--log-level', 'warning'],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)
        try:
            wait_until_ready(proc, port, log.name)
            SERVER_PIDS[port] = proc.pid
            yield port
        finally:
            SERVER_PIDS.pop(port, None)
            stop_server(proc)


def wait_until_ready(proc: subprocess.Popen, port: int, log: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            with open(log, 'rb') as handle:
                tail = handle.read()[-1500:].decode(errors='replace')
            raise BenchmarkError(
                f'ntcli-server exited with {proc.returncode}:\n{tail}')
        try:
            status, _ = Client(port).call('GET', '/healthz', {})
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchmarkError('ntcli-server did not answer within '
                                 f'{READY_TIMEOUT:.0f} s')
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)   # gunicorn stops its workers
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    # whatever is left of the process group we started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


# -- scenarios --------------------------------------------------------------
def setup(db: str) -> tuple[str, str]:
    """A user (its credential) and the id of a workspace it owns."""
    from ntcli_authority.authority import Authority
    with Authority.open(db) as authority:
        user = authority.create_user(OWNER, 'bench')
        workspace = authority.create_workspace(OWNER,
                                               'bench', owner=user.user.id)
    return user.credential, workspace.id


VALIDATE = 'validate GET /v1/token_auth'
DISTINCT = 'validate, a new token each time'
BARE_SCENARIO = 'bare Falcon GET (constant JSON)'
BARE_ANSWER = 'bare Falcon GET, with the headers too'
# More tokens than the server remembers good signatures of
# (ntcli_authority.jws.VERIFIED_CACHE_SIZE): every check verifies.
DISTINCT_TOKENS = 4096
ISSUE = 'issue POST /v1/workspaces/{id}/tokens'
BEFORE = 'before: '          # the scenarios run on the --before server


def load(port: int, bare_port: int, credential: str, workspace_id: str,
         duration: float, concurrency: int, rounds: int,
         distinct: list[str],
         before_port: int | None = None,
         http_client: bool = False) -> dict[str, dict]:
    """The bare app, validation of one token (as behind an ingress: the
    same token on every request) and of ``distinct`` tokens in turn,
    alternately, ``rounds`` times each for ``duration / rounds`` seconds,
    so that all see the same machine (the same two validations on
    ``before_port`` too, when given); then issuing. Rates are over all
    rounds, percentiles over all requests."""
    issued = call_json(port, 'POST',
                       f'/v1/workspaces/{workspace_id}/tokens',
                       credential, {'expires_in': 86400})
    base = {'duration': duration / rounds, 'warmup': 1.0,
            'concurrency': concurrency, 'http_client': http_client}
    validate = dict(base, port=port, method='GET', path='/v1/token_auth',
                    body=None, headers={
                        'Authorization': 'Bearer ' + issued['access_token']})
    # the same request (a bearer header, ignored) to the bare app
    constant = dict(validate, port=bare_port)
    several = dict(validate, tokens=distinct)
    specs = {BARE_SCENARIO: constant,
             BARE_ANSWER: dict(constant, path=BARE_ANSWER_PATH),
             VALIDATE: validate, DISTINCT: several}
    if before_port is not None:
        specs[BEFORE + VALIDATE] = dict(validate, port=before_port)
        specs[BEFORE + DISTINCT] = dict(several, port=before_port)
    parts: dict[str, list[dict]] = {name: [] for name in specs}
    for _ in range(rounds):
        for name, spec in specs.items():
            parts[name].append(run_driver(spec))
    results = {name: merge(runs) for name, runs in parts.items()}
    for name in compared(results):
        results[name]['ratio_to_bare_per_round'] = [
            round(ours['rps'] / bare['rps'], 3) if bare['rps'] else None
            for ours, bare in zip(parts[name], parts[BARE_SCENARIO],
                                  strict=True)]
    results[VALIDATE]['ratio_to_bare_answer_per_round'] = [
        round(ours['rps'] / bare['rps'], 3) if bare['rps'] else None
        for ours, bare in zip(parts[VALIDATE], parts[BARE_ANSWER],
                              strict=True)]
    results[ISSUE] = merge([run_driver(dict(
        base, duration=duration, port=port, method='POST',
        path=f'/v1/workspaces/{workspace_id}/tokens',
        body=json.dumps({'expires_in': 86400}),
        headers={'Authorization': 'Bearer ' + credential,
                 'Content-Type': 'application/json'}))])
    return results


ONE_NODE = 'validate, one node'
TWO_NODES = 'validate, two nodes on the same database'


def two_nodes(port: int, second_port: int, credential: str,
              workspace_id: str, duration: float, concurrency: int,
              rounds: int, http_client: bool = False) -> dict[str, dict]:
    """Validation of one token per client on one node, then the same
    clients split over two nodes of one database (half each, two load
    generators at once), alternately ``rounds`` times."""
    issued = call_json(port, 'POST',
                       f'/v1/workspaces/{workspace_id}/tokens',
                       credential, {'expires_in': 86400})
    spec = {'duration': duration / rounds, 'warmup': 1.0,
            'concurrency': concurrency, 'http_client': http_client,
            'port': port, 'method': 'GET',
            'path': '/v1/token_auth', 'body': None,
            'headers': {'Authorization': 'Bearer ' + issued['access_token']}}
    half = max(1, concurrency // 2)
    parts: dict[str, list[dict]] = {ONE_NODE: [], TWO_NODES: []}
    for _ in range(rounds):
        parts[ONE_NODE].append(run_driver(spec))
        results: list[dict] = [{}, {}]

        def drive_node(index: int, node_spec: dict,
                       results: list[dict] = results) -> None:
            results[index] = run_driver(node_spec)

        threads = [threading.Thread(target=drive_node, args=(0, dict(
            spec, concurrency=half))), threading.Thread(
                target=drive_node, args=(1, dict(
                    spec, port=second_port,
                    concurrency=max(1, concurrency - half))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not all(results):
            raise BenchmarkError('a load generator of two nodes failed')
        both = {key: results[0][key] + results[1][key] for key in
                ('requests', 'failed', 'connections', 'sent', 'rps',
                 'latencies_ms', 'generator_cpu')}
        both['duration_s'] = spec['duration']
        if all('server_cpu_s' in run for run in results):
            both['server_cpu_s'] = sum(run['server_cpu_s']
                                       for run in results)
        parts[TWO_NODES].append(both)
    merged = {name: merge(runs) for name, runs in parts.items()}
    merged[TWO_NODES]['ratio_to_one_node_per_round'] = [
        round(two['rps'] / one['rps'], 3) if one['rps'] else None
        for one, two in zip(parts[ONE_NODE], parts[TWO_NODES],
                            strict=True)]
    return merged


def compared(results: dict[str, dict]) -> list[str]:
    """The scenarios whose throughput is compared with the bare app's."""
    return [name for name in (VALIDATE, DISTINCT, BEFORE + VALIDATE,
                              BEFORE + DISTINCT) if name in results]


def merge(runs: list[dict]) -> dict:
    """One summary of several driver runs of one scenario."""
    latencies = [value / 1000 for run in runs
                 for value in run.pop('latencies_ms')]
    duration = sum(run['duration_s'] for run in runs)
    merged = {'requests': sum(run['requests'] for run in runs),
              'failed': sum(run['failed'] for run in runs),
              'connections': sum(run['connections'] for run in runs),
              'generator_cpu': round(max(run['generator_cpu']
                                         for run in runs), 2),
              'duration_s': duration, 'rounds': len(runs),
              'rps_per_round': [run['rps'] for run in runs]}
    merged['rps'] = round(merged['requests'] / duration, 1)
    if all('server_cpu_s' in run for run in runs):
        # per request answered, warm-up included
        merged['server_cpu_us'] = round(
            sum(run['server_cpu_s'] for run in runs) * 1e6
            / max(sum(run['sent'] for run in runs), 1), 1)
    merged.update(latency_summary(latencies))
    return merged


def mint_tokens(db: str, owner: str, name: str, count: int) -> list[str]:
    """``count`` valid tokens of a new workspace, signed and stored (with
    their digests, as issued) in bulk."""
    from ntcli_authority.authority import Authority
    from ntcli_authority.models import TokenRow
    sys.path.insert(0, REPOSITORY)
    from tests.unit.ntcli_authority.storage.bulk import issue_tokens
    with Authority.open(db) as authority:
        user = authority.get_user(OWNER, owner)
        workspace = authority.create_workspace(OWNER, name, owner=user.id)
        key, _ = authority.keys.primary()
        now = authority.now()
        return issue_tokens(authority, [
            TokenRow(jti=f'jti_{i:032x}', workspace_id=workspace.id,
                     created_at=now, expires_at=now + 86400, kid=key.kid)
            for i in range(count)])


def fill_workspace(db: str, owner: str, name: str,
                   count: int) -> tuple[str, str, str]:
    """A workspace of ``count`` tokens: one issued for real (returned, to
    validate), the rest inserted in bulk. Returns (workspace id, token,
    cursor of the middle of the listing)."""
    from ntcli_authority import authority as authority_mod
    from ntcli_authority.authority.checks import encode_cursor
    from ntcli_authority.models import TokenRow
    sys.path.insert(0, REPOSITORY)
    from tests.unit.ntcli_authority.storage.bulk import insert_tokens
    with authority_mod.Authority.open(db) as authority:
        user = authority.get_user(OWNER, owner)
        workspace = authority.create_workspace(OWNER, name, owner=user.id)
        key, _ = authority.keys.primary()
        now = authority.now()
        # oldest first: spread over the past, a hundred per second
        bulk = [TokenRow(jti=f'jti_{count:08x}{i:024x}',
                         workspace_id=workspace.id,
                         created_at=now - 86400 + i // 100,
                         expires_at=now + 86400, kid=key.kid)
                for i in range(count - 1)]
        insert_tokens(authority.store, bulk)
        real = authority.issue(OWNER, workspace.id, expires_in=86400)
        middle = bulk[len(bulk) // 2] if bulk else None
        cursor = encode_cursor(middle) if middle else ''
    return workspace.id, real.token, cursor


def timed(call: Any, repeat: int) -> dict[str, float]:
    call()  # warm: connection, caches, pages
    seconds = []
    for _ in range(repeat):
        begin = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - begin)
    return latency_summary(seconds)


def scale(port: int, db: str, credential: str, sizes: list[int],
          repeat: int) -> list[dict]:
    return [scale_one(port, db, credential, size, repeat) for size in sizes]


def scale_one(port: int, db: str, credential: str, size: int,
              repeat: int) -> dict:
    from ntcli_authority.authority import Authority
    began = time.perf_counter()
    workspace_id, token, cursor = fill_workspace(db, 'bench',
                                                 f'scale-{size}', size)
    filled = time.perf_counter() - began
    client = Client(port)
    auth = {'Authorization': 'Bearer ' + token}
    user = {'Authorization': 'Bearer ' + credential}
    listing = f'/v1/workspaces/{workspace_id}/tokens?limit=100'

    def get(path: str, headers: dict[str, str]) -> None:
        status, data = client.call('GET', path, headers)
        if status != 200:
            raise BenchmarkError(f'GET {path}: HTTP {status} {data[:200]!r}')

    row = {'tokens': size, 'fill_s': round(filled, 2)}
    try:
        row['http validate'] = timed(
            lambda: get('/v1/token_auth', auth), repeat)
        row['http first page'] = timed(lambda: get(listing, user), repeat)
        if cursor:
            row['http middle page'] = timed(
                lambda: get(listing + '&cursor=' + cursor, user), repeat)
    finally:
        client.close()
    with Authority.open(db) as authority:
        row['in-process validate'] = timed(
            lambda: authority.validate(token), repeat)
        row['in-process first page'] = timed(
            lambda: authority.list_tokens(OWNER,
                                          workspace_id, limit=100), repeat)
        if cursor:
            row['in-process middle page'] = timed(
                lambda: authority.list_tokens(OWNER, workspace_id, limit=100,
                                              cursor=cursor), repeat)
    return row


# -- report -----------------------------------------------------------------
def machine() -> dict[str, str]:
    model = 'unknown'
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as handle:
        for line in handle:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    return {'cpus': str(os.cpu_count()), 'cpu': model,
            'python': sys.version.split()[0]}


def report(result: dict) -> None:
    info = result['machine']
    print(f"Python {info['python']} on {info['cpus']} CPU(s): "
          f"{info['cpu']}")
    print(f"ntcli-server serve: gunicorn, {result['workers']} workers "
          f"(its default worker class), {result['database']}; load: "
          f"{result['concurrency']} threads in another process "
          f"({result['client']} client), "
          f"{result['duration']:.0f} s per scenario in {result['rounds']} "
          'alternating rounds')
    print()
    print(f"{'load':<48} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'failed':>7} {'requests':>9} {'gen cpu':>6} {'srv us':>7}")
    for name, row in result['load'].items():
        cpu = row.get('server_cpu_us')
        print(f"{name:<48} {row['rps']:8.1f} {row['p50_ms']:8.2f} "
              f"{row['p99_ms']:8.2f} {row['failed']:7d} "
              f"{row['requests']:9d} {row['generator_cpu']:6.2f} "
              f"{'-' if cpu is None else f'{cpu:.0f}':>7}")
    bare = result['load'][BARE_SCENARIO]
    for name in compared(result['load']):
        ours = result['load'][name]
        if bare['rps']:
            rounds = ', '.join(str(r)
                               for r in ours['ratio_to_bare_per_round'])
            print(f"{name} / bare Falcon throughput: "
                  f"{ours['rps'] / bare['rps']:.2f}x (per round: {rounds})")
    answer = result['load'].get(BARE_ANSWER)
    ours = result['load'][VALIDATE]
    if answer and answer['rps']:
        rounds = ', '.join(str(r)
                           for r in ours['ratio_to_bare_answer_per_round'])
        print(f"{VALIDATE} / bare Falcon with its headers: "
              f"{ours['rps'] / answer['rps']:.2f}x (per round: {rounds})")
    nodes = result.get('nodes')
    if nodes:
        print()
        for name, row in nodes.items():
            cpu = row.get('server_cpu_us')
            print(f"{name:<48} {row['rps']:8.1f} {row['p50_ms']:8.2f} "
                  f"{row['p99_ms']:8.2f} {row['failed']:7d} "
                  f"{row['requests']:9d} {row['generator_cpu']:6.2f} "
                  f"{'-' if cpu is None else f'{cpu:.0f}':>7}")
        two = nodes[TWO_NODES]
        rounds = ', '.join(str(r) for r in two['ratio_to_one_node_per_round'])
        print(f"two nodes / one node throughput: "
              f"{two['rps'] / nodes[ONE_NODE]['rps']:.2f}x "
              f"(per round: {rounds})")
    print('(gen cpu: cores the load generator itself kept busy; the server '
          'and it share\nthe machine. srv us: CPU time of the server\'s '
          'processes per request;\nwith PostgreSQL, the database\'s own is '
          'not counted)')
    print()
    print(f"scale (one request at a time, {result['repeat']} each; "
          'p50 / p99 ms)')
    columns = ['http validate', 'http first page', 'http middle page',
               'in-process validate', 'in-process first page',
               'in-process middle page']
    heads = '  '.join(f"{c.replace('in-process', 'in-proc'):<18}"
                      for c in columns)
    print(f"{'tokens':>8}  {heads}")
    for row in result['scale']:
        cells = []
        for column in columns:
            value = row.get(column)
            cell = ('-' if value is None else
                    f"{value['p50_ms']:.2f} / {value['p99_ms']:.2f}")
            cells.append(f'{cell:<18}')
        print(f"{row['tokens']:8d}  {'  '.join(cells)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [DRIVER]:
        print(json.dumps(drive(json.load(sys.stdin))))
        return 0
    if argv[:1] == [BARE]:
        return serve_bare(argv[1:])
    parser = argparse.ArgumentParser(
        description='Throughput and latency of ntcli-server serve.')
    parser.add_argument('--duration', type=float, default=10.0, metavar='S',
                        help='seconds of load per scenario (default 10)')
    parser.add_argument('--concurrency', type=int, default=4, metavar='N',
                        help='load generator threads (default 4)')
    parser.add_argument('--workers', type=int, default=2, metavar='N',
                        help='gunicorn workers (default 2, as serve)')
    parser.add_argument('--sizes', default='100,1000,10000,100000',
                        metavar='N,N...',
                        help='workspace sizes for the scaling part')
    parser.add_argument('--repeat', type=int, default=200, metavar='N',
                        help='requests per measurement in the scaling part')
    parser.add_argument('--rounds', type=int, default=3, metavar='N',
                        help='alternations of validation and the bare app '
                             '(default 3)')
    parser.add_argument('--dsn', metavar='DSN',
                        help='a PostgreSQL database to use (emptied of '
                             'nothing: use a throwaway one) instead of '
                             'a fresh SQLite file')
    parser.add_argument('--before', metavar='DIR',
                        help='also load the serve of the ntcli source tree '
                             'in DIR (another version), in the same rounds')
    parser.add_argument('--nodes', action='store_true',
                        help='with --dsn: also validation on one node '
                             'against two nodes of the same database, in '
                             'alternating rounds')
    parser.add_argument('--http-client', action='store_true',
                        help="load with Python's http.client, which parses "
                             'every header of each answer (default: a '
                             'client reading status and length only)')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the results here')
    args = parser.parse_args(argv)
    try:
        sizes = [int(size) for size in args.sizes.split(',') if size]
    except ValueError:
        parser.error('--sizes takes whole numbers separated by commas')
    if (args.duration <= 0 or args.concurrency < 1 or args.workers < 1
            or args.repeat < 1 or args.rounds < 1
            or any(size < 1 for size in sizes)):
        parser.error('durations, counts and sizes must be positive')
    if args.before is not None and not os.path.isdir(
            os.path.join(args.before, 'ntcli_server')):
        parser.error(f'--before: no ntcli source tree in {args.before}')
    if args.nodes and not args.dsn:
        parser.error('--nodes needs --dsn (nodes share a PostgreSQL '
                     'database)')
    root = tempfile.mkdtemp(prefix='ntcli-server-bench-')
    db = args.dsn or os.path.join(root, 'server.db')
    if args.dsn and not os.environ.get('NTCLI_SERVER_SECRET'):
        # a PostgreSQL store keeps its signing keys sealed; the database is
        # a throwaway one, so is the key (inherited by the servers started)
        from cryptography.fernet import Fernet
        os.environ['NTCLI_SERVER_SECRET'] = Fernet.generate_key().decode()
    try:
        credential, workspace_id = setup(db)
        distinct = mint_tokens(db, 'bench', 'distinct', DISTINCT_TOKENS)
        with contextlib.ExitStack() as servers:
            port = servers.enter_context(
                running_server(db, root, args.workers))
            bare = servers.enter_context(
                running_server(db, root, args.workers, bare=True))
            before = None if args.before is None else servers.enter_context(
                running_server(db, root, args.workers, source=args.before))
            loaded = load(port, bare, credential, workspace_id,
                          args.duration, args.concurrency, args.rounds,
                          distinct, before, args.http_client)
            nodes = None
            if args.nodes:
                second = servers.enter_context(
                    running_server(db, root, args.workers, name='second'))
                nodes = two_nodes(port, second, credential, workspace_id,
                                  args.duration, args.concurrency,
                                  args.rounds, args.http_client)
            scaled = scale(port, db, credential, sizes, args.repeat)
    except (BenchmarkError, OSError, subprocess.SubprocessError) as exc:
        print(f'benchmark failed: {exc}', file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {'machine': machine(), 'workers': args.workers,
              'database': 'PostgreSQL' if args.dsn else 'SQLite',
              'rounds': args.rounds, 'load_average': os.getloadavg(),
              'concurrency': args.concurrency, 'duration': args.duration,
              'client': 'http.client' if args.http_client else 'raw',
              'repeat': args.repeat, 'before': args.before,
              'load': loaded, 'nodes': nodes, 'scale': scaled}
    report(result)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
