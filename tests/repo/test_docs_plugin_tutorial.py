"""The plugin guide's tutorial, done as a reader would do it.

The files of "Your first command" are written from the page's own blocks,
the plugin is made to look installed (``ntcli.testing.PluginSourceTree``
stands in for ``pip install -e .``), every ``$ ntcli …`` line of its
console blocks is run and its output compared with the page, step 4's
method is added to the class, and the tutorial's own tests are run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import testtools

from ntcli import testing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
PAGE = os.path.join(ROOT, 'docs', 'plugins', 'index.md')


def tutorial() -> list[tuple[str, str, list[str]]]:
    """(the line before, language, lines) of each fenced block of the
    section "Your first command"."""
    with open(PAGE, encoding='utf-8') as f:
        text = f.read()
    section = text.split('\n## Your first command\n', 1)[1].split('\n## ')[0]
    lines = section.split('\n')
    blocks = []
    index = 0
    while index < len(lines):
        match = re.match(r'^```(\w*)$', lines[index])
        if not match:
            index += 1
            continue
        end = lines.index('```', index + 1)
        before = next((line for line in reversed(lines[:index])
                       if line.strip()), '')
        blocks.append((before, match.group(1), lines[index + 1:end]))
        index = end + 1
    return blocks


def sessions(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The commands of a console block, each with the lines it printed."""
    runs: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith('$ '):
            runs.append((line[2:], []))
        else:
            runs[-1][1].append(line)
    return runs


class TestPluginTutorial(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.work = self.useFixture(testing.IsolatedHome()).path

    def test_the_tutorial_works_as_written(self):
        blocks = tutorial()
        languages = [language for _, language, _ in blocks]
        self.assertEqual('sh', languages[0])
        subprocess.run(['sh', '-e', '-c', '\n'.join(blocks[0][2])],
                       cwd=self.work, check=True)
        tree = os.path.join(self.work, 'ntcli-greet')
        written = []
        consoles = []
        for before, language, lines in blocks[1:]:
            named = re.fullmatch(r'`([\w./-]+)`:', before.strip())
            if named:
                with open(os.path.join(tree, named.group(1)), 'w',
                          encoding='utf-8') as f:
                    f.write('\n'.join(lines) + '\n')
                written.append(named.group(1))
            elif language == 'python' and lines[0].startswith('    def '):
                consoles.append(('method', lines))
            elif language == 'console':
                consoles.append(('console', lines))
        self.assertEqual(['pyproject.toml', 'setup.cfg',
                          'ntcli_greet/commands.py', 'tests/test_greet.py'],
                         written)
        self.assertEqual(['console', 'method', 'console'],
                         [kind for kind, _ in consoles])

        self.useFixture(testing.PluginSourceTree(tree))
        runner = self.useFixture(testing.CLIRunner())
        ran = 0
        for kind, lines in consoles:
            if kind == 'method':        # step 4: added to the class
                with open(os.path.join(tree, 'ntcli_greet', 'commands.py'),
                          'a', encoding='utf-8') as f:
                    f.write('\n' + '\n'.join(lines) + '\n')
                continue
            status = None
            for command, printed in sessions(lines):
                argv = shlex.split(command)
                if argv[:2] == ['pip', 'install']:
                    continue    # PluginSourceTree stands in for it
                if argv == ['echo', '$?']:
                    self.assertEqual(printed, [str(status)])
                    continue
                self.assertEqual('ntcli', argv[0], command)
                result = runner.run(*argv[1:])
                status = result.returncode
                self.assertEqual(printed, (result.stdout + result.stderr)
                                 .rstrip('\n').split('\n'), command)
                ran += 1
        self.assertEqual(4, ran)

        # "ntcli --help lists greet with its summary, and ntcli greet --help
        # shows its options."
        self.assertIn('Greet someone, in the current workspace',
                      runner.run('--help').check().stdout)
        self.assertIn('Who to greet.',
                      runner.run('greet', '--help').check().stdout)
        # "Run the tests with python -m testtools.run discover -s tests -t ."
        tests = subprocess.run(
            [sys.executable, '-m', 'testtools.run', 'discover', '-s', 'tests',
             '-t', '.'], cwd=tree, capture_output=True, text=True,
            timeout=300)
        self.assertEqual(0, tests.returncode, tests.stdout + tests.stderr)
        self.assertIn('Ran 2 tests', tests.stdout + tests.stderr)
