"""examples/infra-repo, a team's own tracing deployment, copied anywhere and gated from its root: planned on kind
with the team's values, its collector pipeline run for real on the local runtime, and the gate catching the
typical breaking changes with a message that points at the change."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "infra-repo"
DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
STAND_INS = Path(__file__).parent / "kube_data" / "charts"  # see its README: not the real charts

# Reads the config a replica was started with, from inside the gated run.
READ_RENDERED = """
import json, os
from pathlib import Path

def test_rendered(tracestack_stack):
    rows = {r.name: (Path(tracestack_stack.workdir) / r.name / os.environ["CONFIG_NAME"]).read_text()
            for r in tracestack_stack.replicas if r.component == os.environ["COMPONENT"]}
    Path(os.environ["RENDERED_FILE"]).write_text(json.dumps(rows))
"""


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Path:
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    return pytester.path


def _edit(file: Path, change) -> None:
    documents = list(yaml.safe_load_all(file.read_text()))
    change(documents[0])
    file.write_text(yaml.safe_dump_all(documents, sort_keys=False))


def _rendered(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch, component: str, config_name: str, *args: str
) -> dict[str, dict]:
    import json

    pytester.makepyfile(test_rendered=READ_RENDERED)
    monkeypatch.setenv("COMPONENT", component)
    monkeypatch.setenv("CONFIG_NAME", config_name)
    monkeypatch.setenv("RENDERED_FILE", str(tmp_path / "rendered.json"))
    result = pytester.runpytest_subprocess(*args, "test_rendered.py", "-k", "test_rendered")
    result.assert_outcomes(passed=1)
    texts = json.loads((tmp_path / "rendered.json").read_text())
    return {name: {"text": text, "config": yaml.safe_load(text)} for name, text in texts.items()}


def test_the_kind_plan_installs_the_teams_values_file_from_the_repository_root(
    pytester: pytest.Pytester, repo: Path, helm: Path
) -> None:
    result = pytester.runpytest(
        "--tracestack-profile=my-tempo",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-namespace=tracestack-plan",
        f"--tracestack-charts={STAND_INS}",
    )
    out = result.stdout.str()
    assert result.ret == 0, out
    values = repo / "deploy" / "tempo" / "values.yaml"
    assert f"-f {values}" in out and "chart tempo-distributed 2.26.2 from" in out
    assert f"validated: {values}: parsed; traces.otlp.grpc.enabled=True (ingest otlp-grpc)" in out
    assert "supersecret" not in out


def test_the_teams_collector_pipeline_runs_for_real_on_the_local_runtime(
    pytester: pytest.Pytester, repo: Path, collector_env
) -> None:
    result = pytester.runpytest_subprocess("--tracestack-profile=my-collector")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            "*components used:*",
            "  otelcol * (otelcol --version said*",
            "tracestack: 7 checks ran (7 passed, 0 failed, 0 skipped, 0 could not run) on profile "
            "my-collector, runtime local",
        ]
    )


def test_the_collector_runs_the_teams_config_with_only_local_addresses_changed(
    pytester: pytest.Pytester, repo: Path, collector_env, tmp_path: Path, monkeypatch
) -> None:
    rendered = _rendered(
        pytester, tmp_path, monkeypatch, "otelcol", "otelcol.yaml", "--tracestack-profile=my-collector"
    )
    text, config = rendered["otelcol-0"]["text"], rendered["otelcol-0"]["config"]
    assert text.startswith(
        f"# Rendered by pytest-tracestack for the local runtime from "
        f"{repo}/deploy/collector/collector.yaml (OpenTelemetryCollector gateway)."
    )
    assert config["processors"]["memory_limiter"] == {"check_interval": "1s", "limit_mib": 400, "spike_limit_mib": 100}
    assert "# local override: exporters.otlp.endpoint = " in text


def test_the_teams_tempo_values_reach_each_local_tempo_process(
    pytester: pytest.Pytester, repo: Path, tmp_path: Path, monkeypatch
) -> None:
    """Against FAKE TEMPO FOR TESTS: what reaches the config is shown; what a real Tempo does with it is not."""
    rendered = _rendered(
        pytester,
        tmp_path,
        monkeypatch,
        "distributor",
        "tempo.yaml",
        "--tracestack-profile=my-tempo",
        "--tracestack-runtime=local",
        f"--tracestack-tempo={DOUBLE}",
    )
    assert sorted(rendered) == ["distributor-0", "distributor-1"]  # distributor.replicas: 2
    config, text = rendered["distributor-0"]["config"], rendered["distributor-0"]["text"]
    assert config["overrides"]["defaults"]["ingestion"] == {"rate_limit_bytes": 25000000, "burst_size_bytes": 35000000}
    assert config["ingester"]["trace_idle_period"] == "10s" and config["ingester"]["max_block_duration"] == "30m"
    assert config["server"]["log_level"] == "warn"
    assert "# not applied locally: ingester.resources (Kubernetes object settings)" in text
    assert "supersecret" not in text


def test_the_workflow_runs_the_gate_on_deploy_changes_and_installs_from_source() -> None:
    workflow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / "tracing-gate.yml").read_text())
    triggers = workflow.get("on") or workflow[True]  # YAML 1.1 reads a bare `on` as true
    assert "deploy/**" in triggers["pull_request"]["paths"]
    assert workflow["env"]["TRACESTACK_SOURCE"].startswith("git+https://")
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    installs = [run for run in runs if "pip install" in run]
    assert installs and all("@ ${TRACESTACK_SOURCE}" in run or ".whl" in run for run in installs)
    profiles = {arg.split("=", 1)[1] for run in runs for arg in run.split() if arg.startswith("--tracestack-profile=")}
    assert profiles == {path.stem for path in (EXAMPLE / "tracing").glob("*.yaml")}


WORKFLOWS = [
    EXAMPLE / ".github" / "workflows" / "tracing-gate.yml",
    EXAMPLE.parents[1] / ".github" / "workflows" / "tracestack-kind.yml",
]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_each_workflow_to_copy_installs_from_source_and_pins_the_kind_and_kubectl_tracestack_needs(path: Path) -> None:
    """helm/kind-action's own defaults are an older kind than the one kindest/node:v1.35.0 is built for, and a
    kubectl older than tracestack's commands need; and pytest-tracestack is on no package index."""
    from pytest_tracestack.runtimes.kube.settings import KIND_NODE_IMAGE, KIND_VERSION
    from pytest_tracestack.versions import KUBECTL

    steps = [step for job in yaml.safe_load(path.read_text())["jobs"].values() for step in job["steps"]]
    kinds = [step.get("with") or {} for step in steps if str(step.get("uses", "")).startswith("helm/kind-action@")]
    assert kinds and all(
        kind.get("version") == KIND_VERSION and kind.get("node_image") == KIND_NODE_IMAGE for kind in kinds
    ), kinds
    assert KUBECTL.accepted and all(KUBECTL.accepted.admits(kind.get("kubectl_version", "")) for kind in kinds)
    installs = [step["run"] for step in steps if "pip install" in step.get("run", "")]
    assert installs and all("@ ${TRACESTACK_SOURCE}" in run for run in installs), installs


