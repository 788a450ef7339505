"""Tests for ntcli.fileio: private directories, atomic writes, the lock."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import fixtures
import testtools

from ntcli import fileio
from ntcli.errors import LockTimeout
from ntcli.testing import IsolatedHome


def mode_of(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


POSIX = os.name == 'posix'


class TestPrivateDir(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.log = self.useFixture(fixtures.FakeLogger('ntcli.fileio'))

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_creates_with_parents_0700(self) -> None:
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        path = os.path.join(self.home.path, 'a', 'b', 'ntcli')
        fileio.ensure_private_dir(path)
        self.assertEqual(0o700, mode_of(path))
        self.assertEqual('', self.log.output)

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_loose_dir_warned_about_never_changed(self) -> None:
        path = os.path.join(self.home.path, 'loose')
        os.mkdir(path)
        os.chmod(path, 0o755)
        fileio.ensure_private_dir(path)
        self.assertEqual(0o755, mode_of(path))
        self.assertIn('leaves it as it is', self.log.output)
        self.assertIn(f"chmod 700 {path}", self.log.output)

    def test_existing_private_dir_untouched(self) -> None:
        path = os.path.join(self.home.path, 'fine')
        fileio.ensure_private_dir(path)
        fileio.ensure_private_dir(path)
        self.assertEqual('', self.log.output)

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_reading_a_loose_file_tightens_it(self) -> None:
        path = os.path.join(self.home.path, 'secret')
        with open(path, 'wb') as handle:
            handle.write(b'x')
        os.chmod(path, 0o644)
        self.assertEqual(b'x', fileio.read_private(path))
        self.assertEqual(0o600, mode_of(path))
        self.assertIn('accessible to other users', self.log.output)


class TestAtomicWrite(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'file')

    def leftovers(self) -> list[str]:
        return sorted(set(os.listdir(self.dir)) - {'file'})

    def test_writes_0600(self) -> None:
        fileio.atomic_write(self.path, b'one')
        with open(self.path, 'rb') as handle:
            self.assertEqual(b'one', handle.read())
        if POSIX:
            self.assertEqual(0o600, mode_of(self.path))
        self.assertEqual([], self.leftovers())

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_replacing_loose_file_gives_0600(self) -> None:
        with open(self.path, 'wb') as handle:
            handle.write(b'old')
        os.chmod(self.path, 0o644)
        fileio.atomic_write(self.path, b'new')
        self.assertEqual(0o600, mode_of(self.path))

    @testtools.skipUnless(POSIX, 'POSIX permissions')
    def test_other_mode(self) -> None:
        fileio.atomic_write(self.path, b'x', mode=0o640)
        self.assertEqual(0o640, mode_of(self.path))

    def test_failed_replace_leaves_old_file(self) -> None:
        fileio.atomic_write(self.path, b'old contents')

        def broken_replace(src: str, dst: str) -> None:
            raise OSError(28, 'No space left on device')

        self.useFixture(fixtures.MonkeyPatch('os.replace', broken_replace))
        self.assertRaises(OSError, fileio.atomic_write, self.path, b'new')
        with open(self.path, 'rb') as handle:
            self.assertEqual(b'old contents', handle.read())
        self.assertEqual([], self.leftovers())

    def test_failed_fsync_leaves_old_file(self) -> None:
        fileio.atomic_write(self.path, b'old contents')

        def broken_fsync(fd: int) -> None:
            raise OSError(5, 'Input/output error')

        self.useFixture(fixtures.MonkeyPatch('os.fsync', broken_fsync))
        self.assertRaises(OSError, fileio.atomic_write, self.path, b'new')
        with open(self.path, 'rb') as handle:
            self.assertEqual(b'old contents', handle.read())
        self.assertEqual([], self.leftovers())

    def test_atomic_create_only_once(self) -> None:
        self.assertTrue(fileio.atomic_create(self.path, b'first'))
        self.assertFalse(fileio.atomic_create(self.path, b'second'))
        with open(self.path, 'rb') as handle:
            self.assertEqual(b'first', handle.read())
        if POSIX:
            self.assertEqual(0o600, mode_of(self.path))
        self.assertEqual([], self.leftovers())


# Holds the lock until its stdin is closed (not for a time that a slow
# machine could outlast).
HOLD_LOCK = '''
import sys
from ntcli.fileio import FileLock
lock = FileLock(sys.argv[1], timeout=5)
lock.acquire()
print('locked', flush=True)
sys.stdin.read()
'''


class TestFileLock(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'x.lock')

    def hold_in_subprocess(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, '-c', HOLD_LOCK, self.path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.stdin.close)     # releases the lock
        self.assertEqual('locked\n', proc.stdout.readline())
        return proc

    def test_lock_file_kept_0600(self) -> None:
        with fileio.FileLock(self.path) as lock:
            self.assertTrue(lock.locked)
        self.assertFalse(lock.locked)
        self.assertTrue(os.path.exists(self.path))
        if POSIX:
            self.assertEqual(0o600, mode_of(self.path))

    def test_timeout_in_process(self) -> None:
        with fileio.FileLock(self.path):
            started = time.monotonic()
            other = fileio.FileLock(self.path, timeout=0.2)
            err = self.assertRaises(LockTimeout, other.acquire)
            self.assertGreaterEqual(time.monotonic() - started, 0.2)
            self.assertIn(self.path, err.hint)
            self.assertFalse(other.locked)
        with fileio.FileLock(self.path, timeout=0.2):
            pass

    def test_timeout_names_what(self) -> None:
        with fileio.FileLock(self.path):
            err = self.assertRaises(
                LockTimeout, fileio.FileLock(self.path, 0,
                                             'the configuration').acquire)
        self.assertIn('the configuration', err.message)

    def test_other_process_holds_lock(self) -> None:
        holder = self.hold_in_subprocess()
        self.assertRaises(LockTimeout,
                          fileio.FileLock(self.path, timeout=0.1).acquire)
        holder.stdin.close()    # the holder exits; we get the lock
        with fileio.FileLock(self.path, timeout=60):
            pass

    @testtools.skipUnless(POSIX, 'needs SIGKILL')
    def test_crashed_holder_leaves_no_stale_lock(self) -> None:
        proc = self.hold_in_subprocess()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with fileio.FileLock(self.path, timeout=2):
            pass

    def test_not_reentrant(self) -> None:
        lock = fileio.FileLock(self.path)
        with lock:
            self.assertRaises(RuntimeError, lock.acquire)
