"""``token create``: an extra token, printed once and stored nowhere."""

from __future__ import annotations

import argparse
from typing import Any

from ntcli import command, delivery
from ntcli_core import scopes, timefmt
from ntcli_token_plugin import common, expiry, scope_option


class CreateToken(command.ShowOne):
    """Create an extra token for CI or automation (printed once, not stored).
    """

    fields = dict.fromkeys(('token', 'jti', 'expires_at', 'scope'))

    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        expiry.add_arguments(parser)
        parser.add_argument(
            '--description', metavar='TEXT', default=None,
            help='What the token is for (shown by token list).')
        scope_option.add_argument(
            parser, f"{','.join(scopes.DEFAULT)}, the endpoint's default: "
                    'read-only unless asked')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        command.check_description(parsed_args.description)
        delivery.check_output(self.app.stdout_closed)

    def run_checked(self, parsed_args: argparse.Namespace) -> int:
        # Output is part of the operation: a token that was not delivered
        # (stdout gone, disk full, Ctrl-C before it was written) is revoked.
        with delivery.Delivery(self.context) as self._delivery:
            return super().run_checked(parsed_args)

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self.context
        lifetime = expiry.from_args(parsed_args, context.now())
        wanted = scope_option.from_args(parsed_args)
        issued = self._delivery.issue(lifetime, wanted,
                                      parsed_args.description)
        common.warn_no_expiry(context, lifetime)
        scope = None if issued.scope is None else list(issued.scope)
        return (tuple(self.fields),
                (issued.token, issued.jti, timefmt.iso(issued.expires_at),
                 scope))

    def format_text(self, data: dict[str, Any]) -> list[str]:
        return [f"New token created: {data['token']}",
                f"Token JTI: {data['jti']}",
                f"Expires: {data['expires_at'] or 'never'}",
                f"Scope: {common.scope_text(data['scope'])}",
                '',
                'Store it now: it is not saved locally and cannot be shown '
                'again.']
