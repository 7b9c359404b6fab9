"""Load: per-replica figures and verdicts against the profile's targets, and the replicas a traffic needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_tracestack.load.figures import ReplicaFigures, accepted_bytes, replica_figures
from pytest_tracestack.load.locust_stats import GeneratorStats, TargetStats
from pytest_tracestack.load.offered import GeneratorSide
from pytest_tracestack.load.replication import Replication, replication_factor
from pytest_tracestack.load.scrape import ReplicaSample, Series, counters_from_text
from pytest_tracestack.load.verdicts import Limits, SinkFigures, implied_replicas, judge, sizing_only
from pytest_tracestack.profiles.profile import Target, load_profile, load_profile_file
from recorded_tempo import UNDER_LOAD

MIB = 2**20
TARGETS = {"otelcol": Target("testbed Trace10kSPS", throughput_mb_s=(5, 5), memory_mib=(100, 100), cpu_cores=0.2)}
NAME = "otlp-grpc 127.0.0.1:4317"


def _stats(requests: int = 200, failures: dict[str, int] | None = None, seconds: float = 10.0) -> GeneratorStats:
    failed = sum((failures or {}).values())
    target = TargetStats(
        NAME, requests, failed, requests * 100_000, {2: requests - 5, 9: 5}, 1000.0, 1000.0 + seconds, failures or {}
    )
    return GeneratorStats({NAME: target}, [], bytes_per_request=100_000, spans_per_request=250)


def _series(accepted_spans: float, rss_mib: float = 60, cores: float = 0.1, extra: dict | None = None) -> Series:
    series = Series("otelcol-0", "otelcol", source="http://127.0.0.1:8888/metrics")
    series.samples = [
        ReplicaSample(999.0, 40 * MIB, 5.0, {}, True),
        ReplicaSample(1005.0, int(rss_mib * MIB), 5.0 + cores * 6, {"accepted_spans": accepted_spans / 2}, True),
        ReplicaSample(
            1011.0,
            50 * MIB,
            5.0 + cores * 12,
            {"accepted_spans": accepted_spans, "exported_spans": accepted_spans, "refused_spans": 0.0, **(extra or {})},
            True,
        ),
    ]
    return series


def _judge(
    stats: GeneratorStats,
    series: Series,
    asked: float = 2e6,
    sink: SinkFigures | None = None,
    generator_cores: float | None = 0.1,
):
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
    assert {v.figure for v in verdicts} >= {
        "accepted MB/s",
        "failed requests",
        "push latency p99 ms",
        "refused_spans",
        "peak RSS MiB",
        "CPU cores",
    }
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
        "otelcol-0 accepted 2.00 MB/s (estimated: accepted spans x the generator's bytes per span) of the 50.00 MB/s "
        "asked of it (limit: at least 45.00 MB/s, 90%); "
        "sized for 5 MB/s per replica (testbed Trace10kSPS); the generator did not offer the rate asked (see its "
        "verdict), so this may not be the replica's limit"
    ]


def test_when_the_generator_was_the_limit_the_verdicts_say_so() -> None:
    _, verdicts = _judge(_stats(requests=200), _series(50_000), asked=50e6, generator_cores=0.97)
    failed = _failed(verdicts)
    assert failed[0].startswith(
        "generator offered 2.00 MB/s of the 50.00 MB/s asked (limit: at least 45.00 MB/s, 90%): the generator's CPU "
        "ran out: its process used 0.97 cores and one Locust process runs on one core (limit 0.9)"
    )
    assert failed[1].endswith(
        "the generator did not offer the rate asked (see its verdict), so this may not be the replica's limit"
    )


def test_refusals_are_counted_by_status_per_replica() -> None:
    stats = _stats(requests=200, failures={"refused RESOURCE_EXHAUSTED": 7, "failed DEADLINE_EXCEEDED": 1})
    _, verdicts = _judge(stats, _series(48_000))
    assert (
        "otelcol-0 answered 8 of 200 requests with an error (failed DEADLINE_EXCEEDED: 1, refused "
        "RESOURCE_EXHAUSTED: 7), limit 0" in _failed(verdicts)
    )


@pytest.mark.parametrize(
    ("counter", "words"),
    [
        ("refused_spans", "refused spans"),
        ("failed_exports", "spans it failed to export"),
        ("discarded_spans", "discarded spans"),
    ],
)
def test_lost_spans_fail_naming_the_replica(counter: str, words: str) -> None:
    series = _series(50_000, extra={counter: 120.0})
    _, verdicts = _judge(_stats(), series)
    assert f"otelcol-0 {words}: 120, limit 0" in _failed(verdicts)


def test_the_sink_receiving_less_than_the_replicas_accepted_fails_the_delivery_check() -> None:
    _, verdicts = _judge(_stats(), _series(50_000), sink=SinkFigures(19_000_000, 47_500))
    assert _failed(verdicts) == [
        "bytes the entry replicas accepted (estimated from their spans) 20.00 MB vs bytes the sink received 19.00 MB: "
        "5.00% apart, limit 2%",
        "spans the entry replicas exported 50,000 vs spans the sink received 47,500: 5.00% apart, limit 2%",
    ]


def test_slow_pushes_fail_the_latency_limit() -> None:
    stats = _stats()
    figures = replica_figures(_series(50_000), stats, NAME, (1000.0, 1010.0))
    verdicts = judge(stats, 2e6, [figures], TARGETS, GeneratorSide(cores=0.1), None, Limits(latency_p99_ms=5))
    assert _failed(verdicts) == ["otelcol-0 push latency p50 2 ms, p99 9 ms, limit p99 5 ms"]


def test_accepted_bytes_are_measured_where_the_replica_counts_them() -> None:
    stats = _stats()
    assert accepted_bytes({"distributor_bytes": 1234.0, "accepted_spans": 9.0}, stats) == (
        1234.0,
        "measured: tempo_distributor_bytes_received_total",
    )
    wire = accepted_bytes(
        {"grpc_request_bytes": 900.0, "http_request_bytes": 100.0, "accepted_spans": 75.0, "refused_spans": 25.0}, stats
    )
    assert wire[0] == pytest.approx(750.0) and wire[1].startswith("measured: bytes received by the OTLP servers")
    assert accepted_bytes({}, stats) == (None, "")


def _entry(accepted_mb: float) -> ReplicaFigures:
    return ReplicaFigures("distributor-0", "distributor", True, accepted_bytes=accepted_mb * 1e6)


def test_replicas_implied_for_a_traffic_figure() -> None:
    target = Target("seed 000 sizing guide", throughput_mb_s=(10, 10))
    held = implied_replicas(45e6, "distributor", [_entry(60)], 10.0, True, target)
    assert (held.replicas, held.bound, held.sizing_replicas, held.measured_mb_s) == (8, "at most", 5, 6.0)
    assert held.text == (
        "distributor: at most 8 replica(s) for 45 MB/s at the 6.00 MB/s one replica took "
        "(the run held: its capacity is at least that); the sizing guide says 5 at 10 MB/s "
        "per replica (seed 000 sizing guide)"
    )
    broke = implied_replicas(45e6, "distributor", [_entry(120)], 10.0, False, target)
    assert (broke.replicas, broke.bound) == (4, "about")
    ingester = sizing_only(45e6, "ingester", Target("seed 000 sizing guide", throughput_mb_s=(3, 5)))
    assert ingester.sizing_replicas == 15 and ingester.text.startswith("ingester: the sizing guide says 15 replica(s)")
    assert sizing_only(45e6, "query-frontend", Target("seed 000")) is None


# --- Tempo: recorded /metrics of a real distributed Tempo 2.10.8 after ~15 s of load ----------------------

DISTRIBUTOR_NAME = "otlp-grpc 127.0.1.1:4317"


def _recorded(replica: str, component: str) -> Series:
    """The replica's recorded page as the last of two samples; the first has every counter at zero."""
    counters = counters_from_text((UNDER_LOAD / f"{replica}.metrics.txt").read_text())
    at_start = {key: (value if key.startswith("tempo_limit:") else 0.0) for key, value in counters.items()}
    return Series(
        replica,
        component,
        [ReplicaSample(1000.0, None, None, at_start, True), ReplicaSample(1015.0, None, None, counters, True)],
        source="http://127.0.1.1:3200/metrics",
    )


