"""A CI job's own identity: the OpenID Connect token its CI system gives it.

``ntcli auth login --ci`` trades that token for a short-lived workspace
token at the endpoint (RFC 8693, see ``docs/user/automation.md``). Where the
token comes from, first found first:

1. ``--oidc-token-file PATH``: a file holding it, such as a Kubernetes
   projected service-account token (its path is usually a symbolic link
   that the kubelet swaps when it renews the token, so the link is
   followed; the file must be a regular file of at most
   :data:`MAX_SUBJECT_TOKEN` bytes);
2. ``--oidc-token-env NAME``: an environment variable holding it;
3. ``NTCLI_ID_TOKEN``: the variable a GitLab job names in ``id_tokens:``
   (and any CI that can put a token in a variable);
4. GitHub Actions: requested from the runner with
   ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``
   (the job needs ``permissions: id-token: write``), for the audience
   given (by default the endpoint's URL).

The token is held in memory only, and never shown: not in messages, not
under ``--debug``.
"""

from __future__ import annotations

import os
import stat
import typing
import urllib.parse

import requests

from ntcli import errors
from ntcli_core.records import Record, field
from ntcli_core.terminal import quoted

#: The variable a job puts its ID token in, unless told another.
TOKEN_VARIABLE = 'NTCLI_ID_TOKEN'
#: The longest subject token accepted, as the server has it.
MAX_SUBJECT_TOKEN = 16384
GITHUB_REQUEST_URL = 'ACTIONS_ID_TOKEN_REQUEST_URL'
GITHUB_REQUEST_TOKEN = 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'

_GITHUB_HINT = ('Give the job the permission to request it: '
                "'permissions: id-token: write' in the workflow.")
_NOTHING_HINT = (
    'Run it in GitHub Actions (with permissions: id-token: write), put the '
    f'token in {TOKEN_VARIABLE} (GitLab: id_tokens), or give '
    '--oidc-token-file PATH (a Kubernetes projected service-account token) '
    'or --oidc-token-env NAME.')


class SubjectToken(Record):
    """A CI job's ID token and where it came from: ``source`` completes
    "from …" ("GitHub Actions", "the variable NTCLI_ID_TOKEN")."""

    token: str = field(repr=False)
    source: str


def _checked(token: str, source: str) -> SubjectToken:
    token = token.strip()
    where = source[:1].upper() + source[1:]
    if not token:
        raise errors.UsageError(f'{where} holds no token', _NOTHING_HINT)
    if (len(token) > MAX_SUBJECT_TOKEN or token.count('.') != 2
            or not token.isascii() or not token.isprintable()
            or ' ' in token):
        raise errors.UsageError(
            f'{where} does not hold a JWT (three base64url parts joined '
            'by dots)', 'Check where the token comes from.')
    return SubjectToken(token, source)


def from_file(path: str) -> SubjectToken:
    """The token in the file at ``path`` (see the module's docstring)."""
    source = f'the token file {quoted(path)}'
    try:
        # O_NONBLOCK: a FIFO put there must not hang the job
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK
                             | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        raise errors.UsageError(
            f'The token file {quoted(path)} cannot be read: '
            f'{exc.strerror or exc}',
            'Give the path of the file the CI system or Kubernetes writes '
            'the token to.') from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise errors.UsageError(f'The token file {quoted(path)} is not '
                                    'a regular file',
                                    'Give the path of the token file.')
        data = b''
        while len(data) <= MAX_SUBJECT_TOKEN:
            try:
                chunk = os.read(descriptor, MAX_SUBJECT_TOKEN + 2 - len(data))
            except OSError as exc:
                raise errors.UsageError(
                    f'The token file {quoted(path)} cannot be read: '
                    f'{exc.strerror or exc}') from None
            if not chunk:
                break
            data += chunk
    finally:
        os.close(descriptor)
    try:
        text = data.decode('ascii')
    except UnicodeDecodeError:
        text = '\x00'
    return _checked(text, source)


def from_variable(name: str,
                  environ: typing.Mapping[str, str]) -> SubjectToken:
    """The token in the environment variable ``name``."""
    if name not in environ:
        raise errors.UsageError(f'The variable {name} is not set',
                                _NOTHING_HINT)
    return _checked(environ[name], f'the variable {name}')


def from_github(environ: typing.Mapping[str, str], audience: str,
                timeout: float) -> SubjectToken:
    """An ID token for ``audience``, requested from the GitHub Actions
    runner the way ``core.getIDToken()`` of actions/toolkit does."""
    url, bearer = (environ.get(GITHUB_REQUEST_URL),
                   environ.get(GITHUB_REQUEST_TOKEN))
    if not url or not bearer:
        raise errors.UsageError(
            'This GitHub Actions job cannot request an ID token '
            f'({GITHUB_REQUEST_URL} is not set)', _GITHUB_HINT)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ('https', 'http') or not parts.hostname:
        raise errors.UsageError(f'{GITHUB_REQUEST_URL} is not a URL',
                                _GITHUB_HINT)
    joined = '&' if parts.query else '?'
    request_url = (f'{url}{joined}audience='
                   f"{urllib.parse.quote(audience, safe='')}")
    try:
        response = requests.get(
            request_url, timeout=timeout, allow_redirects=False,
            headers={'Authorization': f'Bearer {bearer}',
                     'Accept': 'application/json'})
    except requests.RequestException as exc:
        raise errors.EndpointUnreachable(
            f'The GitHub Actions ID token could not be requested: '
            f'{type(exc).__name__}', 'Try again; the runner may be '
            'overloaded.') from None
    with response:
        if response.status_code != 200:
            raise errors.AuthenticationRequired(
                'GitHub Actions refused the ID token request (HTTP '
                f'{response.status_code})', _GITHUB_HINT)
        try:
            value = response.json()['value']
        except (ValueError, KeyError, TypeError):
            value = None
    if not isinstance(value, str):
        raise errors.EndpointError(
            'GitHub Actions answered the ID token request with something '
            'that is not a token', 'Try again; if it persists, report it.')
    return _checked(value, 'GitHub Actions')


def obtain(environ: typing.Mapping[str, str], *, audience: str,
           timeout: float, token_file: str | None = None,
           token_variable: str | None = None) -> SubjectToken:
    """The job's ID token, from the first source that has one (see the
    module's docstring); UsageError naming what to set when none does."""
    if token_file is not None:
        return from_file(token_file)
    if token_variable is not None:
        return from_variable(token_variable, environ)
    if environ.get(TOKEN_VARIABLE):
        return from_variable(TOKEN_VARIABLE, environ)
    if environ.get('GITHUB_ACTIONS') == 'true':
        return from_github(environ, audience, timeout)
    if environ.get('GITLAB_CI') == 'true':
        raise errors.UsageError(
            f'This GitLab job has no ID token in {TOKEN_VARIABLE}',
            f"Add to the job: 'id_tokens: {{{TOKEN_VARIABLE}: {{aud: "
            f"{audience}}}}}'.")
    raise errors.UsageError('No CI identity token found', _NOTHING_HINT)
