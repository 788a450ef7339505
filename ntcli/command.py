"""Base classes for ntcli commands, the core's and every plugin's.

They are cliff's ``Command``, ``ShowOne`` and ``Lister`` with ntcli's
formatter namespaces, the ``text`` format as the default for single objects,
access to the shared :class:`ntcli.context.Context`, and without cliff's
per-command scan of installed distributions (about 15 ms on every run).
"""

from __future__ import annotations

import argparse
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
# Formats that escape control characters themselves.
ESCAPING_FORMATS = ('json', 'yaml')

# fields: column name -> None, or the keys of a column whose value is an
# object (None when absent); -c takes a column or '<column>_<key>'.
Fields = dict[str, tuple[str, ...] | None]


def _normalized(name: str) -> str:
    # cliff's own rule: '-c server_name' selects 'Server Name'
    return name.lower().strip().replace(' ', '_')


def column_choices(fields: Fields) -> list[str]:
    """Every name -c accepts for ``fields``, in order."""
    names = []
    for name, keys in fields.items():
        names.append(name)
        names.extend(f'{name}_{key}' for key in keys or ())
    return names


def check_columns(wanted: list[str] | None, choices: list[str],
                  option: str = '-c') -> None:
    """Raise UsageError unless every name in ``wanted`` is a choice."""
    known = {_normalized(c) for c in choices}
    for name in wanted or ():
        if _normalized(name) not in known:
            from ntcli import errors
            from ntcli.terminal import quoted
            raise errors.UsageError(
                f'Unknown column {quoted(name)} for {option}',
                f"The columns are: {', '.join(choices)}.")


def flatten(column_names: Any, data: Any,
            fields: Fields | None = None) -> tuple[list[str], list[Any]]:
    """Columns whose values are objects become one column per key (the
    declared keys when ``fields`` names them, so that every run has the
    same columns)."""
    names: list[str] = []
    values: list[Any] = []
    for name, value in zip(column_names, data):
        keys = (fields or {}).get(name)
        if keys is None and isinstance(value, dict):
            keys = tuple(value)
        if keys is not None and (value is None or isinstance(value, dict)):
            for key in keys:
                names.append(f'{name}_{key}')
                values.append((value or {}).get(key))
        else:
            names.append(name)
            values.append(value)
    return names, values


def select(column_names: Any, data: Any, wanted: list[str], nested: bool,
           fields: Fields) -> tuple[list[str], list[Any]]:
    """The columns named in ``wanted`` (whole columns or '<column>_<key>'),
    in the command's order; nested formats keep objects as objects (an
    absent object stays null)."""
    wanted_set = {_normalized(w) for w in wanted}
    names: list[str] = []
    values: list[Any] = []
    for name, value in zip(column_names, data):
        if _normalized(name) in wanted_set:
            names.append(name)
            values.append(value)
            continue
        declared = fields.get(name) or ()
        if isinstance(value, dict):
            declared = tuple(declared) + tuple(
                k for k in value if k not in declared)
        keys = [k for k in declared
                if _normalized(f'{name}_{k}') in wanted_set]
        if not keys:
            continue
        mapping = value if isinstance(value, dict) else {}
        if nested:
            names.append(name)
            values.append(None if value is None else
                          {k: mapping.get(k) for k in keys})
        else:
            names.extend(f'{name}_{k}' for k in keys)
            values.extend(mapping.get(k) for k in keys)
    return names, values


def escaped(value: Any) -> Any:
    """``value`` with control characters escaped, if it is text."""
    if isinstance(value, str):
        from ntcli.terminal import escape
        return escape(value)
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    return value


class _NtcliCommand:
    """What every ntcli command shares."""

    _epilog: str | None = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)  # type: ignore[misc]
        brief_usage_errors(parser, self.app.stderr)  # type: ignore
        return parser

    def get_epilog(self) -> str:
        # cliff computes "provided by the X plugin" by scanning every
        # installed distribution; ntcli's help groups commands instead.
        return self._epilog or ''

    @property
    def context(self) -> Any:
        """The :class:`ntcli.context.Context` of this run."""
        return self.app.context  # type: ignore[attr-defined]

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        """Check the arguments before anything is done; raise UsageError.

        Commands add their own checks; this one checks -c and
        --sort-column against the declared columns.
        """

    def done_summary(self) -> str | None:
        """What the command did, for when its output cannot be written."""
        return None

    def undelivered(self, exc: BaseException) -> BaseException:
        """The error to raise when the output could not be written."""
        from ntcli import errors, output
        output.discard(self.app.stdout)  # type: ignore[attr-defined]
        done = self.done_summary()
        if done is None:
            return errors.OutputUndelivered(
                f'The output could not be written: {output.reason(exc)}',
                'Run the command again with a working standard output.')
        return errors.OutputUndelivered(
            f'{done}, but the report could not be written to standard '
            f'output: {output.reason(exc)}',
            'That part is done and stored; nothing needs to be repeated.')

    def run(self, parsed_args: argparse.Namespace) -> int:
        from ntcli import output
        self.check_arguments(parsed_args)
        stdout = self.app.stdout  # type: ignore[attr-defined]
        try:
            code = super().run(parsed_args)  # type: ignore[misc]
            output.deliver(stdout)
        except (OSError, ValueError) as exc:
            if not output.is_undelivered(exc, stdout):
                raise
            raise self.undelivered(exc) from None
        return code


class Command(_NtcliCommand, command.Command):
    """A command that prints nothing or only text of its own."""


class _Display(_NtcliCommand):
    """What ShowOne and Lister share: declared columns."""

    #: the columns of every format (see Fields); None: not declared
    fields: Fields | None = None

    def declared_fields(self, parsed_args: argparse.Namespace
                        ) -> Fields | None:
        """The columns of this run (some options add columns)."""
        return self.fields

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        fields = self.declared_fields(parsed_args)
        if fields is None:
            return
        choices = column_choices(fields)
        check_columns(getattr(parsed_args, 'columns', None), choices)
        check_columns(getattr(parsed_args, 'sort_columns', None), choices,
                      '--sort-column')


class ShowOne(_Display, show.ShowOne):
    """A command that shows one object (default format ``text``).

    Override :meth:`format_text` to give the ``text`` format a layout of
    its own; without it, ``text`` prints an aligned ``Label:  value`` block.
    Declare ``fields`` so that ``-c`` is checked before the command acts
    and takes the same names in every format.
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
        nested = parsed_args.formatter in NESTED_FORMATS
        column_names, data = list(column_names), list(data)
        fields = self.declared_fields(parsed_args)
        if parsed_args.columns and fields is not None:
            for name in fields:       # a declared column absent this run
                if name not in column_names:
                    column_names.append(name)
                    data.append(None)
            column_names, data = select(column_names, data,
                                        parsed_args.columns, nested, fields)
            # selected here, in the command's own names: cliff's own
            # selection would know only the names of this format
            parsed_args.columns = []
            parsed_args.text_layout = None
        if not nested:
            column_names, data = flatten(column_names, data, fields)
        if parsed_args.formatter not in ESCAPING_FORMATS:
            data = [escaped(value) for value in data]
        return super().produce_output(parsed_args, column_names, data)


class Lister(_Display, lister.Lister):
    """A command that lists objects (default format ``table``)."""

    formatter_namespace = LIST_FORMATTERS
    formatter_default = 'table'

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: Any, data: Any) -> int:
        if parsed_args.formatter not in ESCAPING_FORMATS:
            data = [[escaped(value) for value in row] for row in data]
        return super().produce_output(parsed_args, column_names, data)
