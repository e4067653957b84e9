"""Imports point inward: the engine knows no I/O, the library knows no CLI, nothing is circular.

Read from the source with `ast` (module-level imports only: an import inside a function is a
deliberate late import, and `if TYPE_CHECKING:` blocks never run), so a new edge that breaks the
layering fails here with the path that breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "replayflow"

#: What the engine may reach, directly or not: pure code over values, no AWS, no disk, no CLI.
ENGINE_MAY_REACH = {
    "replayflow.activity", "replayflow.dataflow", "replayflow.encoding", "replayflow.errors",
    "replayflow.futures", "replayflow.history", "replayflow.naming", "replayflow.policy",
    "replayflow.validation",
}


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the replayflow modules it imports at module level."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            inner = ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]
            for statement in inner:
                if isinstance(statement, ast.Import):
                    edges.update(a.name for a in statement.names if a.name in modules)
                elif isinstance(statement, ast.ImportFrom):
                    if statement.level:
                        base = package[:len(package) - statement.level + 1]
                        target = ".".join(base + ([statement.module] if statement.module else []))
                    else:
                        target = statement.module or ""
                    subs = [f"{target}.{a.name}" for a in statement.names
                            if f"{target}.{a.name}" in modules]
                    edges.update(subs)
                    if target in modules and len(subs) < len(statement.names):
                        edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def reach(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module reachable from `start`, with the import path that reaches it."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        for target in sorted(graph[current]):
            if target not in paths:
                paths[target] = [*paths[current], target]
                todo.append(target)
    del paths[start]
    return paths


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "replayflow.engine.decisions" in graph["replayflow.engine.replay"]
    assert "replayflow.engine.replay" in graph["replayflow.decider"]


def test_the_engine_reaches_only_pure_modules() -> None:
    graph = import_graph()
    for engine in (name for name in graph if name.startswith("replayflow.engine.")):
        outside = {target: path for target, path in reach(graph, engine).items()
                   if not target.startswith("replayflow.engine") and target not in ENGINE_MAY_REACH}
        assert not outside, [" -> ".join(path) for path in outside.values()]


def test_the_library_never_imports_the_cli_or_the_console() -> None:
    def outer(module: str) -> bool:
        return any(module == package or module.startswith(package + ".")
                   for package in ("replayflow.cli", "replayflow.console"))

    graph = import_graph()
    for name, edges in graph.items():
        if name != "replayflow.__main__" and not outer(name):
            assert not [e for e in edges if outer(e)], name


def test_no_import_cycles() -> None:
    graph = import_graph()
    for name in graph:
        back = reach(graph, name)
        cycle = [path for target, path in back.items() if name in graph[target]]
        assert not cycle, " -> ".join([*min(cycle, key=len), name])
