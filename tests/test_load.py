"""Load: rates, stamped payloads, verdicts, and a real Locust run through a real collector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tracestack.load.payloads import make_template
from pytest_tracestack.load.rates import parse_duration, parse_rate
from pytest_tracestack.load.sampling import ReplicaSample, Series
from pytest_tracestack.load.verdicts import RunTotals, judge
from pytest_tracestack.otlp import from_protobuf_bytes
from pytest_tracestack.profiles import Target


@pytest.mark.parametrize(("text", "value", "unit"), [("5MB/s", 5e6, "bytes"), ("250 KB/s", 250e3, "bytes"),
                                                     ("20000spans/s", 20000, "spans"), ("1.5mb/s", 1.5e6, "bytes")])
def test_rates_parse(text: str, value: float, unit: str) -> None:
    assert parse_rate(text).value == pytest.approx(value) and parse_rate(text).unit == unit


@pytest.mark.parametrize("text", ["fast", "5", "0MB/s", "-1MB/s", "5 MiB/s"])
def test_a_bad_rate_says_the_format(text: str) -> None:
    with pytest.raises(ValueError, match=r"write a positive number with MB/s, KB/s, B/s or spans/s, e.g. 5MB/s"):
        parse_rate(text)


def test_durations_parse_and_refuse_nonsense() -> None:
    assert [parse_duration(t) for t in ("30s", "2m", "1.5h", "500ms", "10")] == [30, 120, 5400, 0.5, 10]
    with pytest.raises(ValueError, match=r"e.g. 30s or 2m"):
        parse_duration("soon")


def test_stamped_payloads_decode_with_fresh_ids_and_intact_parent_links() -> None:
    template = make_template()[0]
    first, second = from_protobuf_bytes(template.stamp()), from_protobuf_bytes(template.stamp())
    assert len(first) == len(second) == template.spans
    assert first[0].trace_id != second[0].trace_id
    assert len({span.trace_id for span in first}) == 1
    ids = {span.span_id for span in first}
    assert len(ids) == template.spans
    assert all(span.parent_span_id in ids for span in first if span.parent_span_id)
    assert sum(1 for span in first if not span.parent_span_id) == 1
    assert [s.attributes for s in first] == [s.attributes for s in from_protobuf_bytes(template.data)]


def test_concatenated_templates_make_one_request_of_several_traces() -> None:
    templates = make_template(traces_per_request=3)
    spans = from_protobuf_bytes(b"".join(t.stamp() for t in templates))
    assert len({span.trace_id for span in spans}) == 3 and len(spans) == sum(t.spans for t in templates)


def _series(rss_mib: float, accepted: float) -> Series:
    series = Series("otelcol-0", "otelcol")
    series.samples = [ReplicaSample(0.0, int(50 * 2**20), {"accepted_spans": 0.0}, True),
                      ReplicaSample(10.0, int(rss_mib * 2**20), {"accepted_spans": accepted}, True)]
    return series


def _totals(offered_mb: float = 20.0) -> RunTotals:
    return RunTotals(requested_bytes_per_s=2e6, offered_bytes=int(offered_mb * 1e6), offered_spans=50000,
                     duration_s=10, failures={}, latency_p50_ms=2, latency_p99_ms=9, bytes_per_span=400)


def test_within_targets_every_verdict_passes() -> None:
    verdicts = judge(_totals(), {"otelcol-0": _series(80, 50000)}, {"otelcol": Target("testbed", memory_mib=(100, 100))})
    assert all(v.passed for v in verdicts), [v.text for v in verdicts if not v.passed]


def test_a_replica_over_its_memory_limit_fails_naming_replica_figure_and_limit() -> None:
    verdicts = judge(_totals(), {"otelcol-0": _series(130, 50000)}, {"otelcol": Target("testbed", memory_mib=(100, 100))})
    failed = [v for v in verdicts if not v.passed]
    assert [v.text for v in failed] == ["otelcol-0 peak RSS 130.0 MiB, limit 100 MiB (testbed)"]


def test_a_replica_that_accepts_less_than_offered_fails_with_both_figures() -> None:
    verdicts = judge(_totals(), {"otelcol-0": _series(60, 25000)}, {})
    failed = [v.text for v in verdicts if not v.passed]
    assert failed == ["otelcol-0 accepted 1.00 MB/s of 2.00 MB/s offered"]


def test_refusals_by_status_fail_the_run() -> None:
    totals = RunTotals(2e6, 20_000_000, 50000, 10, {"Refused('RESOURCE_EXHAUSTED')": 7}, 2, 9, 400)
    failed = [v.text for v in judge(totals, {}, {}) if not v.passed]
    assert failed == ["refused requests: Refused('RESOURCE_EXHAUSTED'): 7"]


@pytest.fixture
def collector_env(otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))


def test_a_real_run_reports_per_replica_throughput_and_rss_agreeing_with_the_sink(
        pytester: pytest.Pytester, collector_env, tmp_path: Path) -> None:
    result = pytester.runpytest_subprocess("--tracestack-profile=collector", "--tracestack-load=2MB/s",
                                           "--tracestack-load-duration=8s", f"--tracestack-report={tmp_path}",
                                           "-k", "test_load")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and "failed" not in outcomes
    report = json.loads((tmp_path / "load" / "load-report.json").read_text())
    replica = report["replicas"]["otelcol-0"]
    assert replica["peak_rss_bytes"] > 10 * 2**20
    assert len([s for s in replica["samples"] if s["rss_bytes"]]) >= 5
    accepted, received = replica["accepted_bytes"], report["sink_received_bytes"]
    assert received > 0 and abs(accepted - received) / received <= 0.02
    assert "offered vs accepted MB/s" in (tmp_path / "load" / "load-report.html").read_text()


def test_a_run_over_the_targets_fails_naming_the_replica_figure_and_limit(
        pytester: pytest.Pytester, collector_env, tmp_path: Path) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "tight-collector.yaml").write_text(
        "extends: collector\nname: tight-collector\ntargets:\n  otelcol:\n    memory_mib: 20\n"
        "    source: a limit below what any collector needs\n")
    result = pytester.runpytest_subprocess(f"--tracestack-scenarios={scenarios}", "--tracestack-profile=tight-collector",
                                           "--tracestack-load=1MB/s", "--tracestack-load-duration=5s", "-k", "test_load")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and "passed" not in outcomes
    result.stdout.fnmatch_lines(["*otelcol-0 peak RSS * MiB, limit 20 MiB (a limit below what any collector needs)*"])


def test_capacity_search_stops_at_the_first_broken_step_and_reports_the_knee() -> None:
    from types import SimpleNamespace

    from pytest_tracestack.load.capacity import capacity_search

    ran = []

    def run(rate):
        ran.append(rate.describe())
        broke = rate.value > 3e6
        return SimpleNamespace(passed=not broke, failures=lambda: ["otelcol-0 refused spans: 120"] if broke else [])

    result = capacity_search(run, [parse_rate(r) for r in ("1MB/s", "2MB/s", "4MB/s", "8MB/s")])
    assert ran == ["1 MB/s", "2 MB/s", "4 MB/s"]
    assert result.knee.describe() == "2 MB/s"
    assert result.describe().splitlines() == ["1 MB/s: held", "2 MB/s: held",
                                              "4 MB/s: broke: otelcol-0 refused spans: 120", "knee: 2 MB/s"]


def test_capacity_search_on_a_real_collector_finds_the_memory_knee(pytester: pytest.Pytester, collector_env) -> None:
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "small-collector.yaml").write_text(
        "extends: collector\nname: small-collector\ntargets:\n  otelcol:\n    memory_mib: 60\n"
        "    source: a deliberately small memory budget\n")
    pytester.makepyfile(test_capacity="""
def test_knee(tracestack_capacity):
    result = tracestack_capacity(["0.2MB/s", "20MB/s"], duration="4s")
    print(result.describe())
    assert [rate.describe() for rate, _ in result.steps][0] == "0.2 MB/s"
""")
    result = pytester.runpytest_subprocess(f"--tracestack-scenarios={scenarios}", "--tracestack-profile=small-collector",
                                           "test_capacity.py", "-k", "test_knee", "-s")
    assert result.parseoutcomes().get("passed") == 1
    result.stdout.fnmatch_lines(["*0.2 MB/s: held", "20 MB/s: broke: *otelcol-0 peak RSS * MiB, limit 60 MiB*",
                                 "knee: 0.2 MB/s"])
