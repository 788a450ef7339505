"""Base classes for ntcli commands, the core's and every plugin's.

They are cliff's ``Command``, ``ShowOne`` and ``Lister`` with ntcli's
formatter namespaces, the ``text`` format as the default for single objects,
access to the shared :class:`ntcli.context.Context`, errors reported with
their hint and exit status, and without cliff's per-command scan of
installed distributions (about 15 ms on every run). Every cliff method they
override is named in :class:`CommandMixin` and the classes below, each with
its reason.

A command's parser builds without an application (``app`` None), as
cliff's Sphinx extension builds it for the command reference.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from cliff import command
from cliff import help as cliff_help
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


class CommandMixin:
    """What every ntcli command shares; cliff's methods it overrides:

    ``get_parser``: usage errors in two lines (see brief_usage_errors).
    ``get_epilog``: cliff's default scans every installed distribution.
    ``run``: cliff logs a command's exception as one bare line and exits 1;
    ntcli's errors carry a hint and their own exit status (2 for bad usage),
    and the app reports them, redacted, in one place.
    """

    _epilog = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)  # type: ignore[misc]
        app = self.app  # type: ignore[attr-defined]
        brief_usage_errors(parser, sys.stderr if app is None else app.stderr)
        return parser

    def get_epilog(self) -> str:
        # cliff computes "provided by the X plugin" by scanning every
        # installed distribution; ntcli's help groups commands instead.
        return self._epilog or ''

    def run(self, parsed_args: argparse.Namespace) -> int:
        try:
            return super().run(parsed_args)  # type: ignore[misc]
        except cliff_help.HelpExit:
            raise
        except Exception as exc:
            return self.app.report_error(exc)  # type: ignore[attr-defined]

    @property
    def context(self) -> Any:
        """The :class:`ntcli.context.Context` of this run."""
        return self.app.context  # type: ignore[attr-defined]


class Command(CommandMixin, command.Command):
    """A command that prints nothing or only text of its own."""


class ShowOne(CommandMixin, show.ShowOne):
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
        # nested objects stay whole in json/yaml/text and become one column
        # per field in the flat formats
        if parsed_args.formatter not in NESTED_FORMATS:
            column_names, data = flatten(column_names, data)
        return super().produce_output(parsed_args, column_names, data)


class ShowEach(ShowOne):
    """A command that acts on several items and shows one object for each.

    ``take_action`` returns the column names and one row per item. One row
    is shown as :class:`ShowOne` shows an object; several rows go to the
    formats that can list (json, yaml, table, value) as one list, and to
    the others (text, shell) one object after another.
    """

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: Any, data: Any) -> int:
        # ShowOne shows one object; here data holds one row per item
        from cliff.formatters import base
        rows = list(data)
        if len(rows) == 1 or not isinstance(self.formatter,
                                            base.ListFormatter):
            for row in rows:
                super().produce_output(parsed_args, column_names, row)
            return 0
        names = column_names
        if parsed_args.formatter not in NESTED_FORMATS:
            flat = [flatten(column_names, row) for row in rows]
            names, rows = flat[0][0], [values for _names, values in flat]
        # -c picks columns as ShowOne's -c does, in the command's order
        wanted = parsed_args.columns or names
        keep = [i for i, name in enumerate(names) if name in wanted]
        self.formatter.emit_list(
            [names[i] for i in keep], [[row[i] for i in keep] for row in rows],
            self.app.stdout, parsed_args)
        return 0


class Lister(CommandMixin, lister.Lister):
    """A command that lists objects (default format ``table``)."""

    formatter_namespace = LIST_FORMATTERS
    formatter_default = 'table'
