"""A program on a pseudo-terminal, typed at as a person would."""

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time

import fixtures

# Cursor moves, colours and the like: what remains is the text shown.
ESCAPES = re.compile(r'\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>])')
WAIT = 30   # seconds: wide, for a loaded machine; a pass takes far less
ROWS, COLUMNS = 50, 250


class Terminal(fixtures.Fixture):
    """``argv`` running on a pty; ``send`` keys, ``expect`` text."""

    def __init__(self, argv, env, cwd=None):
        super().__init__()
        self.argv, self.env, self.cwd = list(argv), dict(env), cwd
        self.output = ''

    def _setUp(self):
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the program
            try:
                if self.cwd:
                    os.chdir(self.cwd)
                os.execvpe(self.argv[0], self.argv, self.env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        # wide enough that no line scrolls sideways
        fcntl.ioctl(fd, termios.TIOCSWINSZ,
                    struct.pack('HHHH', ROWS, COLUMNS, 0, 0))
        self.status = None
        self.addCleanup(self._stop)

    def _stop(self):
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:   # the program has ended
            data = b''
        if not data:
            return None
        self.output += ESCAPES.sub('', data.decode('utf-8', 'replace'))
        return True

    def send(self, keys):
        """Type ``keys``; return the position in ``output`` before them."""
        while self._read(0.05):
            pass
        mark = len(self.output)
        os.write(self.fd, keys.encode())
        return mark

    def expect(self, pattern, since=0, timeout=WAIT):
        """Wait until ``pattern`` (a regular expression) shows after
        position ``since``; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output[since:])
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(left, 0.5)) is None:
                raise AssertionError(
                    f'{pattern!r} not shown by {self.argv[0]} within '
                    f'{timeout} s; it showed:\n{self.output[since:]}')

    def settle(self, quiet=0.5, timeout=WAIT):
        """Read until nothing more comes for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(quiet):
            pass

    def wait(self, timeout=WAIT):
        """Wait for the program to end; return its exit status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                while self._read(0.05):
                    pass
                return self.status
            self._read(0.1)
        raise AssertionError(f'{self.argv[0]} did not end within '
                             f'{timeout} s:\n{self.output}')
