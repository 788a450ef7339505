"""ntcli's own output formats: ``text``, for people at a terminal, ``csv``
as RFC 4180 writes it, and cliff's ``table`` drawn without wcwidth when the
cells allow it."""

from __future__ import annotations

import argparse
import csv
import functools
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from cliff import columns as cliff_columns
from cliff import utils as cliff_utils
from cliff.formatters import base, commaseparated
from cliff.formatters import table as cliff_table

from ntcli_core.terminal import escape


def _human(value: Any) -> str:
    if isinstance(value, cliff_columns.FormattableColumn):
        return value.human_readable()
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, list | tuple):
        return ' '.join(str(item) for item in value)
    return str(value)


def label_for(column: str) -> str:
    """``expires_at`` -> ``Expires at``."""
    text = column.replace('_', ' ').strip()
    return text[:1].upper() + text[1:]


class TextFormatter(base.SingleFormatter):
    """Human text: the command's own layout, else ``Label:  value`` lines;
    every line with its control characters escaped, whatever the layout
    put in it (a description or an error from a server)."""

    def add_argument_group(self, parser: argparse.ArgumentParser) -> None:
        """The text format has no options of its own."""

    def emit_one(self, column_names: Sequence[str], data: Sequence[Any],
                 stdout: TextIO, parsed_args: argparse.Namespace) -> None:
        layout = getattr(parsed_args, 'text_layout', None)
        lines = None
        if layout is not None and not getattr(parsed_args, 'columns', None):
            lines = layout(dict(zip(column_names, data, strict=False)))
        if lines is None:
            lines = self.generic_lines(column_names, data)
        for line in lines:
            stdout.write(escape(line) + '\n')

    @staticmethod
    def generic_lines(column_names: Sequence[str],
                      data: Sequence[Any]) -> list[str]:
        """An aligned ``Label:  value`` block."""
        labels = [label_for(c) + ':' for c in column_names]
        width = max((len(label) for label in labels), default=0) + 1
        return [f'{label:<{width}} {_human(value)}'.rstrip()
                for label, value in zip(labels, data, strict=False)]


class CSVFormatter(commaseparated.CSVLister):
    """cliff's CSV, written as RFC 4180 says: quotes doubled inside quoted
    fields, backslashes as they are (cliff's backslash escape character,
    which doubles them, is kept only for ``--quote none``, where nothing
    else could escape a comma)."""

    def emit_list(self, column_names: Sequence[str],
                  data: Iterable[Sequence[Any]], stdout: TextIO,
                  parsed_args: argparse.Namespace) -> None:
        if parsed_args.quote_mode == 'none':
            return super().emit_list(column_names, data, stdout,
                                     parsed_args)
        writer = csv.writer(stdout,
                            quoting=self.QUOTE_MODES[parsed_args.quote_mode],
                            lineterminator=os.linesep)
        writer.writerow(column_names)
        for row in data:
            writer.writerow(
                [c.machine_readable()
                 if isinstance(c, cliff_columns.FormattableColumn) else c
                 for c in row])


# Unicode categories whose characters are not one column in wcwidth:
# combining marks, format and control characters, private use, unassigned,
# surrogates, line and paragraph separators.
_NOT_ONE_COLUMN_CATEGORIES = frozenset(
    ('Mn', 'Me', 'Mc', 'Cf', 'Cc', 'Co', 'Cn', 'Cs', 'Zl', 'Zp'))
_NARROW_EAST_ASIAN_WIDTHS = frozenset(('N', 'Na', 'H', 'A'))
# Characters that unicodedata calls narrow and wcwidth does not: the Hangul
# vowel and final jamo (and their extension B) join the syllable before
# them (0 columns), the halfwidth Hangul filler is invisible (0), and the
# Yijing trigrams, monograms, digrams and hexagrams are wide since Unicode
# 16 (2 columns; Python 3.11's unicodedata is Unicode 14).
# tests/unit/ntcli/test_table_formatter.py holds the rule to the installed
# wcwidth, over the whole plane.
_NOT_ONE_COLUMN_RANGES = ((0x1100, 0x11FF), (0x2630, 0x2637),
                          (0x268A, 0x268F), (0x4DC0, 0x4DFF),
                          (0xD7B0, 0xD7FF), (0xFFA0, 0xFFA0))


def is_one_column(char: str) -> bool:
    """Whether wcwidth gives ``char`` one column, wherever it stands in a
    cell: printable ASCII, or a character of the Basic Multilingual Plane
    that is neither wide nor combining nor a control (above it, wcwidth
    measures regional indicators and skin tones by their neighbours)."""
    if char.isascii():
        return ' ' <= char <= '~'
    code = ord(char)
    return (code <= 0xFFFF
            and unicodedata.category(char) not in _NOT_ONE_COLUMN_CATEGORIES
            and unicodedata.east_asian_width(char) in _NARROW_EAST_ASIAN_WIDTHS
            and not any(low <= code <= high
                        for low, high in _NOT_ONE_COLUMN_RANGES))


