"""``plugin list``: what the installed distributions add to ntcli.

As ``openstack command list`` does, it reads the entry points of every
installed distribution (ntcli's own included) without importing any of
them, so that a plugin that fails to import is listed all the same.
"""

from __future__ import annotations

import argparse
from importlib import metadata

from ntcli import command

#: entry point namespace -> what its plugins add
KINDS = {
    'ntcli.commands': 'command',
    'ntcli.endpoints': 'endpoint',
    'ntcli.formatter.show': 'show format',
    'ntcli.formatter.list': 'list format',
}


class ListPlugins(command.Lister):
    """List the commands, endpoints and formats of installed distributions.

    One row per entry point, with the distribution that provides it and
    its version; a command whose name another command already takes is
    marked ignored.
    """

    fields = dict.fromkeys(('Name', 'Kind', 'Distribution', 'Version',
                            'Status', 'Entry Point'))
    long_columns = ('Entry Point',)
    checks_settings = False     # lists whatever the settings

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--kind', choices=sorted(KINDS.values()), default=None,
            help='Only the plugins of this kind.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        conflicts = getattr(self.app.command_manager, 'conflicts', {})
        rows = set()
        for dist in metadata.distributions():
            for entry_point in dist.entry_points:
                kind = KINDS.get(entry_point.group)
                if kind is None or parsed_args.kind not in (None, kind):
                    continue
                name = entry_point.name
                status = 'ok'
                if kind == 'command':
                    name = name.replace('_', ' ')
                    if conflicts.get(name) == entry_point.value:
                        status = 'ignored: the name is taken'
                rows.add((name, kind, dist.metadata['Name'] or '',
                          dist.version or '', status, entry_point.value))
        return tuple(self.fields), sorted(
            rows, key=lambda row: (row[1], row[0], row[2]))
