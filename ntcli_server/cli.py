"""``ntcli-server``: serve the token API and administer its database.

    ntcli-server [--db PATH|DSN] serve [--bind 127.0.0.1:8080] [--workers 2]
    ntcli-server [--db PATH|DSN] user create NAME | user list
    ntcli-server [--db PATH|DSN] workspace create NAME --owner USER
    ntcli-server [--db PATH|DSN] workspace list
    ntcli-server [--db PATH|DSN] keys rotate | keys list | keys retire
    ntcli-server [--db PATH|DSN] audit list [--workspace W] [--since T]
                                            [--action A]
    ntcli-server db copy --from PATH|DSN --to DSN|PATH [--force]

A cliff application: its commands are the ``ntcli_server.commands`` entry
points (:mod:`ntcli_server.commands`), and every one that shows or lists
takes ``-f json|table|csv|value|yaml``. The database is ``--db``, else
``NTCLI_SERVER_DB``, else ``./ntcli-server.db``: a SQLite path or a
``postgresql://`` DSN. Admin commands work on the database directly
(whoever can open it is the admin), so they work while the server runs.
Failures are reported here, and only here: one line on stderr, a ``Hint:``
line where there is something to do, exit status 2 for bad usage, 1 for a
failed operation.

A missing SQLite database is created only by the commands that can start
an authority (``user create``, ``keys rotate``), which say so; the others
refuse it, so that a mistyped ``--db`` cannot quietly start a new
authority whose signing key no client token matches. (``workspace create``
refuses it too: its ``--owner`` must be a user, which a new database has
not.)
"""

from __future__ import annotations

import argparse
import shlex
import sys
import typing
from importlib import metadata

from cliff import app as cliff_app
from cliff import commandmanager
from cliff import complete as cliff_complete
from cliff import help as cliff_help

from ntcli_authority.errors import (
    AuthorityError,
    DatabaseMissing,
    DatabaseNotEmpty,
)
from ntcli_core import cli_parser
from ntcli_server.commands import base

NAME = 'ntcli-server'
COMMAND_NAMESPACE = 'ntcli_server.commands'


def _no_database(db: str) -> base.CommandFailed:
    return base.CommandFailed(
        f'No token database at {db}.',
        f'Create one with: ntcli-server --db {shlex.quote(db)} user create '
        'NAME')


def _as_failure(exc: BaseException) -> base.CommandFailed | None:
    """What the user is told about an exception (None: unexpected)."""
    if isinstance(exc, base.CommandFailed):
        return exc
    if isinstance(exc, DatabaseMissing):
        return _no_database(exc.path)
    if isinstance(exc, DatabaseNotEmpty):
        held = ', '.join(f'{count} {table}'
                         for table, count in (exc.details or {}).items()
                         if count)
        return base.CommandFailed(
            f'The target database is not empty ({held}): nothing was '
            'copied.', 'Copy into a new, empty database, or give --force to '
            'replace what it holds.')
    if isinstance(exc, AuthorityError):
        return base.CommandFailed(exc.message)
    return None


def _version() -> str | None:
    try:
        return metadata.version('ntcli')
    except metadata.PackageNotFoundError:
        return None


class HelpCommand(cliff_help.HelpCommand, cli_parser.ParsedCommand):
    """cliff's help command, with the parser both applications share."""


class CompleteCommand(cliff_complete.CompleteCommand,
                      cli_parser.ParsedCommand):
    """cliff's completion command, with the parser both applications
    share."""


class ServerApp(cliff_app.App):
    """The ntcli-server application. cliff methods overridden:
    ``build_option_parser`` (``--db``, brief usage errors), ``interact``
    (no interactive shell: without a command, a usage error) and
    ``run_subcommand`` (an unknown command is a usage error on stderr)."""

    NAME = NAME

    def __init__(self) -> None:
        super().__init__(
            description='Serve the ntcli token API and administer its '
                        'database.',
            version=_version(),
            command_manager=commandmanager.CommandManager(
                COMMAND_NAMESPACE, convert_underscores=True),
            deferred_help=True)
        self.command_manager.add_command('help', HelpCommand)
        self.command_manager.add_command('complete', CompleteCommand)

    def build_option_parser(self, description: str | None,
                            version: str | None,
                            argparse_kwargs: dict[str, typing.Any] | None
                            = None) -> argparse.ArgumentParser:
        parser = cli_parser.global_parser(
            self, description, version,
            **{'prog': NAME, **(argparse_kwargs or {})})
        parser.add_argument('--db', metavar='PATH|DSN',
                            default=base.default_db(), help=base.DB_HELP)
        return parser

    def interact(self) -> None:
        self.parser.error('a command is required')

    def run_subcommand(self, argv: list[str]) -> int:
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            group = sorted(name for name, _ in self.command_manager
                           if name.startswith(argv[0] + ' '))
            self.stderr.write(
                f"{NAME}: '{' '.join(argv)}' is not an {NAME} command.\n"
                f"Hint: {'Its commands: ' + ', '.join(group) if group else ''}"
                f"{'; see' if group else 'See'} '{NAME} --help'.\n")
            return 2
        return super().run_subcommand(argv)

    def report_failure(self, exc: BaseException) -> int | None:
        """Tell the user about ``exc`` and return the exit status; None
        for an exception nobody expected (cliff reports it)."""
        failure = _as_failure(exc)
        if failure is None:
            return None
        self.stderr.write(f'{NAME}: {failure.message}\n')
        if failure.hint:
            self.stderr.write(f'Hint: {failure.hint}\n')
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ntcli-server`` command."""
    try:
        return ServerApp().run(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:       # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
