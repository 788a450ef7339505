"""Trust policies: which external issuer's tokens buy which workspace tokens.

A trust policy of a workspace says: a JWT signed by ``issuer`` (a CI
system's OpenID Connect issuer: GitHub Actions, GitLab, a Kubernetes
cluster), whose claims meet every one of ``conditions``, may be exchanged
for a workspace token holding ``scope`` that lives at most
``max_lifetime`` seconds. Conditions are data, never code: a claim name
and a pattern, matched as text.

A pattern matches a claim's value exactly, except that ``*`` stands for
any run of characters (none included): ``refs/heads/*``,
``repo:acme/app:*``. A claim that is missing, or is neither a string nor
an integer, matches nothing. Every policy needs at least one condition
without ``*``, so that no policy trusts every repository of a public
issuer; matching on immutable ids (GitHub's ``repository_id`` and
``repository_owner_id``) as well as names keeps a deleted and re-created
repository from inheriting the trust.

This module checks and matches; the authority stores, authorizes and
audits (:mod:`ntcli_authority.authority`).

:mod:`ntcli_authority.oidc` (with ``http.client`` and ``urllib.request``)
is imported where an issuer or a subject token is checked, not with this
module: the store reads policies' conditions through this module on the
CLI's token path, where oidc's import would cost many times this module's
own (benchmarks/RESULTS.md, "The authority's imports").
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import typing
import urllib.parse

from ntcli_authority import errors
from ntcli_core import scopes

#: The lifetime of a token from a policy that gives none: one hour.
DEFAULT_MAX_LIFETIME = 3600
#: The bounds of a policy's longest lifetime: these tokens are short-lived.
MIN_MAX_LIFETIME = 60
MAX_MAX_LIFETIME = 86400
MAX_CONDITIONS = 16
MAX_PATTERN = 256
MAX_ISSUER = 512
MAX_DESCRIPTION = 256
#: Claims the exchange checks itself (or that mean nothing to match on).
RESERVED_CLAIMS = frozenset({'iss', 'aud', 'exp', 'iat', 'nbf', 'jti'})
#: A scope no trust policy grants: a token from a CI job must not mint
#: other (longer-lived) tokens.
UNGRANTABLE = scopes.scope('tokens', scopes.WRITE)
#: Claims the audit trail records of an exchange when the token has them
#: (GitHub's and GitLab's names), besides those a policy matched.
AUDITED_CLAIMS = ('repository', 'project_path', 'ref', 'environment',
                  'workflow', 'workflow_ref', 'job_workflow_ref', 'run_id',
                  'pipeline_id', 'job_id')

_CLAIM_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_-]{0,63}')

Conditions = tuple[tuple[str, str], ...]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_issuer(issuer: object) -> str:
    """An issuer URL as OpenID Connect has it: https (http only on the
    loopback interface, for a sidecar or a test), ASCII, without user,
    query or fragment (see ntcli_authority.oidc.check_url)."""
    from ntcli_authority import oidc

    def refused(message: str) -> errors.AuthorityError:
        return errors.InvalidRequest(
            f'{message}, such as https://token.actions.githubusercontent.com',
            {'field': 'issuer'})
    if isinstance(issuer, str) and len(issuer) > MAX_ISSUER:
        raise refused(f'The issuer is longer than {MAX_ISSUER} characters')
    oidc.check_url(issuer, what='issuer', error=refused)
    assert isinstance(issuer, str)
    if not issuer.isascii() or urllib.parse.urlsplit(issuer).query:
        raise refused('The issuer must be an ASCII URL without a query')
    return issuer


def check_conditions(conditions: object) -> Conditions:
    """Conditions from a mapping (or pairs) of claim name to pattern, in
    claim-name order; InvalidRequest for anything that cannot be one."""
    if isinstance(conditions, typing.Mapping):
        pairs = list(conditions.items())
    elif isinstance(conditions, (list, tuple)):
        pairs = list(conditions)
    else:
        raise errors.InvalidRequest(
            'conditions must map claim names to patterns',
            {'field': 'conditions'})
    if not pairs:
        raise errors.InvalidRequest(
            'A trust policy needs at least one condition on the token\'s '
            'claims, such as repository=ORG/REPO', {'field': 'conditions'})
    if len(pairs) > MAX_CONDITIONS:
        raise errors.InvalidRequest(
            f'A trust policy has at most {MAX_CONDITIONS} conditions',
            {'field': 'conditions'})
    checked: dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise errors.InvalidRequest(
                'conditions must map claim names to patterns',
                {'field': 'conditions'})
        claim, pattern = pair
        if not isinstance(claim, str) or not _CLAIM_NAME.fullmatch(claim):
            raise errors.InvalidRequest(
                'A condition names a claim: a letter, then up to 63 '
                'letters, digits, _ or -', {'field': 'conditions'})
        if claim in RESERVED_CLAIMS:
            raise errors.InvalidRequest(
                f"The claim '{claim}' is checked by every exchange and "
                'cannot be a condition', {'field': 'conditions'})
        if claim in checked:
            raise errors.InvalidRequest(
                f"The claim '{claim}' has two conditions",
                {'field': 'conditions'})
        if (not isinstance(pattern, str) or not pattern
                or len(pattern) > MAX_PATTERN or not pattern.isprintable()):
            raise errors.InvalidRequest(
                f"The condition on '{claim}' must be printable text of 1 to "
                f'{MAX_PATTERN} characters', {'field': 'conditions'})
        checked[claim] = pattern
    if all('*' in pattern for pattern in checked.values()):
        raise errors.InvalidRequest(
            'At least one condition must be exact (without *), such as '
            'repository_owner_id=12345: otherwise any repository of the '
            'issuer could match', {'field': 'conditions'})
    return tuple(sorted(checked.items()))


def check_scope(scope: object) -> scopes.Scopes:
    """The scopes a policy grants (default: the platform's default)."""
    try:
        granted = scopes.DEFAULT if scope is None else scopes.parse(scope)
    except scopes.ScopeError as exc:
        raise errors.ValidationError(f'Invalid scope: {exc.message}',
                                     {'field': 'scope'}) from None
    if UNGRANTABLE in granted:
        raise errors.InvalidRequest(
            f'A trust policy cannot grant {UNGRANTABLE}: a token from a '
            'CI job must not issue other tokens', {'field': 'scope'})
    return granted


def check_max_lifetime(value: object) -> int:
    """A policy's longest lifetime, in seconds (None: one hour)."""
    if value is None:
        return DEFAULT_MAX_LIFETIME
    if not _is_int(value) or not \
            MIN_MAX_LIFETIME <= value <= MAX_MAX_LIFETIME:  # type: ignore
        raise errors.InvalidRequest(
            f'max_lifetime must be whole seconds from {MIN_MAX_LIFETIME} to '
            f'{MAX_MAX_LIFETIME} (one day)', {'field': 'max_lifetime'})
    return typing.cast(int, value)


def check_description(description: object) -> str | None:
    if description is not None and (
            not isinstance(description, str)
            or len(description) > MAX_DESCRIPTION
            or not description.isprintable()):
        raise errors.InvalidRequest(
            f'description must be printable text of at most '
            f'{MAX_DESCRIPTION} characters', {'field': 'description'})
    return description


def conditions_to_text(conditions: Conditions) -> str:
    """How the store keeps conditions: a JSON object, keys sorted."""
    return json.dumps(dict(conditions), sort_keys=True,
                      separators=(',', ':'), ensure_ascii=False)


def conditions_from_text(text: str) -> Conditions:
    return tuple(sorted(json.loads(text).items()))


def claim_text(value: object) -> str | None:
    """A claim's value as matched: a string, or an integer's decimal
    digits; None for any other value."""
    if isinstance(value, str):
        return value
    if _is_int(value):
        return str(value)
    return None


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile('.*'.join(re.escape(part)
                                for part in pattern.split('*')),
                      re.DOTALL)


def matches(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` (``*``: any run of characters)."""
    if '*' not in pattern:
        return value == pattern
    return _pattern_regex(pattern).fullmatch(value) is not None


def first_mismatch(conditions: Conditions,
                   claims: typing.Mapping[str, object]) -> str | None:
    """Why ``claims`` fail ``conditions``, in words safe to show (the
    claim's name and its value, cut and printable; never the wanted
    pattern), or None when every condition holds."""
    for claim, pattern in conditions:
        if claim not in claims:
            return f"the token has no claim '{claim}'"
        value = claim_text(claims[claim])
        if value is None:
            return f"the claim '{claim}' is not a string"
        if not matches(pattern, value):
            return f"the claim '{claim}' ({shown(value)}) does not match"
    return None


def shown(value: str, limit: int = 80) -> str:
    """A claim value for a message: quoted, printable, at most ``limit``."""
    text = ''.join(c if c.isprintable() else '?' for c in value[:limit])
    return repr(text + ('…' if len(value) > limit else ''))


def audited_claims(conditions: Conditions,
                   claims: typing.Mapping[str, object]) -> dict[str, str]:
    """What the audit trail keeps of an exchanged token's claims: those
    the policy matched and the usual CI facts, as text."""
    names = [claim for claim, _ in conditions]
    names += [name for name in AUDITED_CLAIMS if name not in names]
    kept = {}
    for name in names:
        value = claim_text(claims.get(name))
        if value is not None:
            kept[name] = value[:MAX_PATTERN]
    return kept


# -- the exchange's view of a subject token -----------------------------------
def unverified_issuer(token: object) -> str:
    """The ``iss`` claim of a JWT, read without checking anything else:
    only to find the policies (and so the keys) that could apply. The
    issuer is then checked against the policies before any of its URLs
    is fetched, so that a token never chooses where the server connects.
    """
    from ntcli_authority.oidc import MAX_TOKEN
    if (not isinstance(token, str) or not token
            or len(token) > MAX_TOKEN or token.count('.') != 2):
        raise errors.SubjectTokenRejected(
            'The subject token is not a JWT', {'reason': 'malformed'})
    payload = token.split('.')[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(
            payload + '=' * (-len(payload) % 4)))
    except (ValueError, TypeError, RecursionError):
        claims = None
    issuer = claims.get('iss') if isinstance(claims, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise errors.SubjectTokenRejected(
            'The subject token is not a JWT with an issuer (iss)',
            {'reason': 'malformed'})
    return issuer


def subject_digest(issuer: str, claims: typing.Mapping[str, object]) -> str:
    """What identifies a subject token for replay: its issuer and ``jti``,
    or, without a ``jti``, all of its claims. Never the token's bytes: an
    ECDSA signature can be re-encoded into another valid one."""
    jti = claims.get('jti')
    if isinstance(jti, str) and jti:
        identity = 'jti\0' + jti
    else:
        identity = 'claims\0' + json.dumps(claims, sort_keys=True,
                                           separators=(',', ':'))
    return hashlib.sha256(f'{issuer}\0{identity}'.encode(
        'utf-8', 'surrogatepass')).hexdigest()
