"""The metrics-generator (seed 003) and jaeger (seed 004) profiles driven end to end on the local runtime against
FAKE TEMPO FOR TESTS (tests/doubles: its generator remote-writes as Tempo's does, its Jaeger receiver decodes as
the collector's translator does) and, for seed 003, a real Prometheus with its remote-write receiver and Tempo's
config rendered by a real helm from the STAND-IN `tempo` chart 2.2.4 (tests/kube_data/charts/tempo, see its
README: not the real chart). What a real Tempo writes to Prometheus, what its Jaeger receiver keeps, and what the
real chart renders from these values, only a real Tempo and the real chart show (--tracestack-tempo=PATH,
--tracestack-charts=DIR)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets
from pytest_tracestack.configs.tempo_config import tempo_config_for
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import load_profile

DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
CHARTS = Path(__file__).parent / "kube_data" / "charts"
MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


@pytest.fixture
def metrics_env(helm: Path, prometheus_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACESTACK_PROMETHEUS", str(prometheus_binary))


def _checks(report_dir: Path) -> dict[str, dict]:
    report = json.loads((report_dir / "tracestack-report.json").read_text())
    return {check["nodeid"].split("::")[-1]: check for check in report["checks"]}


def test_span_metrics_and_service_graphs_reach_a_real_prometheus(
    pytester: pytest.Pytester, metrics_env: None, tmp_path: Path
) -> None:
    before = listening_sockets()
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=metrics-generator",
        f"--tracestack-tempo={DOUBLE}",
        f"--tracestack-charts={CHARTS}",
        f"--tracestack-report={tmp_path}",
    )
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        ["tracestack: 10 checks ran (10 passed*profile metrics-generator*", "  prometheus 2.* (prometheus --version*"]
    )
    checks = _checks(tmp_path)
    promql = {name: check["properties"]["promql"] for name, check in checks.items() if "promql" in check["properties"]}
    assert promql["test_span_metrics"].startswith("sum by (service, span_kind) (traces_spanmetrics_calls_total{")
    assert promql["test_service_graphs"].startswith("sum by (client, server) (traces_service_graph_request_total{")
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()


def test_values_without_processors_fail_the_check_saying_what_prometheus_answered(
    pytester: pytest.Pytester, metrics_env: None, tmp_path: Path
) -> None:
    """Seed 003's own two keys (enabled, remoteWriteUrl) with chart 2.x: the generator runs with no processor, as
    Tempo does, and not one series reaches Prometheus. (It waits out the check's 60 s deadline; service-graphs
    fails through the same wait.)"""
    values = yaml.safe_load((MANIFESTS / "metrics-generator" / "tempo-values.yaml").read_text())
    del values["tempo"]["overrides"]
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "seed-keys-only.yaml").write_text(
        "name: seed-keys-only\ndescription: seed 003's keys alone\nextends: metrics-generator\n"
        f"files: {{metrics-generator/tempo-values.yaml: {tmp_path / 'values.yaml'}}}\n"
        "checks: [span-metrics]\n"
    )
    result = pytester.runpytest_subprocess(
        f"--tracestack-scenarios={scenarios}",
        "--tracestack-profile=seed-keys-only",
        f"--tracestack-tempo={DOUBLE}",
        f"--tracestack-charts={CHARTS}",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*a call counted for *-client's CLIENT span and *-server's SERVER span: Prometheus at http://127.* did not "
            "answer `sum by (service, span_kind) (traces_spanmetrics_calls_total{service=~*})` with it within 60s "
            "(* queries); it last answered: no series (empty vector)*"
        ]
    )


def test_the_seed_003_profile_needs_helm_for_tempos_config() -> None:
    component = load_profile("metrics-generator").components["tempo"]
    with pytest.raises(
        ProfileError,
        match=r"manifests/metrics-generator/tempo-values.yaml: values of chart tempo "
        r"2.2.4: the local runtime takes Tempo's config for them from `helm "
        r"template` only .* helm was not found .* `helm pull tempo --repo "
        r"https://grafana-community.github.io/helm-charts --version 2.2.4 -d DIR`",
    ):
        tempo_config_for(component, None)


def test_a_jaeger_trace_arrives_and_reads_back_within_the_losses_measured_on_the_collector(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=jaeger",
        f"--tracestack-tempo={DOUBLE}",
        "-k",
        "roundtrip or refused",
        f"--tracestack-report={tmp_path}",
    )
    result.assert_outcomes(passed=5)
    jaeger = _checks(tmp_path)["test_roundtrip[jaeger-thrift-http]"]
    assert jaeger["outcome"] == "passed"
    assert jaeger["properties"]["protocol_losses"] == (
        "compared as jaeger-thrift-http carries it (lost: clocks to 1000 ns; arrays and maps (as JSON text); span "
        "kind INTERNAL; status OK; scope; link attributes)"
    )
    assert _checks(tmp_path)["test_refused[zipkin]"]["outcome"] == "passed"


def test_a_tempo_config_without_the_jaeger_receiver_is_named(pytester: pytest.Pytester) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "no-jaeger.yaml").write_text(
        "name: no-jaeger\ndescription: jaeger, with manifest's Tempo\nextends: jaeger\n"
        f"files: {{jaeger/tempo.yaml: {MANIFESTS / 'manifest' / 'tempo.yaml'}}}\n"
    )
    result = pytester.runpytest_subprocess(
        f"--tracestack-scenarios={scenarios}",
        "--tracestack-profile=no-jaeger",
        f"--tracestack-tempo={DOUBLE}",
        "-k",
        "roundtrip and thrift",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*jaeger-thrift-http push to http://127.*:14268/api/traces was not acknowledged: REFUSED*",
            "*nothing listens for jaeger-thrift-http because distributor.receivers."
            "jaeger.protocols.thrift_http is not in *manifest/tempo.yaml (ConfigMap tempo-conf*",
        ]
    )
