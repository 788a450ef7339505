"""``token show``: the stored token of the workspace and whether it is valid.

``ntcli_token_plugin.expiry`` is imported only with ``--check DURATION``:
its parsing is not needed to show a token (benchmarks/RESULTS.md, start-up).
"""

from __future__ import annotations

import argparse
from typing import Any

from ntcli import command, errors, tokeninfo
from ntcli_core import durations, timefmt
from ntcli_token_plugin import check, common


class ShowToken(command.ShowOne):
    """Show the stored token of the workspace and whether it is valid."""

    fields = dict.fromkeys((
        'jti', 'created_at', 'expires_at', 'status', 'workspace_id',
        'is_valid', 'days_until_expiry', 'retiring_until', 'scope',
        'verified', 'source', 'message', 'token'))

    _check_status = 0

    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--show-token', action='store_true', default=False,
            help='Also print the token value (it is secret: a warning goes '
                 'to stderr); -c token alone prints only the value.')
        parser.add_argument(
            '--check', metavar='DURATION', nargs='?', const=True,
            default=None,
            help='Exit 0 only if the token is valid and, with DURATION '
                 '(as --expires-in: 604800, 7d), does not expire within '
                 f'it; else {check.EXPIRING} expiring, {check.EXPIRED} '
                 f'expired, {check.REVOKED} revoked, {check.INVALID} '
                 f'invalid, {check.NO_TOKEN} no token, {check.UNVERIFIED} '
                 'endpoint unreachable (the documentation\'s page "Tokens '
                 'for machines"). Write '
                 '--check=DURATION or put it last.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        window = None
        if isinstance(parsed_args.check, str):
            from ntcli_token_plugin import expiry  # see the module doc
            window = expiry.parse_window(parsed_args.check, '--check')
        try:
            info = tokeninfo.describe_current(self.context)
        except errors.NoStoredToken as exc:
            if parsed_args.check is not None:
                exc.exit_code = check.NO_TOKEN
            raise
        if parsed_args.check is not None:
            self._check_status = self._check(info, window)
        asked = {c.lower() for c in parsed_args.columns or ()}
        if parsed_args.show_token or 'token' in asked:
            self.context.warn('the token below is a secret; do not share '
                              'it or paste it into logs.')
        else:
            info.pop('token', None)
        columns = [c for c in self.fields if c in info]
        return tuple(columns), tuple(info[c] for c in columns)

    def _check(self, info: dict[str, Any], window: int | None) -> int:
        status = check.exit_status(info, window, self.context.now())
        if status == check.EXPIRING:
            within = durations.describe(window or 0)
            if info.get('retiring_until'):
                self.context.warn(
                    f'the token stops working within {within}, at '
                    f"{info['retiring_until']}, when its grace period ends; "
                    'use the token that replaced it.')
            else:
                self.context.warn(
                    f'the token expires within {within}, at '
                    f"{info['expires_at']}; run 'ntcli token refresh'.")
        return status

    def run(self, parsed_args: argparse.Namespace) -> int:
        # with --check, the output is as without it; the status tells
        return super().run(parsed_args) or self._check_status

    def format_text(self, data: dict[str, Any]) -> list[str]:
        decoded = data['jti'] is not None

        def human(value: str | None, missing: str) -> str:
            if not decoded:
                return 'unknown'          # nothing could be read from it
            return timefmt.human(timefmt.parse_iso(value)) if value \
                else missing
        title = 'Workspace Token Information'
        status = common.STATUS_TEXT.get(data['status'], data['status'])
        if data.get('retiring_until'):
            status += (' (retiring until '
                       f"{human(data['retiring_until'], 'unknown')})")
        if not data['verified']:
            status += ' (not verified)'
        lines = [title, '─' * len(title),
                 f"JTI:         {data['jti'] or 'unknown'}",
                 f"Created:     {human(data['created_at'], 'unknown')}",
                 f"Expires:     {human(data['expires_at'], 'Never')}",
                 f'Status:      {status}',
                 f"Workspace:   {data['workspace_id']}",
                 f"Scope:       {common.scope_text(data.get('scope'))}"]
        if 'token' in data:
            lines.append(f"Token:       {data['token']}")
        lines.append('')
        lines.append(data['message'])
        return lines
