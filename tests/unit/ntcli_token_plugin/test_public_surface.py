"""The token plugin is an ordinary plugin: it uses only the public surface.

The public surface is what docs/plugins/index.md documents: the modules
listed in its "The public API" section, each declaring ``__all__``, and the
context table. Every module of ``ntcli_token_plugin`` is parsed (not
imported) and each of its imports of the product, and each attribute it
reads of an imported product module, must be a public name of a public
module.
"""

from __future__ import annotations

import ast
import importlib
import os
import re

import testtools

from ntcli import context
from tests.repo.test_layering import product_modules

DOCS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'docs',
                    'plugins', 'index.md')

PRODUCT = ('ntcli', 'ntcli_core', 'ntcli_authority', 'ntcli_server')


def read_docs() -> str:
    with open(DOCS, encoding='utf-8') as f:
        return f.read()


def section(text: str, title: str) -> str:
    """The text of a markdown section, up to the next heading of its
    level or above."""
    start = text.index(title)
    level = title.split(' ')[0]
    rest = text[start + len(title):]
    heading = re.compile(f'^#{{1,{len(level)}}} ', re.MULTILINE)
    ends = [m.start() for m in heading.finditer(rest)]
    return rest[:ends[0]] if ends else rest


def first_column(table: str) -> list[str]:
    """The first cells of a markdown table's rows."""
    return [line.split('|')[1] for line in table.splitlines()
            if line.startswith('| `')]


def public_modules() -> set[str]:
    """The modules named in the first column of the public API table."""
    api = section(read_docs(), '## The public API')
    names = set()
    for cell in first_column(api):
        names.update(re.findall(r'`((?:ntcli|ntcli_core)(?:\.[a-z_]+)+)`',
                                cell))
    return {name for name in names if _is_module(name)}


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def documented_context() -> set[str]:
    """The attribute names in the first column of the context table."""
    names = set()
    for cell in first_column(section(read_docs(), '### The context')):
        names.update(re.findall(r'`([a-z_]+)', cell))
    return names


def in_product(module: str) -> bool:
    return module.split('.')[0] in PRODUCT


def is_plugin(module: str) -> bool:
    return module.split('.')[0] == 'ntcli_token_plugin'


class Uses(ast.NodeVisitor):
    """What one module takes from the product: (line, module, name);
    name None for the module itself."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition('.')[0]
        self.aliases: dict[str, str] = {}   # local name -> product module
        self.uses: list[tuple[int, str, str | None]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if in_product(alias.name):
                self.uses.append((node.lineno, alias.name, None))
                if alias.asname:
                    self.aliases[alias.asname] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ''
        if node.level:
            parts = self.package.split('.')
            base = '.'.join(parts[:len(parts) - node.level + 1]
                            + ([base] if base else []))
        if not in_product(base):
            return
        for alias in node.names:
            local = alias.asname or alias.name
            submodule = f'{base}.{alias.name}'
            if _is_module(submodule):
                self.uses.append((node.lineno, submodule, None))
                self.aliases[local] = submodule
            else:
                self.uses.append((node.lineno, base, alias.name))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and \
                node.value.id in self.aliases:
            module = self.aliases[node.value.id]
            self.uses.append((node.lineno, module, node.attr))
        self.generic_visit(node)


def violations(module: str, source: str, is_package: bool,
               public: set[str]) -> list[str]:
    """Where ``module`` reaches past the public surface."""
    visitor = Uses(module, is_package)
    visitor.visit(ast.parse(source))
    found = []
    for line, target, name in visitor.uses:
        where = f'{module}:{line}'
        if is_plugin(target):
            continue
        if target not in public:
            found.append(f'{where} imports {target}, not a public module')
            continue
        exported = getattr(importlib.import_module(target), '__all__', ())
        if name is not None and name not in exported:
            found.append(f'{where} uses {target}.{name}, not in its __all__')
    return found


class TestPublicSurface(testtools.TestCase):

    def test_the_public_modules_declare_their_names(self):
        public = public_modules()
        self.assertIn('ntcli.command', public)
        self.assertIn('ntcli.rotation', public)
        for name in sorted(public):
            module = importlib.import_module(name)
            exported = getattr(module, '__all__', None)
            self.assertIsNotNone(exported, f'{name} declares no __all__')
            for attr in exported:
                self.assertFalse(attr.startswith('_'), f'{name}.{attr}')
                self.assertTrue(hasattr(module, attr), f'{name}.{attr}')

    def test_the_token_plugin_uses_only_public_names(self):
        public = public_modules()
        found = []
        modules = product_modules()
        plugin = {name: path for name, path in modules.items()
                  if is_plugin(name)}
        self.assertIn('ntcli_token_plugin.refresh', plugin)
        for name, path in sorted(plugin.items()):
            with open(path, encoding='utf-8') as f:
                source = f.read()
            found += violations(name, source,
                                path.endswith('__init__.py'), public)
        self.assertEqual([], found)

    def test_a_reach_past_the_surface_is_found(self):
        public = public_modules()
        cases = {
            'from ntcli import credentials\n':
                'imports ntcli.credentials, not a public module',
            'from ntcli.credentials import StoredToken\n':
                'imports ntcli.credentials, not a public module',
            'import ntcli.issues\n':
                'imports ntcli.issues, not a public module',
            'from ntcli import context\ncontext.Context\n':
                'uses ntcli.context.Context, not in its __all__',
            'from ntcli.command import column_choices\n':
                'uses ntcli.command.column_choices, not in its __all__',
            'from ntcli_authority import authority\n':
                'imports ntcli_authority.authority, not a public module',
        }
        for source, expected in cases.items():
            found = violations('ntcli_token_plugin.x', source, False, public)
            self.assertEqual(1, len(found), (source, found))
            self.assertIn(expected, found[0])
        self.assertEqual([], violations(
            'ntcli_token_plugin.x',
            'from ntcli import command, rotation\nrotation.rotate_token\n'
            'from . import expiry\nimport os\n', False, public))

    def test_the_context_offers_what_the_docs_document(self):
        offered = {name for name in dir(context.PluginContext)
                   if not name.startswith('_')}
        self.assertEqual(documented_context(), offered)
        for internal in ('store', 'options', 'app', 'update_config',
                         'check_settings', 'config'):
            self.assertNotIn(internal, offered)

    def test_every_token_command_lives_in_the_plugin(self):
        from importlib import metadata
        token = {ep.name: ep.value
                 for ep in metadata.entry_points(group='ntcli.commands')
                 if ep.name.startswith('token_')}
        self.assertIn('token_history', token)
        for name, value in token.items():
            self.assertTrue(value.startswith('ntcli_token_plugin.'),
                            (name, value))
