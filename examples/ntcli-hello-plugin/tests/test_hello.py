"""Tests of the hello commands, written with ntcli.testing.

Run them from this directory with the plugin installed:
``pip install -e '.[test]' && stestr run``.
"""

import importlib.metadata
import json
import time

import testtools
import yaml
from ntcli_hello import commands

from ntcli import testing

DAY = 86400


class HelloTestCase(testtools.TestCase):
    """An isolated HOME, the embedded endpoint ntcli uses in it, a runner."""

    def setUp(self):
        super().setUp()
        names = {ep.name for ep in
                 importlib.metadata.entry_points(group='ntcli.commands')}
        if 'hello' not in names:
            self.fail("The plugin is not installed: run 'pip install -e .' "
                      'in examples/ntcli-hello-plugin first.')
        self.runner = self.useFixture(testing.CLIRunner())
        self.authority = self.runner.embedded_endpoint()

    def ntcli(self, *args, expect=0):
        return self.runner.run(*args).check(expect)


class TestHello(HelloTestCase):

    def test_without_a_stored_token(self):
        workspace = self.authority.workspace()
        result = self.ntcli('hello')
        self.assertEqual(
            ['Hello, world!',
             f'Workspace:     default ({workspace.id})',
             'Endpoint:      local',
             "Stored token:  none (run 'ntcli token refresh' to get one)"],
            result.stdout.splitlines())
        self.assertEqual('', result.stderr)

    def test_with_a_stored_token(self):
        issued = self.authority.issue_token()
        self.runner.home.store_token(issued)
        data = self.ntcli('hello', '-f', 'json').json()
        self.assertTrue(data['token_stored'])
        self.assertEqual(issued.jti, data['token_jti'])

    def test_after_token_refresh(self):
        refreshed = self.ntcli('token', 'refresh', '-f', 'json').json()
        data = self.ntcli('hello', '-f', 'yaml')
        self.assertEqual(refreshed['new_token']['jti'],
                         yaml.safe_load(data.stdout)['token_jti'])

    def test_name_and_workspace(self):
        self.authority.create_workspace('team-a')
        data = self.ntcli('-w', 'team-a', 'hello', '--name', ' Ada ',
                          '-f', 'json').json()
        self.assertEqual('Hello, Ada!', data['greeting'])
        self.assertEqual('team-a', data['workspace'])

    def test_shell_format(self):
        result = self.ntcli('hello', '-f', 'shell', '-c', 'greeting')
        self.assertEqual('greeting="Hello, world!"\n', result.stdout)

    def test_invalid_name_is_a_usage_error(self):
        result = self.ntcli('hello', '--name', '', expect=2)
        self.assertEqual(
            ["Invalid name ''",
             'Hint: Give 1 to 64 printable characters, e.g. --name Ada.'],
            result.stderr.splitlines())
        self.assertEqual('', result.stdout)

    def test_require_token_fails_without_one(self):
        result = self.ntcli('hello', '--require-token', expect=1)
        self.assertEqual(
            ["No token is stored for workspace 'default'",
             "Hint: Run 'ntcli token refresh' to get one."],
            result.stderr.splitlines())

    def test_in_process(self):
        result = self.runner.run_in_process('hello', '-f', 'value',
                                            '-c', 'endpoint').check()
        self.assertEqual('local\n', result.stdout)


class TestHelloTokens(HelloTestCase):

    def test_days_left(self):
        soon = self.authority.issue_token(expires_in=10 * DAY)
        later = self.authority.issue_token(expires_in=400 * DAY)
        never = self.authority.issue_token(expires_in=None)
        revoked = self.authority.issue_token()
        self.authority.revoke_token(revoked.jti)
        rows = self.ntcli('hello', 'tokens', '-f', 'json').json()
        self.assertEqual(
            [{'JTI': soon.jti, 'Days left': 10},
             {'JTI': later.jti, 'Days left': 400},
             {'JTI': never.jti, 'Days left': None}],
            sorted(rows, key=lambda r: r['Days left'] or 10 ** 6))

    def test_table_says_never(self):
        never = self.authority.issue_token(expires_in=None)
        table = self.ntcli('hello', 'tokens').stdout
        self.assertRegex(table, rf'\| {never.jti} \| never +\|')

    def test_within(self):
        soon = self.authority.issue_token(expires_in=3 * DAY)
        self.authority.issue_token(expires_in=90 * DAY)
        self.authority.issue_token(expires_in=None)
        result = self.ntcli('hello', 'tokens', '--within', '30',
                            '-f', 'value')
        self.assertEqual(f'{soon.jti} 3\n', result.stdout)

    def test_empty_list_warns_on_stderr(self):
        result = self.ntcli('hello', 'tokens', '-f', 'json')
        self.assertEqual([], json.loads(result.stdout))
        self.assertEqual(
            "Warning: no matching tokens in workspace 'default'.\n",
            result.stderr)

    def test_negative_days_is_a_usage_error(self):
        result = self.ntcli('hello', 'tokens', '--within=-1', expect=2)
        self.assertEqual(
            ['Invalid number of days: -1',
             'Hint: Give 0 or more days, e.g. --within 30.'],
            result.stderr.splitlines())


class TestDaysLeft(testtools.TestCase):

    def test_rounds_up_and_stops_at_zero(self):
        now = time.time()
        self.assertEqual(1, commands.days_left(int(now) + 60, now))
        self.assertEqual(2, commands.days_left(int(now + DAY) + 60, now))
        self.assertEqual(0, commands.days_left(int(now) - DAY, now))
        self.assertIsNone(commands.days_left(None, now))
