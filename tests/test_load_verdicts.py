"""Load: per-replica figures and verdicts against the profile's targets, and the replicas a traffic needs."""

from __future__ import annotations

import pytest

from pytest_tracestack.load.figures import ReplicaFigures, accepted_bytes, replica_figures
from pytest_tracestack.load.locust_stats import GeneratorStats, TargetStats
from pytest_tracestack.load.offered import GeneratorSide
from pytest_tracestack.load.scrape import ReplicaSample, Series
from pytest_tracestack.load.verdicts import Limits, SinkFigures, implied_replicas, judge, sizing_only
from pytest_tracestack.profiles import Target

MIB = 2**20
TARGETS = {"otelcol": Target("testbed Trace10kSPS", throughput_mb_s=(5, 5), memory_mib=(100, 100), cpu_cores=0.2)}
NAME = "otlp-grpc 127.0.0.1:4317"


def _stats(requests: int = 200, failures: dict[str, int] | None = None, seconds: float = 10.0) -> GeneratorStats:
    failed = sum((failures or {}).values())
    target = TargetStats(NAME, requests, failed, requests * 100_000, {2: requests - 5, 9: 5}, 1000.0, 1000.0 + seconds,
                         failures or {})
    return GeneratorStats({NAME: target}, [], bytes_per_request=100_000, spans_per_request=250)


def _series(accepted_spans: float, rss_mib: float = 60, cores: float = 0.1, extra: dict | None = None) -> Series:
    series = Series("otelcol-0", "otelcol", source="http://127.0.0.1:8888/metrics")
    series.samples = [ReplicaSample(999.0, 40 * MIB, 5.0, {}, True),
                      ReplicaSample(1005.0, int(rss_mib * MIB), 5.0 + cores * 6, {"accepted_spans": accepted_spans / 2}, True),
                      ReplicaSample(1011.0, 50 * MIB, 5.0 + cores * 12,
                                    {"accepted_spans": accepted_spans, "exported_spans": accepted_spans,
                                     "refused_spans": 0.0, **(extra or {})}, True)]
    return series


def _judge(stats: GeneratorStats, series: Series, asked: float = 2e6, sink: SinkFigures | None = None,
           generator_cores: float | None = 0.1):
    figures = replica_figures(series, stats, NAME, (1000.0, 1010.0))
    side = GeneratorSide(cores=generator_cores, machine_busy_cores=0.5, machine_cores=2, in_flight_limit=128)
    return figures, judge(stats, asked, [figures], TARGETS, side, sink)


def _failed(verdicts) -> list[str]:
    return [v.text for v in verdicts if not v.passed]


def test_figures_of_an_entry_replica() -> None:
    figures, _ = _judge(_stats(), _series(50_000, rss_mib=80, cores=0.15))
    assert figures.entry and figures.offered_bytes == 20_000_000 and figures.delivered_spans == 50_000
    assert figures.accepted_bytes == pytest.approx(20_000_000)
    assert figures.accepted_bytes_source.startswith("estimated")
    assert figures.peak_rss_bytes == 80 * MIB and figures.mean_cores == pytest.approx(0.15)
    assert (figures.push_p50_ms, figures.push_p99_ms) == (2, 9)


def test_within_targets_every_verdict_passes_and_the_sink_agrees() -> None:
    _, verdicts = _judge(_stats(), _series(50_000), sink=SinkFigures(20_000_000, 50_000))
    assert not _failed(verdicts)
    assert {v.figure for v in verdicts} >= {"accepted MB/s", "failed requests", "push latency p99 ms", "refused_spans",
                                           "peak RSS MiB", "CPU cores"}
    assert sum(1 for v in verdicts if v.subject == "delivery") == 3


def test_a_replica_over_its_memory_limit_fails_naming_replica_figure_and_limit() -> None:
    _, verdicts = _judge(_stats(), _series(50_000, rss_mib=130))
    assert _failed(verdicts) == ["otelcol-0 peak RSS 130.0 MiB, limit 100 MiB (testbed Trace10kSPS)"]


def test_a_replica_over_its_cores_fails_naming_them() -> None:
    _, verdicts = _judge(_stats(), _series(50_000, cores=0.45))
    assert _failed(verdicts) == ["otelcol-0 used 0.45 CPU cores on average, limit 0.2 cores (testbed Trace10kSPS)"]


def test_a_replica_that_takes_less_than_asked_fails_with_both_figures_and_its_sizing() -> None:
    _, verdicts = _judge(_stats(requests=200), _series(50_000), asked=50e6)
    assert _failed(verdicts)[1:] == [
        "otelcol-0 accepted 2.00 MB/s of the 50.00 MB/s asked of it (limit: at least 45.00 MB/s, 90%); "
        "sized for 5 MB/s per replica (testbed Trace10kSPS); the generator did not offer the rate asked (see its "
        "verdict), so this may not be the replica's limit"]


