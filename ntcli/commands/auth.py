"""``auth login|status|token|logout``.

:mod:`ntcli.signin` and :mod:`ntcli.loopback` are imported by the commands
that sign in or out through an identity provider, not with this module,
which ``ntcli --help`` loads: they cost 321 ms and 30 ms (``python -X
importtime``, on a loaded machine).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
from urllib.parse import urlsplit

from ntcli import command, errors, revocations, tokeninfo
from ntcli.commands import ci_login
from ntcli.context import choose_bearer
from ntcli.credentials import StoredToken
from ntcli.tokeninfo import token_claims
from ntcli_core import timefmt
from ntcli_core.terminal import escape
from ntcli_core.tokens import MAX_TOKEN_LENGTH, TOKEN_PREFIX

_NO_SECRET_HINT = 'Pipe it on stdin or type it at the prompt.'


def read_secret(app, prompt: str) -> str:
    """A secret from stdin (piped) or a prompt that does not echo: one
    line of at most MAX_TOKEN_LENGTH characters, without control
    characters; anything else is refused before it is sent anywhere."""
    if app.stdin.isatty():
        try:
            value = getpass.getpass(prompt, stream=app.stderr)
        except EOFError:        # Ctrl-D at the prompt
            app.stderr.write('\n')
            raise errors.UsageError('No credential given',
                                    _NO_SECRET_HINT) from None
    else:
        # bounded: a credential is one short line, not a file to slurp
        value = app.stdin.read(MAX_TOKEN_LENGTH + 3)
    return check_secret(value)


def check_secret(value: str) -> str:
    """``value`` without surrounding blanks, if it can be a credential."""
    value = value.strip()
    if len(value) > MAX_TOKEN_LENGTH:
        raise errors.UsageError(
            f'The credential is longer than {MAX_TOKEN_LENGTH} characters',
            'Give the credential alone, on one line.')
    if '\n' in value or '\r' in value:
        raise errors.UsageError(
            'The credential holds several lines',
            'Give the credential alone, on one line.')
    if not value.isprintable() or ' ' in value:
        raise errors.UsageError(
            'The credential holds spaces or control characters',
            'Give the credential alone, on one line, as it was issued.')
    return value


def is_cleartext(url: str) -> bool:
    """True for an ``http://`` URL whose host is not a loopback address:
    what is sent to it can be read on the way."""
    parts = urlsplit(url)
    if parts.scheme != 'http':
        return False
    host = parts.hostname or ''
    if host == 'localhost':
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _wait(text: str) -> int:
    """An argparse type: seconds from 10 to 3600."""
    try:
        seconds = int(text)
    except ValueError:
        seconds = 0
    if not 10 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a whole number of seconds from 10 to 3600")
    return seconds


class Login(command.Command):
    """Sign in to the endpoint, or store a user credential or a token.

    When the endpoint trusts an identity provider, you sign in there: in a
    browser on this machine when one can be opened (or --web), otherwise
    with a code you approve in a browser anywhere (--device; over SSH, in a
    container). The session this opens is stored encrypted and renewed
    while the provider vouches for you. A credential or workspace token is
    read from standard input when it is piped (or --token), otherwise from
    a prompt that does not echo it, when the endpoint has no provider.
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        how = parser.add_mutually_exclusive_group()
        how.add_argument(
            '--token', metavar='SECRET', default=None,
            help='The credential on the command line (discouraged: it lands '
                 'in shell history and the process list).')
        how.add_argument(
            '--web', action='store_true',
            help="Sign in through the endpoint's identity provider in a "
                 'browser on this machine (the default where one can be '
                 'opened).')
        how.add_argument(
            '--device', action='store_true',
            help="Sign in through the endpoint's identity provider with a "
                 'code approved in a browser on any device (the default '
                 'over SSH or without a display).')
        parser.add_argument(
            '--wait', metavar='SECONDS', type=_wait, default=300,
            help='How long a browser sign-in waits for the provider '
                 '(default 300).')
        ci_login.add_arguments(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        if ci_login.wanted(parsed_args):
            return ci_login.login(self, parsed_args)
        context = self._context
        endpoint = context.endpoint
        if endpoint.embedded:
            self.report('The embedded endpoint needs no login; '
                        'ntcli token refresh works as it is.\n')
            return 0
        if parsed_args.web or parsed_args.device:
            return self._sign_in(parsed_args, self._provider(required=True))
        if parsed_args.token:
            context.warn('a secret given with --token lands in your shell '
                          'history; prefer piping it on stdin.')
            secret = check_secret(parsed_args.token)
        elif not self.app.stdin.isatty():
            secret = read_secret(self.app, '')
        else:
            secret = None
        if not secret:
            # nothing pasted: sign in where the endpoint has a provider
            provider = self._provider(required=False)
            if provider is not None:
                return self._sign_in(parsed_args, provider)
        if secret is None:
            secret = read_secret(self.app, 'User credential or workspace '
                                           'token: ')
        if not secret:
            raise errors.UsageError('No credential given', _NO_SECRET_HINT)
        if is_cleartext(endpoint.url):
            context.warn(f'{endpoint.url} is plain http: the credential is '
                         'sent unencrypted and can be read on the way; use '
                         'https:// for anything but a loopback address.')
        if secret.startswith(TOKEN_PREFIX):
            try:
                checked = endpoint.validate_token(secret)
            except errors.TokenRejected as exc:
                raise errors.AuthenticationRequired(
                    f'The workspace token was not accepted by {endpoint.url}:'
                    f' {exc.message.lower()}',
                    'Get a valid token, or log in with a user credential.'
                ) from exc
            claims = token_claims(secret)
            with context.store.transaction() as creds:
                key = context.credentials_key
                replaced = creds.get_token(key, checked.workspace_id)
                creds.set_token(key, checked.workspace_id,
                                StoredToken(secret, checked.jti,
                                            checked.workspace_id,
                                            claims.get('iat'),
                                            checked.expires_at))
            if replaced is not None and replaced.jti != checked.jti:
                context.warn(f'this replaces the stored token {replaced.jti}, '
                             'which stays valid: revoke it with ntcli token '
                             f'revoke {replaced.jti} if nothing else uses '
                             'it.')
            with context.update_config() as config:
                known = {v: k for k, v in config.known_workspaces(
                    context.context_name).items()}
                config.select_workspace(
                    context.context_name, checked.workspace_id,
                    known.get(checked.workspace_id, checked.workspace_id))
            context.history.record('login', jti=checked.jti,
                                   outcome='workspace token stored',
                                   workspace_id=checked.workspace_id,
                                   endpoint=endpoint.key)
            self.report(
                f'Logged in to {endpoint.url} with a token of workspace '
                f'{checked.workspace_id}.\n')
            return 0
        try:
            workspaces = endpoint.list_workspaces(secret)
        except errors.SignInRequired:
            raise           # the server admits people through its provider
        except errors.AuthenticationRequired as exc:
            raise errors.AuthenticationRequired(
                f'The credential was not accepted by {endpoint.url}',
                'Check it, or ask the administrator of the server for a new '
                'one (ntcli-server user create).') from exc
        with context.store.transaction() as creds:
            creds.set_user_credential(context.credentials_key, secret)
        context.history.record('login', jti=None,
                               outcome='user credential stored',
                               endpoint=endpoint.key)
        self.report(
            f'Logged in to {endpoint.url} with a user credential '
            f'({len(workspaces)} workspace(s) visible).\n')
        self._remember(workspaces)
        return 0

    def _remember(self, workspaces: list) -> None:
        """Note the workspaces the user sees; select the only one."""
        context = self._context
        chosen = None
        with context.update_config() as config:
            for workspace in workspaces:
                config.remember_workspace(context.context_name, workspace.id,
                                          workspace.name)
            selected = config.active_workspace(context.context_name)
            if selected is None and len(workspaces) == 1:
                chosen = selected = workspaces[0].id
                config.select_workspace(context.context_name, chosen,
                                        workspaces[0].name)
        if chosen is not None:
            self.report(
                f"Workspace '{workspaces[0].name}' selected.\n")
        elif workspaces and selected is None:
            self.report("Select one with 'ntcli workspace select NAME'.\n")

    def _provider(self, *, required: bool):
        """The identity provider the endpoint trusts, or None."""
        endpoint = self._context.endpoint
        providers = endpoint.sign_in_providers()
        if not providers:
            if required:
                raise errors.UsageError(
                    f'{endpoint.url} has no identity provider to sign in '
                    'with', 'Log in with a user credential: ntcli auth '
                            'login (and paste it).')
            return None
        return providers[0]

    def _sign_in(self, parsed_args: argparse.Namespace, provider) -> int:
        """Sign in through ``provider``; store the session."""
        from ntcli import loopback, signin
        context = self._context
        endpoint = context.endpoint
        browser = parsed_args.web or (not parsed_args.device
                                      and loopback.can_open_browser())
        record, created = signin.sign_in(context, provider, browser=browser,
                                         wait=parsed_args.wait)
        context.history.record(
            'login', jti=None,
            outcome=f'signed in through {record.issuer}',
            endpoint=endpoint.key)
        who = escape(record.user_name)
        through = escape(f'{record.email} at {record.issuer}'
                         if record.email else record.issuer)
        self.report(
            f'Signed in to {endpoint.url} as {who} ({through}).\n')
        if created:
            self.report(f'The server created the user {who} for '
                        'you.\n')
        renewal = (f'renewed while {escape(record.issuer)} vouches for you'
                   if record.refresh_token else
                   'not renewable: sign in again then')
        self.report(
            f'Session valid until {timefmt.iso(record.expires_at)}; '
            f'{renewal}.\n')
        self._remember(endpoint.list_workspaces(
            context.user_credential()))
        return 0


class Status(command.ShowEach):
    """Show the context and why it is in force, its endpoint, workspace,
    token status and where secrets live (--all: for every context).

    Exits 1 when the stored credentials cannot be read, and, as ``gh auth
    status`` does, when a remote endpoint has no credential to use (not
    with --all, which lists contexts whatever their state).
    """

    fields = dict.fromkeys((
        'context', 'context_source', 'endpoint', 'embedded',
        'user_credential', 'who', 'identity_provider', 'session_expires',
        'workspace', 'workspace_id', 'token_jti', 'token_status',
        'token_source', 'credentials_file', 'key_source', 'config_dir'))

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--all', action='store_true', default=False,
            help='Every context: who is signed in and the state of its '
                 'token (each endpoint is asked, within --timeout).')
        return parser

    def run(self, parsed_args: argparse.Namespace) -> int:
        self._unreadable = self._logged_out = False
        code = super().run(parsed_args)
        # everything was shown, but no command can use these credentials
        failed = self._unreadable or (self._logged_out
                                      and not parsed_args.all)
        return 1 if failed and code == 0 else code

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        if not parsed_args.all:
            row = self._status(context)
            return tuple(row), [tuple(row.values())]
        in_force = context.named.name
        rows = []
        for name in sorted(context.config.contexts()):
            if name == in_force:
                rows.append(self._status(context))
                continue
            other = context.of(name, look=True)   # a look changes nothing
            try:
                rows.append(self._status(other))
            finally:
                other.close()
        return tuple(rows[0]), [tuple(row.values()) for row in rows]

    def _status(self, context) -> dict:
        """The status of the context in force of ``context``."""
        endpoint = context.endpoint
        named = context.named
        data = {'context': named.name,
                'context_source': '; '.join((named.reason, *named.notes))
                if not context.one_of_several else 'not in force here',
                'endpoint': endpoint.url, 'embedded': endpoint.embedded}
        try:
            data.update(self._secrets(context, endpoint))
        except errors.CredentialStoreError as exc:
            # the diagnostic command still says where everything is
            self._unreadable = True
            context.warn(exc.message + (f' ({exc.hint})' if exc.hint else ''))
            data.update(user_credential='unknown (credentials unreadable)',
                        token_status='unknown (credentials unreadable)')
        data['credentials_file'] = context.store.path
        data['key_source'] = context.store.describe_key()
        data['config_dir'] = context.config_dir
        return {name: data.get(name) for name in self.fields}

    def _who(self, context, endpoint) -> str:
        """Whom the endpoint sees: the user, or the workspace token."""
        try:
            workspace_id = context.config.active_workspace(
                context.context_name)
            bearer = context.bearer(workspace_id)
            return endpoint.whoami(bearer)
        except errors.AuthenticationRequired:
            self._logged_out = True
            return 'nobody (run ntcli auth login)'
        except errors.NtcliError as exc:
            return f'unknown ({exc.message})'

    def _secrets(self, context, endpoint) -> dict:
        """Who is logged in, the workspace and its token's status."""
        data: dict[str, str | None] = {
            'user_credential': 'not needed' if endpoint.embedded
            else 'stored' if context.user_credential() else 'none'}
        data['who'] = self._who(context, endpoint)
        record = None if endpoint.embedded else \
            context.store.read().get_sign_in(
                context.credentials_key)
        if record is not None:
            data['user_credential'] = 'session (signed in)'
            data['identity_provider'] = (
                f'{record.email or record.subject} at {record.issuer}')
            data['session_expires'] = timefmt.iso(record.expires_at)
        else:
            data['identity_provider'] = data['session_expires'] = None
        if context.embedded_database_missing():
            # nothing to look at, and a look creates nothing
            data['workspace'] = 'default (made by the first token command)'
            data['workspace_id'] = None
            data['token_status'] = 'no token (run ntcli token refresh)'
            return data
        try:
            workspace = context.workspace
            data['workspace'] = workspace.name
            data['workspace_id'] = workspace.id
        except errors.NoWorkspaceSelected:
            data['workspace'] = data['workspace_id'] = None
        except errors.NtcliError as exc:    # a name the endpoint must tell
            data['workspace'] = f'unknown ({exc.message})'
            data['workspace_id'] = None
        if data['workspace_id']:
            try:
                info = tokeninfo.describe_current(context)
                data['token_jti'] = info['jti']
                data['token_status'] = info['status'] + (
                    '' if info['verified'] else ' (not verified)')
                data['token_source'] = info['source']
            except errors.AuthenticationRequired:
                data['token_jti'] = None
                data['token_status'] = 'no token (run ntcli token refresh)'
                data['token_source'] = None
        return data


