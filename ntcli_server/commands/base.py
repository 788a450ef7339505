"""Base classes of the ``ntcli-server`` commands.

They are cliff's ``Command``, ``ShowOne`` and ``Lister`` with the database
option every command takes (``--db`` may also follow the command), the
authority opened on it, one-line usage errors with a hint, and no per-run
scan of installed distributions for the help epilog. Errors are raised,
never printed: the application reports them (:mod:`ntcli_server.cli`).

:mod:`ntcli_authority.authority` is imported when a command opens it, not
with this module: it cost 61 ms (``python -X importtime``, on a loaded
machine) that ``ntcli-server --help`` and usage errors do without.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing

from cliff import lister, show

from ntcli_authority.access import Principal
from ntcli_core import cells, timefmt
from ntcli_core.cli_parser import ParsedCommand
from ntcli_core.terminal import escape

if typing.TYPE_CHECKING:
    from ntcli_authority.authority import Authority

#: Who the admin commands act as: whoever holds the database is its owner.
ADMIN = Principal.local()

DEFAULT_DB = 'ntcli-server.db'
DB_HELP = ('SQLite database path or postgresql:// DSN (env NTCLI_SERVER_DB; '
           f'default ./{DEFAULT_DB}).')


class CommandFailed(Exception):
    """An operation that failed, with what to do about it (exit 1)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def default_db() -> str:
    return os.environ.get('NTCLI_SERVER_DB') or DEFAULT_DB


def when(ts: int | None) -> str | None:
    """A time of the database as ISO-8601 (None stays None)."""
    return timefmt.iso(ts)


def positive(text: str) -> int:
    """An argparse type: a whole number above 0."""
    return between(1, sys.maxsize)(text)


def between(low: int, high: int) -> typing.Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            # ASCII digits: int() also takes '٢' and ' 2_0 '
            value = int(text) if text.isascii() and text.strip() == text \
                and '_' not in text else low - 1
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a whole number from {low}"
                + ('' if high == sys.maxsize else f' to {high}'))
        return value
    return parse


class CommandMixin:
    """What every ntcli-server command shares. cliff methods overridden:
    ``get_parser`` (the ``--db`` option; the parser itself, with usage
    errors in two lines, is :class:`ntcli_core.cli_parser.ParsedCommand`'s),
    ``get_epilog`` (cliff's scans every installed distribution) and ``run``
    (failures go to the app's report)."""

    app: typing.Any

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)  # type: ignore[misc]
        parser.add_argument('--db', metavar='PATH|DSN',
                            default=argparse.SUPPRESS, help=DB_HELP)
        return parser

    def get_epilog(self) -> str:
        return ''

    def run(self, parsed_args: argparse.Namespace) -> int:
        # cliff logs a command's exception as one bare line and exits 1;
        # the app reports ours with their hint, in one place.
        try:
            return super().run(parsed_args)  # type: ignore[misc]
        except Exception as exc:
            code = self.app.report_failure(exc)
            if code is None:
                raise
            return code

    def database(self, parsed_args: argparse.Namespace) -> str:
        """``--db`` after the command, else before it, else the default."""
        return getattr(parsed_args, 'db', None) or self.app.options.db

    def open_authority(self, parsed_args: argparse.Namespace, *,
                       create: bool = False) -> Authority:
        """The authority on the database; only with ``create`` may a
        missing SQLite database be created (and the user is told)."""
        from ntcli_authority.authority import Authority
        db = self.database(parsed_args)
        authority = Authority.open(db, create=create)
        if authority.store.created:
            self.app.stderr.write(f'Created a new token database at {db}\n')
        return authority

    def tell(self, message: str) -> None:
        """A line for the person at the terminal (stderr)."""
        self.app.stderr.write(message + '\n')


class Command(CommandMixin, ParsedCommand):
    """A command that prints nothing, or text of its own."""


class ShowOne(CommandMixin, show.ShowOne, ParsedCommand):
    """A command that shows one object.

    Its default format is ``value`` with only ``value_columns``: one line a
    script can capture (``cred=$(ntcli-server user create alice)``); the
    other formats (and ``-c``) show every field.
    """

    value_columns: tuple[str, ...] = ()

    @property
    def formatter_default(self) -> str:
        return 'value'

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: typing.Any, data: typing.Any) -> int:
        if parsed_args.formatter == 'value' and not parsed_args.columns:
            parsed_args.columns = list(self.value_columns)
        data = [flat_cell(value, parsed_args.formatter) for value in data]
        return super().produce_output(parsed_args, column_names, data)


def flat_cell(value: typing.Any, formatter: str) -> typing.Any:
    """A cell as the flat formats (all but json and yaml) print it: text
    with its control characters escaped, so that a field from the database
    can neither split a row nor reach the terminal as a control sequence;
    in CSV, a cell a spreadsheet would run as a formula neutralised."""
    if not isinstance(value, str) or formatter in ('json', 'yaml'):
        return value
    value = escape(value)
    if formatter == 'csv':
        value = cells.neutralized(value)
    return value


class Lister(CommandMixin, lister.Lister, ParsedCommand):
    """A command that lists objects (default format ``table``); CSV quotes
    only where needed, so that a field splits on commas; every cell passes
    through :func:`flat_cell`."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.set_defaults(quote_mode='minimal')
        return parser

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: typing.Any, data: typing.Any) -> int:
        rows = ([flat_cell(value, parsed_args.formatter) for value in row]
                for row in data)
        return super().produce_output(parsed_args, column_names, rows)
