"""Base classes for ntcli commands, the core's and every plugin's.

They are cliff's ``Command``, ``ShowOne`` and ``Lister`` with ntcli's
formatter namespaces, the ``text`` format as the default for single objects,
access to the shared :class:`ntcli.context.Context`, errors reported with
their hint and exit status, and without cliff's per-command scan of
installed distributions (about 15 ms on every run). Every cliff method they
override is named in :class:`CommandMixin` and the classes below, each with
its reason. Their parser is :class:`ntcli_core.cli_parser.ArgumentParser`
(usage errors in two lines); what they print goes through
:mod:`ntcli.display`.

A command's parser builds without an application (``app`` None), as
cliff's Sphinx extension builds it for the command reference.
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any

from cliff import app as cliff_app
from cliff import command, lister, show
from cliff import help as cliff_help
from cliff.formatters import base as formatters_base

from ntcli import errors, interrupt, output, unfinished, validate
from ntcli.context import PluginContext
from ntcli.display import (
    NESTED_FORMATS,
    Fields,
    check_columns,
    column_choices,
    flatten,
    formatted_row,
    normalized,
    row_key,
    select,
)
from ntcli_core.cli_parser import ParsedCommand

if TYPE_CHECKING:
    from ntcli.context import Context

__all__ = ['App', 'Command', 'CommandMixin', 'Fields', 'Lister',
           'ShowEach', 'ShowOne', 'check_description']

SHOW_FORMATTERS = 'ntcli.formatter.show'
LIST_FORMATTERS = 'ntcli.formatter.list'


class App(cliff_app.App):
    """What a command may rely on of the application that runs it: cliff's
    ``App`` and what is declared here. The application is
    :class:`ntcli.application.NtcliApp`; the declaration lives here so that
    commands need not import it."""

    #: made before any command runs
    context: Context | None
    #: an error found while the application was set up (a bad --log-file),
    #: reported by the command, where errors are reported
    startup_error: errors.NtcliError | None
    #: whether standard output was closed when ntcli started
    stdout_closed: bool

    def report_error(self, exc: BaseException) -> int:
        """Print ``exc`` for the user and return the exit status."""
        raise NotImplementedError


class CommandMixin(command.Command):
    """What every ntcli command shares; cliff's methods it overrides:

    ``get_epilog``: cliff's default scans every installed distribution.
    ``run``: cliff logs a command's exception as one bare line and exits 1;
    ntcli's errors carry a hint and their own exit status (2 for bad usage),
    and the app reports them, redacted, in one place.
    """

    # What every command may rely on (as osc-lib declares it); None only
    # while a parser is built without an app, for the documentation.
    app: App

    def get_epilog(self) -> str:
        # cliff computes "provided by the X plugin" by scanning every
        # installed distribution; ntcli's help groups commands instead.
        return self._epilog or ''

    #: whether the app's settings are checked before the command runs
    checks_settings = True
    #: whether, before the command acts, ntcli finishes what an earlier
    #: command left pending: issues whose answers were lost, revocations
    #: that failed (a command that talks to the endpoint about tokens)
    finishes_pending_work = False

    def run(self, parsed_args: argparse.Namespace) -> int:
        try:
            return self.run_checked(parsed_args)
        except cliff_help.HelpExit:
            raise
        except Exception as exc:
            return self.app.report_error(exc)

    def run_checked(self, parsed_args: argparse.Namespace) -> int:
        """Check everything, act, and deliver the output.

        Every setting and argument is checked before the command does
        anything; the output is flushed (and synced to a file) before the
        command counts as done, and a failure to write it is reported
        with what was done all the same.
        """
        app = self.app
        interrupt.acting()      # a signal now lets the command finish or undo
        if app.startup_error is not None:
            raise app.startup_error
        if self.checks_settings:
            self._context.check_settings()
        self.check_arguments(parsed_args)
        if self.finishes_pending_work:
            unfinished.finish(self._context)
        try:
            code = super().run(parsed_args)
            output.deliver(app.stdout)
        except (OSError, ValueError) as exc:
            if not output.is_undelivered(exc, app.stdout):
                raise
            raise self.undelivered(exc) from None
        return code

    @property
    def quiet(self) -> bool:
        """Whether ``-q`` was given: no report of what was done."""
        return getattr(self.app.options, 'verbose_level', 1) == 0

    def report(self, text: str) -> None:
        """Write ``text``, a report of what the command did, to stdout;
        ``-q`` leaves it out."""
        if not self.quiet:
            self.app.stdout.write(text)

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        """Check the arguments before anything is done; raise UsageError.

        Commands add their own checks; display commands check -c and
        --sort-column against their declared columns.
        """

    def done_summary(self) -> str | None:
        """What the command did, for when its output cannot be written."""
        return None

    def undelivered(self, exc: BaseException) -> BaseException:
        """The error to raise when the output could not be written."""
        output.discard(self.app.stdout)
        done = self.done_summary()
        if done is None and isinstance(exc, BrokenPipeError):
            return exc      # '| head' had enough: exit 141, as tools do
        if done is None:
            return errors.OutputUndelivered(
                f'The output could not be written: {output.reason(exc)}',
                'Run the command again with a working standard output.')
        return errors.OutputUndelivered(
            f'{done}, but the report could not be written to standard '
            f'output: {output.reason(exc)}',
            'That part is done and stored; nothing needs to be repeated.')

    @property
    def context(self) -> PluginContext:
        """The run's context as a command sees it: what the plugin guide
        documents (:class:`ntcli.context.PluginContext`)."""
        return PluginContext(self._context)

    @property
    def _context(self) -> Context:
        """The whole :class:`ntcli.context.Context` of this run: for
        ntcli's own commands (ntcli.commands)."""
        context = self.app.context
        assert context is not None, 'the app makes it before any command'
        return context


