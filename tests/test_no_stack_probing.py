"""Checks, fixtures, load, plan and reports ask a stack what it can do (runtimes/base.py ``Offer``); they
never probe its type: no ``hasattr``/``getattr``/``isinstance`` on a stack or a handle, no reaching into a
runtime's own ``handles``, no ``replica.pid`` (ask ``stack.process_id``), no decision on ``stack.runtime``.
A new runtime then never needs a check edited."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_tracestack"
CALLERS = ["checks", "plugin", "load"]  # every caller of a stack: the pytest layer, the checks, load runs
# Names that hold a stack or a runtime's handle: stack, tracestack_stack, self.stack, handle, handles.
_STACK_OR_HANDLE = re.compile(r"(^|_)(stack|stacks|handle|handles)$")
_REPLICA = re.compile(r"(^|_)replicas?$")
_PROBES = {"hasattr", "getattr", "isinstance"}


def _files() -> list[Path]:
    found = []
    for name in CALLERS:
        path = PACKAGE / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def probes(source: str) -> list[str]:
    """Every probe of a stack or handle in ``source``, as ``line: code``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and _name(node.func) in _PROBES
            and node.args
            and _STACK_OR_HANDLE.search(_name(node.args[0]))
        ):
            found.append(node)
        elif isinstance(node, ast.Compare) and any(
            _name(side) == "runtime" and isinstance(side, ast.Attribute) for side in [node.left, *node.comparators]
        ):
            found.append(node)
        elif isinstance(node, ast.Attribute) and (
            node.attr == "handles" or node.attr == "pid" and _REPLICA.search(_name(node.value))
        ):
            found.append(node)
    return [f"{node.lineno}: {ast.get_source_segment(source, node)}" for node in found]


def test_the_scan_covers_every_caller() -> None:
    assert all((PACKAGE / name).exists() for name in CALLERS)
    assert len(_files()) > 20


@pytest.mark.parametrize("path", _files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_callers_ask_the_stack_instead_of_probing_it(path: Path) -> None:
    found = probes(path.read_text())
    assert not found, (
        f"{path.relative_to(PACKAGE.parent)} probes a stack or handle; ask the stack for the "
        "capability instead (runtimes/base.py Stack):\n  " + "\n  ".join(found)
    )


@pytest.mark.parametrize(
    "code",
    [
        'hasattr(tracestack_stack, "restart")',
        'getattr(stack, "handles", {}).get("sink-0")',
        'hasattr(handle, "sink")',
        "isinstance(self.stack, LocalStack)",
        'stack.runtime != "local"',
        '"kind" == tracestack_stack.runtime',
        "stack.handles",
        "Probe(replica.name, replica.component, replica.pid)",
    ],
)
def test_the_scan_finds_each_kind_of_probe(code: str) -> None:
    assert probes(code)


@pytest.mark.parametrize(
    "code",
    [
        "getattr(grpc.StatusCode, code)",
        'getattr(report.longrepr, "reprcrash", None)',
        'getattr(hits, "visible_after_s", 0.0)',
        'hasattr(self.config, "workerinput")',
        'getattr(tracestack_session, "report_dir")',
        'f"the {stack.runtime} runtime"',
        'choice.name == "local"',
        "Probe(GENERATOR, GENERATOR, process.pid)",
    ],
)
def test_the_scan_leaves_other_objects_and_labels_alone(code: str) -> None:
    assert not probes(code)