class PrintToken(command.Command):
    """Print the workspace token ntcli would use, for a script.

    That is NTCLI_TOKEN when it is set, else the stored token of the
    workspace, as ``token exec`` gives it to a program (one known to have
    expired is refused); exits non-zero when there is none. As ``gh auth
    token``, it prints the secret alone: keep it out of logs.
    """

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self.app.stdout.write(tokeninfo.usable_token(self._context) + '\n')
        return 0


class Logout(command.Command):
    """Remove the local credentials for the endpoint."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--revoke', action='store_true', default=False,
            help='First revoke the stored workspace tokens at the endpoint.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        try:
            context.store.read()
        except errors.KeyUnavailable:
            raise       # intact credentials whose key is locked away
        except errors.CredentialStoreError as exc:
            moved = context.store.quarantine()
            context.warn(exc.message)
            self.report(
                f'The unreadable credentials file was moved to {moved}; '
                'you are logged out and can start over.\n')
            return 0
        endpoint = context.endpoint
        if parsed_args.revoke:
            self._revoke_stored(context, endpoint)
        creds = context.store.read()
        record = None if endpoint.embedded else \
            creds.get_sign_in(context.credentials_key)
        session = creds.get_user_credential(
            context.credentials_key)
        if record is not None and session:
            from ntcli import signin
            for problem in signin.sign_out(context, record, session):
                context.warn(problem)
        with context.store.transaction() as creds:
            # a pending revocation still carries its own token and is
            # retried later: logging out must not let an old token live on
            creds.forget_endpoint(context.credentials_key,
                                  keep_pending_revocations=True)
        context.history.record('logout', jti=None, outcome='logged out',
                               endpoint=endpoint.key)
        ended = ('session ended, ' if record is not None else '')
        self.report(f'Logged out of {endpoint.url}: {ended}local '
                    'credentials removed.\n')
        return 0

    @staticmethod
    def _revoke_stored(context, endpoint) -> None:
        creds = context.store.read()
        user = creds.get_user_credential(context.credentials_key)
        stored_tokens = creds.tokens(context.credentials_key)
        for workspace_id, stored in stored_tokens.items():
            bearer = choose_bearer(endpoint.embedded, context.env_token(),
                                   user, stored.token)
            _, failure = revocations.revoke_quietly(endpoint, bearer,
                                                    workspace_id, stored.jti)
            if failure:
                raise errors.EndpointError(
                    f'Could not revoke token {stored.jti}: {failure}',
                    'Nothing was removed. Try again, or log out without '
                    '--revoke to remove the local credentials only.')
            context.history.record('revoke', jti=stored.jti,
                                   outcome='revoked at logout',
                                   workspace_id=workspace_id,
                                   endpoint=endpoint.key)
