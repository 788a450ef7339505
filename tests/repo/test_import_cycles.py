"""No import circle in the product (issue: a house a newcomer can live in).

Every import counts, wherever it stands (module level, inside a function,
under TYPE_CHECKING): an import moved into a function hides a circle from
Python, not from the reader. The modules are parsed, not imported, with
the layering test's reading of imports.
"""

from __future__ import annotations

import testtools

from .test_layering import imported_names, product_modules

#: Circles known when this test was written, each to be broken by the
#: change that restructures its area. A circle found here must lie inside
#: one of these; an entry that no longer holds a circle must be removed,
#: so that the list only shrinks.
KNOWN_CYCLES: list[frozenset[str]] = [
]


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """module -> the product modules it imports; ``sources`` maps a module
    to (source, is_package). An import of a name inside a module counts as
    an import of that module."""
    known = set(sources)
    graph: dict[str, set[str]] = {module: set() for module in sources}
    for module, (source, is_package) in sources.items():
        for _, target in imported_names(module, source, is_package, known):
            while target and target not in known:
                target = target.rpartition('.')[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module
    (Tarjan's algorithm, iterative so that no recursion limit applies)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def product_sources() -> dict[str, tuple[str, bool]]:
    sources = {}
    for module, path in product_modules().items():
        with open(path, encoding='utf-8') as handle:
            sources[module] = (handle.read(), path.endswith('__init__.py'))
    return sources


class TestImportCycles(testtools.TestCase):

    def test_no_new_import_circle(self):
        found = cycles(import_graph(product_sources()))
        new = [sorted(cycle) for cycle in found
               if not any(cycle <= known for known in KNOWN_CYCLES)]
        self.assertEqual([], new, 'import circles: break them')

    def test_known_circles_are_still_circles(self):
        found = cycles(import_graph(product_sources()))
        gone = [sorted(known) for known in KNOWN_CYCLES
                if not any(cycle <= known for cycle in found)]
        self.assertEqual([], gone, 'broken circles: remove them from '
                                   'KNOWN_CYCLES')

    def test_a_circle_is_found_wherever_its_imports_stand(self):
        sources = {
            'ntcli.a': ('from ntcli import b\n', False),
            'ntcli.b': ('def f():\n    from ntcli.c import thing\n', False),
            'ntcli.c': ('import ntcli.a\n', False),
            'ntcli.d': ('from ntcli import a\n', False),
            'ntcli': ('', True),
        }
        self.assertEqual([frozenset({'ntcli.a', 'ntcli.b', 'ntcli.c'})],
                         cycles(import_graph(sources)))

    def test_no_circle_in_a_tree(self):
        sources = {
            'ntcli.a': ('from ntcli import b, c\n', False),
            'ntcli.b': ('from ntcli import c\n', False),
            'ntcli.c': ('import json\n', False),
        }
        self.assertEqual([], cycles(import_graph(sources)))
