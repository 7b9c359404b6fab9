"""A kube start renders the profile once and installs what it rendered: each manifest is read, patched and
labelled once, each chart goes through `helm template` once, and the files applied are the ones validated
(the start used to render the manifests a second time after validating them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_tracestack.runtimes.kube.manifests as manifests
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.kube.kind import make_kube_runtime
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from recording_runner import RecordingRunner, runs_under_tmp_path  # noqa: F401

RENDERED = Path(__file__).resolve().parent / "kube_data" / "rendered"


@pytest.mark.parametrize("profile", ["manifest", "distributed", "operator"])
def test_a_start_renders_each_manifest_and_each_chart_once(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_tracestack.runtimes.kube.kind.require_container_engine", lambda: "docker")
    read: list[str] = []
    load = manifests.load_manifest_documents
    monkeypatch.setattr(manifests, "load_manifest_documents", lambda relative: read.append(relative) or load(relative))
    runner = (
        RecordingRunner()
        .on("kind get clusters", stdout="")
        .on(" template tempo ", stdout=(RENDERED / "tempo-distributed.yaml").read_text())
        .on(" template opentelemetry-operator ", stdout=(RENDERED / "opentelemetry-operator.yaml").read_text())
    )
    runtime = make_kube_runtime(
        "kind",
        KubeSettings(namespace="tracestack-t1", retry_interval_s=0.0),
        runner,
        {"kind": "kind", "kubectl": "kubectl", "helm": "helm"},
    )
    loaded = load_profile(profile)
    stack = runtime.start(loaded)
    try:
        assert read == loaded.kubernetes.get("manifests", [])
        charts = [chart["chart"] for chart in loaded.kubernetes.get("charts", [])]
        assert [argv[argv.index("template") + 2] for argv in runner.commands if "template" in argv] == charts
        applied = [Path(argv[-1]) for argv in runner.commands if "apply" in argv]
        assert len(applied) == len(read) and all(path.is_file() for path in applied)
    finally:
        runtime.stop(stack)
