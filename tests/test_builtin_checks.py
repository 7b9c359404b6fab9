"""The built-in checks, run for real through pytester: a real collector, a real auto-instrumented service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
def with_collector(otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))


def test_collector_profile_passes_every_check_through_a_real_collector(
    pytester: pytest.Pytester, with_collector, tmp_path: Path
) -> None:
    before = listening_sockets()
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=collector", "-v", f"--tracestack-report={tmp_path / 'report'}"
    )
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            "tracestack/collector::test_roundtrip[[]otlp-grpc[]] PASSED*",
            "tracestack/collector::test_roundtrip[[]otlp-http[]] PASSED*",
            "tracestack/collector::test_roundtrip[[]otlp-http-json[]] PASSED*",
            "tracestack/collector::test_service_name PASSED*",
            "tracestack/collector::test_refused[[]zipkin[]] PASSED*",
            "tracestack/collector::test_refused[[]jaeger-thrift-http[]] PASSED*",
            "tracestack/collector::test_collector_restart_loses_nothing_acknowledged PASSED*",
            "tracestack: 7 checks ran (7 passed, 0 failed, 0 skipped, 0 could not run) on profile collector, "
            "runtime local",
            "tracestack: components used (version as each reported it*",
            "  capture-sink pytest-tracestack * (in-process OTLP gRPC/HTTP server; tracestack's own test sink, not a "
            "tracing backend)",
            "  otelcol 0.129.0 (otelcol --version said 'otelcol-* version 0.129.0'; */otelcol-*",
            f"tracestack: report: {(tmp_path / 'report' / 'tracestack-report.html').resolve().as_uri()}",
        ]
    )
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()
    report = json.loads((tmp_path / "report" / "tracestack-report.json").read_text())
    roundtrips = [c for c in report["checks"] if c["check"] == "roundtrip"]
    assert [c["outcome"] for c in roundtrips] == ["passed"] * 3
    assert all(c["properties"]["visible_after_s"] > 0 for c in roundtrips)
    assert (tmp_path / "report" / "tracestack-report.html").read_text().count("<td class=passed>") == 7
    restart = next(c for c in report["checks"] if c["check"] == "collector-restart")["properties"]
    assert restart["acknowledged"] > 0 and restart["found"] == restart["acknowledged"]
    assert restart["acknowledged_but_lost"] == 0
    assert restart["sent"] == restart["acknowledged"] + sum(restart["refused"].values())


def test_manifest_without_tempo_fails_with_what_is_missing(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = pytester.runpytest_subprocess("--tracestack-profile=manifest", "--tracestack-no-download")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "tracestack could not start profile 'manifest' on the local runtime: tempo 2.10.8 was not found: *",
            "Tried, in order:",
            "*How to provide it: download Tempo 2.10.8*--tracestack-tempo=/path/to/tempo*",
            "*pass --tracestack-skip-unavailable to skip instead of failing*",
            "tracestack: 0 checks ran (0 passed, 0 failed, 0 skipped, * could not run) on profile "
            "manifest*none started",
        ]
    )
    assert "passed" not in result.stdout.lines[-1]


def test_skip_unavailable_turns_missing_tempo_into_skips_that_say_why(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=manifest", "--tracestack-no-download", "--tracestack-skip-unavailable", "-rs"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 5 and "passed" not in outcomes and "failed" not in outcomes
    result.stdout.fnmatch_lines(["SKIPPED*tempo 2.10.8 was not found: *(skipped: --tracestack-skip-unavailable)"])


def test_operator_sample_service_is_auto_instrumented_and_honours_w3c_and_b3(
    pytester: pytest.Pytester, with_collector, monkeypatch
) -> None:
    pytest.importorskip(
        "opentelemetry.instrumentation.flask", reason="needs the [operator] extra: pip install -e '.[operator]'"
    )
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(SCENARIOS))
    before = listening_sockets()
    result = pytester.runpytest_subprocess("--tracestack-profile=operator-sink", "-v")
    result.stdout.fnmatch_lines(
        [
            "tracestack/operator-sink::test_auto_instrumentation PASSED*",
            "tracestack/operator-sink::test_propagation[[]b3[]] PASSED*",
            "tracestack/operator-sink::test_propagation[[]tracecontext[]] PASSED*",
        ]
    )
    result.assert_outcomes(passed=3)
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()
