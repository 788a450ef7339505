"""``ntcli-columns``: the table of every display command's columns, made
from the commands' own declarations (``fields``, ``declared_fields`` and
``long_columns`` of :mod:`ntcli.command`), so that it cannot drift from
what ``-c`` accepts."""

from __future__ import annotations

import argparse
import contextlib
import io
from typing import Any

import stevedore
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from ntcli import command


def _names(fields: command.Fields) -> list[str]:
    parts = []
    for name, keys in fields.items():
        sub = f" ({', '.join(f'`{name}_{k}`' for k in keys)})" if keys \
            else ''
        parts.append(f'`{name}`{sub}')
    return parts


def _parse(parser: argparse.ArgumentParser, args: list[str]
           ) -> argparse.Namespace | None:
    """``args`` parsed, with a placeholder for each positional argument;
    None if the parser refuses them."""
    placeholders = ['x' for action in parser._actions
                    if not action.option_strings and action.required]
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return parser.parse_known_args(placeholders + args)[0]
    except SystemExit:
        return None


def describe(name: str, cls: Any) -> str:
    """The columns of one command, with those that options add."""
    cmd = cls(None, None)
    # built here: its usage errors go to this stderr, silenced below
    with contextlib.redirect_stderr(io.StringIO()):
        parser = cmd.get_parser(f'ntcli {name}')
    defaults = _parse(parser, [])
    base = cmd.declared_fields(defaults) or {}
    text = ', '.join(_names(base))
    for action in parser._actions:
        if not action.option_strings or action.dest == 'help' \
                or action.choices is not None \
                or action.type is not None:
            continue
        option = action.option_strings[-1]
        parsed = _parse(parser, [option] if action.nargs == 0
                        else [option, '1d'])
        if parsed is None:
            continue
        added = {k: v for k, v in (cmd.declared_fields(parsed) or {}).items()
                 if k not in base}
        if added:
            text += f'; with `{option}` also ' + ', '.join(_names(added))
    long_columns = getattr(cls, 'long_columns', ())
    if long_columns:
        text += ('; by default without '
                 + ', '.join(f'`{c}`' for c in long_columns)
                 + ', which `--long` (or `-c`) adds')
    return text


class ColumnsTable(SphinxDirective):
    """The columns table of every display command of ``ntcli.commands``."""

    def run(self) -> list[nodes.Node]:
        manager = stevedore.ExtensionManager('ntcli.commands')
        lines = ['| command | columns |', '| --- | --- |']
        for extension in sorted(manager, key=lambda e: e.name):
            cls = extension.plugin
            if not issubclass(cls, (command.ShowOne, command.Lister)) \
                    or cls.fields is None:
                continue
            name = extension.name.replace('_', ' ')
            lines.append(f'| `{name}` | {describe(name, cls)} |')
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source='ntcli-columns'),
                                self.content_offset, container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive('ntcli-columns', ColumnsTable)
    return {'parallel_read_safe': True}
