"""``trust create|list|show|delete``: the workspace's trust policies.

A trust policy lets CI jobs of an external OpenID Connect issuer obtain
short-lived tokens of the workspace with ``ntcli auth login --ci`` (see
``docs/user/automation.md``). These commands are for the workspace's owner (a
user credential) or a token of it holding ``tokens:write``; the server's
operator has ``ntcli-server trust`` as well.
"""

from __future__ import annotations

import argparse
import typing

from cliff import columns

from ntcli import command, errors
from ntcli.columns import ScopeColumn, TextColumn, TimeColumn
from ntcli_core.terminal import escape

if typing.TYPE_CHECKING:
    from ntcli.endpoints import TrustPolicy

FIELDS = ('ID', 'Name', 'Issuer', 'Conditions', 'Scope', 'Max Lifetime',
          'Created', 'Created By', 'Description')


class ConditionsColumn(columns.FormattableColumn[
        tuple[tuple[str, str], ...]]):
    """Conditions: ``claim=pattern, …`` for people, an object for
    machines."""

    def human_readable(self) -> str:
        return escape(', '.join(f'{claim}={pattern}'
                                for claim, pattern in self._value))

    def machine_readable(self) -> dict[str, str]:  # type: ignore[override]
        return dict(self._value)


def row(policy: TrustPolicy) -> tuple:
    return (policy.id, escape(policy.name), escape(policy.issuer),
            ConditionsColumn(policy.conditions), ScopeColumn(policy.scope),
            policy.max_lifetime, TimeColumn(policy.created_at),
            TextColumn(policy.created_by),
            TextColumn(escape(policy.description)
                       if policy.description else None))


def condition(text: str) -> tuple[str, str]:
    """An argparse type: ``CLAIM=PATTERN``."""
    claim, equals, pattern = text.partition('=')
    if not equals or not claim:
        raise argparse.ArgumentTypeError(
            f'{text[:60]!r} is not CLAIM=PATTERN (such as '
            'repository=acme/app)')
    return claim, pattern


def seconds(text: str) -> int:
    """An argparse type: whole seconds above 0."""
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f'{text[:20]!r} is not a whole number of seconds')
    return int(text)


class CreateTrustPolicy(command.ShowOne):
    """Let CI jobs of an OIDC issuer obtain tokens of the workspace."""

    fields = dict.fromkeys(FIELDS)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME',
                            help='Name of the policy, unique in the '
                                 'workspace.')
        parser.add_argument(
            '--issuer', metavar='URL', required=True,
            help='The issuer whose tokens are trusted, such as '
                 'https://token.actions.githubusercontent.com.')
        parser.add_argument(
            '--claim', metavar='CLAIM=PATTERN', type=condition,
            action='append', required=True, dest='conditions',
            help='A condition on a claim of the token: its value must be '
                 'PATTERN, where * stands for any text; repeat for more '
                 '(all must hold). At least one must be exact.')
        parser.add_argument(
            '--scope', metavar='SCOPE', action='append', default=None,
            help='A scope of the tokens it gives; repeat for more (default '
                 'workspace:read servers:read).')
        parser.add_argument(
            '--max-lifetime', metavar='SECONDS', type=seconds, default=None,
            help='How long those tokens live (default 3600, at most '
                 '86400).')
        parser.add_argument('--description', metavar='TEXT', default=None,
                            help='What the policy is for.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        workspace = context.workspace
        policy = context.endpoint.create_trust_policy(
            context.workspace_bearer(workspace.id), workspace.id,
            parsed_args.name, issuer=parsed_args.issuer,
            conditions=parsed_args.conditions, scope=parsed_args.scope,
            max_lifetime=parsed_args.max_lifetime,
            description=parsed_args.description)
        return FIELDS, row(policy)


class ListTrustPolicies(command.Lister):
    """List the workspace's trust policies."""

    fields = dict.fromkeys(FIELDS)

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        workspace = context.workspace
        policies = context.endpoint.list_trust_policies(
            context.workspace_bearer(workspace.id), workspace.id)
        if not policies and parsed_args.formatter == 'table':
            self.app.stderr.write(
                "No trust policies. Create one with 'ntcli trust create'.\n")
        return FIELDS, [row(p) for p in policies]


class ShowTrustPolicy(command.ShowOne):
    """Show one of the workspace's trust policies."""

    fields = dict.fromkeys(FIELDS)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('policy', metavar='POLICY',
                            help='Name or id of the policy.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        workspace = context.workspace
        return FIELDS, row(context.endpoint.get_trust_policy(
            context.workspace_bearer(workspace.id), workspace.id,
            parsed_args.policy))


class DeleteTrustPolicy(command.Command):
    """Delete one of the workspace's trust policies: its issuer's tokens
    buy nothing more."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('policy', metavar='POLICY',
                            help='Name or id of the policy.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        workspace = context.workspace
        try:
            policy = context.endpoint.delete_trust_policy(
                context.workspace_bearer(workspace.id), workspace.id,
                parsed_args.policy)
        except errors.NotFound:
            raise errors.NotFound(
                f'Trust policy {escape(parsed_args.policy)!r} not found',
                "Run 'ntcli trust list' to see the workspace's policies."
            ) from None
        self.report(f"Trust policy '{escape(policy.name)}' "
                    f'({policy.id}) deleted.\n')
        return 0
