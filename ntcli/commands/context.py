"""``context create|list|use|show|rename|delete``: named contexts.

A context is an endpoint, its CA bundle, a workspace and the sign-in kept
for it (see :mod:`ntcli.contexts`). ``create`` takes the global options
``--endpoint``, ``--ca-bundle`` and ``-w``, which set the new context's
fields here instead of overriding the context in force.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from ntcli import command, contexts, endpoints, errors, prompt, validate
from ntcli.columns import CheckColumn, TextColumn
from ntcli.commands.auth import Logout
from ntcli.contexts import LOCAL
from ntcli_core.terminal import quoted

if TYPE_CHECKING:
    from ntcli.context import Context


def _existing(context: Context, name: str) -> dict[str, Any]:
    """The settings of the context ``name``; UsageError when none."""
    contexts.check_name(name)
    entry = context.config.contexts().get(name)
    if entry is None:
        raise errors.UsageError(f'No context named {quoted(name)}',
                                "See 'ntcli context list'.")
    return entry


def _not_local(name: str, what: str) -> None:
    if name == LOCAL:
        raise errors.UsageError(
            f"The context '{LOCAL}' (the embedded endpoint) cannot be {what}",
            "'ntcli --context local auth logout' removes its tokens.")


def _in_force(context: Context) -> str | None:
    """The name of the context in force here, None when it cannot be
    told (a directory file naming a context that does not exist...)."""
    try:
        return context.named.name
    except errors.NtcliError:
        return None


def _workspace(context: Context, name: str, entry: dict[str, Any]
               ) -> tuple[str | None, str | None]:
    """The workspace of a context: (name, id) as far as they are known."""
    chosen = entry.get('workspace')
    if chosen is None:
        return None, None
    names = {v: k for k, v in context.config.known_workspaces(name).items()}
    if validate.is_uuid(chosen):
        return names.get(chosen), chosen
    return chosen, context.config.known_workspaces(name).get(chosen)


class CreateContext(command.ShowOne):
    """Create a context: an endpoint, its CA bundle and a workspace, under
    a name; sign in to it with 'ntcli --context NAME auth login'.

    Give its fields with the global options: --endpoint URL (required),
    --ca-bundle PATH and -w/--workspace NAME|ID.
    """

    fields = dict.fromkeys(('name', 'endpoint', 'ca_bundle', 'workspace',
                            'current'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME',
                            help='Name of the new context (letters, digits, '
                                 '., - and _; up to 63).')
        parser.add_argument('--use', action='store_true', default=False,
                            help='Make it the current context.')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        contexts.check_name(parsed_args.name)
        options = self.app.options
        if not options.endpoint:
            raise errors.UsageError(
                'A new context needs an endpoint',
                f'Give it: ntcli context create {parsed_args.name} '
                '--endpoint URL (or --endpoint local).')
        # checked here, before anything is kept
        parsed_args.endpoint_key = contexts.endpoint_key(options.endpoint)
        if options.ca_bundle:
            bundle = os.path.abspath(os.path.expanduser(options.ca_bundle))
            if not os.path.isfile(bundle):
                raise errors.UsageError(
                    f'CA bundle {options.ca_bundle} not found',
                    'Give the path of a PEM file with --ca-bundle.')
            parsed_args.ca_bundle = bundle
        else:
            parsed_args.ca_bundle = None

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        url = parsed_args.endpoint_key
        # the endpoint plugin's own verdict on the URL (no connection)
        endpoints.load_endpoint(url, endpoints.EndpointOptions(
            ca_bundle=parsed_args.ca_bundle)).close()
        workspace = self.app.options.workspace
        name = parsed_args.name
        # --endpoint is the new context's, not a choice of the context in
        # force: a context of that endpoint is not to be made besides
        context.reresolve()
        with context.update_config() as config:
            if name in config.contexts():
                raise errors.UsageError(
                    f'A context named {quoted(name)} already exists',
                    "Choose another name, or see 'ntcli context show "
                    f"{name}'.")
            config.add_context(name, endpoint=url,
                               key=contexts.new_key(url),
                               ca_bundle=parsed_args.ca_bundle,
                               workspace=workspace)
            if parsed_args.use:
                config.current_context = name
        context.history.record('context create', jti=None,
                               outcome='created', endpoint=url,
                               detail=f'context {name}')
        return (tuple(self.fields),
                (name, url, parsed_args.ca_bundle, workspace,
                 parsed_args.use))

    def format_text(self, data: dict) -> list[str]:
        lines = [f"Context '{data['name']}' created for {data['endpoint']}."]
        if data['current']:
            lines.append('It is now the current context.')
        if data['endpoint'] != 'local':
            lines.append(f"Sign in with: ntcli --context {data['name']} "
                         'auth login')
        return lines


class ListContexts(command.Lister):
    """List the contexts (✓ marks the one in force here)."""

    fields = dict.fromkeys(('Name', 'Endpoint', 'Workspace', 'CA Bundle',
                            'Current'))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        in_force = _in_force(context)
        rows = []
        for name, entry in sorted(context.config.contexts().items()):
            ws_name, ws_id = _workspace(context, name, entry)
            rows.append((name, entry['endpoint'],
                         TextColumn(ws_name or ws_id),
                         TextColumn(entry.get('ca_bundle')),
                         CheckColumn(name == in_force)))
        return tuple(self.fields), rows


class UseContext(command.ShowOne):
    """Make a context the current one: the default for every command run
    without --context, NTCLI_CONTEXT or a .ntcli-context file."""

    reports_action = True     # -q: no report

    fields = dict.fromkeys(('name', 'endpoint'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', help='Context name.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        name = parsed_args.name
        entry = _existing(context, name)
        context.reresolve()     # changing contexts makes no other one
        with context.update_config() as config:
            config.current_context = name
        context.reresolve()
        in_force = _in_force(context)
        if in_force is not None and in_force != name:
            context.warn(f"here the context '{in_force}' is in force "
                         f'instead ({context.named.reason})')
        return tuple(self.fields), (name, entry['endpoint'])

    def format_text(self, data: dict) -> list[str]:
        return [f"Switched to context '{data['name']}' "
                f"({data['endpoint']})."]


class ShowContext(command.ShowOne):
    """Show a context (default: the one in force, and why)."""

    fields = dict.fromkeys(('name', 'endpoint', 'ca_bundle', 'workspace',
                            'workspace_id', 'source', 'in_force',
                            'current'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', nargs='?', default=None,
                            help='Context name (default: the one in force).')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        named = context.named if parsed_args.name is None else None
        name = parsed_args.name or context.named.name
        if named is not None and not named.saved:
            entry = {'endpoint': named.endpoint,
                     'ca_bundle': named.ca_bundle}
        else:
            entry = _existing(context, name)
        ws_name, ws_id = _workspace(context, name, entry)
        if named is not None:
            source = '; '.join((named.reason, *named.notes))
            in_force = True
            ca_bundle = named.ca_bundle
        else:
            source = 'named on the command line'
            in_force = name == _in_force(context)
            ca_bundle = entry.get('ca_bundle')
        current = name == (context.config.current_context or 'local')
        return tuple(self.fields), (name, entry['endpoint'], ca_bundle,
                                    ws_name, ws_id, source, in_force,
                                    current)


class RenameContext(command.Command):
    """Rename a context; its sign-in and settings stay with it."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('old', metavar='OLD', help='Current name.')
        parser.add_argument('new', metavar='NEW', help='New name.')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        contexts.check_name(parsed_args.old)
        contexts.check_name(parsed_args.new)
        _not_local(parsed_args.old, 'renamed')
        _not_local(parsed_args.new, 'the new name of another')

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        old, new = parsed_args.old, parsed_args.new
        _existing(context, old)
        context.reresolve()     # changing contexts makes no other one
        with context.update_config() as config:
            if new in config.contexts():
                raise errors.UsageError(
                    f"A context named '{new}' already exists",
                    'Choose another name.')
            config.rename_context(old, new)
        context.reresolve()
        context.history.record('context rename', jti=None,
                               outcome='renamed',
                               detail=f'context {old} is now {new}')
        self.report(f"Context '{old}' renamed to '{new}'.\n")
        return 0


