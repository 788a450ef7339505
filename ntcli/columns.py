"""Column values that read well in a table and stay exact in JSON/CSV."""

from __future__ import annotations

from cliff import columns

from ntcli_core import scopes, timefmt

__all__ = ['CheckColumn', 'RevocationColumn', 'ScopeColumn', 'TextColumn',
           'TimeColumn']


class TimeColumn(columns.FormattableColumn[int | None]):
    """A Unix time: ``2025-08-07 12:00:00 UTC`` for people, ISO-8601 with
    ``Z`` for machines; None is ``Never``/null."""

    def human_readable(self) -> str:
        return timefmt.human(self._value)

    def machine_readable(self) -> str | None:  # type: ignore[override]
        return timefmt.iso(self._value)


class CheckColumn(columns.FormattableColumn[bool]):
    """A flag: ``✓`` or blank for people, true/false for machines."""

    def human_readable(self) -> str:
        return '✓' if self._value else ''


class ScopeColumn(columns.FormattableColumn[tuple[str, ...] | None]):
    """Scopes: the short form for people (a write stands for its read),
    the full list for machines; None (not reported) is blank/null."""

    def human_readable(self) -> str:
        return ' '.join(scopes.compact(self._value or ()))

    def machine_readable(self) -> list[str] | None:  # type: ignore[override]
        return None if self._value is None else list(self._value)


class TextColumn(columns.FormattableColumn[str | None]):
    """Optional text: blank for people, null for machines."""

    def human_readable(self) -> str:
        return self._value or ''


class RevocationColumn(columns.FormattableColumn[bool]):
    """A revocation's status, the value being whether it was done before.

    Machines get ``revoked`` either way, so that repeating a revoke gives
    the same document; people get ``already revoked`` for an earlier one.
    """

    def human_readable(self) -> str:
        return 'already revoked' if self._value else 'revoked'

    def machine_readable(self) -> str:  # type: ignore[override]
        return 'revoked'
