"""Imports run downwards only (README, Architecture).

Every module of the product is parsed (not imported) and each of its
imports, wherever it stands (module level, inside a function, under
TYPE_CHECKING), must reach its own layer or one the layer may use.
"""

from __future__ import annotations

import ast
import importlib.util
import os

import testtools

#: Layers by package: a module belongs to the layer of its package.
LAYERS = {
    'ntcli_core': 'core',
    'ntcli_authority': 'authority',
    'ntcli_server': 'server',
    'ntcli': 'cli',
    'ntcli_token_plugin': 'plugin',
}

#: What each layer may import besides itself.
USES = {
    'core': set(),
    'authority': {'core'},
    'server': {'authority', 'core'},
    'cli': {'authority', 'core'},
    'plugin': {'cli', 'core'},
}

PACKAGES = sorted({prefix.split('.')[0] for prefix in LAYERS})


def layer_of(module: str) -> str | None:
    """The layer of a module name; None outside the product."""
    best = None
    for prefix in LAYERS:
        inside = module == prefix or module.startswith(prefix + '.')
        if inside and (best is None or len(prefix) > len(best)):
            best = prefix
    return LAYERS[best] if best else None


def product_modules() -> dict[str, str]:
    """Every module of the product: name -> source file."""
    modules = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec and spec.submodule_search_locations, package
        root = list(spec.submodule_search_locations)[0]
        for directory, _, files in os.walk(root):
            for name in files:
                if not name.endswith('.py'):
                    continue
                relative = os.path.relpath(os.path.join(directory, name),
                                           os.path.dirname(root))
                dotted = relative[:-3].replace(os.sep, '.')
                if dotted.endswith('.__init__'):
                    dotted = dotted[:-len('.__init__')]
                modules[dotted] = os.path.join(directory, name)
    return modules


def imported_names(module: str, source: str, is_package: bool,
                   known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source``; ``from X import Y``
    counts as X.Y when that is a module of the product."""
    package = module if is_package else module.rpartition('.')[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                anchor = '.'.join(parts[:len(parts) - node.level + 1])
                base = f'{anchor}.{base}' if base else anchor
            for alias in node.names:
                target = f'{base}.{alias.name}'
                found.append((node.lineno,
                              target if target in known else base))
    return found


def upward_imports(module: str, source: str, is_package: bool = False,
                   known: set[str] = frozenset()) -> list[str]:
    """The imports of ``module`` that break the layering, as messages."""
    layer = layer_of(module)
    problems = []
    for line, target in imported_names(module, source, is_package, known):
        used = layer_of(target)
        if used is None or used == layer or used in USES[layer]:
            continue
        problems.append(f'{module}:{line} ({layer}) imports {target} '
                        f'({used})')
    return problems


class TestLayering(testtools.TestCase):

    def test_every_import_runs_downwards(self):
        modules = product_modules()
        self.assertIn('ntcli_core.tokens', modules)
        self.assertIn('ntcli_authority.storage.tokens', modules)
        problems = []
        for module, path in sorted(modules.items()):
            with open(path, encoding='utf-8') as handle:
                source = handle.read()
            problems += upward_imports(module, source,
                                       path.endswith('__init__.py'),
                                       set(modules))
        self.assertEqual([], problems)

    def test_an_upward_import_is_found(self):
        known = {'ntcli.timefmt', 'ntcli_server.wsgi', 'ntcli.endpoints'}
        cases = {
            # the authority reaching into the CLI, lazily
            ('ntcli_authority.authority',
             'def f():\n    from ntcli import timefmt\n'):
                ['ntcli_authority.authority:2 (authority) imports '
                 'ntcli.timefmt (cli)'],
            # the shared layer using the authority
            ('ntcli_core.tokens', 'import ntcli_authority.errors\n'):
                ['ntcli_core.tokens:1 (core) imports ntcli_authority.errors '
                 '(authority)'],
            # the CLI and the HTTP server are beside each other
            ('ntcli.endpoints.local', 'from ntcli_server import wsgi\n'):
                ['ntcli.endpoints.local:1 (cli) imports ntcli_server.wsgi '
                 '(server)'],
            # the plugin goes through the CLI, not the authority
            ('ntcli_token_plugin.refresh',
             'from ntcli_authority.authority import Authority\n'):
                ['ntcli_token_plugin.refresh:1 (plugin) imports '
                 'ntcli_authority.authority (authority)'],
            # a relative import is resolved
            ('ntcli_server.ingress', 'from . import wsgi\n'):
                [],
            # the CLI never imports the HTTP server
            ('ntcli.endpoints.http', 'import ntcli_server.ratelimit\n'):
                ['ntcli.endpoints.http:1 (cli) imports '
                 'ntcli_server.ratelimit (server)'],
        }
        for (module, source), expected in cases.items():
            self.assertEqual(expected,
                             upward_imports(module, source, known=known))

    def test_downward_and_outside_imports_pass(self):
        for module, source in (
                ('ntcli.endpoints.local',
                 'from ntcli_authority.authority import Authority\n'
                 'from ntcli_core import timefmt\nimport json\n'),
                ('ntcli_server.wsgi',
                 'from ntcli_authority.authority import Authority\n'
                 'import falcon\n'),
                ('ntcli_token_plugin.expiry',
                 'from ntcli import errors\n'
                 'from ntcli_core.lifetimes import MAX_LIFETIME\n')):
            self.assertEqual([], upward_imports(module, source))