def _tempo_stats(failures: dict[str, int] | None = None) -> GeneratorStats:
    """What the generator reported for that run: 1,522 requests of 48,043 bytes (73.12 MB) in 15 s."""
    failed = sum((failures or {}).values())
    target = TargetStats(
        DISTRIBUTOR_NAME,
        1522 + failed,
        failed,
        (1522 + failed) * 48043,
        {17: 1500, 40: 22 + failed},
        1000.0,
        1015.0,
        failures or {},
    )
    return GeneratorStats({DISTRIBUTOR_NAME: target}, [], 48043, 122)


def _tempo_figures(stats: GeneratorStats, ingesters: tuple[str, ...] = ("ingester-0", "ingester-1", "ingester-2")):
    figures = [replica_figures(_recorded("distributor-0", "distributor"), stats, DISTRIBUTOR_NAME, (1000.0, 1015.0))]
    figures += [replica_figures(_recorded(name, "ingester"), stats, None, (1000.0, 1015.0)) for name in ingesters]
    return figures


def _tempo_verdicts(stats: GeneratorStats, figures, factor: int = 3, ingesters: int = 3):
    targets = load_profile("distributed").targets
    replication = Replication(factor, tuple(f"ingester-{n}" for n in range(ingesters)))
    return judge(
        stats,
        5e6,
        figures,
        targets,
        GeneratorSide(cores=0.2, machine_busy_cores=1.0, machine_cores=2, in_flight_limit=128),
        None,
        Limits(),
        replication,
    )


