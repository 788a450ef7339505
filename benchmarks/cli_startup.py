#!/usr/bin/env python3
"""Start-up time of ntcli against a minimal cliff application.

Usage (with the Python of the virtualenv ntcli is installed in)::

    python benchmarks/cli_startup.py [--runs N] [--warmup N] [--json FILE]

Every command is a whole new process, timed from ``fork`` to exit. All of
them run interleaved in one loop, in a rotated order on each iteration, so
that a noisy neighbour or a CPU frequency change hits them alike; the
figures are medians (and 90th percentiles) over ``--runs`` iterations after
``--warmup`` untimed ones.

The yardstick is a typical minimal cliff application built in a temporary
directory from the same virtualenv: an ``App``, a ``CommandManager`` over an
entry point namespace (declared by a throwaway ``.dist-info`` on
PYTHONPATH) and one ``ShowOne`` command, started through a console script
like ntcli's and run with ``-f json``. The targets are ratios to it, except
the completion line's (a Tab in the shell), which is in milliseconds. Two
variants are timed for reference: the same app without cliff's per-run
scan of installed distributions ("lean", as ntcli's commands skip it), and
the lean app importing the libraries ntcli's token commands cannot do
without, cryptography (Fernet, Ed25519) and sqlite3, and nothing of ntcli
("floor"): what any cliff application storing Fernet-encrypted tokens and
answering from a local SQLite authority starts from.

ntcli runs with HOME and the XDG directories in the temporary directory, so
the user's own files, keyring and config are never touched, and with the
embedded endpoint. The stevedore entry point cache (``XDG_CACHE_HOME``) is
warmed before timing, as it is for a user after the first command; note
that stevedore never writes it when ``sys.executable`` starts with /tmp.

The exit status is 1 when a command fails or the set-up is broken, and 0
otherwise, whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable

try:
    import resource
except ImportError:  # not on Windows: no CPU times there
    resource = None  # type: ignore[assignment]

BASELINE = 'cliff baseline'
# The same app with get_epilog overridden, as ntcli's commands do: cliff's
# default epilog scans every installed distribution (packages_distributions)
# on each run. Shown for reference, as the floor of a cliff application.
LEAN_BASELINE = 'cliff baseline, lean'
# The lean app importing what every ntcli token command cannot do without
# (cryptography's Fernet and Ed25519, sqlite3) and nothing of ntcli's own:
# the floor of those commands with cliff.
FLOOR = 'cliff baseline, lean + crypto + sqlite3'
# command -> the most its median may be, as a multiple of the baseline's
TARGETS = {
    'ntcli --version': 0.2,
    'ntcli token show': 1.05,
    'ntcli token refresh': 1.10,
    'ntcli token list': 1.10,
}
# command -> (another command, the most its median may be as a multiple of
# the other's)
EXEC = 'ntcli token exec -- true'
TARGETS_RELATIVE = {EXEC: ('ntcli token show', 1.10)}
# A Tab in the shell: what `ntcli token revoke <Tab>` runs (the JTIs of the
# workspace, from the embedded endpoint), answered from the completion
# cache. command -> most milliseconds (benchmarks/tab_completion.py times
# Tab in the shells themselves).
COMPLETION = 'ntcli complete: token revoke <Tab>'
COMPLETION_NAMES = 'ntcli complete: token re<Tab>'
COMPLETION_OPTIONS = 'ntcli complete: token list --sort-<Tab>'
TARGETS_MS = {COMPLETION: 150, COMPLETION_NAMES: 50, COMPLETION_OPTIONS: 50}

BASELINE_MODULE = '''\
"""A minimal cliff application: the yardstick for start-up time."""

import sys

from cliff.app import App
from cliff.commandmanager import CommandManager
from cliff.show import ShowOne


class ShowThing(ShowOne):
    """Show one thing."""

    def take_action(self, parsed_args):
        return ('name', 'size'), ('baseline', 42)


class LeanShowThing(ShowThing):
    """Show one thing, without cliff's "provided by" epilog."""

    def get_epilog(self):
        return ''


