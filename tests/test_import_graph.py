"""The import graph of moodmix's own modules: every arrow points down the layers, and there are no cycles.

Layers, bottom to top (docs/design.md, "Architecture"): ``core`` → ``mixer`` → ``models`` → ``library`` →
``moodmix.settings`` / ``moodmix.pipeline`` → ``workers`` → ``moodmix.cli`` and ``moodmix.commands``. Every import
statement counts, also those inside functions and under ``TYPE_CHECKING``: a deferred import is still an arrow a
reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "mixer", "models", "library", "moodmix", "workers")


def layer(module: str) -> int:
    top = module.split(".")[0]
    if top == "moodmix":
        return 6 if module.startswith(("moodmix.cli", "moodmix.commands", "moodmix.__main__")) else 4
    return {"core": 0, "mixer": 1, "models": 2, "library": 3, "workers": 5}[top]


def first_party_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (REPO / pkg).rglob("*.py"):
            parts = f.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """module → the first-party modules it imports (the deepest existing module a dotted name names)."""
    mods = first_party_modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                # a package's own __init__ is not an arrow from inside it (importing a.b runs a/__init__)
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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


def test_the_graph_sees_real_imports() -> None:
    graph = import_graph()
    assert "core.errors" in graph["mixer.decode"]
    assert "models.emotion_pass" in graph["moodmix.pipeline"]
    assert "moodmix.pipeline" in graph["workers.tasks"]
    assert sum(len(v) for v in graph.values()) > 300


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_import_points_down() -> None:
    up = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets if layer(b) > layer(a))
    assert up == []


def test_core_imports_only_the_standard_library() -> None:
    import sys

    for path in (REPO / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "core", f"{path.name} imports {name}"