# --- the gate catches a bad change ------------------------------------------------------------------


def test_a_receiver_the_apps_use_turned_off_in_the_collector_is_refused_naming_the_key(
    pytester: pytest.Pytester, repo: Path, collector_env
) -> None:
    collector = repo / "deploy" / "collector" / "collector.yaml"
    _edit(collector, lambda doc: doc["spec"]["config"]["receivers"]["otlp"]["protocols"].pop("http"))
    result = pytester.runpytest_subprocess("--tracestack-profile=my-collector", "-k", "roundtrip")
    result.assert_outcomes(passed=1, failed=2)  # otlp-grpc still flows; otlp-http (protobuf, JSON) refused
    result.stdout.fnmatch_lines(
        [
            "*otlp-http push to http://127.*/v1/traces was not acknowledged: REFUSED*",
            f"*nothing listens for otlp-http because receivers.otlp.protocols.http is not in "
            f"{collector} (OpenTelemetryCollector gateway, spec.config)*",
        ]
    )


def test_a_receiver_turned_off_in_the_tempo_values_is_named_offline_and_on_the_local_runtime(
    pytester: pytest.Pytester, repo: Path, helm: Path
) -> None:
    values = repo / "deploy" / "tempo" / "values.yaml"
    _edit(values, lambda doc: doc["traces"]["otlp"]["http"].update(enabled=False))
    plan = pytester.runpytest(
        "--tracestack-profile=my-tempo",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        f"--tracestack-charts={STAND_INS}",
    )
    assert plan.ret == 1
    plan.stdout.fnmatch_lines(
        [f"*{values}: traces.otlp.http.enabled is False, but profile my-tempo ingests otlp-http*"]
    )
    # Against FAKE TEMPO FOR TESTS, which opens the receivers its config lists, as Tempo does.
    run = pytester.runpytest_subprocess(
        "--tracestack-profile=my-tempo", "--tracestack-runtime=local", f"--tracestack-tempo={DOUBLE}", "-k", "roundtrip"
    )
    run.stdout.fnmatch_lines([f"*nothing listens for otlp-http because traces.otlp.http.enabled is False in {values}*"])


