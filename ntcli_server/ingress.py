"""What an ingress asks ``/v1/token_auth`` about: the original request.

An ingress (nginx ``auth_request``, Traefik ``forwardAuth``...) sends the
URL and method of the request it is about to forward in
``X-Original-URL`` and ``X-Original-Method``. :func:`target` turns them
into a :class:`Target`: the workspace the URL names, if any, the resource
(the path segment after the workspace id, ``workspace`` when there is
none) and the action (``read`` for GET, HEAD and OPTIONS, ``write`` for
every other method).

The URL is read the way an attacker would write it. The upstream behind
the ingress may decode, normalize or split the path differently than we
do, so every path whose meaning could differ between two readers is
refused instead of guessed at: empty segments (``//``), dot segments
(``.``, ``..``, also percent-encoded), encoded slashes, backslashes,
percent signs or ``;`` (path parameters) inside a segment, control
characters, malformed percent-encoding, invalid UTF-8, and segments with
surrounding white space, and a raw ``#`` anywhere (what follows it is
still sent upstream). The query string is ignored.
Names are compared after NFKC normalization and case folding, so that
``/WORKSPACES/`` or full-width letters do not slip past the workspace
check of an upstream that folds them.
"""

from __future__ import annotations

import re
import unicodedata

from ntcli_authority import errors
from ntcli_authority.access import Target
from ntcli_core import scopes

#: The longest X-Original-URL looked at (nginx's own default header buffer
#: is 8 KiB).
MAX_URL = 8192
READ_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
WORKSPACES_SEGMENT = 'workspaces'
#: The resource of a URL that names none after the workspace id.
WORKSPACE_RESOURCE = 'workspace'

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")   # RFC 9110 token
_ABSOLUTE = re.compile(r'https?://', re.I)
_VISIBLE_ASCII = re.compile(r'[\x21-\x7e]+')
_PERCENT = re.compile(r'%(?![0-9A-Fa-f]{2})')
_FORBIDDEN_IN_SEGMENT = frozenset('/\\%;?#')


def _refuse(message: str) -> errors.Forbidden:
    return errors.Forbidden(f'X-Original-URL refused: {message}')


def _fold(segment: str) -> str:
    return unicodedata.normalize('NFKC', segment).casefold()


def _path(url: str) -> str:
    """The path of an origin-form or absolute http(s) URL, without query
    or fragment."""
    if len(url) > MAX_URL:
        raise _refuse('too long')
    if not _VISIBLE_ASCII.fullmatch(url):
        raise _refuse('it must be visible ASCII (percent-encode the rest)')
    if '#' in url:
        # No client sends a fragment; nginx passes a raw '#' and what
        # follows it in $request_uri, and to the upstream: judging only
        # what comes before it would judge another URL than the one served.
        raise _refuse('a raw # (percent-encode it as %23)')
    if not url.startswith('/'):
        match = _ABSOLUTE.match(url)
        if match is None:
            raise _refuse('it must be a path or an http(s) URL')
        rest = url[match.end():]
        # the authority ends at the first '/', '?' or '#'; no path is '/'
        end = min((rest.find(c) for c in '/?#' if c in rest),
                  default=len(rest))
        url = rest[end:] if rest[end:end + 1] == '/' else '/'
    return url.split('#', 1)[0].split('?', 1)[0]


def segments(path: str) -> list[str]:
    """The decoded segments of ``path``; raise Forbidden when ambiguous."""
    parts = path.split('/')[1:]
    if parts and parts[-1] == '':
        parts.pop()                             # one trailing slash
    decoded = []
    for raw in parts:
        if raw == '':
            raise _refuse('empty path segment (//)')
        if _PERCENT.search(raw):
            raise _refuse('malformed percent-encoding')
        try:
            text = _unquote(raw)
        except UnicodeDecodeError:
            raise _refuse('a segment is not UTF-8') from None
        for form in (text, _fold(text)):
            # the folded form too: an upstream may normalize (U+2025 is ..)
            if form in ('.', '..'):
                raise _refuse('dot segment')
            if (_FORBIDDEN_IN_SEGMENT.intersection(form)
                    or form != form.strip()
                    or any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0
                           for c in form)):
                raise _refuse('a segment holds a character whose meaning '
                              'depends on who decodes it')
        decoded.append(text)
    return decoded


def _unquote(raw: str) -> str:
    """Percent-decode one segment (already checked for malformed escapes)
    as strict UTF-8."""
    out = bytearray()
    position = 0
    while position < len(raw):
        char = raw[position]
        if char == '%':
            out.append(int(raw[position + 1:position + 3], 16))
            position += 3
        else:
            out.extend(char.encode('ascii'))
            position += 1
    return out.decode('utf-8')


def target(url: str | None, method: str | None) -> Target | None:
    """The request the headers describe, None when neither is given.

    Raise Forbidden when only one is given, or when either is malformed or
    ambiguous (see the module doc).
    """
    if url is None and method is None:
        return None
    if url is None or method is None:
        raise errors.Forbidden('X-Original-URL and X-Original-Method must '
                               'be given together')
    if not _METHOD.fullmatch(method):
        raise errors.Forbidden('X-Original-Method is not an HTTP method')
    names = segments(_path(url))
    folded = [_fold(name) for name in names]
    workspace_id, resource = None, WORKSPACE_RESOURCE
    if WORKSPACES_SEGMENT in folded:
        at = folded.index(WORKSPACES_SEGMENT)
        if at + 1 < len(folded):
            workspace_id = folded[at + 1]
        if at + 2 < len(folded):
            resource = folded[at + 2]
    # Methods are case-sensitive: only these exact names only read.
    action = scopes.READ if method in READ_METHODS else scopes.WRITE
    return Target(workspace_id, resource, action)
