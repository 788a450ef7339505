"""File primitives for ntcli's private files.

Private directories (0700), atomic writes (temporary file in the same
directory, fsync, rename, fsync of the directory) and an exclusive lock on a
dedicated lock file. Only the standard library is used: these run on the
CLI's start-up path (``fcntl`` costs well under a millisecond to import,
the ``filelock`` package about 35 ms).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile
import time
import types

from ntcli import faults
from ntcli.errors import CredentialStoreError, LockTimeout

LOG = logging.getLogger(__name__)

_POSIX = os.name == 'posix'


def _owned_by_us(st: os.stat_result) -> bool:
    getuid = getattr(os, 'getuid', None)
    return getuid is None or st.st_uid == getuid()


def _make_dirs_private(path: str) -> None:
    # os.makedirs gives only the last directory the mode; a parent it
    # creates (the config dir, when the data dir inside it comes first)
    # would be 0755 for a moment and then be "tightened" with a warning.
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


def ensure_private_dir(path: str) -> None:
    """Create ``path`` (and its parents) with mode 0700, or tighten it."""
    _make_dirs_private(path)
    if not _POSIX:
        return  # Windows: the profile directory's ACLs already protect it
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, 'Not a directory', path)
    if stat.S_IMODE(st.st_mode) & 0o077:
        if _owned_by_us(st):
            LOG.warning('Directory %s was accessible to other users '
                        '(mode %04o); tightened to 0700.',
                        path, stat.S_IMODE(st.st_mode))
            os.chmod(path, 0o700)
        else:
            LOG.warning('Directory %s belongs to another user and is '
                        'accessible to others (mode %04o).',
                        path, stat.S_IMODE(st.st_mode))


def ensure_config_dir(path: str) -> None:
    """ensure_private_dir for ntcli's config directory, failing with a
    CredentialStoreError that says what to do."""
    try:
        ensure_private_dir(path)
    except OSError as exc:
        raise CredentialStoreError(
            'Cannot create the config directory %s: %s'
            % (path, exc.strerror or exc),
            'Check the path and its permissions, or pass --config-dir.'
        ) from None


def tighten_file(path: str, mode: int = 0o600) -> bool:
    """Warn about and remove group/other permissions on an existing file.

    Returns True when the permissions were changed.
    """
    if not _POSIX:
        return False
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    current = stat.S_IMODE(st.st_mode)
    if not current & 0o077 or not _owned_by_us(st):
        return False
    LOG.warning('File %s was accessible to other users (mode %04o); '
                'tightened to %04o.', path, current, mode)
    os.chmod(path, mode)
    return True


def file_mode(path: str) -> int | None:
    """The permission bits of ``path``, or None when it does not exist."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if not _POSIX:
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories
    finally:
        os.close(fd)


def _write_temp(path: str, data: bytes, mode: int) -> str:
    """Write ``data`` to a new, synced temporary file beside ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    # mkstemp creates the file 0600 from the start: no umask window.
    fd, tmp = tempfile.mkstemp(
        prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
        dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            if _POSIX and mode != 0o600:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            if faults.should_fail('write'):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(handle.fileno())
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that readers see old or new, never
    a torn file; on failure the old file is untouched."""
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_create(path: str, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` with ``data`` only if it does not exist yet.

    The file appears complete or not at all (hard link of a synced
    temporary file). Returns False, writing nothing, when ``path`` exists,
    so two processes racing to create a key cannot both win.
    """
    tmp = _write_temp(path, data, mode)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP,
                                 errno.ENOSYS, errno.EXDEV):
                raise
            # No hard links here (some FUSE/SMB mounts): exclusive create.
            return _create_exclusive(path, data, mode)
    finally:
        _remove_quietly(tmp)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return True


def _create_exclusive(path: str, data: bytes, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _remove_quietly(path)
        raise
    os.close(fd)
    return True


class FileLock:
    """An exclusive lock on a dedicated lock file, held as a context manager.

    The lock file is created 0600 and never deleted: the operating system
    releases the lock when the process ends, so a crash leaves nothing stale.
    """

    poll_interval = 0.02

    def __init__(self, path: str, timeout: float | None = 30.0,
                 what: str = 'the credentials') -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError('FileLock is not reentrant')
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = (None if self.timeout is None
                    else time.monotonic() + self.timeout)
        try:
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeout(
                        'Another ntcli process is using %s' % self.what,
                        'Wait for it to finish and try again (lock file: '
                        '%s).' % self.path)
                time.sleep(self.poll_interval)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: types.TracebackType | None) -> None:
        self.release()


if _POSIX:
    import fcntl

    def _try_lock(fd: int) -> bool:
        # flock, not lockf: POSIX record locks vanish when the process
        # closes any descriptor of the file.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
