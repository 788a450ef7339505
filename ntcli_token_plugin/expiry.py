"""Token lifetimes from the command line: --expires-in, --expires-at,
--no-expiry."""

from __future__ import annotations

import argparse

from ntcli import errors, validate
from ntcli_core import durations, timefmt
from ntcli_core.lifetimes import (
    DAY,
    DEFAULT_LIFETIME,
    MAX_GRACE,
    MAX_LIFETIME,
    Expiry,
)
from ntcli_core.terminal import quoted

HINT = ('Use --expires-in with a number of seconds (86400) or a duration '
        '(24h, 30d, 1y) up to ten years, --expires-at with a future '
        'ISO-8601 time or Unix timestamp, or --no-expiry.')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The three mutually exclusive lifetime options."""
    group = parser.add_argument_group(
        'token lifetime', 'Give at most one of these options.')
    group.add_argument(
        '--expires-in', metavar='SECONDS', default=None,
        help=f'Lifetime in seconds (default {DEFAULT_LIFETIME}, one year); '
             'a duration such as 24h, 30d, 1y or 1h30m is accepted too; at '
             'most ten years (3653d).')
    group.add_argument(
        '--expires-at', metavar='TIME', default=None,
        help='Expiry as an ISO-8601 time (2026-01-31T12:00:00Z) or a Unix '
             'timestamp.')
    group.add_argument(
        '--no-expiry', action='store_true', default=False,
        help='Issue a token that never expires (use with caution).')


def parse_duration(text: str) -> int:
    """Seconds from ``86400`` or ``24h``/``30d``/``1y`` (ASCII digits)."""
    try:
        return durations.parse(text)
    except ValueError:
        raise errors.InvalidExpiration(
            f'Invalid expiration time: {quoted(text)} is not a number of '
            'seconds', HINT) from None


def parse_time(text: str) -> int:
    """Unix seconds from an ISO-8601 time or a Unix timestamp."""
    value = text.strip(' ')
    if value.isascii() and value[:1].isdigit() and '-' not in value \
            and ':' not in value:
        try:
            return int(validate.decimal(value))
        except ValueError:
            pass                # reported below
    elif value.isascii():
        try:
            return timefmt.parse_iso(value)
        except (ValueError, OverflowError):
            pass
    raise errors.InvalidExpiration(
        f'Invalid expiration time: {quoted(text)} is not an ISO-8601 time '
        'or Unix timestamp', HINT)


def given_options(parsed_args: argparse.Namespace) -> list[str]:
    """The lifetime options given (as attribute names)."""
    # an empty --expires-in "" counts as given (and is then invalid)
    return [name for name in ('expires_in', 'expires_at', 'no_expiry')
            if getattr(parsed_args, name) not in (None, False)]


def from_args(parsed_args: argparse.Namespace, now: int) -> Expiry:
    """Validate the lifetime options; raise InvalidExpiration (exit 2)."""
    given = given_options(parsed_args)
    if len(given) > 1:
        options = ', '.join('--' + n.replace('_', '-') for n in given)
        raise errors.InvalidExpiration(
            f'Invalid expiration time: {options} cannot be combined', HINT)
    if parsed_args.no_expiry:
        return Expiry()
    if parsed_args.expires_at is not None:
        at = parse_time(parsed_args.expires_at)
        if at <= now:
            raise errors.InvalidExpiration(
                'Invalid expiration time: '
                f'{quoted(parsed_args.expires_at)} is in the past', HINT)
        if at - now > MAX_LIFETIME:
            raise errors.InvalidExpiration(
                'Invalid expiration time: more than ten years ahead', HINT)
        return Expiry(expires_at=at)
    seconds = DEFAULT_LIFETIME
    if parsed_args.expires_in is not None:
        seconds = parse_duration(str(parsed_args.expires_in))
    if seconds <= 0:
        raise errors.InvalidExpiration(
            'Invalid expiration time: the lifetime must be positive', HINT)
    if seconds > MAX_LIFETIME:
        raise errors.InvalidExpiration(
            'Invalid expiration time: more than ten years', HINT)
    return Expiry(expires_in=seconds)


WINDOW_HINT = ('Give a number of seconds (604800) or a duration (7d, 12h, '
               '1w), greater than zero and up to ten years.')


def parse_window(text: str, option: str) -> int:
    """A time window in seconds for ``option`` (--if-expires-within,
    --check): the syntax and limits of --expires-in. Raises UsageError."""
    try:
        seconds = parse_duration(text)
    except errors.InvalidExpiration:
        seconds = 0
    if not 0 < seconds <= MAX_LIFETIME:
        raise errors.UsageError(
            f'Invalid duration for {option}: {quoted(text)}', WINDOW_HINT)
    return seconds


GRACE_HINT = ('Give --grace a number of seconds (3600) or a duration (15m, '
              f'24h, 7d), at most {MAX_GRACE // DAY} days; 0 revokes the old '
              'token at once.')


def parse_grace(text: str | None) -> int | None:
    """The seconds of ``--grace``; None when not given or 0 (revoke at
    once). Raises UsageError."""
    if text is None:
        return None
    try:
        seconds = durations.parse(text)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= MAX_GRACE:
        raise errors.UsageError(
            f'Invalid grace period for --grace: {quoted(text)}', GRACE_HINT)
    return seconds or None


def check_outlasts(lifetime: Expiry, window: int, option: str,
                   now: int) -> None:
    """Refuse a conditional refresh whose new token would expire within
    its own window: every later run would rotate it again."""
    if lifetime.never:
        return
    remaining = lifetime.expires_in if lifetime.expires_in is not None \
        else lifetime.expires_at - now  # type: ignore[operator]
    if remaining <= window:
        raise errors.UsageError(
            f'Invalid duration for {option}: the new token would expire '
            'within it, and every run would rotate it again',
            f'Give {option} a shorter duration than the new token\'s '
            'lifetime (--expires-in, default one year).')


def refresh_window(text: str | None, option: str, lifetime: Expiry,
                   now: int) -> int | None:
    """The window of a conditional refresh, checked against the lifetime
    of the token it would issue; None when ``option`` was not given."""
    if text is None:
        return None
    window = parse_window(text, option)
    check_outlasts(lifetime, window, option, now)
    return window