class DeleteContext(command.Command):
    """Delete a context and the sign-in and tokens stored for it.

    With --revoke, its stored workspace tokens are revoked at its endpoint
    first (nothing is deleted if that fails).
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('name', metavar='NAME', help='Context name.')
        parser.add_argument(
            '--revoke', action='store_true', default=False,
            help='First revoke its stored workspace tokens at its endpoint.')
        parser.add_argument('--force', action='store_true', default=False,
                            help='Do not ask for confirmation.')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        contexts.check_name(parsed_args.name)
        _not_local(parsed_args.name, 'deleted')

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        name = parsed_args.name
        entry = _existing(context, name)
        if not parsed_args.force:
            prompt.confirm(self.app, f"Delete context '{name}' "
                                     f"({entry['endpoint']}) and the "
                                     'credentials stored for it?')
        if parsed_args.revoke:
            target = context.of(name)
            try:    # pending revocations are retried on the way
                Logout._revoke_stored(target, target.endpoint)
            finally:
                target.close()
        with context.store.transaction() as creds:
            dropped = creds.pending_revocations(entry['key'])
            creds.forget_endpoint(entry['key'])
        context.reresolve()     # changing contexts makes no other one
        with context.update_config() as config:
            config.remove_context(name)
        context.reresolve()
        for pending in dropped:
            context.warn(f'the revocation of token {pending.jti} was still '
                         'pending and is dropped: that token stays valid '
                         'until it expires')
        context.history.record('context delete', jti=None,
                               outcome='deleted', endpoint=entry['endpoint'],
                               detail=f'context {name}')
        self.report(f"Context '{name}' deleted, with the "
                    'credentials stored for it.\n')
        return 0
