"""``ntcli-server workspace create|list``."""

from __future__ import annotations

import argparse
import typing

from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN


class CreateWorkspace(base.ShowOne):
    """Create a workspace and print its id."""

    value_columns = ('id',)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', help='Workspace name.')
        parser.add_argument('--owner', metavar='USER', required=True,
                            help='Name or id of the user who owns it.')
        parser.add_argument('--description', metavar='TEXT', default=None,
                            help='What the workspace is for.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        # Not create=True: a new database has no user to own the workspace.
        with self.open_authority(parsed_args) as authority:
            owner = authority.get_user(ADMIN, parsed_args.owner)
            workspace = authority.create_workspace(
                ADMIN, parsed_args.name, parsed_args.description,
                owner=owner.id)
        self.tell(f"Workspace '{workspace.name}' created for user "
                  f"'{owner.name}'.")
        return (('id', 'name', 'owner', 'description', 'created'),
                (workspace.id, workspace.name, owner.name,
                 workspace.description, base.when(workspace.created_at)))


class ListWorkspaces(base.Lister):
    """List every workspace."""

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            names = {u.id: u.name for u in authority.list_users(ADMIN)}
            workspaces = authority.list_workspaces(ADMIN)
        return (('id', 'name', 'owner', 'created'),
                [(w.id, w.name, names.get(w.owner or ''),
                  base.when(w.created_at)) for w in workspaces])
