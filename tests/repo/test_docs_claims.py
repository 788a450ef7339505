"""What the documentation and the help say is what ntcli does.

Each test holds a claim that was once false, or that nothing else checked:
the pages a message sends its reader to exist (installed users have no
``docs/`` directory, so no message or help names a path in it); the man
pages' environment variables and exit statuses; the error envelope of the
API reference; ``--sort-column``'s help; the global options of the user
guide; the messages the troubleshooting page explains and the output the
pages show without running it are ones ntcli prints; no page installs
ntcli from a package index.
"""

from __future__ import annotations

import ast
import glob
import os
import re

import stevedore
import testtools

from ntcli import command
from ntcli_server import openapi
from tests.repo.test_docs_examples import fenced_blocks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DOCS = os.path.join(ROOT, 'docs')
PACKAGES = ('ntcli_core', 'ntcli_authority', 'ntcli', 'ntcli_server',
            'ntcli_token_plugin')
# Stands for the part of an f-string filled in when it is printed.
FILLED = '\x00'
# How a message names a page: the documentation's page "TITLE".
PAGE_REFERENCE = re.compile(r'''page ["']([^"']+)["']''')


def read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as f:
        return f.read()


def page_titles() -> set[str]:
    """The title of every page, without markup, and its part before a
    colon (a message may name "Tokens for machines")."""
    titles = set()
    for path in glob.glob(os.path.join(DOCS, '**', '*.md'), recursive=True):
        with open(path, encoding='utf-8') as f:
            heading = next((line for line in f if line.startswith('# ')),
                           None)
        if heading:
            title = heading[2:].strip().replace('`', '')
            titles.update({title, title.split(':')[0]})
    for path in glob.glob(os.path.join(DOCS, '**', '*.rst'), recursive=True):
        lines = read(path).split('\n')
        for above, line, below in zip(lines, lines[1:], lines[2:],
                                      strict=False):
            if set(above) == {'='} and set(below) == {'='} and line:
                titles.add(line.strip().replace('``', ''))
                break
    return titles


def product_strings() -> list[tuple[str, int, str]]:
    """(module path, line, text) of every string in the product but its
    docstrings (comments for whoever changes the code): the messages. The
    help, class docstrings of commands included, is read from the
    parsers (see help_texts)."""
    found = []
    for package in PACKAGES:
        for path in glob.glob(os.path.join(ROOT, package, '**', '*.py'),
                              recursive=True):
            tree = ast.parse(read(path))
            skip = set()
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef,
                                     ast.FunctionDef, ast.AsyncFunctionDef)
                              ) and node.body:
                    first = node.body[0]
                    if isinstance(first, ast.Expr) and isinstance(
                            first.value, ast.Constant):
                        skip.add(id(first.value))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(
                        node.value, str) and id(node) not in skip:
                    found.append((os.path.relpath(path, ROOT), node.lineno,
                                  node.value))
                elif isinstance(node, (ast.JoinedStr, ast.BinOp)):
                    text = _template(node)
                    if text is not None:
                        found.append((os.path.relpath(path, ROOT),
                                      node.lineno, text))
    return found


