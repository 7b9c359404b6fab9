"""Profiles are data: every built-in one loads, and a malformed one is refused with file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import available_profiles, load_profile, load_profile_file

BUILT_IN = [
    "collector",
    "distributed",
    "distributed-s3",
    "jaeger",
    "manifest",
    "manifest-s3",
    "metrics-generator",
    "nginx-otel",
    "operator",
]


def test_the_built_in_profiles_are_found() -> None:
    assert list(available_profiles()) == BUILT_IN


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_built_in_profile_loads_with_ingest_query_and_checks(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.ingest and profile.checks
    for endpoint in profile.ingest.values():
        assert endpoint.port in profile.components[endpoint.component].ports


def test_distributed_has_three_ingesters_and_the_sizing_guide_targets() -> None:
    profile = load_profile("distributed")
    assert profile.components["ingester"].replicas == 3
    assert profile.targets["distributor"].throughput_mb_s == (10.0, 10.0)
    assert profile.targets["ingester"].throughput_mb_s == (3.0, 5.0)
    assert profile.targets["ingester"].memory_mib == (4096.0, 20480.0)
    assert profile.targets["compactor"].cpu_cores == 1


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "broken.yaml"
    file.write_text(text)
    return file


def _minimal(**changes: str) -> str:
    base = {
        "name": "name: broken",
        "description": "description: a test profile",
        "components": "components:\n  otelcol:\n    binary: otelcol\n    replicas: 1\n    ports: {otlp-grpc: 4317}",
        "ingest": "ingest:\n  otlp-grpc: {component: otelcol, port: otlp-grpc}",
        "query": "query: {kind: sink}",
        "checks": "checks: [roundtrip]",
    }
    base.update(changes)
    return "\n".join(base.values()) + "\n"


def test_a_minimal_valid_profile_loads(tmp_path: Path) -> None:
    profile = load_profile_file(_write(tmp_path, _minimal()))
    assert profile.components["otelcol"].replicas == 1


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (
            {"components": "components:\n  otelcol:\n    binary: otelcol\n    replicas: three"},
            "components.otelcol.replicas",
            "'three' is not of type 'integer'",
        ),
        (
            {"components": "components:\n  otelcol:\n    binary: jaeger-all-in-one"},
            "components.otelcol.binary",
            "'jaeger-all-in-one' is not one of tempo, otelcol, nginx, capture-sink, sample-app, versitygw, prometheus",
        ),
        (
            {"ingest": "ingest:\n  opencensus: {component: otelcol, port: otlp-grpc}"},
            "ingest",
            "'opencensus' is not one of otlp-grpc, otlp-http, zipkin, jaeger-thrift-http",
        ),
        ({"query": "query: {kind: jaeger}"}, "query.kind", "'jaeger' is not one of tempo, sink"),
        ({"checks": "checkz: [roundtrip]"}, "(top level)", "'checks' is a required property"),
        (
            {"ingest": "ingest:\n  otlp-grpc: {component: collector, port: otlp-grpc}"},
            "ingest.otlp-grpc.component",
            "names unknown component 'collector'; components: otelcol",
        ),
        (
            {"ingest": "ingest:\n  otlp-grpc: {component: otelcol, port: grpc}"},
            "ingest.otlp-grpc.port",
            "component 'otelcol' has no port 'grpc'; its ports: otlp-grpc",
        ),
    ],
)
def test_malformed_profile_names_file_key_and_expectation(tmp_path: Path, change, key, message) -> None:
    file = _write(tmp_path, _minimal(**change))
    with pytest.raises(ProfileError) as raised:
        load_profile_file(file)
    assert raised.value.source == str(file)
    assert raised.value.key == key
    assert message in raised.value.problem


def test_args_for_the_in_process_capture_sink_are_refused(tmp_path: Path) -> None:
    file = _write(
        tmp_path,
        _minimal(
            components="components:\n  otelcol:\n    binary: capture-sink\n"
            "    args: [--verbose]\n    ports: {otlp-grpc: 4317}"
        ),
    )
    with pytest.raises(ProfileError) as raised:
        load_profile_file(file)
    assert (raised.value.source, raised.value.key) == (str(file), "components.otelcol.args")
    assert "the capture sink runs inside pytest" in raised.value.problem


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    file = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(ProfileError, match=r"broken\.yaml: is not valid YAML"):
        load_profile_file(file)


def test_a_malformed_user_profile_is_a_usage_error_in_pytest(pytester: pytest.Pytester) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "mine.yaml").write_text(_minimal(name="name: mine", query="query: {kind: elastic}"))
    result = pytester.runpytest(f"--tracestack-scenarios={scenarios}", "--tracestack-profile=mine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mine.yaml: query.kind: 'elastic' is not one of tempo, sink*"])


def test_a_user_profile_can_extend_a_built_in_one_and_override_targets(tmp_path: Path) -> None:
    (tmp_path / "my-distributed.yaml").write_text(
        "extends: distributed\nname: my-distributed\ntargets:\n  ingester:\n"
        "    throughput_mb_s: 8\n    source: our load test of 2026-11\n"
    )
    profile = load_profile("my-distributed", [tmp_path])
    assert profile.targets["ingester"].throughput_mb_s == (8.0, 8.0)
    assert profile.targets["ingester"].source == "our load test of 2026-11"
    assert profile.components["ingester"].replicas == 3
