"""The house rules of the tree (docs/architecture.md): one package per flow of the same shape, shared domain
modules that never import a flow package, and no import circle among nightshift/, tasks/ and flows/.

Imports are read from the source (``ast``), lazy ones inside functions included: a circle through a lazy
import is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("nightshift", "tasks", "flows", "metrics")
FLOW_PACKAGES = ("reindex", "benchmark", "evaluate", "drift", "backfill", "nightly", "golden")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (``from a.b import c`` counts ``a.b.c`` if it is a module)."""
    mods = modules()

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {m for a in node.names if (m := owner(a.name))}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    dep = full if full in mods else owner(target)
                    if dep:
                        deps.add(dep)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_shared_domain_never_imports_a_flow_package() -> None:
    flow_prefixes = tuple(f"tasks.{p}" for p in FLOW_PACKAGES)
    bad = {module: sorted(d for d in deps if d.startswith(flow_prefixes))
           for module, deps in import_graph().items()
           if module.startswith("tasks") and not module.startswith(flow_prefixes)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_each_flow_has_a_package_of_the_same_shape() -> None:
    tasks = ROOT / "tasks"
    assert not sorted(p.name for p in tasks.glob("*_steps.py")) + sorted(p.name for p in tasks.glob("*_tasks.py"))
    for flow in FLOW_PACKAGES:
        package = tasks / flow
        expected = {"__init__.py", "config.py", "steps.py"} | ({"prefect_tasks.py"} if flow != "nightly" else set())
        assert expected <= {p.name for p in package.glob("*.py")}, flow
        assert (ROOT / "flows" / f"{flow}.py").is_file(), flow


def test_flow_configs_live_in_their_packages() -> None:
    from tasks.config.flows import FLOWS

    for spec in FLOWS.values():
        assert spec.config.startswith(f"tasks.{spec.name}.config:"), spec
        assert spec.config_model().__module__ == f"tasks.{spec.name}.config"
