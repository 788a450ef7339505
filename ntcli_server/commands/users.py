"""``ntcli-server user create|list``."""

from __future__ import annotations

import argparse
import typing

from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN


class CreateUser(base.ShowOne):
    """Create a user and print its credential once."""

    value_columns = ('credential',)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', help='User name.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args, create=True) as authority:
            new = authority.create_user(ADMIN, parsed_args.name)
        self.tell(f"User '{new.user.name}' created ({new.user.id}). Its "
                  'credential went to standard output and will not be shown '
                  'again: keep it safe.')
        return (('credential', 'id', 'name', 'created'),
                (new.credential, new.user.id, new.user.name,
                 base.when(new.user.created_at)))


class ListUsers(base.Lister):
    """List the users."""

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            users = authority.list_users(ADMIN)
        return (('id', 'name', 'created'),
                [(u.id, u.name, base.when(u.created_at)) for u in users])