def test_a_distributed_tempo_reports_accepted_mb_s_for_the_distributor_and_each_ingester() -> None:
    figures = _tempo_figures(_tempo_stats())
    accepted = {f.replica: round(f.accepted_bytes / 15 / 1e6, 2) for f in figures}
    assert accepted == {"distributor-0": 4.88, "ingester-0": 4.17, "ingester-1": 3.98, "ingester-2": 4.14}
    assert figures[0].accepted_bytes_source == "measured: tempo_distributor_bytes_received_total"
    assert figures[1].accepted_bytes_source == 'measured: tempo_ingester_bytes_received_total{data_type="trace"}'
    assert figures[0].counters["distributor_spans"] == 185_697
    assert figures[0].limits["ingestion_rate_limit_bytes"] == 15e6


def test_replication_accounting_holds_for_the_recorded_run() -> None:
    stats = _tempo_stats()
    verdicts = _tempo_verdicts(stats, _tempo_figures(stats))
    shares = {v.subject: round(v.value, 3) for v in verdicts if v.figure == "ingester share"}
    assert shares == {"ingester-0": 0.855, "ingester-1": 0.815, "ingester-2": 0.848}
    assert not _failed(verdicts), _failed(verdicts)
    text = next(v.text for v in verdicts if v.subject == "ingester-1" and v.figure == "ingester share")
    assert text == (
        "ingester-1 received 59.63 MB (3.98 MB/s), 82% of its due 73.16 MB: 100% of what the distributors "
        "accepted with replication factor 3 over 3 ingester(s); limit 70%-100% of that, "
        "the ingesters count the traces re-encoded for them (81.5-85.5 % in a recorded Tempo 2.10.8 run); "
        "sized for 3-5 MB/s per replica (seed 000 sizing guide: 2.5 cores, 4-20 GB per 3-5 MB/s)"
    )
    agree = next(v for v in verdicts if v.subject == "delivery" and v.figure.startswith("bytes"))
    assert agree.passed and agree.text.startswith(
        "bytes answered OK to the generator 73.12 MB vs bytes the entry replicas accepted 73.16 MB: 0.05% apart"
    )


