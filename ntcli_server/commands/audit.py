"""``ntcli-server audit list``."""

from __future__ import annotations

import argparse
import typing

from ntcli_authority.errors import AuthorityError
from ntcli_authority.models import AUDIT_ACTIONS
from ntcli_core import timefmt
from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN

COLUMNS = ('time', 'action', 'outcome', 'actor', 'workspace_id',
           'target_jti', 'client', 'request_id', 'user_agent', 'detail')


class ListEvents(base.Lister):
    """List audit events, oldest first: every change and every refused
    credential."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--workspace', metavar='NAME|ID', default=None,
                            help='Only the events of this workspace.')
        parser.add_argument('--since', metavar='TIME',
                            type=timefmt.time_argument,
                            default=None,
                            help='Only events at or after TIME (ISO-8601 or '
                                 'Unix seconds).')
        parser.add_argument('--action', metavar='ACTION', action='append',
                            default=[], dest='actions',
                            choices=AUDIT_ACTIONS,
                            help='Only this action '
                                 f"({', '.join(AUDIT_ACTIONS)}); may be "
                                 'repeated.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            workspace_id = None
            if parsed_args.workspace:
                try:
                    workspace_id = authority.get_workspace(
                        ADMIN, parsed_args.workspace).id
                except AuthorityError:
                    # a deleted workspace's trail stays: its id still works
                    workspace_id = parsed_args.workspace
            events, cursor = [], None
            while True:
                page = authority.list_events(
                    ADMIN, workspace_id, since=parsed_args.since,
                    actions=parsed_args.actions, limit=1000, cursor=cursor)
                events += page.events
                cursor = page.next_cursor
                if cursor is None:
                    break
        return COLUMNS, [[timefmt.iso(event.at)]
                         + [getattr(event, name, None) for name in COLUMNS[1:]]
                         for event in events]
