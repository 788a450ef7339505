"""Exit statuses of ``ntcli token show --check``, for monitoring.

One status per state, so that a check can tell them apart; each maps to a
Nagios severity (docs/user/automation.md has the table and a plugin wrapper).
They start at 10 so that none is taken for ntcli's own 1 (the check could
not be made: unreadable credentials, no workspace...) or 2 (bad usage).
"""

from __future__ import annotations

from typing import Any

from ntcli_core import timefmt

VALID = 0            # OK
EXPIRING = 10        # WARNING: valid, but expires within the duration
EXPIRED = 11         # CRITICAL
REVOKED = 12         # CRITICAL
INVALID = 13         # CRITICAL: cannot be decoded, or rejected
NO_TOKEN = 14        # CRITICAL: none stored and none in NTCLI_TOKEN
UNVERIFIED = 15      # UNKNOWN: valid here, the endpoint could not say

_REJECTED = {'expired': EXPIRED, 'revoked': REVOKED, 'invalid': INVALID}


def expires_within(info: dict[str, Any], window: int | None,
                   now: int) -> bool:
    """True when the described token stops working within ``window``
    seconds: it expires, or its grace period ends (a retiring token's); a
    token that never expires and is not retiring never does."""
    if window is None:
        return False
    ends = [timefmt.parse_iso(info[name])
            for name in ('expires_at', 'retiring_until') if info.get(name)]
    return bool(ends) and min(ends) - now <= window


def exit_status(info: dict[str, Any], window: int | None, now: int) -> int:
    """The status for a token described by ``tokeninfo.describe_current``.

    What is known to be wrong comes first: an expired token is EXPIRED
    even when the endpoint could not be asked, and one expiring soon is
    EXPIRING before it is UNVERIFIED.
    """
    if info['status'] in _REJECTED:
        return _REJECTED[info['status']]
    if expires_within(info, window, now):
        return EXPIRING
    if not info['verified']:
        return UNVERIFIED
    return VALID
