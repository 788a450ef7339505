"""``token list``: the tokens of the workspace."""

from __future__ import annotations

import argparse

from ntcli import command
from ntcli.columns import CheckColumn, ScopeColumn, TextColumn, TimeColumn
from ntcli_core import durations, timefmt
from ntcli_token_plugin import common, expiry


def _status_text(status: str, revoked_at: int | None, now: int) -> str:
    """A token's status for people: ``Retiring until …`` for a token in the
    grace period of a rotation (valid until then)."""
    if status == 'active' and revoked_at is not None and revoked_at > now:
        return f'Retiring until {timefmt.human(revoked_at)}'
    return common.STATUS_TEXT.get(status, status)


class ListTokens(command.Lister):
    """List the tokens of the workspace (✓ marks the stored one)."""

    fields = dict.fromkeys(('JTI', 'Created', 'Expires', 'Current', 'Scope',
                            'Description'))
    long_columns = ('Created', 'Scope', 'Description')

    def declared_fields(self, parsed_args: argparse.Namespace
                        ) -> command.Fields:
        if parsed_args.show_expired or getattr(parsed_args,
                                               'expiring_within', None):
            return dict(self.fields, Status=None)
        return self.fields

    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        when = parser.add_mutually_exclusive_group()
        when.add_argument(
            '--show-expired', action='store_true', default=False,
            help='Include expired and revoked tokens, with a Status column.')
        when.add_argument(
            '--expiring-within', metavar='DURATION', default=None,
            help='Only the valid tokens that expire within DURATION (as '
                 '--expires-in: 604800, 7d), soonest first, with a Status '
                 'column.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self.context
        window = None
        if parsed_args.expiring_within is not None:
            window = expiry.parse_window(parsed_args.expiring_within,
                                         '--expiring-within')
        workspace = context.workspace
        bearer = context.bearer(workspace.id)
        records = context.endpoint.list_tokens(
            bearer, workspace.id, include_expired=parsed_args.show_expired,
            include_revoked=parsed_args.show_expired)
        now = context.now()
        if window is not None:
            records = sorted(
                (r for r in records if r.status == 'active'
                 and r.expires_at is not None
                 and r.expires_at - now <= window),
                key=lambda r: (r.expires_at, r.jti))
        stored = context.stored_token(workspace.id)
        current = stored.jti if stored else None
        columns = tuple(self.declared_fields(parsed_args))
        rows = []
        retiring = []
        for record in records:
            status = _status_text(record.status, record.revoked_at, now)
            if status.startswith('Retiring'):
                retiring.append(f'{record.jti} r{status[1:]}')
            row = {'JTI': record.jti, 'Created': TimeColumn(record.created_at),
                   'Expires': TimeColumn(record.expires_at),
                   'Current': CheckColumn(record.jti == current),
                   'Scope': ScopeColumn(record.scope),
                   'Description': TextColumn(record.description),
                   'Status': status}
            rows.append([row[name] for name in columns])
        if retiring and 'Status' not in columns:
            # the default columns say nothing of a grace period: this does
            context.warn(f"{'; '.join(retiring)} (grace period of a "
                         "refresh); 'ntcli token list --show-expired' shows "
                         'every state.')
        if not rows and window is not None:
            context.warn(f"no token in workspace '{workspace.name}' expires "
                         f'within {durations.describe(window)}.')
        elif not rows:
            context.warn(f"no tokens in workspace '{workspace.name}'. Run "
                         "'ntcli token refresh' to create one.")
        return columns, rows
