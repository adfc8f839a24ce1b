"""The house plan: layers only look down, and the import graph has no cycles.

The graph is read statically from every ``import`` statement in ``python/medtrust`` (module
level and inside functions alike: a lazy import is still a dependency).
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "python" / "medtrust"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # `from pkg import sub` depends on pkg.sub when that is a module.
                targets = [
                    f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod for a in node.names
                ]
            else:
                continue
            deps.update(t for t in targets if t in files and t != name)
        graph[name] = deps
    return graph


def test_nothing_below_cli_imports_cli():
    offenders = sorted(
        f"{mod} -> {dep}"
        for mod, deps in _graph().items()
        if not mod.startswith("medtrust.cli")
        for dep in deps
        if dep.startswith("medtrust.cli")
    )
    assert offenders == []


def test_import_graph_has_no_cycles():
    graph = _graph()
    # A package __init__ that re-exports its submodules is not a cycle with them: drop the
    # edges from a module to the packages that contain it (Python imports those first anyway).
    for mod, deps in graph.items():
        graph[mod] = {d for d in deps if not mod.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


JOBS = ("selective", "segmentation", "uncertainty", "failure", "active", "vqa")


def test_analysis_and_io_sit_below_the_jobs():
    # House plan: jobs -> (analysis, io, data) -> (_arrays, _io, exceptions) -> _native.
    below = ("medtrust.analysis", "medtrust.io", "medtrust._io", "medtrust._deprecation")
    above = (*(f"medtrust.{j}" for j in JOBS), "medtrust.cli", "medtrust.data")
    offenders = sorted(
        f"{mod} -> {dep}"
        for mod, deps in _graph().items()
        if mod.startswith(below)
        for dep in deps
        if dep.startswith(above)
    )
    assert offenders == []
