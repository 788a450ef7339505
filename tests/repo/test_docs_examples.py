"""Every command example of the documentation is run or checked.

The examples in ``{command-output}`` blocks run when the documentation is
built (docs/conf.py). Every other ``ntcli`` and ``ntcli-server`` command
line of the pages and of the READMEs, the example plugin's included (in
shell and console blocks, in CI workflow files, and in the inline code of
the text) needs a server, an identity provider, a CI job or a second
machine, so it cannot run there; this test parses each one with the
command's own parser and argument checks, the way ntcli does before it
acts: an unknown command or option, a missing argument, a value out of an
option's choices or an unknown ``-c`` column in the docs fails here.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import io
import os
import re
import shlex
from collections.abc import Iterator

import fixtures
import testtools
from cliff import app as cliff_app

from ntcli import application, errors, testing
from ntcli_server import cli as server_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DOCS = os.path.join(ROOT, 'docs')
PROGRAMS = ('ntcli', 'ntcli-server')
# Fenced blocks whose lines are all commands, and those where a command is
# a line starting with a prompt ("$ ") and the other lines are its output.
SHELL_BLOCKS = {'sh', 'shell', 'bash'}
CONSOLE_BLOCKS = {'console', 'text', ''}
# Inline code that is a synopsis, not an example: "[OPTION]", "A | B",
# "<your command>", "…" for what the reader fills in, or an upper-case
# placeholder word (JTI, NAME, DURATION).
SYNOPSIS = re.compile(
    r'[\[\]<>|…{}]|\.\.\.|(?<![\w-])[A-Z][A-Z_]{1,}(?![\w-])')
# A shell variable: a value the reader's script supplies.
VARIABLE = re.compile(r'\$\{?\w+\}?')
# A redirection (">/dev/null", "2>&1", "< file"), not an argument.
REDIRECTION = re.compile(r'(?<!\S)\d*(?:>>?|<)(?:&\d+|\s*[^\s;&|()]+)')
# The plugin tutorial's own command: test_docs_plugin_tutorial builds the
# plugin from the page and runs its examples.
TUTORIAL = ['ntcli', 'greet']
# The example plugin, whose README shows its commands: installed for the
# test, as its README says to.
EXAMPLE = os.path.join(ROOT, 'examples', 'ntcli-hello-plugin')
# Files the examples name, made in the test's HOME.
NAMED_FILES = ('corp-ca.pem',)


@dataclasses.dataclass
class Example:
    page: str
    line: int
    text: str
    #: inline code in the text, where a command's name alone is a mention
    inline: bool = False

    def __str__(self) -> str:
        return f'{self.page}:{self.line}: {self.text}'


def fenced_blocks(lines: list[str]) -> Iterator[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of each fenced block."""
    index = 0
    while index < len(lines):
        match = re.match(r'^\s*(```+|~~~+)\s*(\S*)', lines[index])
        if not match:
            index += 1
            continue
        fence, language = match.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        yield language, index + 2, lines[index + 1:end]
        index = end + 1


def _open_quote(text: str) -> bool:
    try:
        shlex.split(text)
    except ValueError:
        return True
    return False


def joined(lines: list[str], first: int) -> Iterator[tuple[int, str]]:
    """The logical lines: a trailing backslash, or a quote left open,
    continues a line."""
    current, start = '', first
    for number, line in enumerate(lines, first):
        if not current:
            start = number
        if line.rstrip().endswith('\\'):
            current += line.rstrip()[:-1] + ' '
            continue
        if _open_quote(current + line) and number < first + len(lines) - 1:
            current += line + '\n'
            continue
        yield start, current + line
        current = ''
    if current:
        yield start, current


def strip_comment(line: str) -> str:
    """The line without a shell comment (a # outside quotes)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in '\'"':
            quote = char
        elif char == '#' and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def page_examples(path: str) -> Iterator[Example]:
    """The command lines of one Markdown page."""
    page = os.path.relpath(path, ROOT)
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    in_block = set()
    for language, first, body in fenced_blocks(lines):
        in_block.update(range(first - 1, first + len(body) + 1))
        if language.startswith('{'):
            continue            # directives: command-output runs its own
        for number, line in joined(body, first):
            stripped = line.strip()
            if language in SHELL_BLOCKS:
                command = stripped
            elif language in CONSOLE_BLOCKS:
                if not stripped.startswith('$ '):
                    continue
                command = stripped[2:]
            elif language == 'yaml':
                match = re.match(r'^(?:-\s+)?(?:run:\s*)?(.*)$', stripped)
                command = match.group(1) if match else ''
            else:
                continue
            command = strip_comment(command)
            if re.search(r'(^|[\s;&|(])(\S*/)?ntcli(-server)?(\s|$)',
                         command):
                yield Example(page, number, command)
    for number, line in enumerate(lines, 1):
        if number - 1 in in_block:
            continue
        for match in re.finditer(r'`(ntcli(?:-server)? [^`]+)`', line):
            text = match.group(1)
            if not SYNOPSIS.search(text):
                yield Example(page, number, text, inline=True)


def all_examples() -> list[Example]:
    pages = sorted(glob.glob(os.path.join(DOCS, '**', '*.md'),
                             recursive=True))
    pages += [os.path.join(ROOT, 'README.md'), os.path.join(EXAMPLE,
                                                            'README.md')]
    return [example for path in pages for example in page_examples(path)]


def command_lines(text: str) -> Iterator[list[str]]:
    """The argv of each ntcli or ntcli-server command in a shell line,
    those in $(…) included, each from its program's name on."""
    inner = []

    def substitute(match: re.Match) -> str:
        inner.append(match.group(1))
        return 'x'
    while '$(' in text:
        new = re.sub(r'\$\(([^()]*)\)', substitute, text)
        if new == text:
            break
        text = new
    for part in inner:
        yield from command_lines(part)
    text = VARIABLE.sub('x', text)
    text = REDIRECTION.sub('', text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=';&|()')
    lexer.whitespace_split = True
    words = list(lexer)
    command: list[str] = []
    for word in words + [';']:
        if word and set(word) <= set(';&|()'):
            if command:
                yield from _program(command)
            command = []
        else:
            command.append(word)


