#!/usr/bin/env python3
"""What the OS keyring as the key source adds to a command.

Usage (Linux, with dbus-daemon and gnome-keyring-daemon installed)::

    python benchmarks/keyring_cost.py [--runs N] [--also LABEL=SCRIPT]

It starts a private D-Bus session bus and an unlocked GNOME Keyring in a
temporary home, makes one workspace token whose Fernet key lives in that
keyring and another whose key lives in a key file, then times ``ntcli token
show`` on each, interleaved (as benchmarks/cli_startup.py does). The cost of
the keyring is the difference of the medians; ``--also`` times another
ntcli console script (an older install) on the keyring too.

Everything it starts is stopped when it ends.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_startup  # noqa: E402  (the sandbox and the timing)
import server_load  # noqa: E402  (stopping a process group)


def start_session(root: str, env: dict[str, str]) -> list[subprocess.Popen]:
    """A session bus and an unlocked keyring; sets the bus address."""
    bus = subprocess.Popen(
        ['dbus-daemon', '--session', '--nofork', '--print-address=1'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env, start_new_session=True)
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    if not address:
        bus.kill()
        raise cli_startup.BenchmarkError('dbus-daemon gave no address')
    env['DBUS_SESSION_BUS_ADDRESS'] = address
    runtime = os.path.join(root, 'run')
    os.makedirs(runtime, mode=0o700)
    env['XDG_RUNTIME_DIR'] = runtime
    keyring = subprocess.Popen(
        ['gnome-keyring-daemon', '--foreground', '--unlock',
         '--components=secrets'], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True)
    assert keyring.stdin is not None
    keyring.stdin.write(b'benchmark')   # the login keyring's password
    keyring.stdin.close()
    return [keyring, bus]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=20, metavar='N')
    parser.add_argument('--warmup', type=int, default=2, metavar='N')
    parser.add_argument('--also', action='append', default=[],
                        metavar='LABEL=SCRIPT')
    args = parser.parse_args(argv)
    ntcli = cli_startup.find_ntcli(sys.executable)
    root = tempfile.mkdtemp(prefix='ntcli-keyring-bench-')
    processes: list[subprocess.Popen] = []
    try:
        env = cli_startup.sandbox_env(root)
        env.pop('PYTHON_KEYRING_BACKEND', None)
        processes = start_session(root, env)
        home = env['HOME']
        # the key-file configuration: its own config dir, no session bus
        file_env = dict(env, NTCLI_CONFIG_DIR=os.path.join(root, 'file'))
        del file_env['DBUS_SESSION_BUS_ADDRESS']
        commands = {'key file': ([ntcli, 'token', 'show'], file_env),
                    'keyring': ([ntcli, 'token', 'show'], env)}
        for item in args.also:
            label, _, script = item.partition('=')
            commands[f'{label}: keyring'] = ([script, 'token', 'show'], env)
        for argv_, env_ in (commands['key file'], commands['keyring']):
            cli_startup.check_output([argv_[0], 'token', 'refresh'], env_,
                                     home)
        status = cli_startup.check_output([ntcli, 'auth', 'status'], env,
                                          home)
        if 'keyring' not in status.lower():
            raise cli_startup.BenchmarkError(
                'the key is not in the keyring:\n' + status)
        samples = {name: [] for name in commands}
        cpu = {name: [] for name in commands}
        names = list(commands)
        for iteration in range(args.warmup + args.runs):
            shift = iteration % len(names)
            for name in names[shift:] + names[:shift]:
                command, env_ = commands[name]
                wall, used = cli_startup.run_once(command, env_, home)
                if iteration >= args.warmup:
                    samples[name].append(wall * 1000)
                    cpu[name].append(used * 1000)
    except (cli_startup.BenchmarkError, OSError) as exc:
        print(f'benchmark failed: {exc}', file=sys.stderr)
        return 1
    finally:
        for proc in processes:
            server_load.stop_server(proc)
        shutil.rmtree(root, ignore_errors=True)
    base = statistics.median(samples['key file'])
    base_cpu = statistics.median(cpu['key file'])
    print(f'{args.runs} interleaved runs of ntcli token show; load average '
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'key source':<20} {'median ms':>10} {'added ms':>9} "
          f"{'cpu ms':>7} {'added':>6}")
    for name in names:
        median = statistics.median(samples[name])
        used = statistics.median(cpu[name])
        print(f'{name:<20} {median:10.1f} {median - base:9.1f} '
              f'{used:7.1f} {used - base_cpu:6.1f}')
    print('(cpu: the ntcli process only; the keyring daemon works too, '
          'and that shows in\nthe wall time)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
