"""The completion table: every command, option and column, made once per
plugin set.

Tab must answer a command or option name without starting the
application, which imports cliff and every command's module. The table
says what the application would: the global options; each command's
summary, options (their names, help line, whether they take a value,
their choices), positional arguments and columns (with the options that
add columns). :mod:`ntcli.completion_engine` walks a line over it.

It is made from the running application (:func:`build`) by the first
``ntcli complete --query`` that finds none usable, and kept in the cache
(:mod:`ntcli.completion_cache`) with what it was made from: the Python,
``sys.path`` with each entry's modification time and each distribution's
``entry_points.txt`` there (installing, upgrading or removing a
distribution changes them: the set of plugins, as stevedore's own cache
sees it), ntcli's version, and the source files of the commands. When any
of these differs, Tab starts the application once, which makes the table
again.
"""

from __future__ import annotations

import os
import sys

import ntcli
from ntcli import completion_cache, completion_engine

# typing is left out at run time: see ntcli.main
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

_SUFFIXES = ('.dist-info', '.egg-info')


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def signature() -> list:
    """What the installed plugin set is read from (stevedore's cache key):
    the interpreter, each ``sys.path`` entry and the ``entry_points.txt``
    of each distribution in it, with their modification times."""
    found: list = [sys.executable, sys.prefix, ntcli.__version__]
    for entry in sys.path:
        found.append([entry, _mtime(entry)])
        try:
            names = sorted(os.listdir(entry or '.'))
        except OSError:
            continue
        for name in names:
            if name.endswith(_SUFFIXES):
                path = os.path.join(entry, name, 'entry_points.txt')
                found.append([path, _mtime(path)])
    return found


def _file_name() -> str:
    return f'table-{completion_cache.digest(sys.executable)}.marshal'


def _sources_unchanged(sources: object) -> bool:
    return isinstance(sources, dict) and all(
        isinstance(mtime, int) and _mtime(path) == mtime
        for path, mtime in sources.items())


def load() -> dict | None:
    """The table of this installation, if one was made for its plugin set
    as it is now; None otherwise."""
    content = completion_cache.read(_file_name())
    if content is None or content.get('signature') != signature() \
            or not _sources_unchanged(content.get('sources')):
        return None
    table = content.get('table')
    return table if _well_formed(table) else None


def _well_formed(table: object) -> bool:
    """The shape the engine walks (a hand-edited or damaged table is
    ignored)."""
    def option(item: object) -> bool:
        return (isinstance(item, dict)
                and isinstance(item.get('names'), list)
                and all(isinstance(n, str) for n in item['names'])
                and isinstance(item.get('dest'), str)
                and isinstance(item.get('help'), str)
                and isinstance(item.get('value'), bool)
                and isinstance(item.get('hidden'), bool)
                and (item.get('choices') is None
                     or isinstance(item.get('choices'), list))
                and ('nargs' not in item or item['nargs'] is None
                     or isinstance(item['nargs'], (str, int))))

    def names(items: object) -> bool:
        return isinstance(items, list) and all(
            isinstance(n, str) for n in items)

    def command(item: object) -> bool:
        if not isinstance(item, dict) or not isinstance(
                item.get('summary'), str):
            return False
        if item.get('options') is None:
            return True
        flags = item.get('flag_columns')
        return (isinstance(item['options'], list)
                and all(option(o) for o in item['options'])
                and isinstance(item.get('positionals'), list)
                and all(option(p) for p in item['positionals'])
                and (item.get('columns') is None or names(item['columns']))
                and isinstance(flags, dict)
                and all(names(v) for v in flags.values()))
    return (isinstance(table, dict)
            and isinstance(table.get('global'), list)
            and all(option(o) for o in table['global'])
            and isinstance(table.get('commands'), dict)
            and all(command(c) for c in table['commands'].values()))


# -- making it ----------------------------------------------------------------

def _option(action: argparse.Action) -> dict[str, Any]:
    return {'names': list(action.option_strings), 'dest': action.dest,
            'help': completion_engine.summary(action.help),
            'hidden': action.help == '==SUPPRESS==',
            'value': action.nargs != 0, 'nargs': action.nargs,
            'choices': [str(c) for c in action.choices]
            if action.choices else None}


def _options(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    return [_option(a) for a in parser._actions if a.option_strings]


def _parse_known(parser: argparse.ArgumentParser,
                 args: list[str]) -> argparse.Namespace:
    """What ``parser`` makes of ``args``, errors ignored (a parser that is
    not ntcli's cannot parse quietly: its defaults alone)."""
    from ntcli_core.cli_parser import ArgumentParser, UsageProblem
    if isinstance(parser, ArgumentParser):
        for attempt in (args, []):
            try:
                return parser.parse_known_quietly(attempt)
            except (UsageProblem, SystemExit):      # SystemExit: -h
                continue
    import argparse
    return argparse.Namespace()


def _columns(cmd: Any, parser: argparse.ArgumentParser
             ) -> tuple[list[str] | None, dict[str, list[str]]]:
    """The command's columns, and the flags that change them."""
    import argparse

    from ntcli.display import column_choices
    declared = getattr(cmd, 'declared_fields', None)
    if declared is None:
        return None, {}
    base = column_choices(declared(_parse_known(parser, [])) or {})
    flags = {}
    for action in parser._actions:
        if isinstance(action, argparse._StoreConstAction):
            flag = action.option_strings[-1]
            names = column_choices(declared(_parse_known(
                parser, [flag])) or {})
            if names != base:
                for option in action.option_strings:
                    flags[option] = names
    return base, flags


def _source(cls: type) -> dict[str, int]:
    """The files of a command class and of the classes it derives from."""
    found = {}
    for klass in cls.__mro__:
        path = getattr(sys.modules.get(klass.__module__), '__file__', None)
        if path:
            found[path] = _mtime(path)
    return found


def build(app: Any) -> tuple[dict, dict[str, int]]:
    """The table of ``app`` (ntcli's cliff application) and the source
    files it was read from."""
    sources = _source(type(app))
    commands: dict[str, dict] = {}
    for name, entry_point in sorted(app.command_manager):
        try:
            cls = entry_point.load()
            cmd = cls(app, None)
            parser = cmd.get_parser(f'ntcli {name}')
            summary = completion_engine.summary(cmd.get_description())
        except Exception:
            # offered as a name; its options are not known
            commands[name] = {'summary': '', 'options': None}
            continue
        sources.update(_source(cls))
        columns, flag_columns = _columns(cmd, parser)
        commands[name] = {
            'summary': summary, 'options': _options(parser),
            'positionals': [_option(a) for a in parser._actions
                            if not a.option_strings],
            'columns': columns, 'flag_columns': flag_columns}
    return {'global': _options(app.parser), 'commands': commands}, sources


def current(app: Any) -> dict:
    """The table of ``app``: the one kept, or one made now and kept."""
    table = load()
    if table is None:
        table, sources = build(app)
        completion_cache.write(_file_name(), {
            'signature': signature(), 'sources': sources, 'table': table})
    return table
