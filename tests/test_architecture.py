"""The package's structure: no import cycles (function-level imports included), and no pytest below the
pytest layer. The import graph is read from the source with ast, so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_tracestack

# Modules and packages that must not import pytest: the runtimes and the clients of real components get their
# settings as data from the pytest layer. A package's name covers every module under it.
PYTEST_FREE = (
    # every layer below the pytest layer (plugin/) and the checks: settings come in as data
    "pytest_tracestack.runtimes",
    "pytest_tracestack.clients",
    "pytest_tracestack.binaries",
    "pytest_tracestack.configs",
    "pytest_tracestack.profiles",
    "pytest_tracestack.traces",
    "pytest_tracestack.traffic",
    "pytest_tracestack.load",
    "pytest_tracestack.cli",
    "pytest_tracestack.deadlines",
    "pytest_tracestack.errors",
    "pytest_tracestack.paths",
    "pytest_tracestack.versions",
)

PACKAGE = "pytest_tracestack"
ROOT = Path(pytest_tracestack.__file__).parent


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(name: str, path: Path) -> set[str]:
    """The absolute names a module imports anywhere in its body (functions included); ``from pkg import x``
    gives both ``pkg`` and ``pkg.x``, which names a module only when there is one."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _absolute(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    anchor = name.split(".")
    anchor = anchor if is_package else anchor[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, module] if module else anchor)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``
    too, but those never import their children here, so only the named module is an edge."""
    return {
        name: {target for target in imported_names(name, path) if target in modules and target != name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None (depth-first search with colours)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def pytest_free(module: str) -> bool:
    return any(module == entry or module.startswith(entry + ".") for entry in PYTEST_FREE)


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph(module_files()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_runtimes_and_clients_do_not_import_pytest():
    modules = module_files()
    offenders = {
        name: sorted(n for n in imported_names(name, path) if n.split(".")[0] in ("pytest", "_pytest"))
        for name, path in modules.items()
        if pytest_free(name)
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"pytest imported where settings should come in as data: {offenders}"


def test_every_pytest_free_entry_names_something():
    """A module moved into a subpackage must be renamed here too, or the rule silently checks nothing."""
    modules = module_files()
    missing = [entry for entry in PYTEST_FREE if entry not in modules]
    assert not missing, f"PYTEST_FREE names no module or package: {missing}"


# --- the checker itself, on a small package written for the test ----------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / "pkg"
    for relative, source in {"__init__.py": "", **files}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source)
    return module_files(root, "pkg")


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    modules = _package(
        tmp_path,
        {
            "a.py": "from .b import thing\n",
            "b.py": "def f():\n    from . import a\n",
        },
    )
    assert find_cycle(import_graph(modules)) == ["pkg.a", "pkg.b", "pkg.a"]


def test_relative_imports_resolve_from_subpackages(tmp_path):
    modules = _package(
        tmp_path,
        {
            "sub/__init__.py": "",
            "sub/inner.py": "from ..top import x\n",
            "top.py": "import pkg.sub.inner\n",
        },
    )
    assert find_cycle(import_graph(modules)) == ["pkg.sub.inner", "pkg.top", "pkg.sub.inner"]


@pytest.mark.parametrize("source", ["import pytest\n", "def f():\n    from _pytest.config import Config\n"])
def test_pytest_imports_are_seen_anywhere(tmp_path, source):
    modules = _package(tmp_path, {"client.py": source})
    assert {"pytest", "_pytest"} & {n.split(".")[0] for n in imported_names("pkg.client", modules["pkg.client"])}


def test_an_acyclic_package_passes(tmp_path):
    modules = _package(tmp_path, {"a.py": "from . import b\n", "b.py": "import os\n"})
    assert find_cycle(import_graph(modules)) is None
