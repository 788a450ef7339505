"""``token revoke``: revoke tokens by JTI."""

from __future__ import annotations

import argparse
from typing import Any

from ntcli import command, errors, prompt
from ntcli.columns import RevocationColumn
from ntcli_core import timefmt


class RevokeToken(command.ShowEach):
    """Revoke one or more tokens by JTI (asks first unless --force).

    Each JTI is revoked in turn; one that fails is reported and the others
    go on, and the command then fails with the count, as
    python-openstackclient's delete commands do.
    """

    fields = dict.fromkeys(('jti', 'revoked_at', 'status'))

    reports_action = True     # -q: no report
    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('jti', metavar='JTI', nargs='+',
                            help='JTI of a token to revoke (several allowed).')
        parser.add_argument(
            '--force', action='store_true', default=False,
            help='Do not ask for confirmation (needed when stdin is not a '
                 'terminal).')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self.context
        jtis = list(dict.fromkeys(parsed_args.jti))
        if not parsed_args.force:
            prompt.confirm(self.app, f"Revoke {', '.join(jtis)}?")
        workspace = context.workspace
        bearer = context.bearer(workspace.id)
        stored = context.stored_token(workspace.id)
        rows = []
        failures: list[errors.NtcliError] = []
        for jti in jtis:
            try:
                revocation = context.endpoint.revoke_token(
                    bearer, workspace.id, jti)
            except errors.NtcliError as exc:
                if isinstance(exc, errors.TokenNotFound):
                    exc = errors.TokenNotFound(
                        f"Token with JTI '{jti}' not found",
                        "Run 'ntcli token list --show-expired' to see the "
                        'tokens of this workspace.')
                if len(jtis) > 1:
                    self.app.report_error(errors.NtcliError(
                        f"Failed to revoke token '{jti}': {exc.message}"))
                failures.append(exc)
                continue
            context.history.record(
                'revoke', jti=jti, workspace_id=workspace.id,
                endpoint=context.endpoint.key,
                outcome='already revoked' if revocation.already_revoked
                else 'revoked')
            if revocation.already_revoked and \
                    parsed_args.formatter != 'text':
                self.app.stderr.write(f'Token {jti} was already revoked.\n')
            if stored is not None and stored.jti == jti:
                context.warn('this was the stored token of the workspace; '
                             "run 'ntcli token refresh' to get a new one.")
            rows.append((jti, timefmt.iso(revocation.revoked_at),
                         RevocationColumn(revocation.already_revoked)))
        self._revoked = [row[0] for row in rows]
        if len(jtis) == 1 and failures:
            raise failures[0]
        if failures:
            raise errors.NtcliError(
                f'{len(failures)} of {len(jtis)} tokens failed to revoke',
                f"The other {len(rows)} {'was' if len(rows) == 1 else 'were'}"
                " revoked. Run 'ntcli token list --show-expired' to see the "
                'tokens of this workspace.' if rows else None)
        return tuple(self.fields), rows

    def done_summary(self) -> str | None:
        done = getattr(self, '_revoked', None)
        return f"Revoked {', '.join(done)}" if done else None

    def format_text(self, data: dict[str, Any]) -> list[str]:
        if data['status'].human_readable() == 'already revoked':
            return [f"Token {data['jti']} was already revoked "
                    f"(at {data['revoked_at']})."]
        return [f"Token {data['jti']} revoked successfully."]