def check_description(text: str | None) -> None:
    """Raise UsageError for a ``--description`` that holds a secret."""
    try:
        validate.check_description(text)
    except ValueError as exc:
        raise errors.UsageError(
            f'The description {exc}',
            'Describe what the token or workspace is for, without '
            'secrets.') from None


class Command(CommandMixin, ParsedCommand):
    """A command that prints nothing or only text of its own."""


class _Display(CommandMixin):
    """What ShowOne and Lister share: the columns, declared once.

    ``fields`` (or :meth:`declared_fields`, when options add columns) is
    the one list of a command's columns: ``take_action`` returns them in
    that order, and ``-c``, ``--sort-column``, shell completion and the
    documentation's column tables all read it. ``-c`` and
    ``--sort-column`` are checked against it before the command does
    anything; a command that declares nothing takes neither (its columns
    are known only once it has acted).
    """

    #: the columns of every format (see Fields); None: not declared
    fields: Fields | None = None

    def declared_fields(self, parsed_args: argparse.Namespace
                        ) -> Fields | None:
        """The columns of this run (some options add columns)."""
        return self.fields

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        fields = self.declared_fields(parsed_args)
        given = [(option, getattr(parsed_args, dest, None))
                 for option, dest in (('-c', 'columns'),
                                      ('--sort-column', 'sort_columns'))]
        if fields is None:
            for option, wanted in given:
                if wanted:
                    raise errors.UsageError(
                        f'{option} cannot be used with '
                        f"'{self.cmd_name}': it declares no columns",
                        'Leave it out, or ask its author to declare the '
                        "command's fields (the documentation's page "
                        '"Writing ntcli plugins").')
            return
        choices = column_choices(fields)
        for option, wanted in given:
            check_columns(wanted, choices, option)


