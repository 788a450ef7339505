"""``ntcli complete``: shell completion scripts, and the answers they ask.

:mod:`ntcli.completion` is imported only to answer a query, not with this
module, which ``ntcli --help`` loads: 9.6 ms (``python -X importtime``, on
a loaded machine).
"""

from __future__ import annotations

import argparse

from ntcli import command, shell_scripts


class CompleteCommand(command.Command):
    """Print the completion script of a shell."""

    checks_settings = False     # completes whatever the settings

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--shell', choices=shell_scripts.SHELLS, default='bash',
            help='The shell to complete in (default: bash).')
        # what the scripts run on each Tab; not for people
        parser.add_argument('--query', action='store_true',
                            help=argparse.SUPPRESS)
        parser.add_argument('--line', action='store_true',
                            help=argparse.SUPPRESS)
        parser.add_argument('--breaks', default=None, help=argparse.SUPPRESS)
        # a Tab's values looked up again in the background, for the cache
        parser.add_argument('--refresh', action='store_true',
                            help=argparse.SUPPRESS)
        parser.add_argument('words', nargs='*', help=argparse.SUPPRESS)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        if parsed_args.query:
            from ntcli import completion
            self.app.stdout.write(completion.answer(
                self.app, parsed_args.words, line=parsed_args.line,
                breaks=parsed_args.breaks))
        else:
            self.app.stdout.write(shell_scripts.script(
                parsed_args.shell, shell_scripts.Installation.current()))
        return 0
