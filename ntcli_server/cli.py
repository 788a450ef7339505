"""``ntcli-server``: serve the token API and administer its database.

    ntcli-server [--db PATH|DSN] serve [--bind 127.0.0.1:8080] [--workers 2]
    ntcli-server [--db PATH|DSN] user create NAME | user list
    ntcli-server [--db PATH|DSN] workspace create NAME --owner USER
    ntcli-server [--db PATH|DSN] workspace list
    ntcli-server [--db PATH|DSN] keys rotate | keys list | keys retire
    ntcli-server [--db PATH|DSN] audit list [--workspace W] [--since T]
                                            [--action A] [-f FORMAT]
    ntcli-server db copy --from PATH|DSN --to DSN|PATH [--force]

The database is ``--db``, else ``NTCLI_SERVER_DB``, else
``./ntcli-server.db``: a SQLite path or a ``postgresql://`` DSN. Admin
commands work on the database directly (whoever can open it is the admin),
so they work while the server runs. Failures are one line on stderr: exit
status 2 for bad usage, 1 for a failed operation.

A missing SQLite database is created only by the commands that can start
an authority (``user create``, ``keys rotate``), which say so; the others
refuse it, so that a mistyped ``--db`` cannot quietly start a new
authority whose signing key no client token matches. (``workspace create``
refuses it too: its ``--owner`` must be a user, which a new database has
not.)
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import typing

DEFAULT_DB = 'ntcli-server.db'
DEFAULT_BIND = '127.0.0.1:8080'
# gevent workers: a connection waiting for a slow client's bytes holds a
# greenlet, not the worker, so clients that dribble their headers delay
# nobody. Measured (benchmarks/RESULTS.md): 50 clients sending headers at
# 1 byte/s stalled sync workers completely (2 of 2 probes timed out in 12 s)
# and gthread ones too (a thread per connection); with gevent the probes
# kept a 7 ms median, 22 ms worst. waitress did as well and faster, but
# cannot serve TLS without a thread per handshake.
SLOW_CLIENT_SAFE = {'worker_class': 'gevent', 'worker_connections': 1000}

if typing.TYPE_CHECKING:
    from ntcli_server.authority import Authority
    from ntcli_server.ratelimit import FailureTable


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f'{self.prog}: {message} (see {self.prog} --help)\n')


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive "
                                         'integer')
    return value


def _between(low: int, high: int) -> typing.Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a whole number from {low} to {high}")
        return value
    return parse


def _open(args: argparse.Namespace, *, create: bool = False
          ) -> 'Authority':
    """The authority on ``--db``; only with ``create`` may a missing SQLite
    database be created (and the user is told)."""
    from ntcli_server.authority import Authority
    authority = Authority.open(args.db, create=create)
    if authority.store.created:
        print(f'Created a new token database at {args.db}', file=sys.stderr)
    return authority


def _no_database(db: str) -> str:
    """The one line for a SQLite database that is not there."""
    return (f'No token database at {db}. Create one with: ntcli-server '
            f'--db {shlex.quote(db)} user create NAME')


def _table(rows: typing.Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print('  '.join(cell.ljust(width)
                        for cell, width in zip(row, widths)).rstrip())


def _when(ts: int | None) -> str:
    from ntcli_core import timefmt
    return timefmt.iso(ts) or '-'


# -- commands -------------------------------------------------------------
def _run_gunicorn(target: str, settings: dict[str, object], *,
                  metrics: bool = False,
                  auth_failures: 'FailureTable | None' = None) -> None:
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
            from ntcli_server import wsgi
            return wsgi.create_app(target, metrics=metrics,
                                   auth_failures=auth_failures)

    TokenServer().run()


def _metrics_settings() -> dict[str, typing.Callable[..., None]]:
    """gunicorn hooks keeping prometheus-client's multiprocess directory:
    emptied now, told of each worker that exits, removed at exit if made
    here. Runs before anything imports prometheus-client."""
    from ntcli_server import multiproc
    path, made = multiproc.prepare(os.environ.get(multiproc.ENV) or None)
    import logging
    logging.getLogger('ntcli_server.cli').info(
        'Metrics at GET /metrics; the workers keep their values in %s', path)

    def child_exit(server: object, worker: typing.Any) -> None:
        multiproc.worker_exited(worker.pid, path)

    def on_exit(server: object) -> None:
        if made:
            multiproc.remove(path)

    return {'child_exit': child_exit, 'on_exit': on_exit}


class TLSError(Exception):
    """TLS options that cannot serve (one line for the user)."""


def _tls_settings(args: argparse.Namespace) -> dict[str, object]:
    """gunicorn's TLS settings for --certfile/--keyfile/--client-ca, checked
    now (a bad file is one line, not a worker crash loop)."""
    if not (args.certfile or args.keyfile or args.client_ca):
        return {}
    if not (args.certfile and args.keyfile):
        raise TLSError('--certfile and --keyfile go together')
    import ssl
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.certfile, args.keyfile)
        if args.client_ca:
            context.load_verify_locations(args.client_ca)
    except (OSError, ssl.SSLError, ValueError) as exc:
        given = ', '.join(path for path in (args.certfile, args.keyfile,
                                            args.client_ca) if path)
        raise TLSError(f'Cannot use the TLS files ({given}): a missing '
                       f'file, or not a PEM certificate and its key ({exc})'
                       ) from None
    settings: dict[str, object] = {'certfile': args.certfile,
                                   'keyfile': args.keyfile}
    if args.client_ca:
        settings.update(ca_certs=args.client_ca,
                        cert_reqs=ssl.CERT_REQUIRED)
    return settings


def _auth_failure_table(args: argparse.Namespace) -> 'FailureTable | None':
    """The node's table of failed authentications, made before the fork
    so that every worker shares it (None: no limit)."""
    if not args.auth_failure_limit:
        return None
    from ntcli_server.ratelimit import FailureTable
    return FailureTable(args.auth_failure_limit, args.auth_failure_window)


def _add_auth_failure_options(run: argparse.ArgumentParser) -> None:
    from ntcli_server import ratelimit
    run.add_argument('--auth-failure-limit', metavar='N',
                     type=_between(0, ratelimit.MAX_LIMIT),
                     default=ratelimit.DEFAULT_LIMIT,
                     help='Failed authentications one client address may '
                          'make per window before it gets 429 until the '
                          'window ends; 0: no limit (default '
                          f'{ratelimit.DEFAULT_LIMIT}).')
    run.add_argument('--auth-failure-window', metavar='SECONDS',
                     type=_between(1, ratelimit.MAX_WINDOW),
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


def _retention_settings(target: str, days: int
                        ) -> dict[str, typing.Callable[..., None]]:
    """gunicorn hooks running audit retention in a thread of the master
    process (the workers, forked from it, do not inherit the thread)."""
    from ntcli_server.retention import AuditRetention
    retention = AuditRetention(target, days)

    def when_ready(server: object) -> None:
        retention.start()

    def on_exit(server: object) -> None:
        retention.stop()

    return {'when_ready': when_ready, 'on_exit': on_exit}


def serve(args: argparse.Namespace) -> int:
    """Run the token API under gunicorn."""
    try:
        import falcon  # noqa: F401
        import gevent  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError as exc:
        print(f"ntcli-server: serve needs {exc.name}: pip install "
              "'ntcli[server]'", file=sys.stderr)
        return 1
    # Not imported here: prometheus-client must first see the directory
    # its values go to (see ntcli_server.multiproc).
    import importlib.util
    if args.metrics and importlib.util.find_spec('prometheus_client') is None:
        print("ntcli-server: --metrics needs prometheus-client: pip install "
              "'ntcli[server]'", file=sys.stderr)
        return 1
    tls = _tls_settings(args)
    with _open(args) as authority:
        # Migrate and tidy up once, here, before the workers start.
        authority.purge_idempotency_keys()
    from ntcli_server import logs
    logs.configure(args.log_level, args.log_format)
    hooks = []
    if args.metrics:
        hooks.append(_metrics_settings())
    if args.audit_retention_days:
        hooks.append(_retention_settings(args.db, args.audit_retention_days))
    _run_gunicorn(args.db, {
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
    }, metrics=args.metrics, auth_failures=_auth_failure_table(args))
    return 0


def user_create(args: argparse.Namespace) -> int:
    with _open(args, create=True) as authority:
        new = authority.create_user(args.name)
    print(new.credential)
    print(f"User '{new.user.name}' created ({new.user.id}). Its credential "
          'went to standard output and will not be shown again: keep it '
          'safe.',
          file=sys.stderr)
    return 0


def user_list(args: argparse.Namespace) -> int:
    with _open(args) as authority:
        users = authority.list_users()
    _table([('ID', 'NAME', 'CREATED')]
           + [(u.id, u.name, _when(u.created_at)) for u in users])
    return 0


def workspace_create(args: argparse.Namespace) -> int:
    # Not create=True: a new database has no user to own the workspace.
    with _open(args) as authority:
        owner = authority.get_user(args.owner)
        workspace = authority.create_workspace(
            args.name, args.description, owner=owner.id)
    print(workspace.id)
    print(f"Workspace '{workspace.name}' created for user '{owner.name}'.",
          file=sys.stderr)
    return 0


def workspace_list(args: argparse.Namespace) -> int:
    with _open(args) as authority:
        names = {u.id: u.name for u in authority.list_users()}
        workspaces = authority.list_workspaces()
    _table([('ID', 'NAME', 'OWNER', 'CREATED')]
           + [(w.id, w.name, names.get(w.owner or '', '-'),
               _when(w.created_at)) for w in workspaces])
    return 0


def keys_rotate(args: argparse.Namespace) -> int:
    with _open(args, create=True) as authority:
        kid = authority.rotate_signing_key()
    print(kid)
    print('New primary signing key created; tokens signed by older keys '
          'stay valid. Running servers sign with it within about 30 seconds.',
          file=sys.stderr)
    return 0


def keys_retire(args: argparse.Namespace) -> int:
    with _open(args) as authority:
        kids = authority.retire_signing_keys()
    for kid in kids:
        print(kid)
    print(f'{len(kids)} signing key(s) retired: their private halves are '
          'destroyed; their public halves stay to name the tokens they '
          'signed.' if kids else 'No signing key to retire: every older key '
          'still signed a live token.', file=sys.stderr)
    return 0


def keys_list(args: argparse.Namespace) -> int:
    with _open(args) as authority:
        keys = authority.list_signing_keys()
    _table([('KID', 'CREATED', 'PRIMARY', 'RETIRED')]
           + [(k.kid, _when(k.created_at), 'yes' if k.is_primary else '',
               _when(k.retired_at) if k.retired_at else '') for k in keys])
    return 0


AUDIT_COLUMNS = ('time', 'action', 'outcome', 'actor', 'workspace_id',
                 'target_jti', 'client', 'request_id', 'user_agent', 'detail')
AUDIT_FORMATS = ('table', 'json', 'csv')


def audit_list(args: argparse.Namespace) -> int:
    """The audit trail, oldest first, filtered."""
    from ntcli_core import timefmt
    from ntcli_server.errors import AuthorityError
    with _open(args) as authority:
        workspace_id = None
        if args.workspace:
            try:
                workspace_id = authority.get_workspace(args.workspace).id
            except AuthorityError:
                # a deleted workspace's trail stays: its id still works
                workspace_id = args.workspace
        events, cursor = [], None
        while True:
            page = authority.list_events(
                workspace_id, since=args.since, actions=args.actions,
                limit=1000, cursor=cursor)
            events += page.events
            cursor = page.next_cursor
            if cursor is None:
                break
    rows = [{**{name: getattr(e, name, None) for name in AUDIT_COLUMNS},
             'time': timefmt.iso(e.at)} for e in events]
    _emit(args.format, AUDIT_COLUMNS, rows)
    return 0


def _emit(fmt: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Rows as a table (control characters escaped), JSON or CSV."""
    if fmt == 'json':
        import json
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == 'csv':
        import csv
        writer = csv.DictWriter(sys.stdout, columns, lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows)
    else:
        def cell(value: object) -> str:
            text = '-' if value is None else str(value)
            return ''.join(c if c.isprintable() else repr(c)[1:-1]
                           for c in text)
        _table([tuple(c.upper() for c in columns)]
               + [tuple(cell(row[c]) for c in columns) for row in rows])


