#!/usr/bin/env python3
"""``token list`` of ntcli against the Node ntcli's, on the same server.

Usage (with a Python that has ntcli's server extra; the Node CLI built from
its source, ``npm ci && npx tsc``)::

    python benchmarks/node_comparison.py --node-cli DIR/dist/index.js \\
        [--ntcli PATH] [--runs N] [--warmup N] [--json FILE]

One ``ntcli-server`` on 127.0.0.1 (``ntcli_server.testing.ServerFixture``:
SQLite, one gevent worker, a user and a workspace), and two clients in one
sandboxed home (``cli_startup.sandbox_env``): ntcli (``--ntcli``, by
default the one beside this Python; give the one of a ``pip install .``
venv to time what users run), signed in with the user's credential and
holding a workspace token from ``token refresh``, and the Node ntcli
(NimbleTools CLI 0.4.x) with the same credential, workspace and token in
its ``~/.ntcli/config.json``, as its ``auth login`` and ``token refresh``
would have left them. Both list the workspace's tokens (five of them) as a
table; the commands run interleaved, in a rotated order on each
iteration. The target: ntcli's median at most 0.5 of the Node CLI's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import cli_startup

TARGET = 0.5


def node_config(url: str, credential: str, workspace_id: str,
                token: dict) -> dict:
    """The Node CLI's config file, as its own commands write it."""
    now_ms = int(time.time() * 1000)
    workspace = {
        'workspace_id': workspace_id, 'workspace_name': 'main',
        'access_token': token['token'], 'token_type': 'Bearer',
        'expires_at': now_ms + 86400 * 1000,
        'scope': ['workspace:read', 'servers:read'], 'jti': token['jti'],
        'isActive': True}
    return {
        'version': '1.0.0',
        'lastUpdated': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'domain': url.split('://', 1)[1], 'insecure': True,
        'auth': {'bearerToken': credential,
                 'expiresAt': now_ms + 86400 * 1000,
                 'user': {'id': 'tester', 'email': 'tester@example.com'}},
        'workspaces': {'activeWorkspaceId': workspace_id,
                       'items': {workspace_id: workspace}}}


def benchmark(node_cli: str, ntcli: str, runs: int, warmup: int) -> dict:
    from ntcli_server.testing import ServerFixture
    node = shutil.which('node')
    if node is None:
        raise cli_startup.BenchmarkError('node is not installed')
    root = tempfile.mkdtemp(prefix='ntcli-node-')
    server = ServerFixture()
    server.setUp()
    try:
        env = cli_startup.sandbox_env(root)
        env['NTCLI_ENDPOINT'] = server.url
        home = env['HOME']
        run = cli_startup.check_output
        assert server.credential and server.workspace_id
        proc_input = server.credential + '\n'
        import subprocess
        login = subprocess.run([ntcli, 'auth', 'login'], input=proc_input,
                               env=env, cwd=home, capture_output=True,
                               text=True)
        if login.returncode != 0:
            raise cli_startup.BenchmarkError(f'auth login: {login.stderr}')
        run([ntcli, '-w', 'main', 'workspace', 'select', 'main'], env, home)
        run([ntcli, 'token', 'refresh'], env, home)
        for _ in range(4):
            run([ntcli, 'token', 'create', '-f', 'value', '-c', 'jti'], env,
                home)
        shown = json.loads(run([ntcli, 'token', 'show', '-f', 'json',
                                '--show-token'], env, home))
        token = {'token': shown.get('token') or shown.get('Token'),
                 'jti': shown.get('jti') or shown.get('JTI')}
        os.makedirs(os.path.join(home, '.ntcli'), mode=0o700)
        with open(os.path.join(home, '.ntcli', 'config.json'), 'w') as f:
            json.dump(node_config(server.url, server.credential,
                                  server.workspace_id, token), f)
        commands = {'ntcli token list': [ntcli, 'token', 'list'],
                    'Node ntcli token list': [node, node_cli, 'token',
                                              'list']}
        for name, argv in commands.items():
            out = run(argv, env, home)
            if token['jti'] not in out:
                raise cli_startup.BenchmarkError(
                    f'{name} did not list the stored token:\n{out}')
        names = list(commands)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for iteration in range(warmup + runs):
            shift = iteration % len(names)
            for name in names[shift:] + names[:shift]:
                wall, _ = cli_startup.run_once(commands[name], env, home)
                if iteration >= warmup:
                    samples[name].append(wall * 1000)
        return {'machine': cli_startup.machine(), 'runs': runs,
                'warmup': warmup, 'load': os.getloadavg(), 'ntcli': ntcli,
                'node_cli': node_cli, 'samples_ms': samples}
    finally:
        server.cleanUp()
        shutil.rmtree(root, ignore_errors=True)


def report(result: dict) -> None:
    info = result['machine']
    print(f"Python {info['python']} on {info['cpus']} CPU(s): {info['cpu']}")
    print(f"{result['runs']} interleaved runs after {result['warmup']} "
          'warm-up; ms')
    medians = {name: statistics.median(values)
               for name, values in result['samples_ms'].items()}
    for name, values in result['samples_ms'].items():
        print(f'{name:<24} median {medians[name]:7.1f}  p90 '
              f'{cli_startup.percentile(values, 0.9):7.1f}  min '
              f'{min(values):7.1f}')
    ratio = medians['ntcli token list'] / medians['Node ntcli token list']
    verdict = 'PASS' if ratio <= TARGET else 'MISS'
    print(f'ratio {ratio:.2f} (target <= {TARGET}): {verdict}')
    result['summary'] = {'medians_ms': medians, 'ratio': round(ratio, 3),
                         'verdict': verdict}
    load = ' '.join(f'{x:.1f}' for x in result['load'])
    print(f'load average at the end: {load}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--node-cli', required=True, metavar='PATH',
                        help="the Node CLI's dist/index.js")
    parser.add_argument('--ntcli', metavar='PATH',
                        help='the ntcli console script (default: beside '
                             'this Python)')
    parser.add_argument('--runs', type=int, default=30, metavar='N')
    parser.add_argument('--warmup', type=int, default=3, metavar='N')
    parser.add_argument('--json', metavar='FILE')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error('--runs must be at least 1 and --warmup at least 0')
    ntcli = args.ntcli or cli_startup.find_ntcli(sys.executable)
    return cli_startup.run_and_report(
        lambda: benchmark(os.path.abspath(args.node_cli), ntcli, args.runs,
                          args.warmup), report, args.json)


if __name__ == '__main__':
    sys.exit(main())
