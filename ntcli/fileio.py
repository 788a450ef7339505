"""File primitives for ntcli's private files.

Private directories (0700), atomic writes (temporary file in the same
directory, fsync, rename, fsync of the directory) and an exclusive lock on a
dedicated lock file. Only the standard library is used: these run on the
CLI's start-up path (``fcntl`` costs well under a millisecond to import,
the ``filelock`` package about 35 ms).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import sys
import tempfile
import time
import types

from ntcli import faults
from ntcli.errors import (
    CredentialStoreError,
    LockTimeout,
    NtcliError,
    UnsafePath,
)

LOG = logging.getLogger(__name__)

_POSIX = os.name == 'posix'


def _owned_by_us(st: os.stat_result) -> bool:
    getuid = getattr(os, 'getuid', None)
    return getuid is None or st.st_uid == getuid()


# Never follow a symlink in the last component of a path ntcli reads as a
# secret, writes, appends to or changes the mode of; never block on a FIFO
# put where a file should be.
_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
_NONBLOCK = getattr(os, 'O_NONBLOCK', 0)


def _unsafe(path: str, what: str) -> UnsafePath:
    return UnsafePath(
        f'Refusing to use {path}: {what}',
        'ntcli does not follow symbolic links or use special files for its '
        'own files. Replace it with a regular file (or remove it, or move '
        'it aside) and run the command again.', details={'path': path})


def refuse_symlink(path: str) -> None:
    """Raise UnsafePath when ``path`` is a symbolic link (lstat)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise _unsafe(path, 'it is a symbolic link')


def open_file(path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that refuses a symlink or a non-regular file at ``path``.

    Raises UnsafePath for those, OSError (FileNotFoundError...) otherwise.
    """
    try:
        fd = os.open(path, flags | _NOFOLLOW | _NONBLOCK, mode)
    except FileNotFoundError:
        raise
    except OSError:
        # ELOOP on Linux, EMLINK or EFTYPE on the BSDs: name the symlink
        refuse_symlink(path)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _unsafe(path, 'it is not a regular file')
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _tighten_fd(fd: int, path: str, mode: int = 0o600) -> bool:
    if not _POSIX:
        return False
    st = os.fstat(fd)
    current = stat.S_IMODE(st.st_mode)
    if not current & 0o077 or not _owned_by_us(st):
        return False
    LOG.warning('File %s was accessible to other users (mode %04o); '
                'tightened to %04o.', path, current, mode)
    os.fchmod(fd, mode)
    return True


def read_private(path: str, *, tighten: bool = True) -> bytes | None:
    """The content of one of ntcli's private files, None when missing.

    A symlink or special file is refused (UnsafePath); a file of ours that
    others may read is tightened to 0600 first, through the descriptor,
    unless ``tighten`` is false (a look, which changes nothing).
    """
    try:
        fd = open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if tighten:
            _tighten_fd(fd, path)
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def append_private(path: str, data: bytes) -> None:
    """Append ``data`` with one write to a private file (created 0600)."""
    fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        _tighten_fd(fd, path)
        os.write(fd, data)
    finally:
        os.close(fd)


def _make_dirs_private(path: str) -> list[str]:
    """Create the missing directories of ``path`` with mode 0700 and return
    those it created."""
    # os.makedirs gives only the last directory the mode; a parent it
    # creates (the config dir, when the data dir inside it comes first)
    # would be 0755.
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created = []
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
            created.append(directory)
        except FileExistsError:
            pass
    return created


_warned: set[str] = set()


def ensure_private_dir(path: str, secrets: bool = False) -> None:
    """Create ``path`` (and its parents) with mode 0700.

    The mode of a directory that already existed is never changed: ntcli
    did not create it, and other users or programs may rely on it (a
    shared directory of mode 1777 keeps its sticky bit). One that others
    can read gets a warning; with ``secrets``, one that others can write
    to is refused (UnsafePath), since they could swap the files in it.
    """
    created = _make_dirs_private(path)
    if not _POSIX or path in created or os.path.abspath(path) in created:
        return  # Windows: the profile directory's ACLs protect it
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, 'Not a directory', path)
    current = stat.S_IMODE(st.st_mode)
    if secrets and current & 0o022:
        raise UnsafePath(
            f'Refusing to keep secrets in {path}: other users can write to '
            f'it (mode {current:04o})',
            'Use a private directory (--config-dir or NTCLI_CONFIG_DIR), '
            f"or, if it is yours alone, run 'chmod 700 {path}'.",
            details={'path': path})
    if current & 0o077 and path not in _warned:
        _warned.add(path)
        if _owned_by_us(st):
            LOG.warning('Directory %s is accessible to other users (mode '
                        "%04o); ntcli leaves it as it is: run 'chmod 700 %s' "
                        'if it is yours alone.', path, current, path)
        else:
            LOG.warning('Directory %s belongs to another user and is '
                        'accessible to others (mode %04o).', path, current)


def ensure_config_dir(path: str) -> None:
    """ensure_private_dir for the directory of ntcli's secrets, failing
    with a CredentialStoreError that says what to do."""
    try:
        ensure_private_dir(path, secrets=True)
    except OSError as exc:
        raise CredentialStoreError(
            f'Cannot create the config directory {path}: '
            f'{exc.strerror or exc}',
            'Check the path and its permissions, or pass --config-dir.'
        ) from None


def file_mode(path: str) -> int | None:
    """The permission bits of ``path`` itself, or None when missing."""
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
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
    with contextlib.suppress(OSError):
        os.unlink(path)


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that readers see old or new, never
    a torn file; on failure the old file is untouched."""
    refuse_symlink(path)
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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW,
                     mode)
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
        try:
            fd = open_file(self.path, os.O_RDWR | os.O_CREAT)
        except UnsafePath:
            raise
        except OSError as exc:
            # a read-only file system, a full disk, a file in the way
            raise NtcliError(
                f'Cannot open the lock file {self.path}: '
                f'{exc.strerror or exc}',
                f'ntcli keeps {self.what} in {os.path.dirname(self.path)}: '
                'it must be writable (not on a read-only file system) and '
                'have free space.') from None
        deadline = (None if self.timeout is None
                    else time.monotonic() + self.timeout)
        try:
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeout(
                        f'Another ntcli process is using {self.what}',
                        'Wait for it to finish and try again (lock file: '
                        f'{self.path}).')
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


if sys.platform != 'win32':    # as _POSIX, in the form mypy narrows on
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
