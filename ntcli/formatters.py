"""ntcli's own output format: ``text``, for people at a terminal."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from cliff import columns as cliff_columns
from cliff.formatters import base


def _human(value: Any) -> str:
    if isinstance(value, cliff_columns.FormattableColumn):
        return value.human_readable()
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return str(value)


def label_for(column: str) -> str:
    """``expires_at`` -> ``Expires at``."""
    text = column.replace('_', ' ').strip()
    return text[:1].upper() + text[1:]


class TextFormatter(base.SingleFormatter):
    """Human text: the command's own layout, else ``Label:  value`` lines."""

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
            stdout.write(line + '\n')

    @staticmethod
    def generic_lines(column_names: Sequence[str],
                      data: Sequence[Any]) -> list[str]:
        """An aligned ``Label:  value`` block."""
        labels = [label_for(c) + ':' for c in column_names]
        width = max((len(label) for label in labels), default=0) + 1
        return [f'{label:<{width}} {_human(value)}'.rstrip()
                for label, value in zip(labels, data, strict=False)]
