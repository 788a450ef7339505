"""Text from users and servers made safe to print on a terminal.

A workspace name, a description or an error message may hold control
characters: ``ESC [2J`` clears the screen, a carriage return hides what
came before it on the line, bidirectional overrides reorder what is shown.
Everything ntcli echoes passes through :func:`escape`, which writes those
characters as Python escapes (``\\x1b``, ``\\u202e``) and leaves every
other character, accented letters included, as it is.
"""

from __future__ import annotations

import re

__all__ = ['QUOTE_LIMIT', 'escape', 'quoted']

# C0 and C1 controls, DEL, and the bidirectional embedding, override and
# isolate characters (the "Trojan Source" set, CVE-2021-42574).
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f'
                     '\u202a-\u202e\u2066-\u2069]')


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f'\\x{code:02x}' if code < 0x100 else f'\\u{code:04x}'


def escape(text: str) -> str:
    """``text`` with control characters written as escapes."""
    return _UNSAFE.sub(_escaped, text)


# An echoed value is for recognising, not for reading back in full.
QUOTE_LIMIT = 64


def quoted(text: str) -> str:
    """``'text'``, escaped and cut to QUOTE_LIMIT characters, for echoing a
    value in a message."""
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + '…'
    return f"'{escape(text)}'"