def test_an_ingester_that_missed_writes_fails_the_replication_accounting() -> None:
    stats = _tempo_stats()
    figures = _tempo_figures(stats)
    figures[3].counters["ingester_bytes"] *= 2 / 3  # a third of the writes missed ingester-2
    failed = _failed(_tempo_verdicts(stats, figures))
    assert [text.split(":")[0] for text in failed] == [
        "ingester-2 received 41.36 MB (2.76 MB/s), 57% of its due 73.16 MB"
    ]


def test_ingesters_given_more_than_their_replication_factor_allows_fail() -> None:
    """Judged as replication factor 1 over 3 ingesters (each due a third), every ingester got about 2.5 times
    its share; with 4 ingesters listed and 3 sampled, the fourth is not measured."""
    stats = _tempo_stats()
    failed = _failed(_tempo_verdicts(stats, _tempo_figures(stats), factor=1))
    assert [text.split(" of its due")[0] for text in failed] == [
        "ingester-0 received 62.57 MB (4.17 MB/s), 257%",
        "ingester-1 received 59.63 MB (3.98 MB/s), 245%",
        "ingester-2 received 62.04 MB (4.14 MB/s), 254%",
    ]
    failed = _failed(_tempo_verdicts(stats, _tempo_figures(stats), factor=3, ingesters=4))
    assert failed[-1].startswith("ingester-3 received bytes not measured (it was not sampled): its share, 75% of what")


def test_an_ingester_not_scraped_fails_as_not_measured_instead_of_passing_silently() -> None:
    stats = _tempo_stats()
    figures = _tempo_figures(stats)
    figures[2] = replica_figures(Series("ingester-1", "ingester"), stats, None, (1000.0, 1015.0))
    failed = _failed(_tempo_verdicts(stats, figures))
    assert failed == [
        "ingester-1 received bytes not measured (no /metrics to read: its component declares none this "
        "runtime reaches (profile key components.ingester.metrics, e.g. 'http:http/metrics' for Tempo)): "
        "its share, 100% of what the distributors accepted with replication factor 3 over 3 ingester(s); "
        "limit 70%-100% of that, the ingesters count the traces re-encoded for them (81.5-85.5 % in a "
        "recorded Tempo 2.10.8 run), cannot be checked"
    ]


def test_an_entry_replica_whose_accepted_bytes_are_unknown_fails_the_floor() -> None:
    """The issue's run: every Tempo replica reported accepted_mb_s null and the 90 % floor was skipped."""
    stats = _tempo_stats()
    unscraped = replica_figures(Series("distributor-0", "distributor"), stats, DISTRIBUTOR_NAME, (1000.0, 1015.0))
    verdicts = judge(stats, 5e6, [unscraped], load_profile("distributed").targets, GeneratorSide(cores=0.2))
    floor = next(v for v in verdicts if v.figure == "accepted MB/s")
    assert (floor.passed, floor.value) == (False, None)
    assert floor.text == (
        "distributor-0 accepted MB/s not measured (no /metrics to read: its component declares none "
        "this runtime reaches (profile key components.distributor.metrics, "
        "e.g. 'http:http/metrics' for Tempo)): the floor of 4.50 MB/s "
        "(90% of the 5.00 MB/s asked of it) cannot be checked; sized for 10 MB/s per replica "
        "(seed 000 sizing guide: 2 cores, 2 GB per 10 MB/s)"
    )
    silent = Series(
        "distributor-0",
        "distributor",
        [ReplicaSample(1000.0, None, None, {}, False)],
        source="http://127.0.1.1:3200/metrics",
    )
    text = replica_figures(silent, stats, DISTRIBUTOR_NAME, (1000.0, 1015.0)).why_not_measured()
    assert text == "its /metrics at http://127.0.1.1:3200/metrics never answered during the run"


