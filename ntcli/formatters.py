"""ntcli's own output formats: ``text``, for people at a terminal, and
``csv`` as RFC 4180 writes it."""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from cliff import columns as cliff_columns
from cliff.formatters import base, commaseparated

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
