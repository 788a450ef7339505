"""The ``token`` commands: refresh, show, create, list, revoke, exec."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from ntcli import command, errors, faults
from ntcli_core import timefmt

if TYPE_CHECKING:
    from ntcli.context import Context
    from ntcli.credentials import PendingIssue
    from ntcli.endpoints import IssuedToken
    from ntcli_token_plugin import expiry, rotation

STATUS_TEXT = {'active': 'Active', 'expired': 'Expired',
               'revoked': 'Revoked', 'invalid': 'Invalid'}


def _warn_no_expiry(context: Context, lifetime: expiry.Expiry) -> None:
    if lifetime.never:
        context.warn('this token never expires; revoke it when it is no '
                     'longer needed.')


def _warn_cannot_refresh_itself(context: Any,
                                scope: tuple[str, ...] | None) -> None:
    from ntcli_core import scopes
    if scope is None or scopes.allows(scope, 'tokens', scopes.WRITE) or \
            context.endpoint.embedded or context.user_credential():
        return
    context.warn("the new token does not hold tokens:write, so it cannot "
                 "refresh itself: the next 'ntcli token refresh' needs a "
                 "user credential ('ntcli auth login').")


def _scope_text(scope: list[str] | None) -> str:
    """Scopes for people: a write stands for its read too."""
    from ntcli_core import scopes
    return ' '.join(scopes.compact(scope)) if scope is not None \
        else 'unknown'


def _refresh_window(text: str | None, option: str,
                    lifetime: expiry.Expiry, now: int) -> int | None:
    """The window of a conditional refresh, checked against the lifetime
    of the token it would issue; None when ``option`` was not given."""
    if text is None:
        return None
    from ntcli_token_plugin import expiry
    window = expiry.parse_window(text, option)
    expiry.check_outlasts(lifetime, window, option, now)
    return window


class RefreshToken(command.ShowOne):
    """Rotate the workspace token: issue a new one, store it, revoke the old.

    The new token is stored (encrypted) before the old one is revoked, so a
    failure at any point leaves a stored token that works.
    """

    reports_action = True     # -q: no report

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

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        # imported here, not at the top: 'token show' does not need it
        # (its dataclass and regular expression cost about 1.5 ms)
        from ntcli_token_plugin import expiry, scope_option
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
        from ntcli_token_plugin import expiry, rotation, scope_option
        now = self.context.now()
        lifetime = expiry.from_args(parsed_args, now)
        window = _refresh_window(parsed_args.if_expires_within,
                                 '--if-expires-within', lifetime, now)
        grace = expiry.parse_grace(parsed_args.grace)
        wanted = scope_option.from_args(parsed_args)
        result = rotation.rotate_token(self.context, lifetime, scope=wanted,
                                       if_expires_within=window, grace=grace)
        if isinstance(result, rotation.Kept):
            return self._kept(result, window)
        self._done = result
        _warn_no_expiry(self.context, lifetime)
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
        from ntcli_token_plugin import expiry
        until = 'does not expire' if kept.expires_at is None else \
            f'does not expire within {expiry.describe_window(window or 0)}'
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


class ShowToken(command.ShowOne):
    """Show the stored token of the workspace and whether it is valid."""

    fields = dict.fromkeys((
        'jti', 'created_at', 'expires_at', 'status', 'workspace_id',
        'is_valid', 'days_until_expiry', 'retiring_until', 'scope',
        'verified', 'source', 'message', 'token'))

    _check_status = 0

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        from ntcli_token_plugin import check
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
        from ntcli import tokeninfo
        window = None
        if isinstance(parsed_args.check, str):
            from ntcli_token_plugin import expiry
            window = expiry.parse_window(parsed_args.check, '--check')
        try:
            info = tokeninfo.describe_current(self.context)
        except errors.NoStoredToken as exc:
            if parsed_args.check is not None:
                from ntcli_token_plugin import check
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
        from ntcli_token_plugin import check
        status = check.exit_status(info, window, self.context.now())
        if status == check.EXPIRING:
            from ntcli_token_plugin import expiry
            within = expiry.describe_window(window or 0)
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
        status = STATUS_TEXT.get(data['status'], data['status'])
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
                 f"Scope:       {_scope_text(data.get('scope'))}"]
        if 'token' in data:
            lines.append(f"Token:       {data['token']}")
        lines.append('')
        lines.append(data['message'])
        return lines


class CreateToken(command.ShowOne):
    """Create an extra token for CI or automation (printed once, not stored).
    """

    fields = dict.fromkeys(('token', 'jti', 'expires_at', 'scope'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        # imported here, not at the top: 'token show' does not need it
        # (its dataclass and regular expression cost about 1.5 ms)
        from ntcli_core import scopes
        from ntcli_token_plugin import expiry, scope_option
        parser = super().get_parser(prog_name)
        expiry.add_arguments(parser)
        parser.add_argument(
            '--description', metavar='TEXT', default=None,
            help='What the token is for (shown by token list).')
        scope_option.add_argument(
            parser, f"{','.join(scopes.DEFAULT)}, the endpoint's default: "
                    'read-only unless asked')
        return parser

    def check_arguments(self, parsed_args: argparse.Namespace) -> None:
        super().check_arguments(parsed_args)
        command.check_description(parsed_args.description)
        if self.app.stdout_closed:
            raise errors.UsageError(
                'Refusing to create a token: standard output is closed, so '
                'nobody would ever see it',
                'Run it with standard output open (a terminal, a file or a '
                'pipe).')

    def run_checked(self, parsed_args: argparse.Namespace) -> int:
        # Output is part of the operation: a token that was not delivered
        # (stdout gone, disk full, Ctrl-C before it was written) is revoked.
        # The request was written down before it was sent (ntcli.issues):
        # it is forgotten once the token is delivered or revoked.
        from ntcli import issues
        from ntcli_token_plugin import delivery
        self._issued: IssuedToken | None = None
        self._bearer: str | None = None
        self._pending: PendingIssue | None = None
        try:
            status = super().run_checked(parsed_args)
        except BaseException as exc:
            if self._issued is None:
                raise
            error = delivery.revoke_undelivered(
                self.context, self._issued, self._bearer, exc)
            if self._pending is not None:
                issues.delivered(self.context, self._pending)
            raise error from None
        if self._pending is not None:
            issues.delivered(self.context, self._pending)
        return status

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        from ntcli import interrupt, issues
        from ntcli_token_plugin import expiry, scope_option
        context = self.context
        lifetime = expiry.from_args(parsed_args, context.now())
        wanted = scope_option.from_args(parsed_args)
        workspace = context.workspace
        self._bearer = context.bearer(workspace.id)
        self._pending = issues.begin(
            context, None, self._bearer, workspace.id, purpose='create',
            expires_in=lifetime.expires_in, expires_at=lifetime.expires_at,
            scope=wanted, description=parsed_args.description)
        with interrupt.deferred():  # a token issued is a token we know of
            self._issued = issued = issues.send(
                context, None, self._bearer, self._pending)
        faults.checkpoint('after-create')
        _warn_no_expiry(context, lifetime)
        context.history.record('create', jti=issued.jti, outcome='created',
                               workspace_id=workspace.id,
                               endpoint=context.endpoint.key)
        scope = None if issued.scope is None else list(issued.scope)
        return (tuple(self.fields),
                (issued.token, issued.jti, timefmt.iso(issued.expires_at),
                 scope))

    def format_text(self, data: dict[str, Any]) -> list[str]:
        return [f"New token created: {data['token']}",
                f"Token JTI: {data['jti']}",
                f"Expires: {data['expires_at'] or 'never'}",
                f"Scope: {_scope_text(data['scope'])}",
                '',
                'Store it now: it is not saved locally and cannot be shown '
                'again.']


def _status_text(status: str, revoked_at: int | None, now: int) -> str:
    """A token's status for people: ``Retiring until …`` for a token in the
    grace period of a rotation (valid until then)."""
    if status == 'active' and revoked_at is not None and revoked_at > now:
        return f'Retiring until {timefmt.human(revoked_at)}'
    return STATUS_TEXT.get(status, status)


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
        from ntcli.columns import (
            CheckColumn,
            ScopeColumn,
            TextColumn,
            TimeColumn,
        )
        context = self.context
        window = None
        if parsed_args.expiring_within is not None:
            from ntcli_token_plugin import expiry
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
            from ntcli_token_plugin import expiry
            context.warn(f"no token in workspace '{workspace.name}' expires "
                         f'within {expiry.describe_window(window)}.')
        elif not rows:
            context.warn(f"no tokens in workspace '{workspace.name}'. Run "
                         "'ntcli token refresh' to create one.")
        return columns, rows


class RevokeToken(command.ShowEach):
    """Revoke one or more tokens by JTI (asks first unless --force).

    Each JTI is revoked in turn; one that fails is reported and the others
    go on, and the command then fails with the count, as
    python-openstackclient's delete commands do.
    """

    reports_action = True     # -q: no report

    fields = dict.fromkeys(('jti', 'revoked_at', 'status'))

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
        from ntcli import prompt
        from ntcli.columns import RevocationColumn
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
                context.app.stderr.write(f'Token {jti} was already revoked.\n')
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


class ExecToken(command.Command):
    """Run a command with the workspace token in its environment.

    ntcli becomes the command (exec): its stdin, stdout, stderr, signals
    and exit status are the command's own. The token is in its environment
    only (NTCLI_TOKEN, or --env NAME): never in argv, on disk or in
    ntcli's output. NTCLI_KEY is removed from that environment. The
    lifetime options apply to the token a refresh issues.
    """

    # the program's options are its own, whatever argparse's version does
    # with '--': everything after it is parsed_args.command
    rest_after_double_dash = 'command'

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        from ntcli_token_plugin import expiry, launch
        parser = super().get_parser(prog_name)
        parser.usage = (
            '%(prog)s [-h] [--env NAME] [--refresh-if-expires-within '
            'DURATION] [--expires-in SECONDS | --expires-at TIME | '
            '--no-expiry] -- COMMAND [ARG ...]')
        parser.add_argument(
            '--env', metavar='NAME', default=launch.DEFAULT_ENV_NAME,
            help='Environment variable that carries the token (default '
                 f'{launch.DEFAULT_ENV_NAME}).')
        parser.add_argument(
            '--refresh-if-expires-within', metavar='DURATION', default=None,
            help='First rotate the stored token if it expires within '
                 'DURATION (as --expires-in: 604800, 7d) or is no longer '
                 'valid, as token refresh --if-expires-within does.')
        expiry.add_arguments(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        from ntcli_token_plugin import expiry, launch
        context = self.context
        if getattr(self.app, 'interactive_mode', False):
            raise errors.UsageError(
                'token exec cannot run inside the interactive shell: the '
                'command would replace it',
                'Run it from your own shell: ntcli token exec -- COMMAND')
        if not parsed_args.command:
            raise errors.UsageError(
                'No command to run',
                'Give it after --: ntcli token exec -- COMMAND [ARG ...]')
        name = launch.check_env_name(parsed_args.env)
        now = context.now()
        lifetime = expiry.from_args(parsed_args, now)
        window = _refresh_window(parsed_args.refresh_if_expires_within,
                                 '--refresh-if-expires-within', lifetime,
                                 now)
        if window is None and expiry.given_options(parsed_args):
            raise errors.UsageError(
                'The lifetime options apply only with '
                '--refresh-if-expires-within',
                'Add --refresh-if-expires-within DURATION, or drop them.')
        # found before anything changes: a typo must not rotate a token
        program = launch.find_program(parsed_args.command[0],
                                      os.environ.get('PATH'))
        if window is not None:
            self._refresh(lifetime, window)
        from ntcli import tokeninfo
        env = launch.child_environment(os.environ, name,
                                       tokeninfo.usable_token(context))
        context.close()
        launch.replace_process(program, parsed_args.command, env,
                               (self.app.stdout, self.app.stderr))
        return 1  # not reached: replace_process returns only by raising

    def _refresh(self, lifetime: expiry.Expiry, window: int) -> None:
        from ntcli_token_plugin import rotation
        result = rotation.rotate_token(self.context, lifetime,
                                       if_expires_within=window)
        if isinstance(result, rotation.Rotation):
            _warn_no_expiry(self.context, lifetime)
            self.app.stderr.write(
                f'Token refreshed: new token {result.new_jti} expires '
                f'{timefmt.iso(result.new_expires_at) or "never"}.\n')
