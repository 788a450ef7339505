#!/usr/bin/env python3
"""How long Tab takes in bash, zsh and fish, from the key to the answer.

Usage (with the Python of the virtualenv ntcli is installed in)::

    python benchmarks/tab_completion.py [--runs N] [--warmup N] [--json FILE]

Each shell runs on a pseudo-terminal with ntcli's completion script
(``ntcli complete --shell SHELL``) loaded, as a person's would: bash and zsh
are typed at, a line and then Tab (bash with readline's
``show-all-if-ambiguous``, so that one Tab lists the candidates, as zsh
does by default); fish is given ``complete -C LINE``, its completion
engine's own entry point, which runs the same completion functions as Tab
does. A sample is the time from writing the key to the pty until the
expected candidates appear in what the shell printed. The cases and the
shells are interleaved, in a rotated order on each iteration; the figures
are medians and 90th percentiles over ``--runs`` iterations after
``--warmup`` untimed ones (the first of which makes the completion table
and looks the values up once).

The home is the one ``cli_startup.py`` sets up (HOME and the XDG
directories in a temporary directory, the embedded endpoint), with two more
workspaces, three live tokens and a second context. The targets (issue
"Tab answers at keystroke speed"): command and option names at most 50 ms
(median), values (JTIs, workspace names, context names) at most 150 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time

import cli_startup

# Cursor moves, colours, titles: what remains is the text shown.
ESCAPES = re.compile(r'\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07'
                     r'|[()][0-9A-Za-z]|[=>])')
WAIT = 20.0
NAMES_MS, VALUES_MS = 50, 150


class Shell:
    """A shell on a pty: ``send`` keys, ``wait_for`` a pattern."""

    def __init__(self, argv: list[str], env: dict[str, str],
                 cwd: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 250, 0,
                                                        0))
        self.output = ''

    def read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        self.output += ESCAPES.sub('', data.decode(errors='replace'))
        return True

    def send(self, keys: str) -> int:
        mark = len(self.output)
        os.write(self.fd, keys.encode())
        return mark

    def wait_for(self, pattern: str, mark: int) -> None:
        deadline = time.monotonic() + WAIT
        found = re.compile(pattern)
        while not found.search(self.output, mark):
            left = deadline - time.monotonic()
            if left <= 0 or (not self.read(left) and
                             time.monotonic() >= deadline):
                raise cli_startup.BenchmarkError(
                    f'{pattern!r} did not show; the shell printed: '
                    f'{self.output[mark:][-600:]!r}')

    def settle(self, quiet: float = 0.15) -> None:
        while self.read(quiet):
            pass

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def start(shell: str, script: str, env: dict[str, str],
          cwd: str) -> Shell:
    setup = {
        'bash': (['bash', '--norc', '--noprofile', '-i'],
                 ["PS1='$ '", "bind 'set show-all-if-ambiguous on'",
                  "bind 'set bell-style none'", f'source {script}']),
        'zsh': (['zsh', '-f', '-i'],
                ["PS1='$ '", 'autoload -Uz compinit', 'compinit -u -D',
                 'unsetopt beep', f'source {script}']),
        'fish': (['fish', '--no-config', '-i'],
                 ["function fish_prompt; echo -n '$ '; end",
                  'set -g fish_greeting', f'source {script}']),
    }[shell]
    argv, lines = setup
    proc = Shell(argv, env, cwd)
    mark = proc.send(' ; '.join(lines) + ' ; echo READY-$((6*7))\r'
                     if shell != 'fish' else
                     ' ; '.join(lines) + ' ; echo READY-(math 6 \\* 7)\r')
    proc.wait_for('READY-42', mark)
    proc.settle()
    return proc


def tab(proc: Shell, shell: str, line: str, pattern: str) -> float:
    """Seconds from the key to ``pattern`` on the screen."""
    if shell == 'fish':
        keys = f"complete -C'{line}'; echo END-$status\r"
        pattern = rf'(?s){pattern}.*END-0'
    else:
        proc.send(line)
        proc.settle(0.05)
        keys = '\t'
    begin = time.perf_counter()
    mark = proc.send(keys)
    proc.wait_for(pattern, mark)
    elapsed = time.perf_counter() - begin
    proc.settle(0.05)
    proc.send('\x15' if shell != 'fish' else '')   # the line, emptied
    proc.settle(0.05)
    return elapsed


def prepare(ntcli: str, env: dict[str, str], home: str) -> None:
    """The workspaces, tokens and contexts Tab offers."""
    run = cli_startup.check_output
    run([ntcli, 'token', 'refresh'], env, home)
    for name in ('team-a', 'team-b'):
        run([ntcli, 'workspace', 'create', name], env, home)
    for _ in range(2):
        run([ntcli, 'token', 'create', '-f', 'value', '-c', 'jti'], env, home)
    run([ntcli, '--endpoint', 'http://127.0.0.1:9', 'context', 'create',
         'staging'], env, home)


def cases() -> dict[str, tuple[str, str, int]]:
    """name -> (line, what must show, target ms)."""
    return {
        'command names: token re<Tab>': ('ntcli token re', r'revoke',
                                         NAMES_MS),
        'option names: token list --sort-<Tab>': (
            'ntcli token list --sort-', r'sort-descending', NAMES_MS),
        # bash inserts what the three JTIs share ('jti_'), zsh too before
        # listing them
        'values, JTIs: token revoke <Tab>': (
            'ntcli token revoke ', r'jti_', VALUES_MS),
        'values, workspaces: workspace select <Tab>': (
            'ntcli workspace select ', r'team-b', VALUES_MS),
        'values, contexts: context use <Tab>': (
            'ntcli context use ', r'staging', VALUES_MS),
    }


def benchmark(runs: int, warmup: int, shells: list[str]) -> dict:
    ntcli = cli_startup.find_ntcli(sys.executable)
    root = tempfile.mkdtemp(prefix='ntcli-tab-')
    procs: dict[str, Shell] = {}
    try:
        env = cli_startup.sandbox_env(root)
        env.update(TERM='xterm', PATH=os.path.dirname(ntcli) + ':'
                   + env.get('PATH', ''), HISTFILE='/dev/null',
                   INPUTRC='/dev/null')
        home = env['HOME']
        prepare(ntcli, env, home)
        table = cases()
        for shell in shells:
            path = os.path.join(root, f'ntcli.{shell}')
            with open(path, 'w') as handle:
                handle.write(cli_startup.check_output(
                    [ntcli, 'complete', '--shell', shell], env, home))
            procs[shell] = start(shell, path, env, home)
        order = [(shell, name) for name in table for shell in shells]
        samples: dict[str, list[float]] = {f'{s}: {n}': [] for s, n in order}
        for iteration in range(warmup + runs):
            shift = iteration % len(order)
            for shell, name in order[shift:] + order[:shift]:
                line, pattern, _ = table[name]
                elapsed = tab(procs[shell], shell, line, pattern)
                if iteration >= warmup:
                    samples[f'{shell}: {name}'].append(elapsed * 1000)
        return {'machine': cli_startup.machine(), 'runs': runs,
                'warmup': warmup, 'load': os.getloadavg(),
                'targets': {n: t for n, (_, _, t) in table.items()},
                'samples_ms': samples}
    finally:
        for proc in procs.values():
            proc.close()
        shutil.rmtree(root, ignore_errors=True)


def report(result: dict) -> None:
    info = result['machine']
    print(f"Python {info['python']} on {info['cpus']} CPU(s): {info['cpu']}")
    print(f"{result['runs']} interleaved runs after {result['warmup']} "
          'warm-up, ms from the key to the candidates on the screen')
    width = max(len(name) for name in result['samples_ms'])
    print(f"\n{'':<{width}} {'median':>7} {'p90':>7} {'min':>7} "
          f"{'target':>7}  result")
    result['summary'] = {}
    for name, values in result['samples_ms'].items():
        target = result['targets'][name.split(': ', 1)[1]]
        median = statistics.median(values)
        p90 = cli_startup.percentile(values, 0.9)
        verdict = 'PASS' if median <= target else 'MISS'
        print(f'{name:<{width}} {median:7.1f} {p90:7.1f} {min(values):7.1f} '
              f'{target:>7}  {verdict}')
        result['summary'][name] = {'median_ms': round(median, 1),
                                   'p90_ms': round(p90, 1),
                                   'target_ms': target, 'verdict': verdict}
    load = ' '.join(f'{x:.1f}' for x in result['load'])
    print(f'\nload average at the end: {load}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=30, metavar='N')
    parser.add_argument('--warmup', type=int, default=2, metavar='N')
    parser.add_argument('--shell', action='append', choices=('bash', 'zsh',
                                                             'fish'),
                        help='only this shell (repeatable; default: all '
                             'three)')
    parser.add_argument('--json', metavar='FILE')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 1:
        parser.error('--runs and --warmup must be at least 1')
    shells = args.shell or ['bash', 'zsh', 'fish']
    missing = [s for s in shells if shutil.which(s) is None]
    if missing:
        parser.error(f"not installed: {', '.join(missing)}")
    return cli_startup.run_and_report(
        lambda: benchmark(args.runs, args.warmup, shells), report, args.json)


if __name__ == '__main__':
    sys.exit(main())