def _template(node: ast.expr) -> str | None:
    """An f-string, or a sum of strings ('a ' + x + '.'), with FILLED for
    what is filled in when it is printed; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ''.join(v.value if isinstance(v, ast.Constant) else FILLED
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else FILLED) + (
            right if right is not None else FILLED)
    return None


def help_texts() -> list[tuple[str, str]]:
    """(command, its --help) of every command of both applications."""
    from ntcli import application
    from ntcli_server import cli
    texts = []
    for app in (application.NtcliApp(), cli.ServerApp()):
        for name, entry in sorted(app.command_manager):
            cmd = entry.load()(app, None, cmd_name=name)
            texts.append((f'{app.NAME} {name}',
                          cmd.get_parser(f'{app.NAME} {name}').format_help()))
        texts.append((app.NAME, app.parser.format_help()))
    return texts


# A path into the repository's docs/ (or "docs: plugins"), which installed
# users do not have.
DOCS_PATH = re.compile(r'\bdocs[/:]|\b[\w-]+\.(md|rst)\b')


class TestMessagesNamePublishedPages(testtools.TestCase):

    def test_no_message_names_a_docs_path(self):
        paths = [f'{path}:{line}: {text!r}'
                 for path, line, text in product_strings()
                 if DOCS_PATH.search(text)]
        self.assertEqual([], paths)

    def test_no_help_names_a_docs_path(self):
        texts = help_texts()
        self.assertGreater(len(texts), 30)
        paths = [f'{name}: {match.group(0)}' for name, text in texts
                 for match in [DOCS_PATH.search(text)] if match]
        self.assertEqual([], paths)

    def test_the_pages_named_exist(self):
        titles = page_titles()
        named = [(path, line, title) for path, line, text in product_strings()
                 for title in PAGE_REFERENCE.findall(text)]
        named += [(name, 0, title) for name, text in help_texts()
                  for title in PAGE_REFERENCE.findall(' '.join(text.split()))]
        self.assertNotEqual([], named)
        missing = [f'{path}:{line}: {title!r}'
                   for path, line, title in named if title not in titles]
        self.assertEqual([], missing)

    def test_a_missing_page_would_be_found(self):
        self.assertNotIn('Tokens for robots', page_titles())
        self.assertIn('Tokens for machines', page_titles())
        self.assertIn('Running several ntcli-server nodes', page_titles())


class TestTroubleshooting(testtools.TestCase):

    def test_each_message_it_explains_is_one_ntcli_prints(self):
        # the terms of the page: `message` / `message`, then ": what to do"
        lines = read('docs', 'user', 'troubleshooting.md').split('\n')
        quoted = [message for line, after in zip(lines, lines[1:],
                                                 strict=False)
                  if line.startswith('`') and after.startswith(': ')
                  for message in re.findall(r'`([^`]+)`', line)]
        self.assertGreater(len(quoted), 10)
        # a string that is mostly filled in ('{a}: {b}') says nothing
        messages = [text for _, _, text in product_strings()
                    if len(text.replace(FILLED, '').strip()) >= 8]
        unknown = []
        for message in quoted:
            # the page writes URL, N and … for what is filled in
            pattern = re.escape(message)
            for placeholder in ('URL', 'N', '…'):
                pattern = re.sub(r'(?<!\w)' + re.escape(re.escape(
                    placeholder)) + r'(?!\w)', '.+', pattern)
            sample = re.sub(r'(?<!\w)(URL|N|…)(?!\w)', 'x', message)
            if not any(re.search(pattern, text.replace(FILLED, 'x')) or
                       re.fullmatch('.*'.join(map(re.escape,
                                                  text.split(FILLED))),
                                    sample)
                       for text in messages):
                unknown.append(message)
        self.assertEqual([], unknown)


class TestSampleOutput(testtools.TestCase):

    def test_what_the_pages_show_ntcli_print_is_what_it_prints(self):
        # output shown without being run (a sign-in needs a provider, an
        # upgrade an old config): each line is one of ntcli's messages;
        # "…" and the values (URLs, names, times) are what is filled in
        templates = {line for _, _, text in product_strings()
                     for line in text.split('\n')
                     if len(line.replace(FILLED, '').strip()) >= 8}
        patterns = [re.compile('.+'.join(map(re.escape,
                                             line.split(FILLED))))
                    for line in templates]
        checked, unknown = 0, []
        for path in glob.glob(os.path.join(DOCS, 'user', '*.md')):
            lines = read(path).split('\n')
            for language, first, body in fenced_blocks(lines):
                if language not in ('text', 'console', '') or not body or \
                        not (body[0].startswith('$ ntcli') or len(body) == 1):
                    continue
                for number, line in enumerate(body, first):
                    if not line.strip() or line.startswith(('$ ', '(ntcli)'))\
                            or re.fullmatch(r'\S+://\S+', line):
                        continue
                    text = line.removeprefix('Warning: ').replace('…', 'x')
                    checked += 1
                    if not any(p.fullmatch(text) for p in patterns):
                        unknown.append(f'{os.path.relpath(path, ROOT)}:'
                                       f'{number}: {line}')
        self.assertEqual([], unknown)
        self.assertGreater(checked, 8)


class TestInstallInstructions(testtools.TestCase):

    def test_no_page_installs_ntcli_from_an_index(self):
        # no release is published: "pip install ntcli" finds nothing, and
        # the install page says so in the one sentence allowed to name it
        pattern = re.compile(r'pip install [\'"]?ntcli(\[[^\]]*\])?[\'"]?`')
        said = []
        pages = glob.glob(os.path.join(DOCS, '**', '*.md'), recursive=True)
        for path in pages + [os.path.join(ROOT, 'README.md')]:
            for number, line in enumerate(read(path).split('\n'), 1):
                if pattern.search(line) and 'No release' not in line:
                    said.append(f'{os.path.relpath(path, ROOT)}:{number}')
        self.assertEqual([], said)
        self.assertIsNotNone(pattern.search("`pip install 'ntcli[server]'`"))
        self.assertIsNone(pattern.search('`pip install ntcli-greet`'))


class TestManPage(testtools.TestCase):

    def test_variables_that_set_global_options_have_one(self):
        from ntcli import application
        text = read('docs', 'man', 'ntcli.rst')
        sentence = re.search(r'((?:``NTCLI_\w+``,?\s*)+) set the global\s+'
                             r'options of the same names', text)
        self.assertIsNotNone(sentence, 'the sentence has moved')
        variables = re.findall(r'``NTCLI_(\w+)``', sentence.group(1))
        parser = application.NtcliApp().parser
        options = {s for a in parser._actions for s in a.option_strings}
        for variable in variables:
            option = '--' + variable.lower().replace('_', '-')
            self.assertIn(option, options, f'NTCLI_{variable}')


class TestManPageExitStatus(testtools.TestCase):

    def test_token_exec_before_its_program_starts(self):
        # "127 when the command is not found, 126 when it is found but
        # cannot be run": the statuses of the errors token exec raises
        # (tests/functional/test_token_exec.py runs both)
        from ntcli import errors
        text = ' '.join(read('docs', 'man', 'ntcli.rst').split())
        found = re.search(r'(\d+) when the command is not found, (\d+) when '
                          r'it is found but cannot be run', text)
        self.assertIsNotNone(found, 'the sentence has moved')
        self.assertEqual(
            (errors.CommandNotFound.exit_code,
             errors.CommandNotExecutable.exit_code),
            (int(found.group(1)), int(found.group(2))))


class TestGlobalOptions(testtools.TestCase):

    def test_the_variables_the_user_guide_gives_are_the_options(self):
        # "--timeout SECONDS (NTCLI_TIMEOUT)": the option's help names it
        from ntcli import application
        text = read('docs', 'user', 'configuration.md')
        section = ' '.join(text.split('## Global options', 1)[1]
                           .split('\n## ', 1)[0].split())
        pairs = re.findall(
            r'`(?:-\w/)?(--[\w-]+)[^`]*` \((?:env )?`(NTCLI_\w+)`\)',
            section)
        self.assertGreaterEqual(len(pairs), 5)
        parser = application.NtcliApp().parser
        helps = {option: ' '.join((action.help or '').split())
                 for action in parser._actions
                 for option in action.option_strings}
        for option, variable in pairs:
            self.assertIn(option, helps)
            self.assertIn(f'env {variable}', helps[option], option)


class TestErrorEnvelope(testtools.TestCase):

    def test_the_api_reference_lists_the_fields(self):
        text = read('docs', 'reference', 'api.rst')
        schemas = openapi.document()['components']['schemas']
        listed = re.search(r'``\{"error": \{([^}]*)\}\}``', text).group(1)
        self.assertEqual(
            sorted(schemas['Error']['properties']['error']['properties']),
            sorted(re.findall(r'"(\w+)"', listed)))

    def test_the_oauth_shape_is_said(self):
        # POST /v1/oauth/token answers errors as RFC 6749 says, not in the
        # envelope; the reference says so and lists its fields
        text = read('docs', 'reference', 'api.rst')
        schemas = openapi.document()['components']['schemas']
        oauth = [name for name, schema in schemas.items()
                 if 'error_description' in schema.get('properties', {})]
        self.assertEqual(1, len(oauth), oauth)
        fields = re.search(r'``\{("error"[^`]*)\}``', text.split(
            '/v1/oauth/token', 1)[1]).group(1)
        self.assertEqual(sorted(schemas[oauth[0]]['properties']),
                         sorted(re.findall(r'"(\w+)"', fields)))


class TestSortColumnHelp(testtools.TestCase):

    def test_every_lister_says_an_unknown_column_is_refused(self):
        manager = stevedore.ExtensionManager('ntcli.commands')
        listers = [e for e in manager
                   if issubclass(e.plugin, command.Lister)]
        self.assertNotEqual([], listers)
        for extension in listers:
            parser = extension.plugin(None, None).get_parser(extension.name)
            helps = [a.help for a in parser._actions
                     if a.dest == 'sort_columns']
            self.assertEqual([command.SORT_COLUMN_HELP], helps,
                             extension.name)
        self.assertIn('unknown column is a usage error',
                      command.SORT_COLUMN_HELP)


class TestValidationFigures(testtools.TestCase):
    """The figures the pages give of how a server worker validates are the
    code's."""

    def test_the_recheck_and_the_strings_remembered(self):
        from ntcli_authority import token_cache
        from ntcli_authority.storage import changes
        self.assertEqual(0.25, changes.RECHECK)
        self.assertIn('at least every 0.25 s',
                      read('docs', 'architecture', 'index.md'))
        running = read('docs', 'operator', 'running.md')
        self.assertIn('at least every quarter of a second', running)
        self.assertIn('noticed by validation within that quarter of a second',
                      running)
        self.assertEqual(1024, token_cache.ACCEPTED)
        self.assertIn('the last 1,024 token strings',
                      read('docs', 'architecture', 'index.md'))
        self.assertIn('the last 1,024 token strings', read(
            'releasenotes', 'notes',
            'accepted-token-strings-7a3e5c1d9b2f4068.yaml'))
