"""The house has no import cycles: tailbench's modules form a directed acyclic graph.

Every ``import`` between tailbench's packages (``bench``, ``attacks``) counts,
including imports deferred into functions (a deferred import hides a cycle, it
does not remove it). The graph is read with :mod:`ast`, without importing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bench import CONF_DIR

ROOT = Path(CONF_DIR).parent
PACKAGES = ("bench", "attacks")


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over the tailbench packages under ``root``."""
    files = {}
    for pkg in PACKAGES:
        for f in (root / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(root).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = f

    def owner(name: str) -> str:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for mod, f in files.items():
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {owner(a.name) for a in node.names if a.name.split(".")[0] in PACKAGES}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in PACKAGES:
                    for a in node.names:
                        sub = f"{node.module}.{a.name}"
                        deps.add(sub if sub in files else owner(node.module))
        graph[mod] = {d for d in deps if d and d != mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    graph = module_graph()
    assert len(graph) > 40 and "bench.run.cell" in graph
    assert cycles(graph) == []


def test_the_check_finds_a_planted_cycle(tmp_path):
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "bench" / "a.py").write_text("def f():\n    from attacks.b import g\n")
    (tmp_path / "attacks" / "b.py").write_text("import bench.a\n")
    assert cycles(module_graph(tmp_path)) == [["attacks.b", "bench.a"]]
