"""Shared plumbing for tests that run the installed ntcli."""

import json
import os

import testtools

from ntcli import testing


class FunctionalTest(testtools.TestCase):
    """A test with an isolated HOME and the installed ntcli to run in it."""

    def setUp(self):
        super().setUp()
        self.runner = self.useFixture(testing.CLIRunner())
        self.home = self.runner.home

    def ntcli(self, *args, expect=0, **kwargs):
        result = self.runner.run(*args, **kwargs)
        if expect is not None:
            self.assertEqual(expect, result.returncode,
                             f'ntcli {" ".join(args)}\nstdout: '
                             f'{result.stdout}\nstderr: {result.stderr}')
        return result

    def json(self, *args, **kwargs):
        return json.loads(self.ntcli(*args, '-f', 'json', **kwargs).stdout)

    def stored(self):
        """The stored token's show output, with its value."""
        return self.json('token', 'show', '--show-token')

    def files_under_home(self):
        for root, _dirs, files in os.walk(self.home.path):
            for name in files:
                yield os.path.join(root, name)
