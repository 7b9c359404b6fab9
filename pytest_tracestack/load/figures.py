"""Per-replica figures of a load run: what each replica was offered, accepted, refused, used.

Accepted bytes are measured where the replica counts them (Tempo's distributor; the collector's OTLP
servers at telemetry level ``detailed``) and otherwise estimated from accepted spans times the
generator's bytes per span; ``accepted_bytes_source`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .locust_stats import GeneratorStats
from .scrape import Series


@dataclass
class ReplicaFigures:
    replica: str
    component: str
    entry: bool                               # the generator pushed to it
    offered_bytes: int | None = None          # entry replicas: what the generator sent it
    delivered_spans: int | None = None        # entry replicas: spans in requests it answered OK
    requests: int | None = None
    failures: dict[str, int] = field(default_factory=dict)    # generator-observed, by status
    push_p50_ms: float | None = None
    push_p99_ms: float | None = None
    accepted_bytes: float | None = None
    accepted_bytes_source: str = ""
    counters: dict[str, float] = field(default_factory=dict)  # growth over the run, by counter key
    peak_rss_bytes: int | None = None
    mean_cores: float | None = None

    def per_s(self, value: float | None, duration_s: float) -> float | None:
        return None if value is None else value / duration_s


def replica_figures(series: Series, stats: GeneratorStats, request_name: str | None,
                    window: tuple[float, float]) -> ReplicaFigures:
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
    figures.accepted_bytes, figures.accepted_bytes_source = accepted_bytes(figures.counters, stats)
    figures.peak_rss_bytes = series.peak_rss()
    figures.mean_cores = series.mean_cores(*window)
    return figures


def _counter_keys(series: Series) -> list[str]:
    keys = {key for sample in series.samples for key in sample.counters}
    return sorted(keys - {"metrics_rss_bytes", "metrics_cpu_seconds"})


def accepted_bytes(counters: dict[str, float], stats: GeneratorStats) -> tuple[float | None, str]:
    if "distributor_bytes" in counters:
        return counters["distributor_bytes"], "measured: tempo_distributor_bytes_received_total"
    wire = [counters[key] for key in ("grpc_request_bytes", "http_request_bytes") if key in counters]
    accepted, refused = counters.get("accepted_spans"), counters.get("refused_spans", 0.0)
    if wire:
        share = 1.0 if not refused else (accepted or 0.0) / ((accepted or 0.0) + refused)
        return sum(wire) * share, "measured: bytes received by the OTLP servers (telemetry level detailed)"
    if accepted is not None and stats.spans_per_request:
        return (accepted * stats.bytes_per_request / stats.spans_per_request,
                "estimated: accepted spans x the generator's bytes per span")
    return None, ""
