"""``ntcli-server trust create|list|show|delete``: trust policies.

A trust policy lets CI jobs of an external OpenID Connect issuer (GitHub
Actions, GitLab, a Kubernetes cluster) exchange their own short-lived ID
token for a workspace token (see ntcli_authority.trust).

:mod:`ntcli_authority.trust` is imported by ``trust create`` alone: 8.5 ms
(``python -X importtime``, on a loaded machine) the other commands and
``ntcli-server --help`` do without.
"""

from __future__ import annotations

import argparse
import typing

from ntcli_authority.access import Principal
from ntcli_core.terminal import escape
from ntcli_server.commands import base

if typing.TYPE_CHECKING:
    from ntcli_authority.authority import Authority
    from ntcli_authority.models import TrustPolicy

COLUMNS = ('id', 'workspace_id', 'name', 'issuer', 'conditions', 'scope',
           'max_lifetime', 'created', 'created_by', 'description')


def condition(text: str) -> tuple[str, str]:
    """An argparse type: ``CLAIM=PATTERN``."""
    claim, equals, pattern = text.partition('=')
    if not equals or not claim:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not CLAIM=PATTERN (such as "
            'repository=acme/app)')
    return claim, pattern


def row(policy: TrustPolicy, for_terminal: bool) -> tuple:
    """A policy as the columns show it: conditions as an object in machine
    formats, ``claim=pattern`` lines on a terminal (escaped)."""
    conditions: object = dict(policy.conditions)
    values = [policy.id, policy.workspace_id, policy.name, policy.issuer,
              conditions, list(policy.granted), policy.max_lifetime,
              base.when(policy.created_at), policy.created_by,
              policy.description]
    if for_terminal:
        values[4] = ', '.join(f'{claim}={pattern}'
                              for claim, pattern in policy.conditions)
        values[5] = ' '.join(policy.granted)
        values = [escape(v) if isinstance(v, str) else v for v in values]
    return tuple(values)


class _TrustCommand:
    """What the trust commands share: the workspace they name."""

    def workspace_id(self, authority: Authority, ref: str) -> str:
        return authority.get_workspace(Principal.local(), ref).id


class CreateTrustPolicy(_TrustCommand, base.ShowOne):
    """Let CI jobs of an OIDC issuer obtain tokens of a workspace."""

    value_columns = ('id',)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        from ntcli_authority import trust
        parser = super().get_parser(prog_name)
        parser.add_argument('workspace', metavar='WORKSPACE',
                            help='Name or id of the workspace.')
        parser.add_argument('name', metavar='NAME',
                            help='Name of the policy, unique in the '
                                 'workspace.')
        parser.add_argument(
            '--issuer', metavar='URL', required=True,
            help='The issuer whose tokens are trusted, such as '
                 'https://token.actions.githubusercontent.com.')
        parser.add_argument(
            '--claim', metavar='CLAIM=PATTERN', type=condition,
            action='append', default=[], dest='conditions', required=True,
            help='A condition on a claim of the token: its value must be '
                 'PATTERN, where * stands for any text; repeat for more '
                 '(all must hold). At least one must be exact.')
        parser.add_argument(
            '--scope', metavar='SCOPE', action='append', default=None,
            dest='scope',
            help='A scope of the tokens it issues; repeat for more '
                 '(default workspace:read servers:read).')
        parser.add_argument(
            '--max-lifetime', metavar='SECONDS',
            type=base.between(trust.MIN_MAX_LIFETIME,
                              trust.MAX_MAX_LIFETIME),
            default=trust.DEFAULT_MAX_LIFETIME,
            help='Lifetime of the tokens it issues, in seconds (default '
                 f'{trust.DEFAULT_MAX_LIFETIME}, at most '
                 f'{trust.MAX_MAX_LIFETIME}).')
        parser.add_argument('--description', metavar='TEXT', default=None,
                            help='What the policy is for.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            policy = authority.create_trust_policy(
                Principal.local(),
                self.workspace_id(authority, parsed_args.workspace),
                parsed_args.name, issuer=parsed_args.issuer,
                conditions=parsed_args.conditions, scope=parsed_args.scope,
                max_lifetime=parsed_args.max_lifetime,
                description=parsed_args.description)
        self.tell(f"Trust policy '{policy.name}' created: tokens of "
                  f'{policy.issuer} that meet its conditions can be '
                  'exchanged for workspace tokens holding '
                  f"{' '.join(policy.granted)} for "
                  f'{policy.max_lifetime} seconds.')
        return COLUMNS, row(policy, parsed_args.formatter == 'table')


class ListTrustPolicies(base.Lister):
    """List trust policies (of every workspace, or of one)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--workspace', metavar='NAME|ID', default=None,
                            help='Only the policies of this workspace.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            workspace_id = None
            if parsed_args.workspace:
                workspace_id = authority.get_workspace(
                    Principal.local(), parsed_args.workspace).id
            policies = authority.list_trust_policies(Principal.local(),
                                                     workspace_id)
        for_terminal = parsed_args.formatter == 'table'
        return COLUMNS, [row(p, for_terminal) for p in policies]


class ShowTrustPolicy(_TrustCommand, base.ShowOne):
    """Show one trust policy."""

    value_columns = COLUMNS

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('workspace', metavar='WORKSPACE',
                            help='Name or id of the workspace.')
        parser.add_argument('policy', metavar='POLICY',
                            help='Name or id of the policy.')
        return parser

    @property
    def formatter_default(self) -> str:
        return 'table'

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            policy = authority.get_trust_policy(
                Principal.local(),
                self.workspace_id(authority, parsed_args.workspace),
                parsed_args.policy)
        return COLUMNS, row(policy, parsed_args.formatter == 'table')


class DeleteTrustPolicy(_TrustCommand, base.Command):
    """Delete a trust policy: its issuer's tokens buy nothing more (tokens
    already issued live out their short lifetime; revoke them with the
    token commands if needed)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('workspace', metavar='WORKSPACE',
                            help='Name or id of the workspace.')
        parser.add_argument('policy', metavar='POLICY',
                            help='Name or id of the policy.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        with self.open_authority(parsed_args) as authority:
            policy = authority.delete_trust_policy(
                Principal.local(),
                self.workspace_id(authority, parsed_args.workspace),
                parsed_args.policy)
        self.app.stdout.write(f"Trust policy '{policy.name}' ({policy.id}) "
                              'deleted.\n')
        return 0
