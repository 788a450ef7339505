"""CSV cells that a spreadsheet shows as text instead of running them.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``=cmd|...``: "CSV
injection"); a leading tab or carriage return hides such a start from a
naive check. As OWASP advises, such a cell gets a leading ``'``, which the
spreadsheet shows as text and does not display. Only text is touched:
numbers stay numbers, and a text cell that is a plain number (``-1``)
is left alone, since a spreadsheet reads it as that number anyway.
"""

from __future__ import annotations

import re

#: What a cell may not start with (OWASP, "CSV Injection").
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')

_NUMBER = re.compile(r'[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?')


def neutralized(cell: str) -> str:
    """``cell``, with a leading ``'`` if a spreadsheet would run it."""
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