def test_a_memory_limiter_below_the_loads_needs_fails_the_load_verdict_on_refusals(
    pytester: pytest.Pytester, repo: Path, collector_env
) -> None:
    args = (
        "--tracestack-profile=my-collector",
        "--tracestack-load=1MB/s",
        "--tracestack-load-duration=4s",
        "-k",
        "test_load",
    )
    assert pytester.runpytest_subprocess(*args).parseoutcomes().get("passed") == 1  # as the team has it
    _edit(
        repo / "deploy" / "collector" / "collector.yaml",
        lambda doc: doc["spec"]["config"]["processors"]["memory_limiter"].update(limit_mib=8, spike_limit_mib=2),
    )  # meant 800
    result = pytester.runpytest_subprocess(*args)
    assert result.parseoutcomes().get("failed") == 1
    result.stdout.fnmatch_lines(
        [
            "*otelcol-0 answered * of * requests with an error (refused *), limit 0*",
            "*otelcol-0 refused spans: *, limit 0*",
        ]
    )


def _real_tempo() -> str | None:
    for candidate in (os.environ.get("TRACESTACK_TEMPO"), shutil.which("tempo")):
        if candidate and Path(candidate).is_file() and Path(candidate).resolve() != DOUBLE.resolve():
            done = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=20)
            if "FAKE TEMPO" not in done.stdout and done.returncode == 0:
                return candidate
    return None


@pytest.mark.skipif(
    _real_tempo() is None,
    reason="needs a real Tempo 2.x (TRACESTACK_TEMPO=PATH or tempo on PATH, "
    "from Tempo's release archives); the double does not model the ingester ring or replication",
)
def test_replication_factor_1_loses_or_cannot_read_traces_when_an_ingester_is_killed(
    pytester: pytest.Pytester, repo: Path
) -> None:
    _edit(repo / "deploy" / "tempo" / "values.yaml", lambda doc: doc["ingester"]["config"].update(replication_factor=1))
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=my-tempo",
        "--tracestack-runtime=local",
        f"--tracestack-tempo={_real_tempo()}",
        "-k",
        "ingester_kill",
    )
    assert result.parseoutcomes().get("failed") == 1
    result.stdout.fnmatch_lines(["*acknowledged traces were not read back*"])
