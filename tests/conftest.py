"""Shared helpers for the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_tracestack.binaries import BinaryProvider
from pytest_tracestack.errors import BinaryNotFoundError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def otelcol_binary() -> Path:
    """The real collector, found as the product finds it (TRACESTACK_OTELCOL, PATH, tracestack's cache;
    `tracestack install otelcol` builds it with OCB, as .ci/run does), without downloading or building."""
    provider = BinaryProvider(explicit={"otelcol": os.environ.get("TRACESTACK_OTELCOL")}, allow_download=False)
    try:
        return provider.find("otelcol").path
    except BinaryNotFoundError as error:
        pytest.skip(f"needs the OpenTelemetry Collector: {error.how}")


@pytest.fixture(autouse=True)
def own_tmpdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A TMPDIR of the test's own: pytest subprocesses it starts put their stacks' work dirs there."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory
