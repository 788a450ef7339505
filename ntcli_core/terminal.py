"""Text from users and servers made safe to print on a terminal.

A workspace name, a description or an error message may hold control
characters: ``ESC [2J`` clears the screen, a carriage return hides what
came before it on the line, bidirectional overrides reorder what is shown.
Everything ntcli echoes passes through :func:`escape`, which writes those
characters as Python escapes (``\\x1b``, ``\\u202e``) and leaves every
other character, accented letters included, as it is.
"""

from __future__ import annotations

__all__ = ['QUOTE_LIMIT', 'escape', 'quoted']

# C0 and C1 controls, DEL, and the bidirectional embedding, override and
# isolate characters (the "Trojan Source" set, CVE-2021-42574).
_UNSAFE = (*range(0x00, 0x20), *range(0x7f, 0xa0), 0x061c, 0x200e, 0x200f,
           *range(0x202a, 0x202f), *range(0x2066, 0x206a))
# A translation table, not a regular expression: every Tab escapes what
# it prints, and importing re costs 5-10 ms of a 25 ms Tab, measured.
_ESCAPES = {code: f'\\x{code:02x}' if code < 0x100 else f'\\u{code:04x}'
            for code in _UNSAFE}


def escape(text: str) -> str:
    """``text`` with control characters written as escapes."""
    return text.translate(_ESCAPES)


# An echoed value is for recognising, not for reading back in full.
QUOTE_LIMIT = 64


def quoted(text: str) -> str:
    """``'text'``, escaped and cut to QUOTE_LIMIT characters, for echoing a
    value in a message."""
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT] + '…'
    return f"'{escape(text)}'"
