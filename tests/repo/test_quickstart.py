"""The README's quick start is two commands, and CI runs exactly them."""

from __future__ import annotations

import os
import re
import shlex

import testtools

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def read(name: str) -> str:
    with open(os.path.join(TOP, name), encoding='utf-8') as f:
        return f.read()


def quick_start_commands() -> list[str]:
    """The command lines of the README's quick start block."""
    section = read('README.md').split('## Quick start', 1)[1]
    block = re.search(r'```sh\n(.*?)```', section, re.S)
    assert block is not None, 'no sh block under "## Quick start"'
    return [line for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


def ci_command(variable: str) -> str:
    """A command that .ci/run assigns to ``variable`` and runs."""
    match = re.search(rf'^{variable}=(.*)$', read('.ci/run'), re.M)
    assert match is not None, f'.ci/run sets no {variable}'
    [value] = shlex.split(match.group(1))
    return value


class TestQuickStart(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        if not os.path.exists(os.path.join(TOP, '.ci', 'run')):
            self.skipTest('not run from a source tree (no .ci/run)')

    def test_two_commands_that_ci_runs(self) -> None:
        self.assertEqual(
            [ci_command('MAIN_COMMAND'), ci_command('TEST_COMMAND')],
            quick_start_commands())

    def test_each_sets_up_from_nothing_but_python3(self) -> None:
        main, tests = quick_start_commands()
        for command in (main, tests):
            self.assertTrue(command.startswith('python3 -m venv .venv && '),
                            command)
        self.assertTrue(main.endswith(' token refresh'), main)
        self.assertIn("'.[test]'", tests)
