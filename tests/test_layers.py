"""loosen's layers run one way (README, "Layout"): every import in src/loosen, at module
level or inside a function, goes to its own layer or one below, and the imports a module
runs when it loads make no circle. Read from the source with ``ast``, nothing imported.

Bottom to top: core helpers (the top-level modules) -> attention -> models -> data ->
engine -> explain / bench / experiments (one tier whose folders do not import each other)
-> patches (the generic start-up hook and launcher) -> yolo -> cli (``loosen/cli.py``,
every ``cli.py`` and ``__main__.py``, and the top-level entry points). Only entry points
import ``loosen.cli``; anything may import the bare package (for ``__version__``).
"""
from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

SRC = Path(__file__).resolve().parents[1] / 'src'
PACKAGE = 'loosen'
TIERS = (('core',), ('attention',), ('models',), ('data',), ('engine',),
         ('explain', 'bench', 'experiments'), ('patches',), ('yolo',), ('cli',))
RANK = {layer: rank for rank, tier in enumerate(TIERS) for layer in tier}
# top-level modules run as programs (`python -m loosen.train`...); `loosen.run` is the
# `run` command too
ENTRY_POINTS = {'loosen.__main__', 'loosen.train', 'loosen.test', 'loosen.run'}
ALIASES = {'loosen.timm_plugins': 'models'}  # the old name of loosen.models


class Edge(NamedTuple):
    source: str
    target: str
    line: int
    loads: bool  # runs when ``source`` loads: at module level, outside ``if TYPE_CHECKING``

    def where(self) -> str:
        return f'{module_path(self.source)}:{self.line} {self.source} -> {self.target}'


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def module_path(name: str) -> str:
    path = SRC.joinpath(*name.split('.'))
    return str((path / '__init__.py' if path.is_dir() else path.with_suffix('.py'))
               .relative_to(SRC))


MODULES = {module_name(p): p for p in sorted((SRC / PACKAGE).rglob('*.py'))}


def layer(name: str) -> str:
    """The layer of module ``name``: its folder's; core for a top-level module, cli for the
    package itself, the entry points and every ``cli`` and ``__main__``."""
    parts = name.split('.')
    if name == PACKAGE or name in ENTRY_POINTS or parts[-1] in ('cli', '__main__'):
        return 'cli'
    if name in ALIASES:
        return ALIASES[name]
    return parts[1] if len(parts) > 2 or parts[1] in RANK else 'core'


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _imports(node: ast.AST, loads: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import under ``node``, and whether it runs when the module loads."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, loads
        inner = loads and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.Lambda))
        if isinstance(child, ast.If) and _is_type_checking(child):
            inner = False
        yield from _imports(child, inner)


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The loosen modules an import statement names (``from . import x`` names the
    submodule ``x`` where there is one)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = (importlib.util.resolve_name('.' * node.level + (node.module or ''), package)
                if node.level else node.module or '')
        names = [f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES else base
                 for a in node.names]
    return [n for n in dict.fromkeys(names) if n == PACKAGE or n.startswith(PACKAGE + '.')]


def edges() -> list[Edge]:
    found = []
    for name, path in MODULES.items():
        package = name if path.name == '__init__.py' else name.rpartition('.')[0]
        tree = ast.parse(path.read_text(), str(path))
        for node, loads in _imports(tree, True):
            found += [Edge(name, t, node.lineno, loads) for t in _targets(node, package)
                      if t != name]
    return found


EDGES = edges()


def wrong_way(edge: Edge) -> str | None:
    """Why ``edge`` breaks the layering, or None."""
    if edge.target == PACKAGE:
        return None
    if edge.target == f'{PACKAGE}.cli':
        return None if edge.source in ENTRY_POINTS else 'only entry points import loosen.cli'
    source, target = layer(edge.source), layer(edge.target)
    if RANK[target] > RANK[source]:
        return f'{source} imports {target}, a layer above'
    if RANK[target] == RANK[source] and target != source:
        return f'{source} imports its sibling {target}; go through a layer below'
    return None


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (or a
    module importing itself), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    layers = {layer(name) for name in MODULES}
    assert layers <= set(RANK), layers - set(RANK)
    assert layer('loosen.errors') == 'core' and layer('loosen.yolo.patches.names') == 'yolo'
    assert layer('loosen.bench.cli') == layer('loosen.train') == 'cli'


def test_no_import_goes_up_or_sideways():
    wrong = [f'{e.where()}: {why}' for e in EDGES if (why := wrong_way(e))]
    assert not wrong, 'imports against the layers:\n' + '\n'.join(wrong)


def test_no_modules_import_each_other_in_a_circle():
    graph: dict[str, set[str]] = {}
    for e in EDGES:
        if e.loads and e.target in MODULES:
            graph.setdefault(e.source, set()).add(e.target)
    lines = {(e.source, e.target): e.where() for e in EDGES if e.loads}
    found = []
    for component in circles(graph):
        inside = sorted(w for (a, b), w in lines.items() if a in component and b in component)
        found.append(' | '.join(inside))
    assert not found, 'import circles:\n' + '\n'.join(found)


@pytest.mark.parametrize('source,target,wrong', [
    ('loosen.engine.train', 'loosen.bench.report', True),      # up
    ('loosen.bench.cells', 'loosen.explain.maps', True),       # a sibling of its tier
    ('loosen.yolo.models', 'loosen.models.release', False),    # down
    ('loosen.data.cli', 'loosen.commands', False),             # cli -> core
    ('loosen.data.cli', 'loosen.cli', True),                   # not an entry point
    ('loosen.train', 'loosen.cli', False),
    ('loosen.attention.la', 'loosen', False),                  # __version__
    ('loosen.experiments.grid', 'loosen.engine.train', False),  # the tier above engine
])
def test_the_rules_catch_what_they_name(source, target, wrong):
    assert (wrong_way(Edge(source, target, 1, True)) is not None) == wrong


def test_circles_are_found_and_only_circles():
    assert circles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert circles({'a': {'b'}, 'b': set()}) == []


def test_imports_inside_functions_count_and_are_resolved():
    tree = ast.parse('def f():\n    from ..bench import cost\n'
                     'if TYPE_CHECKING:\n    from ..yolo import api\n')
    found = [(_targets(n, 'loosen.engine'), loads) for n, loads in _imports(tree, True)]
    assert found == [(['loosen.bench.cost'], False), (['loosen.yolo.api'], False)]