class ShowOne(_Display, show.ShowOne, ParsedCommand):
    """A command that shows one object (default format ``text``).

    Override :meth:`format_text` to give the ``text`` format a layout of
    its own; without it, ``text`` prints an aligned ``Label:  value`` block.
    """

    formatter_namespace = SHOW_FORMATTERS
    formatter_default = 'text'
    #: whether the ``text`` format only reports what the command did
    #: (token refresh, workspace select): ``-q`` then leaves it out; the
    #: other formats are printed, since they were asked for
    reports_action = False

    def format_text(self, data: dict[str, Any]) -> list[str] | None:
        """Lines for the ``text`` format, or None for the generic layout."""
        return None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.set_defaults(text_layout=self.format_text)
        return parser

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: Any, data: Any) -> int:
        if self.reports_action and self.quiet and \
                parsed_args.formatter == 'text':
            return 0
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
            parsed_args = argparse.Namespace(**vars(parsed_args))
            parsed_args.columns = []
            parsed_args.text_layout = None
        if not nested:
            column_names, data = flatten(column_names, data, fields)
        data = formatted_row(data, parsed_args.formatter)
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
        rows = list(data)
        if len(rows) == 1 or not isinstance(self.formatter,
                                            formatters_base.ListFormatter):
            for row in rows:
                super().produce_output(parsed_args, column_names, row)
            return 0
        names = column_names
        if parsed_args.formatter not in NESTED_FORMATS:
            fields = self.declared_fields(parsed_args)
            flat = [flatten(column_names, row, fields) for row in rows]
            names, rows = flat[0][0], [values for _names, values in flat]
        # -c picks columns as ShowOne's -c does, in the command's order
        wanted = {normalized(n) for n in parsed_args.columns or names}
        keep = [i for i, name in enumerate(names)
                if normalized(name) in wanted]
        self.formatter.emit_list(
            [names[i] for i in keep],
            [formatted_row([row[i] for i in keep], parsed_args.formatter)
             for row in rows],
            self.app.stdout, parsed_args)
        return 0


#: what --sort-column does here (cliff's own help says that unknown
#: columns are ignored; here they are a usage error)
SORT_COLUMN_HELP = ('Sort by this column (case-insensitive, _ for a space); '
                    'repeat it to break ties, the first given first. An '
                    'unknown column is a usage error.')


class Lister(_Display, lister.Lister, ParsedCommand):
    """A command that lists objects (default format ``table``)."""

    formatter_namespace = LIST_FORMATTERS
    formatter_default = 'table'

    #: declared columns shown only with --long (or when -c names them),
    #: so that the default table fits 80 columns; the command gets
    #: python-openstackclient's --long option when there are any
    long_columns: tuple[str, ...] = ()

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        for action in parser._actions:
            if action.dest == 'sort_columns':   # cliff's help: "ignored"
                action.help = SORT_COLUMN_HELP
        if self.long_columns:
            parser.add_argument(
                '--long', action='store_true', default=False,
                help=f"Also show {', '.join(self.long_columns)} (in every "
                     'format).')
        return parser

    @property
    def need_sort_by_cliff(self) -> bool:
        # sorted here, on the values before they are formatted
        return False

    def produce_output(self, parsed_args: argparse.Namespace,
                       column_names: Any, data: Any) -> int:
        column_names = list(column_names)
        rows = list(data)
        wanted = [normalized(c) for c in parsed_args.sort_columns or ()]
        names = [normalized(c) for c in column_names]
        for name in reversed(wanted):
            if name in names:
                index = names.index(name)
                rows.sort(key=functools.partial(row_key, index),
                          reverse=parsed_args.sort_direction == 'desc')
        rows = [formatted_row(row, parsed_args.formatter) for row in rows]
        if self.long_columns and not parsed_args.columns and \
                not parsed_args.long:
            parsed_args = argparse.Namespace(**vars(parsed_args))
            parsed_args.columns = [c for c in column_names
                                   if c not in self.long_columns]
        return super().produce_output(parsed_args, column_names, rows)
