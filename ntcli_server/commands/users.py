"""``ntcli-server user create|list|link|unlink|identities``."""

from __future__ import annotations

import argparse
import typing

from ntcli_server import signin
from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN


class CreateUser(base.ShowOne):
    """Create a user and print its credential once.

    With --no-credential the user gets none: they sign in through the
    identity provider only (link their identity with ntcli-server user
    link). With NTCLI_SERVER_OIDC_REQUIRE set, --no-credential is needed:
    the server refuses user credentials.
    """

    value_columns = ('credential',)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', help='User name.')
        parser.add_argument(
            '--no-credential', action='store_true',
            help='Make no user credential: the user signs in through '
                 'the identity provider only.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        if signin.required_by_environment() and \
                not parsed_args.no_credential:
            # the server would refuse the credential printed (401)
            raise base.CommandFailed(
                f'{signin.ENV_REQUIRE} is set: this server refuses user '
                'credentials, so the user would get one that never works',
                f'Create it with --no-credential and link the identity '
                f'they sign in with (ntcli-server user link '
                f'{parsed_args.name} --issuer URL --subject SUB).')
        with self.open_authority(parsed_args, create=True) as authority:
            new = authority.create_user(
                ADMIN, parsed_args.name,
                credential=not parsed_args.no_credential)
        if new.credential is None:
            self.tell(f"User '{new.user.name}' created ({new.user.id}) "
                      'without a credential: link the identity they sign in '
                      f'with (ntcli-server user link {new.user.name} '
                      '--issuer URL --subject SUB).')
            parsed_args.columns = parsed_args.columns or (
                ['id'] if parsed_args.formatter == 'value' else [])
        else:
            self.tell(f"User '{new.user.name}' created ({new.user.id}). Its "
                      'credential went to standard output and will not be '
                      'shown again: keep it safe.')
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


def _identity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--issuer', metavar='URL', required=True,
                        help="The identity provider's issuer URL, exactly "
                             'as in its ID tokens (iss).')
    parser.add_argument('--subject', metavar='SUB', required=True,
                        help="The person's subject at the provider (the "
                             'sub claim of their ID tokens).')


class LinkUser(base.ShowOne):
    """Link a person at the identity provider to an existing user.

    From then on, signing in as (issuer, subject) opens a session of this
    user.
    """

    value_columns = ('user',)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('user', metavar='USER', help='User name or id.')
        _identity_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            identity = authority.link_identity(
                ADMIN, parsed_args.user, parsed_args.issuer,
                parsed_args.subject)
            user = authority.get_user(ADMIN, identity.user_id)
        self.tell(f"Signing in as {identity.subject} at {identity.issuer} "
                  f"now opens a session of user '{user.name}'.")
        return (('user', 'user_id', 'issuer', 'subject', 'linked'),
                (user.name, user.id, identity.issuer, identity.subject,
                 base.when(identity.created_at)))


class UnlinkUser(base.Command):
    """Unlink a person at the identity provider from their user, and end
    the sessions of that user."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _identity_options(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        with self.open_authority(parsed_args) as authority:
            removed = authority.unlink_identity(ADMIN, parsed_args.issuer,
                                                parsed_args.subject)
        if not removed:
            raise base.CommandFailed(
                f'{parsed_args.subject} at {parsed_args.issuer} is linked to '
                'no user', 'See ntcli-server user identities.')
        self.tell(f'Unlinked {parsed_args.subject} at {parsed_args.issuer}; '
                  "the user's sessions are ended.")
        return 0


class ListIdentities(base.Lister):
    """List the identities linked to users (of one user, or all)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('user', metavar='USER', nargs='?', default=None,
                            help='Only this user (name or id).')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            identities = authority.list_identities(ADMIN, parsed_args.user)
            names = {u.id: u.name for u in authority.list_users(ADMIN)}
        return (('user', 'issuer', 'subject', 'email', 'linked',
                 'last_sign_in'),
                [(names.get(i.user_id, i.user_id), i.issuer, i.subject,
                  i.email, base.when(i.created_at),
                  base.when(i.last_sign_in_at)) for i in identities])
