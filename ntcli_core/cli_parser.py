"""The command-line parser of both applications, ntcli and ntcli-server.

Every parser either application builds (its global options, each command's
options) is an :class:`ArgumentParser`, so that the conventions below hold
everywhere without patching parser instances:

- bad usage is reported in two lines on the application's stderr (what is
  wrong, and where the help is) with exit status 2, instead of argparse's
  usage block;
- :meth:`ArgumentParser.parse_known_quietly` says what a partial command
  line means (for completion) without printing or exiting;
- a command may leave everything after the first ``--`` unparsed
  (``ParsedCommand.rest_after_double_dash``), for a command line of its own
  to run.

It extends cliff's parser, which cliff's own commands are built with: help
paged through autopage and cliff's ``conflict_handler='ignore'``, which a
plugin's command may ask for. That class lives in cliff's ``_argparse``
module, the one place cliff offers it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from cliff import _argparse, command
from cliff import app as cliff_app
from cliff import help as cliff_help

__all__ = ['ArgumentParser', 'ParsedCommand', 'UsageProblem',
           'global_parser']


class UsageProblem(ValueError):
    """What a quiet parse found wrong (see ``parse_known_quietly``)."""


class ArgumentParser(_argparse.ArgumentParser):
    """cliff's parser with the conventions of the module docstring.

    ``stderr`` is where usage errors go (the application's; default the
    process's). ``rest_after_double_dash`` names the attribute that gets
    the words after the first ``--`` (None when there is no ``--``).
    """

    def __init__(self, *args: Any, stderr: TextIO | None = None,
                 rest_after_double_dash: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stderr = stderr
        self.rest_after_double_dash = rest_after_double_dash
        self._quiet = False

    def error(self, message: str) -> NoReturn:
        if self._quiet:
            raise UsageProblem(message)
        stream = self.stderr or sys.stderr
        stream.write(f'{self.prog}: error: {message}\n'
                     f"Hint: See '{self.prog} --help'.\n")
        raise SystemExit(2)

    def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None,
            namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        dest = self.rest_after_double_dash
        if dest is None:
            return super().parse_known_args(args, namespace)
        words = list(sys.argv[1:] if args is None else args)
        rest = None
        if '--' in words:
            at = words.index('--')
            words, rest = words[:at], words[at + 1:]
        parsed, extras = super().parse_known_args(words, namespace)
        if extras and rest is None:
            self.error(f"unrecognized arguments: {' '.join(extras)} "
                       "(the command to run goes after '--')")
        setattr(parsed, dest, rest)
        return parsed, extras

    def parse_known_quietly(
            self, args: Sequence[str],
            namespace: argparse.Namespace | None = None,
    ) -> argparse.Namespace:
        """What the parser makes of ``args`` over ``namespace``; raises
        :class:`UsageProblem` where it would report bad usage, and prints
        nothing."""
        self._quiet = True
        try:
            return self.parse_known_args(args, namespace)[0]
        finally:
            self._quiet = False


class ParsedCommand(command.Command):
    """A cliff command whose parser is an :class:`ArgumentParser`.

    cliff's ``Command.get_parser`` builds the parser that the display
    classes (``ShowOne``, ``Lister``) then add their options to; this class
    builds it instead, so it comes *last* among a command's bases:
    ``class ShowOne(Mixin, show.ShowOne, ParsedCommand)``.
    """

    #: the attribute that gets the words after the first ``--``, left
    #: unparsed (None: ``--`` means what argparse makes of it)
    rest_after_double_dash: str | None = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        app = self.app
        parser = ArgumentParser(
            description=self.get_description(),
            epilog=self.get_epilog(),
            prog=prog_name,
            formatter_class=_argparse.SmartHelpFormatter,
            conflict_handler=self.conflict_handler,
            stderr=None if app is None else app.stderr,
            rest_after_double_dash=self.rest_after_double_dash)
        for hook in self._hooks:     # as cliff's get_parser does
            if hook.obj is not None:
                hook.obj.get_parser(parser)
        return parser


def global_parser(app: Any, description: str | None, version: str | None,
                  helps: dict[str, str] | None = None,
                  **kwargs: Any) -> ArgumentParser:
    """The parser of an application's global options: cliff's (see
    ``cliff.app.App.build_option_parser``), as an :class:`ArgumentParser`
    reporting to ``app.stderr``; ``helps`` gives the help of ``verbose``,
    ``quiet``, ``log_file`` and ``debug`` where an application says more
    than cliff."""
    helps = helps or {}
    parser = ArgumentParser(description=description, add_help=False,
                            stderr=app.stderr, **kwargs)
    # cliff names the program after sys.argv[0], whatever the app's NAME
    parser.add_argument('--version', action='version',
                        version=f'{cliff_app.App.NAME} {version}')
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        '-v', '--verbose', action='count', dest='verbose_level',
        default=app.DEFAULT_VERBOSE_LEVEL,
        help=helps.get('verbose',
                       'Increase verbosity of output. Can be repeated.'))
    verbosity.add_argument(
        '-q', '--quiet', action='store_const', dest='verbose_level',
        const=0, help=helps.get(
            'quiet', 'Suppress output except warnings and errors.'))
    parser.add_argument(
        '--log-file', action='store', default=None,
        help=helps.get('log_file',
                       'Specify a file to log output. Disabled by default.'))
    if app.deferred_help:
        parser.add_argument(
            '-h', '--help', dest='deferred_help', action='store_true',
            help='Show help message and exit.')
    else:
        parser.add_argument(
            '-h', '--help', action=cliff_help.HelpAction, nargs=0,
            default=app, help='Show help message and exit.')
    parser.add_argument(
        '--debug', default=False, action='store_true',
        help=helps.get('debug', 'Show tracebacks on errors.'))
    return parser
