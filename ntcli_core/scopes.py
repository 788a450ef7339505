"""Token scopes: what a workspace token may do, as ``resource:action``.

One vocabulary for the CLI, the embedded authority and ``ntcli-server``.
A scope names a resource of the platform and an action, ``read`` or
``write``; ``write`` implies ``read``. A set of scopes is written

* on the wire as a list of strings (a request may also send one
  space-separated string),
* in a token (the JWT ``scope`` claim, RFC 9068) and in the token store
  as one space-separated string.

Sets are kept in canonical form (:func:`canonical`): every ``write``
comes with its ``read``, so that "does it hold ``servers:read``?" is a
plain membership test for anyone who reads the list, in resource order.

Tokens issued before scopes existed carry the single scope ``workspace``:
it stands for every scope (:data:`FULL`), so they keep working as before.
"""

from __future__ import annotations

import re
import typing

__all__ = ['ACTIONS', 'DEFAULT', 'FULL', 'LEGACY', 'MAX_SCOPES',
           'MAX_SCOPE_LENGTH', 'READ', 'RESOURCES', 'ScopeError', 'Scopes',
           'VOCABULARY', 'WRITE', 'allows', 'canonical', 'compact',
           'from_claim', 'missing', 'parse', 'reported', 'scope',
           'to_claim']

RESOURCES = ('workspace', 'servers', 'secrets', 'tokens')
READ = 'read'
WRITE = 'write'
ACTIONS = (READ, WRITE)
#: The one scope of tokens issued before scopes existed: every scope.
LEGACY = 'workspace'
#: Entries one request may list (duplicates included), and their length.
MAX_SCOPES = 32
MAX_SCOPE_LENGTH = 64

# The shape of one scope; the vocabulary is checked after it.
_SHAPE = re.compile(r'[a-z][a-z0-9_-]{0,30}:[a-z]{1,16}')
_ORDER = {f'{resource}:{action}': position
          for position, (resource, action) in enumerate(
              (r, a) for r in RESOURCES for a in ACTIONS)}

Scopes = tuple[str, ...]


class ScopeError(ValueError):
    """A scope value outside the vocabulary; ``message`` is safe to show
    (a value that is not even shaped like a scope is never echoed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def scope(resource: str, action: str) -> str:
    """The scope string of ``resource`` and ``action``."""
    return f'{resource}:{action}'


def canonical(names: typing.Iterable[str]) -> Scopes:
    """Known scope strings, each once, with every write's read added, in
    vocabulary order."""
    held = set(names)
    for name in list(held):
        resource, _, action = name.partition(':')
        if action == WRITE:
            held.add(scope(resource, READ))
    return tuple(sorted(held, key=_ORDER.__getitem__))


#: Every scope: what the first token ntcli keeps for itself holds.
FULL: Scopes = canonical(scope(r, WRITE) for r in RESOURCES)
#: What an issue request without a scope gets (the platform's default).
DEFAULT: Scopes = canonical(['workspace:read', 'servers:read'])
#: Every valid scope string, for help texts and error hints.
VOCABULARY: Scopes = FULL


def parse(value: object) -> Scopes:
    """The canonical scopes of a request value: a list of strings or one
    space-separated string. Raise ScopeError for anything else, an empty
    set, too many or too long entries, or an unknown scope."""
    if isinstance(value, str):
        if len(value) > MAX_SCOPES * (MAX_SCOPE_LENGTH + 1):
            raise ScopeError('scope is too long')
        items: list = value.split(' ')
        items = [item for item in items if item]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ScopeError('scope must be a list of strings')
    if len(items) > MAX_SCOPES:
        raise ScopeError(f'scope may list at most {MAX_SCOPES} entries')
    if not items:
        raise ScopeError('scope must name at least one scope, such as '
                         + ' '.join(DEFAULT))
    for item in items:
        if not isinstance(item, str):
            raise ScopeError('scope must be a list of strings')
        if len(item) > MAX_SCOPE_LENGTH or not _SHAPE.fullmatch(item):
            raise ScopeError(
                'each scope must be resource:action (lowercase), '
                'such as servers:read')
        if item not in _ORDER:
            raise ScopeError(f"unknown scope '{item}': use "
                             + ', '.join(VOCABULARY))
    return canonical(items)


def from_claim(text: str) -> Scopes:
    """The canonical scopes of a stored value or ``scope`` claim; the
    legacy ``workspace`` is every scope. Raise ScopeError when malformed."""
    if text == LEGACY:
        return FULL
    if not isinstance(text, str) or not text:
        raise ScopeError('the token holds no scope')
    return parse(text)


def reported(value: object) -> Scopes | None:
    """Scopes as an endpoint, a token claim or the local store report
    them, read leniently (for display, and to ask for the same again): a
    list of strings or one space-separated string, the legacy
    ``workspace`` being every scope; None for anything else. Names are
    not checked against the vocabulary: the endpoint is the judge."""
    if isinstance(value, str):
        names = tuple(value.split())
    elif isinstance(value, (list, tuple)) and all(
            isinstance(name, str) for name in value):
        names = tuple(value)
    else:
        return None
    return FULL if names == (LEGACY,) else names


def to_claim(scopes: typing.Iterable[str]) -> str:
    """The space-separated form of a scope set, for a claim or a store."""
    return ' '.join(canonical(scopes))


def allows(held: typing.Iterable[str], resource: str, action: str) -> bool:
    """Whether ``held`` permits ``action`` on ``resource`` (a write
    permits the read)."""
    held = set(held)
    if scope(resource, action) in held:
        return True
    return action == READ and scope(resource, WRITE) in held


def missing(held: typing.Iterable[str],
            wanted: typing.Iterable[str]) -> Scopes:
    """The scopes of ``wanted`` that ``held`` does not cover."""
    have = set(canonical(held))
    return tuple(name for name in canonical(wanted) if name not in have)


def compact(scopes: typing.Iterable[str]) -> Scopes:
    """A set for people: a read is left out where its write is listed.
    Names outside the vocabulary (from another server) stay as they are."""
    names = list(dict.fromkeys(scopes))
    writes = {name.partition(':')[0] for name in names
              if name.partition(':')[2] == WRITE}
    return tuple(name for name in names
                 if not (name.partition(':')[2] == READ
                         and name.partition(':')[0] in writes))
