"""Token scopes from the command line: --scope, repeatable or
comma-separated (the vocabulary is ntcli_core.scopes)."""

from __future__ import annotations

import argparse

from ntcli import errors
from ntcli_core import scopes


def add_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--scope``; ``default`` says in the help what its absence means."""
    parser.add_argument(
        '--scope', metavar='SCOPE', action='append', default=None,
        help='A scope of the token, resource:action: resource one of '
             f"{', '.join(scopes.RESOURCES)}, action read or write (write "
             'includes read). Repeat it or separate scopes with commas. '
             f'Default: {default}.')


def from_args(parsed_args: argparse.Namespace) -> scopes.Scopes | None:
    """The scopes asked for, in canonical form; None without --scope.
    Raise UsageError for one outside the vocabulary."""
    if parsed_args.scope is None:
        return None
    names = [name for given in parsed_args.scope
             for name in given.replace(',', ' ').split(' ') if name]
    try:
        return scopes.parse(names)
    except scopes.ScopeError as exc:
        raise errors.UsageError(
            f'Invalid scope: {exc.message}',
            'Give --scope resource:action, for example --scope '
            'servers:read,secrets:write; the scopes are '
            f"{', '.join(scopes.VOCABULARY)}.") from None
