"""Per-replica figures of a load run: what each replica was offered, accepted, refused, used.

Accepted bytes are measured where the replica counts them (Tempo's distributor; the collector's OTLP
servers at telemetry level ``detailed``; a Tempo ingester, what the distributor wrote to it) and otherwise
estimated from accepted spans times the generator's bytes per span; ``accepted_bytes_source`` says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_tracestack.load.locust_stats import GeneratorStats
from pytest_tracestack.load.scrape import Series

WIRE_BYTES = ("grpc_request_bytes", "http_request_bytes")
LIMIT_PREFIX = "tempo_limit:"
DISCARD_PREFIX = "discarded_spans:"


@dataclass
class ReplicaFigures:
    replica: str
    component: str
    entry: bool  # the generator pushed to it
    offered_bytes: int | None = None  # entry replicas: what the generator sent it
    delivered_spans: int | None = None  # entry replicas: spans in requests it answered OK
    requests: int | None = None
    failures: dict[str, int] = field(default_factory=dict)  # generator-observed, by status
    push_p50_ms: float | None = None
    push_p99_ms: float | None = None
    accepted_bytes: float | None = None
    accepted_bytes_source: str = ""
    counters: dict[str, float] = field(default_factory=dict)  # growth over the run, by counter key
    limits: dict[str, float] = field(default_factory=dict)  # Tempo's configured limits (tempo_limits_defaults)
    peak_rss_bytes: int | None = None
    mean_cores: float | None = None
    metrics_url: str | None = None  # where its /metrics was read (None: nothing to scrape)
    scrapes_answered: int = 0

    def per_s(self, value: float | None, duration_s: float) -> float | None:
        return None if value is None else value / duration_s

    @property
    def discarded_by_reason(self) -> dict[str, float]:
        return {
            key.removeprefix(DISCARD_PREFIX): value
            for key, value in self.counters.items()
            if key.startswith(DISCARD_PREFIX)
        }

    def why_not_measured(self) -> str:
        """Why a figure from /metrics is missing, in words an operator can act on."""
        if self.metrics_url is None:
            return (
                f"no /metrics to read: its component declares none this runtime reaches (profile key "
                f"components.{self.component}.metrics, e.g. 'http:http/metrics' for Tempo)"
            )
        if not self.scrapes_answered:
            return f"its /metrics at {self.metrics_url} never answered during the run"
        return f"its /metrics at {self.metrics_url} has no counter of accepted bytes or spans"


def replica_figures(
    series: Series, stats: GeneratorStats, request_name: str | None, window: tuple[float, float]
) -> ReplicaFigures:
    figures = ReplicaFigures(series.replica, series.component, entry=request_name is not None)
    target = stats.targets.get(request_name) if request_name else None
    if target is not None:
        figures.offered_bytes = target.offered_bytes
        figures.requests = target.requests
        outright = sum(count for error, count in target.failures.items() if not error.startswith("partially"))
        figures.delivered_spans = (target.requests - outright) * stats.spans_per_request
        figures.failures = dict(target.failures)
        figures.push_p50_ms, figures.push_p99_ms = target.percentile_ms(0.5), target.percentile_ms(0.99)
    figures.counters = {key: delta for key in _counter_keys(series) if (delta := series.delta(key)) is not None}
    figures.limits = _limits(series)
    figures.accepted_bytes, figures.accepted_bytes_source = accepted_bytes(figures.counters, stats)
    figures.peak_rss_bytes = series.peak_rss()
    figures.mean_cores = series.mean_cores(*window)
    figures.metrics_url = series.source
    figures.scrapes_answered = sum(1 for sample in series.samples if sample.scraped)
    return figures


def _counter_keys(series: Series) -> list[str]:
    keys = {key for sample in series.samples for key in sample.counters if not key.startswith(LIMIT_PREFIX)}
    return sorted(keys - {"metrics_rss_bytes", "metrics_cpu_seconds"})


def _limits(series: Series) -> dict[str, float]:
    last = next((sample.counters for sample in reversed(series.samples) if sample.scraped), {})
    return {key.removeprefix(LIMIT_PREFIX): value for key, value in last.items() if key.startswith(LIMIT_PREFIX)}


def byte_counters(has: Callable[[str], bool]) -> tuple[tuple[str, ...], str]:
    """The counters that measure a replica's accepted bytes, first found first: Tempo's distributor, the
    collector's OTLP servers, a Tempo ingester; ((), "") when it counts no bytes."""
    for keys, source in (
        (("distributor_bytes",), "measured: tempo_distributor_bytes_received_total"),
        (WIRE_BYTES, "measured: bytes received by the OTLP servers (telemetry level detailed)"),
        (("ingester_bytes",), 'measured: tempo_ingester_bytes_received_total{data_type="trace"}'),
    ):
        found = tuple(key for key in keys if has(key))
        if found:
            return found, source
    return (), ""


def accepted_bytes(counters: dict[str, float], stats: GeneratorStats) -> tuple[float | None, str]:
    keys, source = byte_counters(counters.__contains__)
    accepted, refused = counters.get("accepted_spans"), counters.get("refused_spans", 0.0)
    if keys:
        wire = set(keys) <= set(WIRE_BYTES)  # the OTLP servers count refused requests too: keep the accepted share
        share = (accepted or 0.0) / ((accepted or 0.0) + refused) if wire and refused else 1.0
        return sum(counters[key] for key in keys) * share, source
    if accepted is not None and stats.spans_per_request:
        return (
            accepted * stats.bytes_per_request / stats.spans_per_request,
            "estimated: accepted spans x the generator's bytes per span",
        )
    return None, ""
