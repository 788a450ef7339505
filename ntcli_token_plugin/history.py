"""``token history``: the local audit trail of token operations."""

from __future__ import annotations

import argparse

from ntcli import command
from ntcli.columns import TimeColumn
from ntcli.validate import count_option


class ShowHistory(command.Lister):
    """Show the local audit trail: rotations, creations, revocations."""

    fields = dict.fromkeys(('Time', 'Action', 'JTI', 'Outcome', 'Detail',
                            'Workspace', 'Context'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--limit', metavar='N', type=count_option,
                            default=None,
                            help='Show only the N most recent entries.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        entries = self.context.history.entries(limit=parsed_args.limit)
        return (tuple(self.fields),
                [(TimeColumn(e.get('time')), e.get('action'),
                  e.get('jti') or '', e.get('outcome'), e.get('detail') or '',
                  e.get('workspace_id') or '',
                  e.get('context') or '')
                 for e in entries])
