"""Checks of values that users give ntcli: options, environment, config.

Each check takes the raw value and returns the clean one or raises
ValueError with a message that completes "<what> ...". Callers turn that
into a usage error naming the option. Numbers are ASCII digits only:
Python's int() and float() also take Arabic-Indic or full-width digits
(``int('١٢٣') == 123``), which no user types on purpose and a terminal may
show as something else.
"""

from __future__ import annotations

import argparse
import math
import re

from ntcli_core import redact
from ntcli_core.names import is_valid_name

__all__ = ['count_option', 'decimal', 'whole_number']

DEFAULT_TIMEOUT = 30.0
# A day: a larger network timeout is a mistake, and past about 9.2e9 s
# (threading.TIMEOUT_MAX) the socket layer itself raises OverflowError.
MAX_TIMEOUT = 86400.0
# Enough for any Unix time or lifetime ntcli accepts; longer strings of
# digits are refused before they are converted.
MAX_DIGITS = 20

_DECIMAL = re.compile(rf'[0-9]{{1,{MAX_DIGITS}}}(\.[0-9]{{1,9}})?', re.ASCII)
_WHOLE = re.compile(rf'[0-9]{{1,{MAX_DIGITS}}}', re.ASCII)
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}', re.ASCII | re.IGNORECASE)


def whole_number(text: str) -> int:
    """A non-negative whole number written in ASCII digits."""
    value = text.strip(' ')
    if not _WHOLE.fullmatch(value):
        raise ValueError('must be a whole number in digits 0-9')
    return int(value)


def count_option(text: str) -> int:
    """An argparse ``type`` for a count such as --limit: ASCII digits."""
    try:
        return whole_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def decimal(text: str) -> float:
    """A non-negative decimal number written in ASCII digits."""
    value = text.strip(' ')
    if not _DECIMAL.fullmatch(value):
        raise ValueError('must be a number in digits 0-9 (such as 30 or 2.5)')
    return float(value)


def check_timeout(value: object) -> float:
    """A network timeout in seconds: finite, positive, at most a day.

    ``value`` is text (option, environment) or a JSON number (config).
    """
    if isinstance(value, str):
        seconds = decimal(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError('must be a number of seconds')
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
        raise ValueError(
            f'must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds')
    return seconds


def is_workspace_name(text: str) -> bool:
    """A valid workspace name (ntcli_core.names)."""
    return is_valid_name(text)


def is_uuid(text: str) -> bool:
    return UUID.fullmatch(text) is not None


def check_description(text: str | None) -> str | None:
    """A description a token or workspace may carry: every reader of the
    workspace sees it, so it may not hold a secret."""
    if text is not None and redact.holds_secret(text):
        raise ValueError('looks like it holds a token, credential or key, '
                         'which every reader of the workspace would see')
    return text
