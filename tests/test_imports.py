"""The modules of ``superpoint_rt`` import one another one way: no cycle, counting imports at any level
(function-level ones included, which Python tolerates at run time but which still tie the modules together).
Checked for the training package (once adaptation -> trainer -> superpoint -> adaptation) and for the whole package
(once cli <-> demo)."""

from __future__ import annotations

import ast
from pathlib import Path

import superpoint_rt

PACKAGE = "superpoint_rt.train"


def _module_name(path: Path, root: Path, package: str) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [] if rel.parts == ("__init__",) else [p for p in rel.parts if p != "__init__"]
    return ".".join([package, *parts])


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """``{module: modules of package it imports}`` for every ``.py`` under ``root`` (the folder of ``package``).

    Every ``import`` / ``from ... import`` in the file counts, wherever it is (module level, functions, classes,
    ``if TYPE_CHECKING``); relative imports are resolved; ``from package import name`` points at the submodule
    ``name`` when there is one, else at the package itself.
    """
    modules = {_module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            for t in targets:
                # `import superpoint_rt.train.x.y` names x.y, or the longest prefix of it that is a module
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != mod and (t == package or t.startswith(package + ".")):
                    graph[mod].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_train_modules_import_without_cycles() -> None:
    root = Path(superpoint_rt.__file__).resolve().parent / "train"
    graph = import_graph(root, PACKAGE)
    assert f"{PACKAGE}.trainer" in graph and f"{PACKAGE}.adaptation" in graph  # the right folder was read
    assert f"{PACKAGE}.config" in graph[f"{PACKAGE}.trainer"]  # and its imports were seen
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in superpoint_rt.train: " + " -> ".join(cycle or [])


def test_package_imports_without_cycles() -> None:
    root = Path(superpoint_rt.__file__).resolve().parent
    graph = import_graph(root, "superpoint_rt")
    assert "superpoint_rt.apps.common" in graph["superpoint_rt.apps.demo"]
    library = [m for m in graph if not m.startswith("superpoint_rt.apps") and not m.endswith("__main__")]
    to_apps = [(m, t) for m in library for t in graph[m] if t.startswith("superpoint_rt.apps")]
    assert not to_apps, f"the library imports apps: {to_apps}"  # `python -m` entry points may
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in superpoint_rt: " + " -> ".join(cycle or [])


def test_the_check_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: a cycle closed only by a function-level import (the shape the package once had:
    adaptation -> trainer -> superpoint -> adaptation), through absolute, ``from pkg import mod`` and relative
    imports, is found; without the closing import there is none."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""pkg."""\n')
    (pkg / "a.py").write_text("import os\n\n\ndef f():\n    from pkg.b import g\n    return g\n")
    (pkg / "b.py").write_text("from pkg import c\n")
    (pkg / "c.py").write_text("from . import d\n")
    (pkg / "d.py").write_text("from .a import f\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"} and graph["pkg.d"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.d"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.a"]
    (pkg / "d.py").write_text("import numpy\n")
    assert find_cycle(import_graph(pkg, "pkg")) is None