def test_refusals_by_the_ingestion_limit_are_named_with_the_limit_and_the_override() -> None:
    refused = (
        "refused RESOURCE_EXHAUSTED: RATE_LIMITED: ingestion rate limit (local: 1000000 bytes/s, global: 0 "
        "bytes/s, burst: 1000000 bytes) exceeded"
    )
    stats = _tempo_stats({refused: 563})
    failed = _failed(_tempo_verdicts(stats, _tempo_figures(stats)))
    assert (
        f"distributor-0 answered 563 of 2085 requests with an error ({refused}: 563), limit 0; 563 refused by the "
        "per-tenant ingestion rate limit (local 1,000,000 B/s, global 0 B/s, burst 1,000,000 B, "
        "as Tempo reported): a configuration limit, not the stack's capacity; "
        "set overrides.defaults.ingestion.rate_limit_bytes / "
        "overrides.defaults.ingestion.burst_size_bytes above the rate asked, or ask less" in failed
    )


def test_discarded_spans_fail_naming_the_reason_and_what_sets_it() -> None:
    stats = _tempo_stats()
    series = _recorded("distributor-0", "distributor")
    series.samples[-1].counters.update({"discarded_spans": 42.0, "discarded_spans:live_traces_exceeded": 42.0})
    figures = replica_figures(series, stats, DISTRIBUTOR_NAME, (1000.0, 1015.0))
    failed = _failed(judge(stats, 5e6, [figures], {}, GeneratorSide(cores=0.2)))
    assert failed == [
        "distributor-0 discarded spans: 42, limit 0 (live_traces_exceeded 42: "
        "more live traces per ingester than the per-tenant limit (max_local_traces_per_user 10,000), "
        "dropped silently (the push was answered OK); a configuration limit, not a capacity: "
        "overrides.defaults.ingestion.max_traces_per_user)"
    ]


def test_asking_more_than_the_configured_ingestion_limit_says_the_run_measures_the_limit() -> None:
    stats = _tempo_stats()
    verdicts = judge(stats, 30e6, _tempo_figures(stats)[:1], {}, GeneratorSide(cores=0.2))
    accepted = next(v.text for v in verdicts if v.figure == "accepted MB/s")
    assert accepted.endswith(
        "the rate asked of it is above its per-tenant ingestion limit (15,000,000 B/s): the run "
        "measures that limit, not the capacity (overrides.defaults.ingestion.rate_limit_bytes / "
        "overrides.defaults.ingestion.burst_size_bytes)"
    )


def test_the_profiles_replication_factor_comes_from_their_tempo_config() -> None:
    assert replication_factor(load_profile("distributed")) == 3
    assert replication_factor(load_profile("manifest")) == 1, "a single binary forces 1"
    assert replication_factor(load_profile("collector")) is None


def test_the_replication_factor_is_read_from_every_values_file_of_the_chart(tmp_path: Path) -> None:
    """A team's values over the built-in ones, as helm takes them (-f base -f team): the last file wins."""
    (tmp_path / "team.yaml").write_text("ingester:\n  config:\n    replication_factor: 2\n")
    chart = {
        "release": "tempo",
        "chart": "tempo-distributed",
        "repo_name": "grafana-community",
        "repo": "https://grafana-community.github.io/helm-charts",
        "version": "2.26.2",
        "values": ["builtin:distributed/values.yaml", "team.yaml"],
    }
    (tmp_path / "mine.yaml").write_text(
        yaml.safe_dump({"name": "mine", "extends": "distributed", "kubernetes": {"charts": [chart]}})
    )
    assert replication_factor(load_profile_file(tmp_path / "mine.yaml")) == 2
    # A key the translation refuses (the stack then runs helm's own rendering) does not stop the verdict.
    (tmp_path / "team.yaml").write_text(
        "ingester:\n  config:\n    replication_factor: 2\ndistributor:\n  config:\n    a_key_no_translation_knows: 1\n"
    )
    assert replication_factor(load_profile_file(tmp_path / "mine.yaml")) == 2
    (tmp_path / "team.yaml").write_text(
        "tempo:\n  structuredConfig:\n    ingester:\n      lifecycler:\n"
        "        ring:\n          replication_factor: 1\n"
    )
    assert replication_factor(load_profile_file(tmp_path / "mine.yaml")) == 1
