"""Every display command of every ``ntcli.commands`` entry point, in every
format: each column it prints is one its declaration offers to ``-c``,
and ``-c`` with those columns works in that format."""

from __future__ import annotations

import csv
import io
import json
import re

import stevedore
import testtools
import yaml

from ntcli import command, testing
from tests.functional.test_remote import RemoteTest

# Arguments a command needs to run here; a new display command that needs
# some gets a line (the test says which).
ARGUMENTS = {
    'token revoke': lambda t: ['--force', t.spare_jti()],
    'workspace create': lambda t: [t.new_name()],
    'workspace select': lambda t: [t.workspace_name],
    'trust create': lambda t: [t.new_name(), '--issuer', ISSUER,
                               '--claim', 'repository=acme/app'],
    'trust show': lambda t: ['walk-policy'],
    'context use': lambda t: [t.context_name],
    'context create': lambda t: [t.new_name()],
}
# Global options a command needs, before its name.
GLOBAL_ARGUMENTS = {
    'context create': lambda t: ['--endpoint', t.walk_endpoint],
}
ISSUER = 'https://token.actions.githubusercontent.com'
# Commands that only a server answers (the remote walk covers them).
REMOTE_ONLY = ('trust create', 'trust list', 'trust show',
               'workspace events')
# Names a format prints for the columns, or None when it prints none.
FORMAT_NAMES = {
    'text': None,
    'value': None,
}


def printed_names(fmt: str, out: str, listing: bool) -> list[str] | None:
    """The column names that ``out``, in format ``fmt``, shows."""
    if fmt in FORMAT_NAMES:
        return FORMAT_NAMES[fmt]
    if fmt in ('json', 'yaml'):
        data = json.loads(out) if fmt == 'json' else yaml.safe_load(out)
        rows = data if isinstance(data, list) else [data]
        return list(dict.fromkeys(k for row in rows for k in row))
    if fmt == 'csv':
        return next(csv.reader(io.StringIO(out)))
    if fmt == 'shell':
        return re.findall(r'^(\w+)=', out, re.M)
    if fmt == 'table':
        lines = [line for line in out.splitlines() if line.startswith('|')]
        cells = [[c.strip() for c in line.strip('|').split('|')]
                 for line in lines]
        if listing:
            return cells[0]
        return [row[0] for row in cells[1:]]
    raise AssertionError(f'format {fmt} is not known to this test')


class EveryColumnIsDeclared:
    """The walk; the classes below give it an endpoint."""

    remote = False
    workspace_name = 'default'
    # the endpoint of the contexts the walk creates: one that the endpoint
    # of the run (NTCLI_ENDPOINT, for the remote walk) does not name
    walk_endpoint = 'local'
    context_name = 'local'

    def ntcli(self, *args):
        result = self.runner.run_in_process(*args)
        self.assertEqual(0, result.returncode,
                         f'ntcli {" ".join(args)}: {result.stderr}')
        return result

    def spare_jti(self):
        return json.loads(self.ntcli('token', 'create', '-f', 'json')
                          .stdout)['jti']

    def new_name(self):
        self.names += 1
        return f'walk-{self.names}'

    def display_commands(self):
        manager = stevedore.ExtensionManager('ntcli.commands')
        for extension in sorted(manager, key=lambda e: e.name):
            cls = extension.plugin
            if issubclass(cls, (command.ShowOne, command.Lister)):
                yield extension.name.replace('_', ' '), cls

    def test_every_printed_column_is_a_choice_in_every_format(self):
        walked = []
        for name, cls in self.display_commands():
            if name in REMOTE_ONLY and not self.remote:
                continue
            self.assertTrue(cls.fields is not None,
                            f'{name} declares no columns')
            extra = ARGUMENTS.get(name, lambda t: [])
            before = GLOBAL_ARGUMENTS.get(name, lambda t: [])
            formats = stevedore.ExtensionManager(cls.formatter_namespace)
            for fmt in sorted(formats.names()):
                args = [*name.split(), *extra(self), '-f', fmt]
                out = self.ntcli(*before(self), *args).stdout
                shown = printed_names(fmt, out, issubclass(cls,
                                                           command.Lister))
                if shown is None:
                    continue
                self.assertNotEqual([], shown, (name, fmt, out))
                parser = cls(None, None).get_parser(name)
                parsed = parser.parse_known_args(args)[0]
                choices = {c.lower().replace(' ', '_') for c in
                           command.column_choices(
                               cls(None, None).declared_fields(parsed))}
                for column in shown:
                    self.assertIn(column.lower().replace(' ', '_'), choices,
                                  f'{name} -f {fmt} prints {column!r}')
                picked = [a for c in shown for a in ('-c', c)]
                again = self.ntcli(*before(self), *name.split(),
                                   *extra(self), '-f', fmt, *picked).stdout
                self.assertEqual(
                    shown, printed_names(fmt, again,
                                         issubclass(cls, command.Lister)),
                    f'ntcli {name} -f {fmt} with -c')
            walked.append(name)
        self.assertIn('token list', walked)
        self.assertIn('token show', walked)
        self.assertIn('token revoke', walked)


class TestEmbedded(EveryColumnIsDeclared, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())
        self.names = 0
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'create', '--description', 'ci')


class TestRemote(EveryColumnIsDeclared, RemoteTest):

    remote = True

    def setUp(self):
        super().setUp()
        self.names = 0
        self.workspace_name = self.workspace.name
        self.walk_endpoint = 'https://walk.invalid'
        self.context_name = json.loads(self.ntcli(
            'context', 'show', '-f', 'json').stdout)['name']
        self.login_and_select()
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'create', '--description', 'ci')
        self.ntcli('trust', 'create', 'walk-policy', '--issuer', ISSUER,
                   '--claim', 'repository=acme/app')
