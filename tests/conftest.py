"""Shared helpers for the project's own tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_tracestack.binaries import OTELCOL, BinaryProvider

REPO = Path(__file__).resolve().parents[1]


def _find_collector() -> Path | None:
    explicit = os.environ.get("TRACESTACK_OTELCOL")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    cached = BinaryProvider().cached_path(OTELCOL)
    if cached.is_file():
        return cached
    located = shutil.which("otelcol-tracestack") or shutil.which("otelcol-contrib")
    return Path(located) if located else None


@pytest.fixture(scope="session")
def otelcol_binary() -> Path:
    """The real collector (built by `tracestack install otelcol`, as .ci/run does)."""
    found = _find_collector()
    if found is None:
        pytest.skip("no OpenTelemetry Collector binary: run `tracestack install otelcol` (builds it with OCB)")
    return found


@pytest.fixture
def collector_env(otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real collector for pytest runs in subprocesses (pytester)."""
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))


@pytest.fixture(autouse=True)
def own_tmpdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A TMPDIR of the test's own: pytest subprocesses it starts put their stacks' work dirs there."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory
