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


def _code_lines(src: str) -> int:
    """Lines of code: docstrings, comments and blank lines excluded (numpydoc sections are
    documentation, not size)."""
    tree = ast.parse(src)
    doc: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            doc.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(
        1
        for i, line in enumerate(src.splitlines(), 1)
        if i not in doc and line.strip() and not line.strip().startswith("#")
    )


def test_long_modules_say_why_at_their_top():
    # Issue 9: no module over ~400 lines without a reason written at its top.
    unexplained = []
    for path in sorted(PKG.rglob("*.py")):
        src = path.read_text()
        if _code_lines(src) > 400 and "(Over 400 lines:" not in (
            ast.get_docstring(ast.parse(src)) or ""
        ):
            unexplained.append(f"{path.relative_to(PKG)}: {_code_lines(src)} lines of code")
    assert unexplained == []