def test_when_the_generator_was_the_limit_the_verdicts_say_so() -> None:
    _, verdicts = _judge(_stats(requests=200), _series(50_000), asked=50e6, generator_cores=0.97)
    failed = _failed(verdicts)
    assert failed[0].startswith(
        "generator offered 2.00 MB/s of the 50.00 MB/s asked (limit: at least 45.00 MB/s, 90%): the generator's CPU "
        "ran out: its process used 0.97 cores and one Locust process runs on one core (limit 0.9)")
    assert failed[1].endswith("the generator did not offer the rate asked (see its verdict), so this may not be the "
                              "replica's limit")


def test_refusals_are_counted_by_status_per_replica() -> None:
    stats = _stats(requests=200, failures={"refused RESOURCE_EXHAUSTED": 7, "failed DEADLINE_EXCEEDED": 1})
    _, verdicts = _judge(stats, _series(48_000))
    assert "otelcol-0 answered 8 of 200 requests with an error (failed DEADLINE_EXCEEDED: 1, refused " \
           "RESOURCE_EXHAUSTED: 7), limit 0" in _failed(verdicts)


@pytest.mark.parametrize(("counter", "words"), [("refused_spans", "refused spans"),
                                                ("failed_exports", "spans it failed to export"),
                                                ("discarded_spans", "discarded spans")])
def test_lost_spans_fail_naming_the_replica(counter: str, words: str) -> None:
    series = _series(50_000, extra={counter: 120.0})
    _, verdicts = _judge(_stats(), series)
    assert f"otelcol-0 {words}: 120, limit 0" in _failed(verdicts)


def test_the_sink_receiving_less_than_the_replicas_accepted_fails_the_delivery_check() -> None:
    _, verdicts = _judge(_stats(), _series(50_000), sink=SinkFigures(19_000_000, 47_500))
    assert _failed(verdicts) == [
        "bytes the entry replicas accepted 20.00 MB vs bytes the sink received 19.00 MB: 5.00% apart, limit 2%",
        "spans the entry replicas exported 50,000 vs spans the sink received 47,500: 5.00% apart, limit 2%"]


def test_slow_pushes_fail_the_latency_limit() -> None:
    stats = _stats()
    figures = replica_figures(_series(50_000), stats, NAME, (1000.0, 1010.0))
    verdicts = judge(stats, 2e6, [figures], TARGETS, GeneratorSide(cores=0.1), None, Limits(latency_p99_ms=5))
    assert _failed(verdicts) == ["otelcol-0 push latency p50 2 ms, p99 9 ms, limit p99 5 ms"]


def test_accepted_bytes_are_measured_where_the_replica_counts_them() -> None:
    stats = _stats()
    assert accepted_bytes({"distributor_bytes": 1234.0, "accepted_spans": 9.0}, stats) == (
        1234.0, "measured: tempo_distributor_bytes_received_total")
    wire = accepted_bytes({"grpc_request_bytes": 900.0, "http_request_bytes": 100.0, "accepted_spans": 75.0,
                           "refused_spans": 25.0}, stats)
    assert wire[0] == pytest.approx(750.0) and wire[1].startswith("measured: bytes received by the OTLP servers")
    assert accepted_bytes({}, stats) == (None, "")


def _entry(accepted_mb: float) -> ReplicaFigures:
    return ReplicaFigures("distributor-0", "distributor", True, accepted_bytes=accepted_mb * 1e6)


def test_replicas_implied_for_a_traffic_figure() -> None:
    target = Target("seed 000 sizing guide", throughput_mb_s=(10, 10))
    held = implied_replicas(45e6, "distributor", [_entry(60)], 10.0, True, target)
    assert (held.replicas, held.bound, held.sizing_replicas, held.measured_mb_s) == (8, "at most", 5, 6.0)
    assert held.text == ("distributor: at most 8 replica(s) for 45 MB/s at the 6.00 MB/s one replica took (the run held: "
                         "its capacity is at least that); the sizing guide says 5 at 10 MB/s per replica "
                         "(seed 000 sizing guide)")
    broke = implied_replicas(45e6, "distributor", [_entry(120)], 10.0, False, target)
    assert (broke.replicas, broke.bound) == (4, "about")
    ingester = sizing_only(45e6, "ingester", Target("seed 000 sizing guide", throughput_mb_s=(3, 5)))
    assert ingester.sizing_replicas == 15 and ingester.text.startswith("ingester: the sizing guide says 15 replica(s)")
    assert sizing_only(45e6, "query-frontend", Target("seed 000")) is None
