"""How long a token may live."""

from __future__ import annotations

from ntcli_core.records import Record

__all__ = ['DAY', 'DEFAULT_LIFETIME', 'MAX_GRACE', 'MAX_LIFETIME', 'YEAR',
           'Expiry']

DAY = 86400
#: A year of lifetime, as ``1y`` means on the command line.
YEAR = 365 * DAY
#: The lifetime of a token when none is asked for (the user's document).
DEFAULT_LIFETIME = YEAR
#: The longest lifetime: ten calendar years, which hold at most three leap
#: days, so any time up to ten years ahead is accepted and nothing further
#: (``3654d`` is refused).
MAX_LIFETIME = (10 * 365 + 3) * DAY
#: The longest grace period of a rotation (``token refresh --grace``): how
#: long an old token may stay valid after its successor is stored.
MAX_GRACE = 7 * DAY


class Expiry(Record):
    """A requested lifetime: seconds from now, an absolute time, or never
    (both None)."""

    expires_in: int | None = None
    expires_at: int | None = None

    @property
    def never(self) -> bool:
        return self.expires_in is None and self.expires_at is None