def _program(words: list[str]) -> Iterator[list[str]]:
    """``words`` from the program's name on, when it is ntcli's."""
    for index, word in enumerate(words):
        if re.match(r'^\w+=', word) or word in ('command', 'exec', 'sudo'):
            continue            # VAR=value before a command
        if os.path.basename(word) in PROGRAMS:
            yield [os.path.basename(word)] + words[index + 1:]
        return


class Refused(Exception):
    """The example would be refused before ntcli acts."""


def check(argv: list[str], mention: bool = False) -> None:
    """Parse argv as ntcli (or ntcli-server) would before acting; raise
    Refused with what it would say. A ``mention`` names a command: without
    arguments, only its name is checked."""
    program, args = argv[0], argv[1:]
    stdout, stderr = io.StringIO(), io.StringIO()
    app: cliff_app.App
    try:
        with contextlib.redirect_stderr(stderr), \
                contextlib.redirect_stdout(stdout):
            if program == 'ntcli':
                app = application.NtcliApp(stdout=stdout, stderr=stderr)
            else:
                app = server_cli.ServerApp()
            options, remainder = app.parser.parse_known_args(args)
            app.options = options
            if not remainder:
                return          # the interactive mode, or --version
            found = app.command_manager.find_command(remainder)
            factory, name, sub_argv = found
            cmd = factory(app, options, cmd_name=name)
            parser = cmd.get_parser(f'{program} {name}')
            if mention and not sub_argv:
                return
            if any(a in ('-h', '--help') for a in sub_argv):
                return
            parsed = parser.parse_args(sub_argv)
            check_arguments = getattr(cmd, 'check_arguments', None)
            if check_arguments is not None:
                check_arguments(parsed)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise Refused(stderr.getvalue().strip()
                          or f'exit status {exc.code}') from None
    except (ValueError, errors.UsageError, argparse.ArgumentError) as exc:
        raise Refused(str(exc)) from None


class TestDocsExamples(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # parsing reads no file, but a mistake must not touch the real HOME
        home = self.useFixture(testing.IsolatedHome())
        for name in NAMED_FILES:
            with open(os.path.join(home.path, name), 'w'):
                pass
        self.useFixture(fixtures.EnvironmentVariable('COLUMNS', '100'))
        self.useFixture(testing.PluginSourceTree(EXAMPLE))

    def test_the_pages_have_examples_to_check(self):
        # the extraction finds what it should: a page of each reader
        examples = all_examples()
        folders = {e.page.split(os.sep)[:2][-1] for e in examples}
        self.assertLessEqual({'user', 'operator', 'plugins', 'README.md',
                              'ntcli-hello-plugin'}, folders)
        self.assertGreater(len(examples), 50)

    def test_every_example_parses(self):
        refused = []
        for example in all_examples():
            for argv in command_lines(example.text):
                if argv[:2] == TUTORIAL:
                    continue
                try:
                    check(argv, mention=example.inline)
                except Refused as exc:
                    refused.append(f'{example}\n    {exc}')
        self.assertEqual([], refused, '\n'.join(refused))

    def test_a_wrong_example_is_refused(self):
        # the check can fail: each of these is a mistake a page could make
        for text in ('ntcli token lst',
                     'ntcli token list --no-such-option',
                     'ntcli token list -c NoSuchColumn',
                     'ntcli token list -f xml',
                     'ntcli token revoke',
                     'ntcli-server keys retier',
                     'x=$(ntcli token show -c nosuch)'):
            argvs = list(command_lines(text))
            self.assertEqual(1, len(argvs), text)
            self.assertRaises(Refused, check, argvs[0])

    def test_command_lines(self):
        self.assertEqual(
            [['ntcli', 'token', 'list', '-f', 'value', '-c', 'JTI'],
             ['ntcli', 'token', 'revoke', '--force', 'x']],
            list(command_lines('ntcli token revoke --force '
                               '"$(ntcli token list -f value -c JTI | '
                               'tail -n 1)"')))
        self.assertEqual(
            [['ntcli', 'token', 'exec', '--', 'sh', '-c', 'echo x']],
            list(command_lines("NTCLI_TOKEN=x ntcli token exec -- "
                               "sh -c 'echo $NTCLI_TOKEN'")))
