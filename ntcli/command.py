"""Base classes for ntcli commands, the core's and every plugin's.

They are cliff's ``Command``, ``ShowOne`` and ``Lister`` with ntcli's
formatter namespaces, the ``text`` format as the default for single objects,
access to the shared :class:`ntcli.context.Context`, and without cliff's
per-command scan of installed distributions (about 15 ms on every run).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from cliff import command
from cliff import lister
from cliff import show

SHOW_FORMATTERS = 'ntcli.formatter.show'
LIST_FORMATTERS = 'ntcli.formatter.list'


def brief_usage_errors(parser: argparse.ArgumentParser,
                       stderr: TextIO) -> None:
    """Make ``parser`` report bad usage in two lines on ``stderr`` instead
    of argparse's full usage block: what is wrong, and where the help is."""
    def error(message: str) -> None:
        stderr.write(f'{parser.prog}: error: {message}\n'
                     f"Hint: See '{parser.prog} --help'.\n")
        raise SystemExit(2)
    parser.error = error  # type: ignore[method-assign]


# Formats that show a nested object as it is; the others (table, value,
# shell) get one column per field: new_token_jti, new_token_expires_at...
NESTED_FORMATS = ('json', 'yaml', 'text')


def flatten(column_names: Any, data: Any) -> tuple[list[str], list[Any]]:
    """Columns whose values are dicts become one column per key."""
    names: list[str] = []
    values: list[Any] = []
    for name, value in zip(column_names, data):
        if isinstance(value, dict):
            for key, item in value.items():
                names.append(f'{name}_{key}')
                values.append(item)
        else:
            names.append(name)
            values.append(value)
    return names, values


class _NtcliCommand:
    """What every ntcli command shares."""

    _epilog: str | None = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)  # type: ignore[misc]
        brief_usage_errors(parser, self.app.stderr if self.app else sys.stderr)  # type: ignore
        return parser

    def get_epilog(self) -> str:
        # cliff computes "provided by the X plugin" by scanning every
        # installed distribution; ntcli's help groups commands instead.
        return self._epilog or ''

    @property
    def context(self) -> Any:
        """The :class:`ntcli.context.Context` of this run."""
        return self.app.context  # type: ignore[attr-defined]


class Command(_NtcliCommand, command.Command):
    """A command that prints nothing or only text of its own."""


class ShowOne(_NtcliCommand, show.ShowOne):
    """A command that shows one object (default format ``text``).

    Override :meth:`format_text` to give the ``text`` format a layout of
    its own; without it, ``text`` prints an aligned ``Label:  value`` block.
    """

    formatter_namespace = SHOW_FORMATTERS
    formatter_default = 'text'

    def format_text(self, data: dict[str, Any]) -> list[str] | None:
        """Lines for the ``text`` format, or None for the generic layout."""
        return None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.set_defaults(text_layout=self.format_text)
        return parser

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: Any, data: Any) -> int:
        if parsed_args.formatter not in NESTED_FORMATS:
            column_names, data = flatten(column_names, data)
        return super().produce_output(parsed_args, column_names, data)


class Lister(_NtcliCommand, lister.Lister):
    """A command that lists objects (default format ``table``)."""

    formatter_namespace = LIST_FORMATTERS
    formatter_default = 'table'
