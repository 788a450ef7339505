"""ntcli.fileio at the edges: symlinks, special files, shared directories."""

from __future__ import annotations

import os
import stat

import fixtures
import testtools

from ntcli import fileio
from ntcli.errors import UnsafePath

POSIX = os.name == 'posix'


def mode_of(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@testtools.skipUnless(POSIX, 'POSIX symlinks and modes')
class TestSymlinksRefused(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.target = os.path.join(self.dir, 'victim')
        with open(self.target, 'wb') as handle:
            handle.write(b'precious\n')
        os.chmod(self.target, 0o644)
        self.link = os.path.join(self.dir, 'credentials.enc')
        os.symlink(self.target, self.link)

    def assert_target_untouched(self) -> None:
        with open(self.target, 'rb') as handle:
            self.assertEqual(b'precious\n', handle.read())
        self.assertEqual(0o644, mode_of(self.target))
        self.assertTrue(os.path.islink(self.link))

    def assert_refused(self, func, *args) -> None:
        err = self.assertRaises(UnsafePath, func, *args)
        self.assertIn(self.link, err.message)
        self.assertIn('symbolic link', err.message)
        self.assertIn('Replace it with a regular file', err.hint)
        self.assert_target_untouched()

    def test_read(self) -> None:
        self.assert_refused(fileio.read_private, self.link)

    def test_append(self) -> None:
        self.assert_refused(fileio.append_private, self.link, b'line\n')

    def test_atomic_write(self) -> None:
        self.assert_refused(fileio.atomic_write, self.link, b'new')

    def test_lock_file(self) -> None:
        self.assert_refused(fileio.FileLock(self.link).acquire)

    def test_dangling_link_not_created_through(self) -> None:
        os.unlink(self.target)
        self.assertRaises(UnsafePath, fileio.append_private, self.link, b'x')
        self.assertFalse(os.path.exists(self.target))

    def test_fifo_refused_without_blocking(self) -> None:
        fifo = os.path.join(self.dir, 'fifo')
        os.mkfifo(fifo)
        err = self.assertRaises(UnsafePath, fileio.read_private, fifo)
        self.assertIn('not a regular file', err.message)

    def test_regular_file_read_and_tightened(self) -> None:
        path = os.path.join(self.dir, 'mine')
        with open(path, 'wb') as handle:
            handle.write(b'data')
        os.chmod(path, 0o644)
        self.assertEqual(b'data', fileio.read_private(path))
        self.assertEqual(0o600, mode_of(path))
        self.assertIsNone(fileio.read_private(path + '.missing'))


@testtools.skipUnless(POSIX, 'POSIX modes')
class TestDirectoriesNeverChmodded(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.log = self.useFixture(fixtures.FakeLogger('ntcli.fileio'))

    def shared(self, mode: int) -> str:
        path = os.path.join(self.dir, f'shared-{mode:o}')
        os.mkdir(path)
        os.chmod(path, mode)
        return path

    def test_sticky_world_writable_kept_and_refused_for_secrets(self) -> None:
        path = self.shared(0o1777)
        err = self.assertRaises(UnsafePath, fileio.ensure_private_dir, path,
                                secrets=True)
        self.assertIn('other users can write to it (mode 1777)', err.message)
        self.assertEqual(0o1777, stat.S_IMODE(os.stat(path).st_mode))

    def test_group_writable_refused_for_secrets(self) -> None:
        path = self.shared(0o770)
        self.assertRaises(UnsafePath, fileio.ensure_config_dir, path)
        self.assertEqual(0o770, mode_of(path))

    def test_readable_warned_not_changed(self) -> None:
        path = self.shared(0o750)
        fileio.ensure_private_dir(path, secrets=True)
        self.assertEqual(0o750, mode_of(path))
        self.assertIn('leaves it as it is', self.log.output)

    def test_created_directory_is_0700_without_warning(self) -> None:
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        path = os.path.join(self.shared(0o755), 'new', 'ntcli')
        fileio.ensure_private_dir(path, secrets=True)
        self.assertEqual(0o700, mode_of(path))
        self.assertEqual(0o700, mode_of(os.path.dirname(path)))
        self.assertEqual('', self.log.output)
