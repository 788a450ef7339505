"""``token refresh``: rotate the stored workspace token."""

from __future__ import annotations

import argparse
from typing import Any

from ntcli import command, rotation
from ntcli.context import PluginContext
from ntcli_core import durations, scopes, timefmt
from ntcli_token_plugin import common, expiry, scope_option


def _listed(scope: tuple[str, ...] | None) -> list[str] | None:
    return None if scope is None else list(scope)


def _warn_cannot_refresh_itself(context: PluginContext,
                                scope: tuple[str, ...] | None) -> None:
    if scope is None or scopes.allows(scope, 'tokens', scopes.WRITE) or \
            context.endpoint.embedded or context.user_credential():
        return
    context.warn("the new token does not hold tokens:write, so it cannot "
                 "refresh itself: the next 'ntcli token refresh' needs a "
                 "user credential ('ntcli auth login').")



class RefreshToken(command.ShowOne):
    """Rotate the workspace token: issue a new one, store it, revoke the old.

    The new token is stored (encrypted) before the old one is revoked, so a
    failure at any point leaves a stored token that works.
    """

    fields = {'new_token': ('jti', 'expires_at'),
              'old_token': ('jti', 'revoked_at', 'revocation_pending'),
              'message': None}

    def declared_fields(self, parsed_args: argparse.Namespace
                        ) -> command.Fields:
        if parsed_args.if_expires_within is not None:
            # the columns of a token kept as it is, too
            return dict(self.fields, refreshed=None, jti=None,
                        expires_at=None)
        return self.fields

    reports_action = True     # -q: no report
    finishes_pending_work = True

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        expiry.add_arguments(parser)
        parser.add_argument(
            '--if-expires-within', metavar='DURATION', default=None,
            help='Rotate only if the stored token expires within DURATION '
                 '(as --expires-in: 604800, 7d) or is no longer valid; '
                 'otherwise change nothing, say so, and exit 0. Safe to '
                 'run from cron as often as you like.')
        scope_option.add_argument(
            parser, "the stored token's scopes (every scope for the first "
                    'token); more than it holds needs a user credential')
        parser.add_argument(
            '--grace', metavar='DURATION', default=None,
            help='Keep the old token valid for DURATION (seconds or 15m, '
                 '24h, 7d; at most 7 days) after the new one is stored, so '
                 'that programs sharing it can switch without downtime; the '
                 'endpoint revokes it then, even if ntcli never runs again. '
                 'Default: revoke it at once.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        now = self.context.now()
        lifetime = expiry.from_args(parsed_args, now)
        window = expiry.refresh_window(parsed_args.if_expires_within,
                                       '--if-expires-within', lifetime, now)
        grace = expiry.parse_grace(parsed_args.grace)
        wanted = scope_option.from_args(parsed_args)
        result = rotation.rotate_token(self.context, lifetime, scope=wanted,
                                       if_expires_within=window, grace=grace)
        if isinstance(result, rotation.Kept):
            if wanted is not None and result.scope != wanted:
                self.context.warn(
                    f"the token was not refreshed, so --scope "
                    f"{','.join(scopes.compact(wanted))} was not applied: "
                    'it keeps '
                    f'{common.scope_text(_listed(result.scope))}. Run it '
                    'without --if-expires-within to apply --scope now.')
            return self._kept(result, window)
        self._done = result
        common.warn_no_expiry(self.context, lifetime)
        _warn_cannot_refresh_itself(self.context, result.new_scope)
        old: dict[str, object] | None = None
        if result.old_jti:
            old = {'jti': result.old_jti,
                   'revoked_at': timefmt.iso(result.old_revoked_at)}
            if result.revocation_pending:
                old['revocation_pending'] = True
        return (('new_token', 'old_token', 'message'),
                ({'jti': result.new_jti,
                  'expires_at': timefmt.iso(result.new_expires_at)},
                 old, 'Token refreshed successfully'))

    def done_summary(self) -> str | None:
        result = getattr(self, '_done', None)
        if result is None:
            return None
        if result.old_jti is None:
            old = 'no old token to revoke'
        elif result.revocation_pending:
            old = f'revocation of old token {result.old_jti} pending'
        elif result.old_retiring:
            old = (f'old token {result.old_jti} valid until '
                   f'{timefmt.iso(result.old_revoked_at)}')
        else:
            old = f'old token {result.old_jti} revoked'
        return (f'Token refreshed and stored (new token {result.new_jti}; '
                f'{old})')

    @staticmethod
    def _kept(kept: rotation.Kept, window: int | None) -> tuple:
        until = 'does not expire' if kept.expires_at is None else \
            f'does not expire within {durations.describe(window or 0)}'
        return (('refreshed', 'jti', 'expires_at', 'message'),
                (False, kept.jti, timefmt.iso(kept.expires_at),
                 f'Token not refreshed: it is valid and {until}'))

    def format_text(self, data: dict[str, Any]) -> list[str]:
        if 'refreshed' in data:
            return [f"{data['message']}.",
                    f"Token JTI: {data['jti']}",
                    f"Token expires: {data['expires_at'] or 'never'}"]
        old = data['old_token']
        if old is None:
            old_line = ('No previous token was stored; there was none to '
                        'revoke.')
        elif old.get('revocation_pending'):
            old_line = (f"Old token ({old['jti']}) could not be revoked yet; "
                        'the revocation will be retried.')
        elif old['revoked_at'] and \
                timefmt.parse_iso(old['revoked_at']) > self.context.now():
            old_line = (f"Old token ({old['jti']}) stays valid until "
                        f"{old['revoked_at']} (grace period), then it is "
                        'revoked.')
        else:
            old_line = f"Old token ({old['jti']}) has been revoked."
        return ['Token refreshed successfully.', old_line,
                'New token expires: '
                f"{data['new_token']['expires_at'] or 'never'}",
                f"New token JTI: {data['new_token']['jti']}"]
