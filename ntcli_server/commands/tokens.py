"""``ntcli-server token expiring``: what is about to stop working."""

from __future__ import annotations

import argparse
import typing

from ntcli_core import durations
from ntcli_core.lifetimes import MAX_LIFETIME
from ntcli_core.terminal import escape
from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN

COLUMNS = ('jti', 'workspace_id', 'workspace_name', 'expires_at',
           'retiring_until', 'description')


def window(text: str) -> int:
    """An argparse type: a duration (``604800``, ``30d``), up to ten
    years."""
    try:
        seconds = durations.parse(text)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= MAX_LIFETIME:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a duration from 1s to ten years (604800, '
            '12h, 30d, 1y)')
    return seconds


class ListExpiringTokens(base.Lister):
    """List the valid tokens of every workspace that expire within a
    window, soonest first (retiring tokens too, with the end of their
    grace period)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--within', metavar='DURATION', type=window, default=window('30d'),
            help='The window: seconds or a duration such as 12h, 7d, 30d '
                 '(default 30d).')
        parser.add_argument(
            '--limit', metavar='N', type=base.between(1, 1000), default=1000,
            help='At most N tokens, the soonest (default and most 1000).')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            records = authority.list_expiring(ADMIN, parsed_args.within,
                                              limit=parsed_args.limit + 1)
            names = {w.id: w.name for w in authority.list_workspaces(ADMIN)}
        if len(records) > parsed_args.limit:
            records = records[:parsed_args.limit]
            self.tell(f'Only the {parsed_args.limit} soonest are listed; '
                      'give a shorter --within or a larger --limit.')
        for_terminal = parsed_args.formatter == 'table'
        rows = []
        for record in records:
            description = record.description
            if for_terminal and description is not None:
                description = escape(description)
            rows.append((record.jti, record.workspace_id,
                         names.get(record.workspace_id),
                         base.when(record.expires_at),
                         base.when(record.retires_at), description))
        return COLUMNS, rows
