"""Tests of ntcli_server.ratelimit: failed authentications per address."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import testtools
from falcon import testing

from ntcli_authority.access import Principal
from ntcli_server import ratelimit, wsgi
from tests.unit.ntcli_authority import base

OWNER = Principal.local()  # the local owner may do everything


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class TestFailureTable(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.table = ratelimit.FailureTable(3, 60, clock=self.clock)

    def test_blocked_after_the_limit_until_the_window_ends(self):
        for _ in range(2):
            self.table.failed('10.0.0.1')
        self.assertEqual(0, self.table.retry_after('10.0.0.1'))
        self.clock.now += 10
        self.table.failed('10.0.0.1')
        self.assertEqual(50, self.table.retry_after('10.0.0.1'))
        self.clock.now += 49.5
        self.assertEqual(1, self.table.retry_after('10.0.0.1'))
        self.clock.now += 0.5
        self.assertEqual(0, self.table.retry_after('10.0.0.1'))
        # a new window starts from nothing
        self.table.failed('10.0.0.1')
        self.assertEqual(0, self.table.retry_after('10.0.0.1'))

    def test_failures_spread_over_windows_never_block(self):
        for _ in range(10):
            self.table.failed('10.0.0.1')
            self.table.failed('10.0.0.1')
            self.clock.now += 61
            self.assertEqual(0, self.table.retry_after('10.0.0.1'))

    def test_other_addresses_are_not_affected(self):
        for _ in range(5):
            self.table.failed('10.0.0.1')
        self.assertGreater(self.table.retry_after('10.0.0.1'), 0)
        self.assertEqual(0, self.table.retry_after('10.0.0.2'))
        self.assertEqual(0, self.table.retry_after('::1'))

    def test_many_addresses_fit_in_a_fixed_table(self):
        for n in range(20000):
            self.table.failed(f'10.{n >> 16}.{(n >> 8) & 255}.{n & 255}')
        for _ in range(3):
            self.table.failed('192.0.2.1')
        self.assertGreater(self.table.retry_after('192.0.2.1'), 0)

    def test_remembered_digests_are_bounded(self):
        for n in range(ratelimit._DIGESTS + 10):
            self.table.retry_after(f'10.1.{n >> 8}.{n & 255}')
        self.assertLessEqual(len(self.table._digests), ratelimit._DIGESTS)
        # counting still finds each address's own slot
        for _ in range(3):
            self.table.failed('10.1.0.1')
        self.assertGreater(self.table.retry_after('10.1.0.1'), 0)
        self.assertEqual(0, self.table.retry_after('10.1.0.2'))

    def test_the_counts_are_shared_with_forked_workers(self):
        pid = os.fork()
        if pid == 0:          # a worker
            try:
                for _ in range(3):
                    self.table.failed('10.0.0.9')
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        self.assertEqual(60, self.table.retry_after('10.0.0.9'))

    def test_out_of_range_settings_are_refused(self):
        for limit, window in ((0, 60), (3, 0), (3, 10 ** 9),
                              (10 ** 9, 60)):
            self.assertRaises(ValueError, ratelimit.FailureTable, limit,
                              window)


class TestMiddleware(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.fx = self.useFixture(base.AuthorityFixture())
        self.alice = self.fx.authority.create_user(OWNER, 'alice').credential
        self.table = ratelimit.FailureTable(3, 60)
        self.client = testing.TestClient(wsgi.create_app(
            lambda: self.fx.authority, auth_failures=self.table))

    def whoami(self, credential, address='192.0.2.1'):
        return self.client.simulate_get(
            '/v1/whoami', remote_addr=address,
            headers={'Authorization': f'Bearer {credential}'})

    def test_repeated_failures_get_429_with_retry_after(self):
        for bad in ('ntu_wrong', 'wst_a.b.c', 'ntu_wrong'):
            self.assertEqual(401, self.whoami(bad).status_code)
        result = self.whoami('ntu_wrong')
        self.assertEqual(429, result.status_code)
        self.assertEqual('TOO_MANY_REQUESTS', result.json['error']['code'])
        retry = int(result.headers['retry-after'])
        self.assertTrue(0 < retry <= 60, retry)
        self.assertEqual(retry, result.json['error']['details']['retry_after'])
        # the address is refused before its credential is looked at
        self.assertEqual(429, self.whoami(self.alice).status_code)
        # a client elsewhere is not affected
        self.assertEqual(200, self.whoami(self.alice, '192.0.2.2')
                         .status_code)

    def test_successes_do_not_count_or_reset(self):
        for _ in range(10):
            self.assertEqual(200, self.whoami(self.alice).status_code)
        for _ in range(2):
            self.whoami('ntu_wrong')
            self.assertEqual(200, self.whoami(self.alice).status_code)
        self.whoami('ntu_wrong')
        self.assertEqual(429, self.whoami(self.alice).status_code)

    def test_other_refusals_do_not_count(self):
        for _ in range(10):
            result = self.client.simulate_post(
                '/v1/workspaces', remote_addr='192.0.2.1', body='{',
                headers={'Authorization': f'Bearer {self.alice}',
                         'Content-Type': 'application/json'})
            self.assertEqual(400, result.status_code)
        self.assertEqual(200, self.whoami(self.alice).status_code)


class TestNodeLock(testtools.TestCase):

    def hold_in_child(self, lock, then):
        """Fork a child that takes ``lock`` and then calls ``then``."""
        pid = os.fork()
        if pid == 0:                    # pragma: no cover (the child)
            try:
                if lock.acquire(5):
                    then()
            finally:
                os._exit(0)
        return pid

    def test_a_process_killed_holding_it_stops_nobody(self):
        lock = ratelimit.NodeLock()
        pid = self.hold_in_child(lock, lambda: os.kill(os.getpid(), 9))
        os.waitpid(pid, 0)
        self.assertTrue(lock.acquire(1))
        lock.release()

    def test_a_table_counts_after_a_worker_died_holding_its_lock(self):
        table = ratelimit.FailureTable(limit=1, window=60)
        pid = self.hold_in_child(table._lock,
                                 lambda: os.kill(os.getpid(), 9))
        os.waitpid(pid, 0)
        table.failed('192.0.2.1')
        self.assertLess(0, table.retry_after('192.0.2.1'))

    def test_held_elsewhere_it_is_refused_after_the_wait(self):
        lock = ratelimit.NodeLock()
        reader, writer = os.pipe()
        self.addCleanup(os.close, reader)

        def hold():
            os.write(writer, b'x')
            time.sleep(30)
        pid = self.hold_in_child(lock, hold)
        self.addCleanup(os.waitpid, pid, 0)
        self.addCleanup(os.kill, pid, 9)
        os.close(writer)
        self.assertEqual(b'x', os.read(reader, 1))
        self.assertFalse(lock.acquire(0.05))
        self.assertTrue(lock._process_lock().acquire(0))   # not left taken

    def test_a_gevent_worker_serves_others_while_one_waits(self):
        # A request waiting for the lock must let the worker's other
        # greenlets run (a blocking wait would stop them all).
        script = textwrap.dedent('''
            from gevent import monkey
            monkey.patch_all()
            import os, time, gevent
            from ntcli_server import ratelimit
            lock = ratelimit.NodeLock()
            reader, writer = os.pipe()
            pid = os.fork()
            if pid == 0:
                lock.acquire(5)
                os.write(writer, b'x')
                time.sleep(30)
                os._exit(0)
            os.read(reader, 1)
            inside, ticks = [False], []
            def wait():
                inside[0] = True
                lock.acquire(0.2)
                inside[0] = False
            def other():
                for _ in range(100):
                    ticks.append(inside[0])
                    gevent.sleep(0.001)
            gevent.joinall([gevent.spawn(wait), gevent.spawn(other)])
            os.kill(pid, 9)
            print(sum(ticks))
        ''')
        result = subprocess.run([sys.executable, '-c', script],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertLess(0, int(result.stdout))
