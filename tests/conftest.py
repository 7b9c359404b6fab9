"""Shared helpers for the project's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kwok_cluster import kwok_cluster  # noqa: F401  (the session's real API server)
from pytest_tracestack.binaries.finder import BinaryProvider
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


@pytest.fixture(scope="session")
def prometheus_binary() -> Path:
    """A real Prometheus (2.33+, for its remote-write receiver), found as the product finds it (TRACESTACK_PROMETHEUS,
    PATH); .ci/run installs Debian's package."""
    provider = BinaryProvider(explicit={"prometheus": os.environ.get("TRACESTACK_PROMETHEUS")}, allow_download=False)
    try:
        return provider.find("prometheus").path
    except BinaryNotFoundError as error:
        pytest.skip(f"needs Prometheus: {error.remedy or error.how}")


@pytest.fixture(scope="session")
def versitygw_binary() -> Path:
    """The real versitygw (the S3 profiles' server), found as the product finds it (TRACESTACK_VERSITYGW, PATH,
    tracestack's cache; `tracestack install versitygw` builds it, as .ci/run does), without building it."""
    provider = BinaryProvider(explicit={"versitygw": os.environ.get("TRACESTACK_VERSITYGW")}, allow_download=False)
    try:
        return provider.find("versitygw").path
    except BinaryNotFoundError as error:
        pytest.skip(f"needs versitygw: {error.how}")


def _installed_tool(name: str, how: str) -> Path:
    """The tool the finder accepts without downloading, looked up before pytester gives the test a HOME of its
    own (and so another cache); a skip naming what was refused and ``how`` to get it otherwise."""
    from pytest_tracestack.binaries.kube_tools import find_tool
    from pytest_tracestack.errors import UnavailableError

    try:
        return find_tool(name, allow_download=False).path
    except UnavailableError as error:
        pytest.skip(f"no suitable {name} on PATH or in tracestack's cache ({str(error).splitlines()[0]}); {how}")


@pytest.fixture(scope="session")
def installed_helm() -> Path:
    """helm 3.18.5+ from PATH or tracestack's cache."""
    return _installed_tool("helm", ".ci/run builds the pinned one: go install helm.sh/helm/v3/cmd/helm@v3.19.0")


@pytest.fixture
def helm(installed_helm: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """That helm, named in TRACESTACK_HELM for the runs the test starts."""
    monkeypatch.setenv("TRACESTACK_HELM", str(installed_helm))
    return installed_helm


@pytest.fixture(scope="session")
def installed_kubectl() -> Path:
    """The pinned kubectl from tracestack's cache, or one on PATH within one minor version of it."""
    return _installed_tool("kubectl", "`tracestack install kube-control-plane` builds the pinned one, as .ci/run does")


@pytest.fixture
def kubectl(installed_kubectl: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """That kubectl, named in TRACESTACK_KUBECTL for the runs the test starts."""
    monkeypatch.setenv("TRACESTACK_KUBECTL", str(installed_kubectl))
    return installed_kubectl


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