class FloorShowThing(LeanShowThing):
    """Show one thing, after importing what ntcli's token commands need."""

    def take_action(self, parsed_args):
        import sqlite3  # noqa: F401
        from cryptography.fernet import Fernet  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import (  # noqa: F401
            ed25519)
        return super().take_action(parsed_args)


class BaselineApp(App):
    def __init__(self):
        super().__init__(
            description='cliff start-up baseline', version='1.0',
            command_manager=CommandManager('cliff_baseline.commands'),
            deferred_help=True)


def main(argv=None):
    return BaselineApp().run(sys.argv[1:] if argv is None else argv)
'''

# The same shape as the console script pip writes for ntcli.
CONSOLE_SCRIPT = '''\
#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
'''

# Settings that would make ntcli leave the sandbox or change its path.
SCRUBBED_ENV = ('NTCLI_CONFIG_DIR', 'NTCLI_DATA_DIR', 'NTCLI_ENDPOINT',
                'NTCLI_KEY', 'NTCLI_TOKEN', 'NTCLI_WORKSPACE',
                'NTCLI_TIMEOUT', 'NTCLI_FAULTS', 'DBUS_SESSION_BUS_ADDRESS',
                'PYTHONPROFILEIMPORTTIME', 'PYTHONDEVMODE',
                'PYTHONDONTWRITEBYTECODE', 'PYTHONTRACEMALLOC',
                'PYTHONASYNCIODEBUG', 'PYTHONWARNINGS', 'PYTHONSTARTUP',
                'PYTHONINSPECT', 'PYTHONVERBOSE')


class BenchmarkError(Exception):
    """The benchmark cannot run or a command failed."""


def write_baseline(root: str, python: str) -> str:
    """Install the baseline app under ``root``; return its console script."""
    site = os.path.join(root, 'site')
    dist_info = os.path.join(site, 'cliff_baseline-1.0.dist-info')
    os.makedirs(dist_info)
    with open(os.path.join(site, 'cliff_baseline.py'), 'w') as handle:
        handle.write(BASELINE_MODULE)
    with open(os.path.join(dist_info, 'METADATA'), 'w') as handle:
        handle.write('Metadata-Version: 2.1\nName: cliff-baseline\n'
                     'Version: 1.0\n')
    with open(os.path.join(dist_info, 'entry_points.txt'), 'w') as handle:
        handle.write('[console_scripts]\n'
                     'cliff-baseline = cliff_baseline:main\n\n'
                     '[cliff_baseline.commands]\n'
                     'thing_show = cliff_baseline:ShowThing\n'
                     'lean_show = cliff_baseline:LeanShowThing\n'
                     'floor_show = cliff_baseline:FloorShowThing\n')
    with open(os.path.join(dist_info, 'top_level.txt'), 'w') as handle:
        handle.write('cliff_baseline\n')
    script = os.path.join(root, 'bin', 'cliff-baseline')
    os.makedirs(os.path.dirname(script))
    with open(script, 'w') as handle:
        handle.write(CONSOLE_SCRIPT.format(python=python,
                                           module='cliff_baseline'))
    os.chmod(script, 0o755)
    return script


def sandbox_env(root: str) -> dict[str, str]:
    """The environment of every timed process."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    for name in ('home', 'config', 'data', 'cache', 'state'):
        os.makedirs(os.path.join(root, name), mode=0o700)
    env.update(HOME=os.path.join(root, 'home'),
               XDG_CONFIG_HOME=os.path.join(root, 'config'),
               XDG_DATA_HOME=os.path.join(root, 'data'),
               XDG_CACHE_HOME=os.path.join(root, 'cache'),
               XDG_STATE_HOME=os.path.join(root, 'state'),
               # every process sees the same sys.path, the baseline's
               # distribution included, so they share one stevedore cache
               PYTHONPATH=os.path.join(root, 'site'),
               LC_ALL='C.UTF-8', NO_COLOR='1')
    return env


def _children_cpu() -> float:
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: list[str], env: dict[str, str],
             cwd: str) -> tuple[float, float]:
    """Run one command; return its wall and CPU (user + system) seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        command = ' '.join(argv[1:]) or argv[0]
        stderr = proc.stderr.decode(errors='replace').strip()[-800:]
        raise BenchmarkError(
            f'{command} exited with {proc.returncode}: {stderr}')
    return elapsed, cpu


def instructions(argv: list[str], env: dict[str, str],
                 cwd: str) -> int | None:
    """Instructions one run of ``argv`` executes, counted by callgrind;
    None for a command that replaces itself with another program
    (``token exec``), whose count callgrind never reports.

    Unlike wall or CPU time, the count hardly changes with the load of the
    machine; it misses what the CPU waits for (disk, cache misses). A
    background process the command starts (a Tab's refresh of the
    completion cache) is not counted.
    """
    proc = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null',
         *argv], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr.splitlines():
        if 'Collected :' in line:
            return int(line.rsplit(':', 1)[1])
    if proc.returncode == 0:
        return None
    raise BenchmarkError(f"callgrind counted nothing for {' '.join(argv)}: "
                         f'{proc.stderr.strip()[-800:]}')


def check_output(argv: list[str], env: dict[str, str], cwd: str) -> str:
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"{' '.join(argv)} failed "
                             f'({proc.returncode}): '
                             f'{proc.stderr.strip()[-800:]}')
    return proc.stdout


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


def find_ntcli(python: str) -> str:
    candidate = os.path.join(os.path.dirname(python), 'ntcli')
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which('ntcli')
    if found is None:
        raise BenchmarkError(f'No ntcli console script next to {python}; '
                             'install ntcli into this virtualenv '
                             '(pip install -e .)')
    return found


def machine() -> dict[str, str]:
    model = 'unknown'
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    from importlib import metadata
    return {'cpus': str(os.cpu_count()), 'cpu': model,
            'python': sys.version.split()[0], 'executable': sys.executable,
            # the baseline's epilog reads every one of them on each run
            'distributions': str(sum(1 for _ in metadata.distributions()))}


def benchmark(runs: int, warmup: int, keep: bool,
              others: dict[str, str], count: bool = False) -> dict:
    python = sys.executable
    ntcli = find_ntcli(python)
    root = tempfile.mkdtemp(prefix='ntcli-bench-')
    try:
        baseline = write_baseline(root, python)
        env = sandbox_env(root)
        # ntcli as its completion scripts start it on a Tab: the console
        # script's interpreter, without the script (ntcli.shell_scripts)
        from ntcli import shell_scripts
        with open(ntcli) as handle:
            shebang = handle.readline()[2:].strip()
        tab = [shebang if os.path.isabs(shebang) else python, '-c',
               shell_scripts.CODE, os.path.dirname(ntcli), ntcli]
        commands = {
            BASELINE: [baseline, 'thing', 'show', '-f', 'json'],
            LEAN_BASELINE: [baseline, 'lean', 'show', '-f', 'json'],
            FLOOR: [baseline, 'floor', 'show', '-f', 'json'],
            'ntcli --version': [ntcli, '--version'],
            'ntcli token show': [ntcli, 'token', 'show'],
            'ntcli token refresh': [ntcli, 'token', 'refresh'],
            'ntcli token list': [ntcli, 'token', 'list'],
            EXEC: [ntcli, 'token', 'exec', '--', 'true'],
            COMPLETION_NAMES: [*tab, 'complete', '--query', '--', 'token',
                               're'],
            COMPLETION_OPTIONS: [*tab, 'complete', '--query', '--',
                                 'token', 'list', '--sort-'],
            COMPLETION: [*tab, 'complete', '--query', '--', 'token',
                         'revoke', ''],
        }
        for label, script in others.items():
            # another ntcli (e.g. an older commit's venv) in the same sandbox
            commands[f'{label}: --version'] = [script, '--version']
            commands[f'{label}: token show'] = [script, 'token', 'show']
            commands[f'{label}: token refresh'] = [script, 'token',
                                                   'refresh']
            commands[f'{label}: token list'] = [script, 'token', 'list']
            commands[f'{label}: token exec -- true'] = [
                script, 'token', 'exec', '--', 'true']
            commands[f'{label}: complete: token re<Tab>'] = [
                script, 'complete', '--query', '--', 'token', 're']
            commands[f'{label}: complete: token revoke <Tab>'] = [
                script, 'complete', '--query', '--', 'token', 'revoke', '']
        home = env['HOME']
        # A first refresh creates the default workspace, the key file and
        # the stored token: the timed refreshes and shows are warm ones.
        check_output(commands['ntcli token refresh'], env, home)
        shown = check_output(commands['ntcli token show'], env, home)
        if 'Status:      Active' not in shown:
            raise BenchmarkError('token show did not report an active '
                                 'token:\n' + shown)
        for _ in range(warmup):
            for argv in commands.values():
                run_once(argv, env, home)
        cache = os.path.join(env['XDG_CACHE_HOME'], 'python-entrypoints')
        cached = os.path.isdir(cache) and bool(os.listdir(cache))
        samples: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for iteration in range(runs):
            shift = iteration % len(names)
            for name in names[shift:] + names[:shift]:
                wall, used = run_once(commands[name], env, home)
                samples[name].append(wall)
                cpu[name].append(used)
        counted = ({name: instructions(argv, env, home)
                    for name, argv in commands.items()} if count else {})
        return {'machine': machine(), 'runs': runs, 'warmup': warmup,
                'instructions': counted, 'load': os.getloadavg(),
                'stevedore_cache': cached, 'ntcli': ntcli,
                'samples_ms': {name: [round(s * 1000, 2) for s in values]
                               for name, values in samples.items()},
                'cpu_ms': {name: [round(s * 1000, 2) for s in values]
                           for name, values in cpu.items()}}
    finally:
        if keep:
            print('Sandbox kept in', root, file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def report(result: dict) -> None:
    info = result['machine']
    print(f"Python {info['python']} on {info['cpus']} CPU(s): "
          f"{info['cpu']}")
    cache = ('warm' if result['stevedore_cache'] else
             'NOT written (is the venv under /tmp?)')
    print(f"baseline venv: {info.get('distributions', '?')} installed "
          'distributions (the baseline scans them all on every run)')
    print(f"{result['runs']} interleaved runs after {result['warmup']} "
          f'warm-up; stevedore cache {cache}')
    samples, cpu = result['samples_ms'], result['cpu_ms']
    base = statistics.median(samples[BASELINE])
    lean = statistics.median(samples[LEAN_BASELINE])
    cpu_base = statistics.median(cpu[BASELINE]) or 1.0
    print()
    width = max(len(name) for name in samples)
    print(f"{'wall clock, ms':<{width}} {'median':>7} {'p90':>7} "
          f"{'min':>7} {'ratio':>6} {'target':>8} {'x lean':>6}  "
          f"{'result':<6} {'cpu':>7} {'ratio':>6}")
    result['summary'] = {}
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = percentile(values, 0.9)
        ratio = median / base
        cpu_median = statistics.median(cpu[name])
        target = TARGETS.get(name)
        verdict = '' if target is None else (
            'PASS' if ratio <= target else 'MISS')
        shown_target = '' if target is None else f'<={target:.2f}x'
        if name in TARGETS_MS:
            target = TARGETS_MS[name]
            verdict = 'PASS' if median <= target else 'MISS'
            shown_target = f'<={target}ms'
        if name in TARGETS_RELATIVE:
            other, target = TARGETS_RELATIVE[name]
            relative = median / statistics.median(samples[other])
            verdict = 'PASS' if relative <= target else 'MISS'
            shown_target = f'<={target:.2f}x*'
        print(f'{name:<{width}} {median:7.1f} {p90:7.1f} '
              f'{min(values):7.1f} {ratio:5.2f}x {shown_target:>8} '
              f'{median / lean:5.2f}x  {verdict:<6} {cpu_median:7.1f} '
              f'{cpu_median / cpu_base:5.2f}x')
        result['summary'][name] = {
            'median_ms': round(median, 1), 'p90_ms': round(p90, 1),
            'min_ms': round(min(values), 1), 'ratio': round(ratio, 3),
            'ratio_to_lean': round(median / lean, 3), 'target': target,
            'verdict': verdict or None, 'cpu_median_ms': round(cpu_median, 1),
            'cpu_ratio': round(cpu_median / cpu_base, 3)}
    counted = result.get('instructions')
    if counted:
        print()
        print(f"{'instructions (callgrind)':<{width}} {'count':>13} "
              f"{'ratio':>6}")
        for name, count in counted.items():
            if count is None:
                print(f"{name:<{width}} {'n/a (exec)':>13}")
                continue
            print(f'{name:<{width}} {count:13,d} '
                  f'{count / counted[BASELINE]:5.2f}x')
            result['summary'][name]['instructions'] = count
    print()
    load = ' '.join(f'{x:.1f}' for x in result['load'])
    print(f'load average at the end: {load}')
    for name, (other, target) in TARGETS_RELATIVE.items():
        relative = (statistics.median(samples[name])
                    / statistics.median(samples[other]))
        result['summary'][name]['ratio_to_' + other] = round(relative, 3)
        print(f'* {name}: {relative:.2f}x {other} (target <= {target:.2f}x)')
    print('ratio: median to the cliff baseline\'s (the targets are on it); '
          'x lean: to the\nsame app without cliff\'s per-run scan of '
          'installed distributions (its\n"provided by" epilog); cpu: median '
          'user+system CPU time of the process,\nless disturbed than wall '
          'time by other load on the machine.')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__.split('\n\n')[0]))
    parser.add_argument('--runs', type=int, default=30, metavar='N',
                        help='timed iterations (default 30)')
    parser.add_argument('--warmup', type=int, default=3, metavar='N',
                        help='untimed iterations first (default 3)')
    parser.add_argument('--json', metavar='FILE',
                        help='also write every sample and the summary here')
    parser.add_argument('--keep', action='store_true',
                        help='keep the temporary sandbox for inspection')
    parser.add_argument('--also', action='append', default=[],
                        metavar='LABEL=SCRIPT',
                        help='also time another ntcli console script (for '
                             'before/after comparisons), in the same runs')
    parser.add_argument('--instructions', action='store_true',
                        help='also count the instructions of one run of '
                             'each command with valgrind (slow)')
    args = parser.parse_args(argv)
    others = {}
    for item in args.also:
        label, _, script = item.partition('=')
        if not label or not os.path.isfile(script):
            parser.error('--also takes LABEL=PATH of an ntcli script')
        others[label] = script
    if args.runs < 1 or args.warmup < 0:
        parser.error('--runs must be at least 1 and --warmup at least 0')
    if sys.executable.startswith('/tmp'):
        print('Warning: this Python lives under /tmp, where stevedore does '
              'not cache entry points; the figures are pessimistic.',
              file=sys.stderr)
    return run_and_report(
        lambda: benchmark(args.runs, args.warmup, args.keep, others,
                          args.instructions), report, args.json)


def run_and_report(measure: Callable[[], dict], show: Callable[[dict], None],
                   json_path: str | None) -> int:
    """The end of every benchmark script: measure, print the figures,
    write them to ``json_path`` if given; the exit status (1 when the
    benchmark could not run)."""
    try:
        result = measure()
    except (BenchmarkError, OSError, RuntimeError) as exc:
        print(f'benchmark failed: {exc}', file=sys.stderr)
        return 1
    show(result)
    if json_path:
        with open(json_path, 'w') as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
