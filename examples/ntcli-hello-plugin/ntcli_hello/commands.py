"""The ``hello`` commands: a small, complete ntcli plugin.

It uses ntcli's public plugin API only: the base classes of
:mod:`ntcli.command`, ``self.context`` (the workspace, the endpoint, the
stored token, warnings) and the errors of :mod:`ntcli.errors`. ntcli turns
those errors into one or two lines on stderr and an exit status.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from cliff import columns

from ntcli import command, errors

MAX_NAME_LENGTH = 64
SECONDS_PER_DAY = 86400


def check_name(name: str) -> str:
    """The name to greet, trimmed; a usage error (exit 2) if unusable."""
    trimmed = name.strip()
    if not trimmed or len(trimmed) > MAX_NAME_LENGTH \
            or not trimmed.isprintable():
        raise errors.UsageError(
            f'Invalid name {name!r}',
            f'Give 1 to {MAX_NAME_LENGTH} printable characters, '
            'e.g. --name Ada.')
    return trimmed


def days_left(expires_at: int | None, now: float) -> int | None:
    """Whole days until ``expires_at``, rounded up; None if it never
    expires."""
    if expires_at is None:
        return None
    return max(0, -int((now - expires_at) // SECONDS_PER_DAY))


class DaysLeft(columns.FormattableColumn[int | None]):
    """Days until expiry: ``never`` for people, a number or null for
    machines."""

    def human_readable(self) -> str:
        return 'never' if self._value is None else str(self._value)

    def machine_readable(self) -> int | None:  # type: ignore[override]
        return self._value


class Hello(command.ShowOne):
    """Greet, and show the workspace and whether a token is stored for it."""

    # The columns, declared once: take_action returns them in this order,
    # and -c, --sort-column and shell completion offer them.
    fields = dict.fromkeys(('greeting', 'workspace', 'workspace_id',
                            'endpoint', 'token_stored', 'token_jti'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--name', metavar='NAME', default='world',
            help='Who to greet (default: world).')
        parser.add_argument(
            '--require-token', action='store_true', default=False,
            help='Fail (exit status 1) when no token is stored for the '
                 'workspace.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        name = check_name(parsed_args.name)
        context = self.context
        workspace = context.workspace
        stored = context.stored_token(workspace.id)
        if stored is None and parsed_args.require_token:
            raise errors.NtcliError(
                f"No token is stored for workspace '{workspace.name}'",
                "Run 'ntcli token refresh' to get one.")
        return (tuple(self.fields),
                (f'Hello, {name}!', workspace.name, workspace.id,
                 context.endpoint.url, stored is not None,
                 stored.jti if stored else None))

    def format_text(self, data: dict[str, Any]) -> list[str]:
        token = data['token_jti'] or (
            "none (run 'ntcli token refresh' to get one)")
        return [data['greeting'],
                f"Workspace:     {data['workspace']} "
                f"({data['workspace_id']})",
                f"Endpoint:      {data['endpoint']}",
                f'Stored token:  {token}']


class HelloTokens(command.Lister):
    """List the workspace's live tokens and the days each has left."""

    fields = dict.fromkeys(('JTI', 'Days left'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--within', metavar='DAYS', type=int, default=None,
            help='Only tokens that expire within DAYS days.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        within = parsed_args.within
        if within is not None and within < 0:
            raise errors.UsageError(
                f'Invalid number of days: {within}',
                'Give 0 or more days, e.g. --within 30.')
        context = self.context
        workspace = context.workspace
        records = context.endpoint.list_tokens(
            context.bearer(workspace.id), workspace.id)
        now = time.time()
        rows = []
        for record in records:
            days = days_left(record.expires_at, now)
            if within is None or (days is not None and days <= within):
                rows.append((record.jti, DaysLeft(days)))
        if not rows:
            # Warnings go to stderr, so machine formats stay parseable.
            context.warn(f"no matching tokens in workspace "
                         f"'{workspace.name}'.")
        return tuple(self.fields), rows