def _time(text: str) -> int:
    from ntcli_core import timefmt
    if text.isdigit() and len(text) <= 12:
        return int(text)
    try:
        return timefmt.parse_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an ISO-8601 time or Unix seconds") from None


def db_copy(args: argparse.Namespace) -> int:
    """Copy one token database into another, then check the copy."""
    from ntcli_server import dbcopy
    report = dbcopy.copy_database(args.source, args.target,
                                  replace=args.force)
    _table([('TABLE', 'ROWS')]
           + [(table, str(count)) for table, count in report.counts.items()])
    print(f'Copied and checked: every row count matches, and '
          f'{report.validated} of {report.live_tokens} live tokens '
          '(a sample) validate on the copy with the same signature.',
          file=sys.stderr)
    return 0


# -- parser ----------------------------------------------------------------
_DB_HELP = ('SQLite database path or postgresql:// DSN (env NTCLI_SERVER_DB; '
            f'default ./{DEFAULT_DB}).')


def _group(commands: typing.Any, name: str, help: str) -> typing.Any:
    """A command with actions of its own (``user create``...)."""
    return commands.add_parser(name, help=help).add_subparsers(
        metavar='ACTION', required=True, parser_class=ArgumentParser)


def _action(actions: typing.Any, name: str, help: str,
            func: typing.Callable[[argparse.Namespace], int]
            ) -> ArgumentParser:
    """A command that runs ``func``; ``--db`` may also follow it."""
    db = ArgumentParser(add_help=False)
    db.add_argument('--db', metavar='PATH|DSN', default=argparse.SUPPRESS,
                    help=_DB_HELP)
    parser = actions.add_parser(name, help=help, parents=[db])
    parser.set_defaults(func=func)
    return parser


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog='ntcli-server',
        description='Serve the ntcli token API and administer its database.')
    parser.add_argument(
        '--db', metavar='PATH|DSN',
        default=os.environ.get('NTCLI_SERVER_DB') or DEFAULT_DB,
        help=_DB_HELP)
    commands = parser.add_subparsers(metavar='COMMAND', required=True,
                                     parser_class=ArgumentParser)

    run = _action(commands, 'serve', 'Serve the token API.', serve)
    run.add_argument('--bind', metavar='HOST:PORT', default=DEFAULT_BIND,
                     help=f'Address to listen on (default {DEFAULT_BIND}).')
    run.add_argument('--workers', metavar='N', type=_positive, default=2,
                     help='Worker processes (default 2).')
    run.add_argument('--timeout', metavar='SECONDS', type=_positive,
                     default=30,
                     help='Restart a worker silent for this long '
                          '(default 30).')
    run.add_argument('--access-log', metavar='PATH', default='-',
                     help="Access log file, '-' for stdout (default).")
    run.add_argument('--log-level', metavar='LEVEL', default='info',
                     choices=['debug', 'info', 'warning', 'error'],
                     help='debug, info (default), warning or error.')
    from ntcli_server import logs
    run.add_argument('--log-format', metavar='FORMAT',
                     default=logs.FORMATS[0], choices=logs.FORMATS,
                     help='text (default), or json: one JSON object per '
                          'line in the access and error logs.')
    run.add_argument('--audit-retention-days', metavar='DAYS',
                     type=_positive, default=None,
                     help='Delete audit events older than DAYS, in the '
                          'background (default: keep them all).')
    run.add_argument('--metrics', action='store_true',
                     help='Serve Prometheus metrics at GET /metrics '
                          '(needs prometheus-client).')
    _add_tls_options(run)
    _add_auth_failure_options(run)

    user = _group(commands, 'user', 'Manage users.')
    create = _action(user, 'create',
                     'Create a user and print its credential once.',
                     user_create)
    create.add_argument('name', metavar='NAME', help='User name.')
    _action(user, 'list', 'List the users.', user_list)

    workspace = _group(commands, 'workspace', 'Manage workspaces.')
    create = _action(workspace, 'create',
                     'Create a workspace and print its id.',
                     workspace_create)
    create.add_argument('name', metavar='NAME', help='Workspace name.')
    create.add_argument('--owner', metavar='USER', required=True,
                        help='Name or id of the user who owns it.')
    create.add_argument('--description', metavar='TEXT', default=None,
                        help='What the workspace is for.')
    _action(workspace, 'list', 'List every workspace.', workspace_list)

    audit = _group(commands, 'audit', 'Read the audit trail.')
    listing = _action(audit, 'list',
                      'List audit events, oldest first: every change and '
                      'every refused credential.', audit_list)
    listing.add_argument('--workspace', metavar='NAME|ID', default=None,
                         help='Only the events of this workspace.')
    listing.add_argument('--since', metavar='TIME', type=_time, default=None,
                         help='Only events at or after TIME (ISO-8601 or '
                              'Unix seconds).')
    from ntcli_server.models import AUDIT_ACTIONS
    listing.add_argument('--action', metavar='ACTION', action='append',
                         default=[], dest='actions', choices=AUDIT_ACTIONS,
                         help=f"Only this action ({', '.join(AUDIT_ACTIONS)})"
                              '; may be repeated.')
    listing.add_argument('-f', '--format', metavar='FORMAT',
                         default=AUDIT_FORMATS[0], choices=AUDIT_FORMATS,
                         help='table (default), json or csv.')

    db = _group(commands, 'db', 'Move a token database.')
    copy = _action(db, 'copy',
                   'Copy every user, workspace, token, signing key, '
                   'idempotency key and audit event into another database '
                   '(SQLite to PostgreSQL: from one node to several).',
                   db_copy)
    copy.add_argument('--from', metavar='PATH|DSN', dest='source',
                      required=True,
                      help='The database to copy (it is only read).')
    copy.add_argument('--to', metavar='DSN|PATH', dest='target',
                      required=True,
                      help='The database to copy into: a postgresql:// DSN '
                           '(or a SQLite path). It must be empty.')
    copy.add_argument('--force', action='store_true',
                      help='Replace whatever the target holds.')

    keys = _group(commands, 'keys', 'Manage signing keys.')
    _action(keys, 'rotate',
            'Make a new primary signing key (live tokens stay valid).',
            keys_rotate)
    _action(keys, 'list', 'List the signing keys.', keys_list)
    _action(keys, 'retire',
            'Destroy the private keys that signed no live token.',
            keys_retire)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ntcli-server`` command."""
    from ntcli_server.errors import AuthorityError, DatabaseNotEmpty
    from ntcli_server.storage import DatabaseMissing
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DatabaseMissing as exc:
        print(f'ntcli-server: {_no_database(exc.path)}', file=sys.stderr)
        return 1
    except DatabaseNotEmpty as exc:
        held = ', '.join(f'{count} {table}'
                         for table, count in (exc.details or {}).items()
                         if count)
        print(f'ntcli-server: The target database is not empty ({held}): '
              'nothing was copied.\nHint: Copy into a new, empty database, '
              'or give --force to replace what it holds.', file=sys.stderr)
        return 1
    except AuthorityError as exc:
        print(f'ntcli-server: {exc.message}', file=sys.stderr)
        return 1
    except TLSError as exc:
        print(f'ntcli-server: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
