"""``ntcli-server serve``: the token API under gunicorn.

gevent workers, so that slow clients delay nobody (see SLOW_CLIENT_SAFE);
TLS of its own; metrics, audit retention and the limit on failed
authentications as gunicorn hooks and settings made before the fork.

What only ``serve`` needs is imported when it runs or builds its parser,
not with this module, which ``ntcli-server --help`` loads: gunicorn
(24 ms), the app and the modules of its options (ntcli_server.wsgi 238 ms,
signin and ci 70-128 ms, ratelimit 71 ms, retention 91 ms, logs 6 ms, each
with what it brings) and ssl (19 ms), measured with ``python -X
importtime`` on a loaded machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import typing

from ntcli_server import multiproc
from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN

if typing.TYPE_CHECKING:
    from ntcli_server.ratelimit import FailureTable
    from ntcli_server.signin import SignInSettings

DEFAULT_BIND = '127.0.0.1:8080'
# gevent workers: a connection waiting for a slow client's bytes holds a
# greenlet, not the worker, so clients that dribble their headers delay
# nobody. Measured (benchmarks/RESULTS.md): 50 clients sending headers at
# 1 byte/s stalled sync workers completely (2 of 2 probes timed out in 12 s)
# and gthread ones too (a thread per connection); with gevent the probes
# kept a 7 ms median, 22 ms worst. waitress did as well and faster, but
# cannot serve TLS without a thread per handshake.
# (ntcli_server.worker: gunicorn's gevent worker, whose own refusals carry
# the error envelope.)
SLOW_CLIENT_SAFE = {'worker_class': 'ntcli_server.worker.TokenWorker',
                    'worker_connections': 1000}


#: How long one database call may wait (a lock, a busy connection, a slow
#: statement) before the request gets 503; well below --timeout.
DEFAULT_DB_WAIT = 10


def _run_gunicorn(target: str, settings: dict[str, object], *,
                  metrics: bool = False,
                  auth_failures: FailureTable | None = None,
                  wait: float | None = None,
                  sign_in: SignInSettings | None = None,
                  ci_audience: str | None = None) -> None:
    """Serve ``create_app(target)`` under gunicorn until it is stopped."""
    from gunicorn.app.base import BaseApplication

    class TokenServer(BaseApplication):
        """gunicorn with our settings and app, and no config file."""

        def load_config(self) -> None:
            for name, value in settings.items():
                if name in self.cfg.settings:   # some are version-specific
                    self.cfg.set(name, value)

        def load(self) -> typing.Any:
            # Called in each worker (no preload): one connection each.
            # create_app never creates a missing database.
            from ntcli_server import logs, wsgi
            if settings.get('certfile'):
                logs.one_line_tls_failures()
            return wsgi.create_app(target, metrics=metrics,
                                   auth_failures=auth_failures, wait=wait,
                                   sign_in=sign_in,
                                   ci_audience=ci_audience)

    TokenServer().run()


def _metrics_settings() -> dict[str, typing.Callable[..., None]]:
    """gunicorn hooks keeping prometheus-client's multiprocess directory:
    emptied now, told of each worker that exits, removed at exit if made
    here. Runs before anything imports prometheus-client."""
    path, made = multiproc.prepare(os.environ.get(multiproc.ENV) or None)
    logging.getLogger('ntcli_server.cli').info(
        'Metrics at GET /metrics; the workers keep their values in %s', path)

    def child_exit(server: object, worker: typing.Any) -> None:
        multiproc.worker_exited(worker.pid, path)

    def on_exit(server: object) -> None:
        if made:
            multiproc.remove(path)

    return {'child_exit': child_exit, 'on_exit': on_exit}


def _tls_settings(args: argparse.Namespace) -> dict[str, object]:
    """gunicorn's TLS settings for --certfile/--keyfile/--client-ca, checked
    now (a bad file is one line, not a worker crash loop)."""
    if not (args.certfile or args.keyfile or args.client_ca):
        return {}
    if not (args.certfile and args.keyfile):
        raise base.CommandFailed('--certfile and --keyfile go together')
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.certfile, args.keyfile)
        if args.client_ca:
            context.load_verify_locations(args.client_ca)
    except (OSError, ssl.SSLError, ValueError) as exc:
        given = ', '.join(path for path in (args.certfile, args.keyfile,
                                            args.client_ca) if path)
        raise base.CommandFailed(
            f'Cannot use the TLS files ({given}): a missing file, or not a '
            f'PEM certificate and its key ({exc})') from None
    settings: dict[str, object] = {'certfile': args.certfile,
                                   'keyfile': args.keyfile}
    if args.client_ca:
        settings.update(ca_certs=args.client_ca,
                        cert_reqs=ssl.CERT_REQUIRED)
    return settings


def _auth_failure_table(args: argparse.Namespace) -> FailureTable | None:
    """The node's table of failed authentications, made before the fork
    so that every worker shares it (None: no limit)."""
    if not args.auth_failure_limit:
        return None
    from ntcli_server.ratelimit import FailureTable
    return FailureTable(args.auth_failure_limit, args.auth_failure_window)


def _add_auth_failure_options(run: argparse.ArgumentParser) -> None:
    from ntcli_server import ratelimit
    run.add_argument('--auth-failure-limit', metavar='N',
                     type=base.between(0, ratelimit.MAX_LIMIT),
                     default=ratelimit.DEFAULT_LIMIT,
                     help='Failed authentications one client address may '
                          'make per window before it gets 429 until the '
                          'window ends; 0: no limit (default '
                          f'{ratelimit.DEFAULT_LIMIT}).')
    run.add_argument('--auth-failure-window', metavar='SECONDS',
                     type=base.between(1, ratelimit.MAX_WINDOW),
                     default=ratelimit.DEFAULT_WINDOW,
                     help='The window of --auth-failure-limit (default '
                          f'{ratelimit.DEFAULT_WINDOW}).')


def _add_tls_options(run: argparse.ArgumentParser) -> None:
    run.add_argument('--certfile', metavar='PATH', default=None,
                     help='Serve HTTPS with this PEM certificate (chain).')
    run.add_argument('--keyfile', metavar='PATH', default=None,
                     help="The certificate's PEM private key.")
    run.add_argument('--client-ca', metavar='PATH', default=None,
                     help='Also require a client certificate signed by a CA '
                          'of this PEM bundle.')


def _combined(hooks: list[dict[str, typing.Callable[..., None]]]
              ) -> dict[str, typing.Callable[..., None]]:
    """gunicorn server hooks: one function per hook that calls each given
    one in turn."""
    by_name: dict[str, list[typing.Callable[..., None]]] = {}
    for group in hooks:
        for name, hook in group.items():
            by_name.setdefault(name, []).append(hook)

    def chain(calls: list[typing.Callable[..., None]]
              ) -> typing.Callable[..., None]:
        if len(calls) == 1:
            return calls[0]

        # gunicorn checks a hook's arity: these take the server only.
        def hook(server: object) -> None:
            for call in calls:
                call(server)
        return hook
    return {name: chain(calls) for name, calls in by_name.items()}


def _retention_settings(target: str, days: int | None, wait: float,
                        log_level: str, log_format: str
                        ) -> dict[str, typing.Callable[..., None]]:
    """gunicorn hooks starting and stopping the retention process (see
    ntcli_server.retention)."""
    from ntcli_server.retention import Retention
    retention = Retention(target, days, wait=wait, log_level=log_level,
                          log_format=log_format)

    def when_ready(server: object) -> None:
        retention.start()

    def on_exit(server: object) -> None:
        retention.stop()

    return {'when_ready': when_ready, 'on_exit': on_exit}


class Serve(base.Command):
    """Serve the token API."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--bind', metavar='HOST:PORT',
                            default=DEFAULT_BIND,
                            help='Address to listen on (default '
                                 f'{DEFAULT_BIND}).')
        parser.add_argument('--workers', metavar='N', type=base.positive,
                            default=2,
                            help='Worker processes (default 2).')
        parser.add_argument('--timeout', metavar='SECONDS',
                            type=base.positive,
                            default=30,
                            help='Restart a worker silent for this long '
                                 '(default 30).')
        parser.add_argument('--db-wait', metavar='SECONDS',
                            type=base.between(1, 3600),
                            default=DEFAULT_DB_WAIT,
                            help='Answer 503 (with Retry-After) when one '
                                 'database call waits this long for a '
                                 'lock, a connection or an answer '
                                 f'(default {DEFAULT_DB_WAIT}; less than '
                                 '--timeout).')
        parser.add_argument('--access-log', metavar='PATH', default='-',
                            help="Access log file, '-' for stdout (default).")
        parser.add_argument('--log-level', metavar='LEVEL', default='info',
                            choices=['debug', 'info', 'warning', 'error'],
                            help='debug, info (default), warning or error.')
        from ntcli_server import logs
        parser.add_argument('--log-format', metavar='FORMAT',
                            default=logs.FORMATS[0], choices=logs.FORMATS,
                            help='text (default), or json: one JSON object '
                                 'per line in the access and error logs.')
        parser.add_argument('--audit-retention-days', metavar='DAYS',
                            type=base.positive, default=None,
                            help='Delete audit events older than DAYS, in the '
                                 'background (default: keep them all).')
        parser.add_argument('--metrics', action='store_true',
                            help='Serve Prometheus metrics at GET /metrics '
                                 '(needs prometheus-client).')
        _add_tls_options(parser)
        _add_auth_failure_options(parser)
        from ntcli_server import ci, signin
        signin.add_options(parser)
        ci.add_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        args = parsed_args
        for needed in ('falcon', 'gevent', 'gunicorn'):
            if importlib.util.find_spec(needed) is None:
                raise base.CommandFailed(f'serve needs {needed}',
                                         "pip install 'ntcli[server]'")
        # Not imported here: prometheus-client must first see the directory
        # its values go to (see ntcli_server.multiproc).
        if (args.metrics
                and importlib.util.find_spec('prometheus_client') is None):
            raise base.CommandFailed('--metrics needs prometheus-client',
                                     "pip install 'ntcli[server]'")
        if args.db_wait >= args.timeout:
            raise base.CommandFailed(
                f'--db-wait ({args.db_wait}) must be less than --timeout '
                f'({args.timeout})')
        from ntcli_server import ci, signin
        try:
            sign_in = signin.settings_from(args)
            ci_audience = ci.check_audience(args.ci_audience)
        except ValueError as exc:
            raise base.CommandFailed(str(exc), 'See ntcli-server serve '
                                     '--help and the operator guide.') \
                from None
        db = self.database(args)
        tls = _tls_settings(args)
        with self.open_authority(args) as authority:
            # Migrate and tidy up once, here, before the workers start.
            authority.purge_idempotency_keys(ADMIN)
        from ntcli_server import logs
        logs.configure(args.log_level, args.log_format)
        hooks = []
        if args.metrics:
            hooks.append(_metrics_settings())
        # expired sessions and old idempotency keys go in every case
        hooks.append(_retention_settings(
            db, args.audit_retention_days or None, args.db_wait,
            args.log_level, args.log_format))
        _run_gunicorn(db, {
            **_combined(hooks),
            'bind': [args.bind],
            'workers': args.workers,
            **SLOW_CLIENT_SAFE,
            **tls,
            'timeout': args.timeout,
            'accesslog': args.access_log,
            # No request header goes into the access log: Authorization is a
            # secret.
            'access_log_format': logs.ACCESS_TEXT,
            'logger_class': logs.gunicorn_logger(args.log_format),
            'errorlog': '-',
            'loglevel': args.log_level,
            'preload_app': False,      # each worker opens its own connection
            'proc_name': 'ntcli-server',
            # Recent gunicorn's control socket has one default path per user,
            # which several servers on one machine would fight over.
            'control_socket_disable': True,
        }, metrics=args.metrics, auth_failures=_auth_failure_table(args),
                                   sign_in=sign_in,
                                   ci_audience=ci_audience,
                                   wait=args.db_wait)
        return 0