def _plain_cell(value: Any) -> str | None:
    """``value`` as prettytable prints it, if that is one column a character
    (its ``len()`` is its width); None for anything else."""
    if value is None or type(value) in (bool, int, float):
        return str(value)     # prettytable's str(), in ASCII
    if type(value) is not str:
        return None
    if value.isascii() and value.isprintable():
        return value
    return value if all(is_one_column(c) for c in value) else None


def _plain_row(values: Iterable[Any]) -> list[str] | None:
    """The cells of a row by :func:`_plain_cell`, or None if one is not."""
    row = []
    for value in values:
        cell = _plain_cell(value)
        if cell is None:
            return None
        row.append(cell)
    return row


def draw_table(header: Sequence[str], rows: Sequence[Sequence[str]],
               alignments: Sequence[str]) -> str:
    """A table in prettytable's default style, as cliff sets it up: a
    ``+---+`` frame, ``|`` between columns, one space of padding, the
    header aligned as its column; every cell one line, one column a
    character."""
    widths = [max(len(cell) for cell in column)
              for column in zip(header, *rows, strict=True)]
    rule = '+' + '+'.join('-' * (width + 2) for width in widths) + '+'

    def line(cells: Sequence[str]) -> str:
        return '| ' + ' | '.join(
            cell.rjust(width) if align == 'r' else cell.ljust(width)
            for cell, width, align in zip(cells, widths, alignments,
                                          strict=True)) + ' |'

    return '\n'.join((rule, line(header), rule, *map(line, rows), rule))


def plain_table(column_names: Sequence[str],
                rows: Sequence[Sequence[Any]], alignments: Sequence[str],
                parsed_args: argparse.Namespace) -> str | None:
    """The table cliff would print for ``rows``, drawn here, or None where
    this cannot tell: no rows, a cell of another type or with a character
    of another width, a column name twice, an alignment other than left or
    right, or a table that cliff would shrink to the width asked for or to
    the terminal's."""
    if not rows or not column_names or \
            any(type(name) is not str for name in column_names) or \
            len(set(column_names)) != len(column_names) or \
            any(align not in ('l', 'r') for align in alignments):
        return None
    header = _plain_row(column_names)
    if header is None:
        return None
    plain = (_plain_row(cliff_table._format_row(row)) for row in rows)
    cells = [row for row in plain
             if row is not None and len(row) == len(header)]
    if len(cells) != len(rows):
        return None
    table = draw_table(header, cells, alignments)
    return table if _fits(table.index('\n'), parsed_args) else None


def _fits(width: int, parsed_args: argparse.Namespace) -> bool:
    """Whether cliff would leave a table ``width`` columns wide as it is
    (its ``_assign_max_widths``, whose decision this repeats)."""
    max_width = int(parsed_args.max_width)
    if max_width > 0:
        return width <= max_width
    # cliff's _do_fit, which fails on a closed stdout (sys.stdout None)
    if not (parsed_args.fit_width
            or (sys.stdout is not None and sys.stdout.isatty())):
        return True
    terminal = cliff_utils.terminal_width()
    return not terminal or width <= terminal


class TableFormatter(cliff_table.TableFormatter):
    """cliff's ``table``, the same options and the same bytes, drawn here
    when every cell is text of one column a character (or a number, a
    boolean or None, which prettytable prints with ``str()``) and
    the table needs no shrinking; otherwise cliff and prettytable draw it.

    Why by hand: prettytable measures every cell with wcwidth, whose import
    (measured: 30 ms of a 200 ms ``token list``) was all that ``token list``
    paid over ``token show`` (benchmarks/RESULTS.md)."""

    def emit_list(self, column_names: Sequence[str],
                  data: Iterable[Sequence[Any]], stdout: TextIO,
                  parsed_args: argparse.Namespace) -> None:
        rows = list(data)
        # cliff aligns a column by the type of its value in the first row
        alignments = [self.ALIGNMENTS.get(type(value), 'l')
                      for value in rows[0]] if rows else []
        _write(plain_table(column_names, rows, alignments, parsed_args),
               stdout, functools.partial(super().emit_list, column_names,
                                         rows, stdout, parsed_args))

    def emit_one(self, column_names: Sequence[str], data: Sequence[Any],
                 stdout: TextIO, parsed_args: argparse.Namespace) -> None:
        rows = [(name, value)
                for name, value in zip(column_names, data, strict=False)]
        _write(plain_table(('Field', 'Value'), rows, ('l', 'l'),
                           parsed_args),
               stdout, functools.partial(super().emit_one, column_names,
                                         data, stdout, parsed_args))


def _write(table: str | None, stdout: TextIO,
           draw: Callable[[], None]) -> None:
    """``table`` as drawn here, else cliff's ``draw``; nothing when ntcli
    started with stdout closed, where nothing would be seen and cliff's
    table fails on ``sys.stdout`` (None)."""
    if table is not None:
        stdout.write(table + '\n')
    elif sys.stdout is not None:
        draw()
