"""``ntcli auth login --ci``: a CI job signs in with its own identity.

The job's OIDC ID token (see :mod:`ntcli.ci` for where it comes from) is
exchanged at the endpoint for a short-lived workspace token, which is kept
in the encrypted credentials store like any stored token, so that ``token
exec`` and every other command use it for the rest of the job. Nothing
long-lived is written: the token lives as long as the endpoint's trust
policy says (an hour by default), and it is never printed.
"""

from __future__ import annotations

import argparse
import os
import typing

from ntcli import ci, errors, revocations, validate
from ntcli.credentials import StoredToken
from ntcli_core import scopes, timefmt

if typing.TYPE_CHECKING:
    from ntcli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``auth login``'s options for a CI job."""
    group = parser.add_argument_group(
        'CI jobs', 'Sign in with the CI job\'s own OpenID Connect identity '
        'instead of a stored secret (the endpoint needs a trust policy for '
        'it).')
    group.add_argument(
        '--ci', action='store_true', default=False,
        help='Exchange the job\'s ID token for a short-lived workspace '
             'token: from GitHub Actions (permissions: id-token: write), '
             'from NTCLI_ID_TOKEN (GitLab id_tokens), or as the next two '
             'options say. The workspace is --workspace or NTCLI_WORKSPACE, '
             'or the one whose trust policy matches.')
    group.add_argument(
        '--oidc-token-file', metavar='PATH', default=None,
        help='Read the ID token from this file, such as a Kubernetes '
             'projected service-account token (implies --ci).')
    group.add_argument(
        '--oidc-token-env', metavar='NAME', default=None,
        help='Read the ID token from this environment variable (implies '
             '--ci).')
    group.add_argument(
        '--audience', metavar='AUDIENCE', default=None,
        help='The audience to request a GitHub Actions ID token for '
             '(default: the endpoint URL, which is what the server '
             'expects unless its operator said otherwise).')
    group.add_argument(
        '--scope', metavar='SCOPE', action='append', default=None,
        help='Ask for only this scope of those the trust policy grants; '
             'repeat for more (default: all of them).')


def wanted(parsed_args: argparse.Namespace) -> bool:
    """Whether the options ask for a CI login (UsageError for a CI option
    without one)."""
    if parsed_args.ci or parsed_args.oidc_token_file \
            or parsed_args.oidc_token_env:
        return True
    if parsed_args.audience is not None or parsed_args.scope is not None:
        raise errors.UsageError('--audience and --scope go with --ci')
    return False


def _check(parsed_args: argparse.Namespace) -> tuple[str, ...] | None:
    """The options' own checks; the scopes asked for (None: all)."""
    if parsed_args.token:
        raise errors.UsageError(
            '--token and a CI login exclude each other',
            'A CI job needs no secret: drop --token.')
    if parsed_args.oidc_token_file and parsed_args.oidc_token_env:
        raise errors.UsageError(
            'Give --oidc-token-file or --oidc-token-env, not both')
    name = parsed_args.oidc_token_env
    if name is not None and not (name.isascii() and name.replace('_', 'a')
                                 .isalnum() and not name[:1].isdigit()):
        raise errors.UsageError(
            f'--oidc-token-env takes a variable name, not {name[:40]!r}')
    audience = parsed_args.audience
    if audience is not None and (not audience or len(audience) > 512
                                 or not audience.isprintable()):
        raise errors.UsageError('--audience takes printable text of at '
                                'most 512 characters')
    if parsed_args.scope is None:
        return None
    try:
        return scopes.parse(parsed_args.scope)
    except scopes.ScopeError as exc:
        raise errors.UsageError(f'Invalid scope: {exc.message}',
                                'Use scopes such as servers:read.') from None


def login(command: Command, parsed_args: argparse.Namespace) -> int:
    """Exchange the job's ID token and keep the workspace token."""
    asked_scopes = _check(parsed_args)
    context = command._context
    endpoint = context.endpoint
    if endpoint.embedded:
        raise errors.UsageError(
            'The embedded endpoint takes no CI identity: it needs no login',
            'Give --endpoint (or NTCLI_ENDPOINT) the URL of the token '
            'server.')
    workspace = (context.options.workspace
                 or os.environ.get('NTCLI_WORKSPACE') or None)
    subject = ci.obtain(os.environ, audience=parsed_args.audience
                        or endpoint.url, timeout=context.timeout,
                        token_file=parsed_args.oidc_token_file,
                        token_variable=parsed_args.oidc_token_env)
    exchanged = endpoint.exchange_ci_token(subject.token,
                                           workspace=workspace,
                                           scope=asked_scopes)
    issued = exchanged.issued
    try:
        with context.store.transaction() as creds:
            key = context.credentials_key
            replaced = creds.get_token(key, issued.workspace_id)
            creds.set_token(key, issued.workspace_id, StoredToken(
                issued.token, issued.jti, issued.workspace_id,
                issued.created_at, issued.expires_at, issued.scope))
    except BaseException:
        # A token nobody holds must not live on (it may revoke itself).
        revocations.revoke_quietly(endpoint, issued.token,
                                   issued.workspace_id, issued.jti)
        raise
    if replaced is not None and replaced.jti != issued.jti and (
            replaced.expires_at is None
            or replaced.expires_at > context.now()):
        context.warn(f'this replaces the stored token {replaced.jti}, which '
                     'stays valid: revoke it with ntcli token revoke '
                     f'{replaced.jti} if nothing else uses it.')
    with context.update_config() as config:
        known = {v: k for k, v in config.known_workspaces(
            context.context_name).items()}
        name = known.get(issued.workspace_id) or (
            workspace if workspace and validate.is_workspace_name(workspace)
            else issued.workspace_id)
        config.select_workspace(context.context_name, issued.workspace_id,
                                name)
    context.history.record('login', jti=issued.jti,
                           outcome='CI token stored',
                           workspace_id=issued.workspace_id,
                           endpoint=endpoint.key,
                           detail=exchanged.policy)
    if context.env_token():
        context.warn('NTCLI_TOKEN is set: commands use it, not the token '
                     'just stored. Unset it.')
    policy = (f'trust policy {exchanged.policy}; ' if exchanged.policy
              else '')
    command.app.stdout.write(
        f'Logged in to {endpoint.url} with a token of workspace {name} for '
        f'this CI job (from {subject.source}; {policy}expires '
        f'{timefmt.iso(issued.expires_at)}).\n')
    return 0
