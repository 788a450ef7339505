"""``workspace create|list|select|delete``."""

from __future__ import annotations

import argparse

from ntcli import command, errors, prompt
from ntcli.columns import CheckColumn, TimeColumn
from ntcli_core import timefmt
from ntcli_core.names import NAME_RULE, is_valid_name
from ntcli_core.terminal import escape, quoted


def check_name(name: str) -> str:
    """A valid workspace name (ntcli_core.names), or UsageError."""
    if not is_valid_name(name):
        raise errors.UsageError(f'Invalid workspace name {quoted(name)}',
                                f'Use {NAME_RULE}.')
    return name


class CreateWorkspace(command.ShowOne):
    """Create a workspace."""

    finishes_pending_work = True

    fields = dict.fromkeys(('workspace_id', 'workspace_name', 'created'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME',
                            help='Name of the new workspace.')
        parser.add_argument('--description', metavar='TEXT', default=None,
                            help='What the workspace is for.')
        parser.add_argument('--select', action='store_true', default=False,
                            help='Select it for the following commands.')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        command.check_description(parsed_args.description)

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        name = check_name(parsed_args.name)
        endpoint = context.endpoint
        workspace = endpoint.create_workspace(
            context.bearer(), name, parsed_args.description)
        try:
            with context.update_config() as config:
                config.remember_workspace(context.context_name,
                                          workspace.id, workspace.name)
                if parsed_args.select:
                    config.select_workspace(context.context_name,
                                            workspace.id, workspace.name)
        except errors.NtcliError as exc:
            # the workspace exists: say so, and what was not written
            context.warn(
                f"the workspace '{workspace.name}' was created, but "
                + ('it is not selected: ' if parsed_args.select else
                   'it is not remembered in the configuration: ')
                + exc.message + '.')
        return (tuple(self.fields),
                (workspace.id, workspace.name,
                 timefmt.iso(workspace.created_at)))


class ListWorkspaces(command.Lister):
    """List the workspaces (✓ marks the selected one)."""

    finishes_pending_work = True

    fields = dict.fromkeys(('ID', 'Name', 'Created', 'Selected'))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        endpoint = context.endpoint
        workspaces = endpoint.list_workspaces(context.bearer())
        selected = context.config.active_workspace(context.context_name)
        if selected is None:
            default = endpoint.default_workspace()
            selected = default.id if default else None
        known = context.config.known_workspaces(context.context_name)
        if any(known.get(w.name) != w.id for w in workspaces):
            with context.update_config() as config:
                for workspace in workspaces:
                    config.remember_workspace(context.context_name,
                                              workspace.id, workspace.name)
        return (tuple(self.fields),
                [(w.id, w.name, TimeColumn(w.created_at),
                  CheckColumn(w.id == selected)) for w in workspaces])


class SelectWorkspace(command.ShowOne):
    """Select the workspace that commands act on."""

    finishes_pending_work = True
    reports_action = True     # -q: no report

    fields = dict.fromkeys(('workspace_id', 'workspace_name'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME|ID',
                            help='Workspace name or id.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        workspace = context.resolve_workspace(parsed_args.name)
        with context.update_config() as config:
            config.select_workspace(context.context_name, workspace.id,
                                    workspace.name)
        return (tuple(self.fields),
                (workspace.id, workspace.name))

    def format_text(self, data: dict) -> list[str]:
        return [f"Workspace '{data['workspace_name']}' selected "
                f"({data['workspace_id']})."]


class DeleteWorkspace(command.Command):
    """Delete a workspace and revoke all of its tokens."""

    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME|ID',
                            help='Workspace name or id.')
        parser.add_argument('--force', action='store_true', default=False,
                            help='Do not ask for confirmation.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        workspace = context.resolve_workspace(parsed_args.name)
        if not parsed_args.force:
            prompt.confirm(self.app, f"Delete workspace '{workspace.name}' "
                                     'and revoke all of its tokens?')
        endpoint = context.endpoint
        endpoint.delete_workspace(context.bearer(), workspace.id)
        with context.store.transaction() as creds:
            creds.remove_token(context.credentials_key, workspace.id)
        with context.update_config() as config:
            config.forget_workspace(context.context_name, workspace.id)
        context.history.record('workspace delete', jti=None,
                               outcome='deleted', workspace_id=workspace.id,
                               endpoint=endpoint.key)
        self.report(f"Workspace '{workspace.name}' deleted.\n")
        return 0


def _shown(text: str | None) -> str:
    """A server's string made safe for a terminal (a user agent is
    whatever a client sent)."""
    return escape(text) if text else ''


class ListEvents(command.Lister):
    """Show what happened to a workspace's tokens: the endpoint's audit
    trail (every machine, every user), oldest first."""

    finishes_pending_work = True

    fields = dict.fromkeys(('Time', 'Action', 'Outcome', 'Actor', 'JTI',
                            'Client', 'User Agent', 'Request ID', 'Detail'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME|ID', nargs='?',
                            default=None,
                            help='Workspace name or id (default: the '
                                 'selected one).')
        parser.add_argument('--since', metavar='TIME', default=None,
                            type=timefmt.time_argument,
                            help='Only events at or after TIME (ISO-8601 or '
                                 'Unix seconds).')
        parser.add_argument('--action', metavar='ACTION', action='append',
                            default=[], dest='actions',
                            help='Only this action (token.issue, '
                                 'token.revoke, token.replay, auth.refused, '
                                 '...); may be repeated.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        workspace = (context.resolve_workspace(parsed_args.name)
                     if parsed_args.name else context.workspace)
        events = context.endpoint.list_events(
            context.bearer(), workspace.id, since=parsed_args.since,
            actions=parsed_args.actions)
        return (tuple(self.fields),
                [(TimeColumn(e.time), _shown(e.action), _shown(e.outcome),
                  _shown(e.actor), _shown(e.target_jti), _shown(e.client),
                  _shown(e.user_agent), _shown(e.request_id),
                  _shown(e.detail)) for e in events])


