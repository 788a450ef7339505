"""``token exec``: run a program with the workspace token in its
environment."""

from __future__ import annotations

import argparse
import os

from ntcli import command, errors, rotation, tokeninfo
from ntcli_core import timefmt
from ntcli_core.lifetimes import Expiry
from ntcli_token_plugin import common, expiry, launch


class ExecToken(command.Command):
    """Run a command with the workspace token in its environment.

    ntcli becomes the command (exec): its stdin, stdout, stderr, signals
    and exit status are the command's own. The token is in its environment
    only (NTCLI_TOKEN, or --env NAME): never in argv, on disk or in
    ntcli's output. NTCLI_KEY is removed from that environment. The
    lifetime options apply to the token a refresh issues.
    """

    finishes_pending_work = True
    # the program's options are its own, whatever argparse's version does
    # with '--': everything after it is parsed_args.command
    rest_after_double_dash = 'command'

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.usage = (
            '%(prog)s [-h] [--env NAME] [--refresh-if-expires-within '
            'DURATION] [--expires-in SECONDS | --expires-at TIME | '
            '--no-expiry] -- COMMAND [ARG ...]')
        parser.add_argument(
            '--env', metavar='NAME', default=launch.DEFAULT_ENV_NAME,
            help='Environment variable that carries the token (default '
                 f'{launch.DEFAULT_ENV_NAME}).')
        parser.add_argument(
            '--refresh-if-expires-within', metavar='DURATION', default=None,
            help='First rotate the stored token if it expires within '
                 'DURATION (as --expires-in: 604800, 7d) or is no longer '
                 'valid, as token refresh --if-expires-within does.')
        expiry.add_arguments(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self.context
        if getattr(self.app, 'interactive_mode', False):
            raise errors.UsageError(
                'token exec cannot run inside the interactive shell: the '
                'command would replace it',
                'Run it from your own shell: ntcli token exec -- COMMAND')
        if not parsed_args.command:
            raise errors.UsageError(
                'No command to run',
                'Give it after --: ntcli token exec -- COMMAND [ARG ...]')
        name = launch.check_env_name(parsed_args.env)
        now = context.now()
        lifetime = expiry.from_args(parsed_args, now)
        window = expiry.refresh_window(parsed_args.refresh_if_expires_within,
                                       '--refresh-if-expires-within',
                                       lifetime, now)
        if window is None and expiry.given_options(parsed_args):
            raise errors.UsageError(
                'The lifetime options apply only with '
                '--refresh-if-expires-within',
                'Add --refresh-if-expires-within DURATION, or drop them.')
        # found before anything changes: a typo must not rotate a token
        program = launch.find_program(parsed_args.command[0],
                                      os.environ.get('PATH'))
        if window is not None:
            self._refresh(lifetime, window)
        env = launch.child_environment(os.environ, name,
                                       tokeninfo.usable_token(context))
        context.close()     # the endpoint's connections end before exec
        launch.replace_process(program, parsed_args.command, env,
                               (self.app.stdout, self.app.stderr))
        return 1  # not reached: replace_process returns only by raising

    def _refresh(self, lifetime: Expiry, window: int) -> None:
        result = rotation.rotate_token(self.context, lifetime,
                                       if_expires_within=window)
        if isinstance(result, rotation.Rotation):
            common.warn_no_expiry(self.context, lifetime)
            self.app.stderr.write(
                f'Token refreshed: new token {result.new_jti} expires '
                f'{timefmt.iso(result.new_expires_at) or "never"}.\n')
