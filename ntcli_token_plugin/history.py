"""``token history``: the local audit trail of token operations."""

from __future__ import annotations

import argparse

from ntcli import command
from ntcli.columns import TimeColumn
from ntcli.validate import count_option

#: How many entries are shown without --limit or --all: the most recent.
DEFAULT_LIMIT = 1000


class ShowHistory(command.Lister):
    """Show the local audit trail: rotations, creations, revocations."""

    fields = dict.fromkeys(('Time', 'Action', 'JTI', 'Outcome', 'Detail',
                            'Workspace', 'Context'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        how_many = parser.add_mutually_exclusive_group()
        how_many.add_argument(
            '--limit', metavar='N', type=count_option, default=None,
            help='Show only the N most recent entries (default '
                 f'{DEFAULT_LIMIT}).')
        how_many.add_argument(
            '--all', action='store_true', default=False,
            help='Show every entry, however long the history.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self.context
        limit = parsed_args.limit
        if limit is None and not parsed_args.all:
            limit = DEFAULT_LIMIT
        recent = context.history.recent(limit)
        if recent.skipped:
            lines = 'line' if recent.skipped == 1 else 'lines'
            context.warn(f'{recent.skipped} {lines} of the history file '
                         'could not be read and were skipped.')
        if recent.more and parsed_args.limit is None:
            context.note(f'Showing the {DEFAULT_LIMIT} most recent entries; '
                         '--limit N or --all shows more.')
        return (tuple(self.fields),
                [(TimeColumn(e.get('time')), e.get('action'),
                  e.get('jti') or '', e.get('outcome'), e.get('detail') or '',
                  e.get('workspace_id') or '',
                  e.get('context') or '')
                 for e in recent.entries])
