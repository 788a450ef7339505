"""A PostgreSQL server for the tests that need one.

Where the server comes from, in order:

1. ``NTCLI_TEST_POSTGRES_DSN`` (a ``postgresql://`` URL whose user may
   create databases): that server is used (CI's ``.ci/postgres.sh`` sets it);
2. PostgreSQL's server binaries (``/usr/lib/postgresql/*/bin`` as Debian
   installs them, or ``initdb`` on PATH): a throwaway cluster is started
   in a temporary directory on 127.0.0.1 and an ephemeral port, once per
   test process, and removed at exit. As root it runs as the ``postgres``
   user, since PostgreSQL refuses to run as root;
3. neither: the tests are skipped, saying why. A server that is configured
   or installed but does not work fails the tests instead.

Each test gets its own fresh database from
:meth:`PostgresServer.create_database`, dropped when the test ends.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest
import urllib.parse
import uuid

import fixtures

DSN_ENV = 'NTCLI_TEST_POSTGRES_DSN'
SERVER_SECRET_ENV = 'NTCLI_SERVER_SECRET'
#: A fixed Fernet key for tests (a test secret, not a real one).
TEST_SERVER_SECRET = 'bnRjbGktdGVzdC1zZWNyZXQtbm90LWZvci11c2UhISE='

_lock = threading.Lock()
_server: _Server | None = None
_failure: BaseException | None = None


def _find_bindir() -> str | None:
    """The directory of the newest PostgreSQL server binaries, if any."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                   key=lambda p: _version_key(p.split('/')[-3]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which('initdb')
    if initdb and shutil.which('pg_ctl', path=os.path.dirname(initdb)):
        return os.path.dirname(initdb)
    return None


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split('.'))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _with_database(dsn: str, dbname: str) -> str:
    """``dsn`` (a URL) naming database ``dbname`` instead."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path='/' + dbname))


def redact(dsn: str) -> str:
    """A DSN with its password replaced, for messages."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(':' + parts.password + '@', ':***@', 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class _Server:
    """A server the tests may create databases on."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def admin(self):
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)

    def stop(self) -> None:
        """Nothing to stop for a server the tests did not start."""


class _Cluster(_Server):
    """A throwaway cluster in a temporary directory."""

    def __init__(self, bindir: str) -> None:
        super().__init__('')
        self.bindir = bindir
        self.user = None
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            try:
                self.user = pwd.getpwnam('postgres')
            except KeyError:
                self.user = pwd.getpwnam('nobody')
        self.dir = tempfile.mkdtemp(prefix='ntcli-pg-')
        self.data = os.path.join(self.dir, 'data')
        self.log = os.path.join(self.dir, 'server.log')
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.password = secrets.token_urlsafe(16)
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.user is not None:
            kwargs = {'user': self.user.pw_uid, 'group': self.user.pw_gid,
                      'extra_groups': []}
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
               'LANG': 'C', 'LC_ALL': 'C', 'HOME': self.dir}
        return subprocess.run(
            [os.path.join(self.bindir, args[0]), *args[1:]], cwd=self.dir,
            env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120, check=False, **kwargs)

    def _write_private(self, path: str, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def start(self) -> None:
        pwfile = os.path.join(self.dir, 'pwfile')
        self._write_private(pwfile, self.password + '\n')
        result = self._run('initdb', '-D', self.data, '-U', 'postgres',
                           '--pwfile', pwfile, '--auth', 'scram-sha-256',
                           '-E', 'UTF8', '--locale', 'C')
        os.unlink(pwfile)
        if result.returncode != 0:
            raise RuntimeError(f'initdb failed: {result.stderr.strip()}')
        for _ in range(3):
            port = _free_port()
            options = (f'-c listen_addresses=127.0.0.1 -p {port} '
                       f'-c unix_socket_directories={self.dir} '
                       # Durability is no concern for a throwaway cluster.
                       '-c fsync=off -c synchronous_commit=off '
                       '-c full_page_writes=off -c max_connections=200')
            result = self._run('pg_ctl', '-D', self.data, '-l', self.log,
                               '-w', '-t', '60', '-o', options, 'start')
            if result.returncode == 0:
                self.started = True
                self.dsn = (f'postgresql://postgres:{self.password}'
                            f'@127.0.0.1:{port}/postgres')
                return
        raise RuntimeError(f'pg_ctl start failed: {result.stderr.strip()}\n'
                           f'{self._log_tail()}')

    def _log_tail(self) -> str:
        try:
            with open(self.log) as f:
                return ''.join(f.readlines()[-20:])
        except OSError:
            return ''

    def stop(self) -> None:
        if self.started:
            self._run('pg_ctl', '-D', self.data, '-m', 'immediate', '-w',
                      'stop')
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


def _skip(reason: str) -> unittest.SkipTest:
    return unittest.SkipTest(reason)


def get_server() -> _Server:
    """The test process's server; started on first use.

    Raises unittest.SkipTest when PostgreSQL is not available at all.
    """
    global _server, _failure
    with _lock:
        if _server is not None:
            return _server
        if _failure is not None:
            # A new exception each time: re-raising one object would pile
            # every test's traceback onto it.
            raise type(_failure)(*_failure.args)
        try:
            import psycopg  # noqa: F401
        except ImportError:
            _failure = _skip('psycopg not installed: pip install '
                             "'ntcli[postgres]' to run the PostgreSQL tests")
            raise _failure from None
        dsn = os.environ.get(DSN_ENV)
        if dsn:
            server = _Server(dsn)
            try:
                server.admin().close()
            except Exception as exc:
                _failure = RuntimeError(
                    f'{DSN_ENV} ({redact(dsn)}) is set but its server '
                    f'cannot be reached: {exc}')
                raise _failure from exc
            _server = server
            return server
        bindir = _find_bindir()
        if bindir is None:
            _failure = _skip(
                'PostgreSQL not installed: no initdb in '
                '/usr/lib/postgresql/*/bin or on PATH, and '
                f'{DSN_ENV} is not set (apt-get install postgresql, or '
                f'set {DSN_ENV} to a server where the user may create '
                'databases)')
            raise _failure
        cluster = _Cluster(bindir)
        try:
            cluster.start()
        except Exception as exc:
            cluster.stop()
            _failure = RuntimeError(
                f'PostgreSQL is installed ({bindir}) but a test cluster '
                f'could not be started: {exc}')
            raise _failure from exc
        atexit.register(cluster.stop)
        _server = cluster
        return cluster


class PostgresServer(fixtures.Fixture):
    """A PostgreSQL server (see the module docstring) and fresh databases.

    ``dsn`` is the server's administrative DSN. Setting the fixture up
    raises unittest.SkipTest when PostgreSQL is not available, so a test
    using it in setUp is reported as skipped, with the reason.
    """

    def setUp(self) -> None:
        # Before the Fixture machinery, which would wrap a SkipTest raised
        # in _setUp into an error.
        get_server()
        super().setUp()

    def _setUp(self) -> None:
        self.server = get_server()
        self.dsn = self.server.dsn

    def create_database(self) -> str:
        """A new empty database, dropped at cleanup; return its DSN."""
        name = 'ntcli_test_' + uuid.uuid4().hex[:16]
        with self.server.admin() as conn:
            conn.execute(f'CREATE DATABASE {name}')
        self.addCleanup(self._drop_database, name)
        return _with_database(self.server.dsn, name)

    def _drop_database(self, name: str) -> None:
        with self.server.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


class ServerSecret(fixtures.Fixture):
    """NTCLI_SERVER_SECRET set to a test Fernet key (a PostgreSQL store
    requires one)."""

    def __init__(self, secret: str = TEST_SERVER_SECRET) -> None:
        super().__init__()
        self.secret = secret

    def _setUp(self) -> None:
        self.useFixture(fixtures.EnvironmentVariable(SERVER_SECRET_ENV,
                                                     self.secret))


def password_of(dsn: str) -> str | None:
    """The password in a DSN URL, if any (to check it is never shown)."""
    return urllib.parse.urlsplit(dsn).password
