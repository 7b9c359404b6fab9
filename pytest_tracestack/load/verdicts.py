"""Per-replica verdicts of a load run against the profile's targets (the seeds' sizing guide)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..profiles import Target
from .sampling import Series

MIB = 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    subject: str          # a replica name, or "generator"
    figure: str           # what was measured
    value: float
    limit: float
    passed: bool
    text: str


@dataclass(frozen=True)
class RunTotals:
    requested_bytes_per_s: float
    offered_bytes: int
    offered_spans: int
    duration_s: float
    failures: dict[str, int]         # error -> count (refusals by status)
    latency_p50_ms: float
    latency_p99_ms: float
    bytes_per_span: float


def judge(totals: RunTotals, series: dict[str, Series], targets: dict[str, Target],
          latency_limit_ms: float = 1000.0) -> list[Verdict]:
    verdicts = [_generator(totals), _refusals(totals), _latency(totals, latency_limit_ms)]
    offered_per_s = totals.offered_bytes / totals.duration_s
    for name, replica in series.items():
        target = targets.get(replica.component)
        verdicts += _replica(name, replica, target, totals, offered_per_s)
    return verdicts


def _generator(totals: RunTotals) -> Verdict:
    offered = totals.offered_bytes / totals.duration_s
    passed = offered >= 0.9 * totals.requested_bytes_per_s
    text = (f"generator offered {offered / 1e6:.2f} MB/s of the {totals.requested_bytes_per_s / 1e6:.2f} MB/s asked"
            + ("" if passed else ": the generator or the deployment could not keep up; the run measured less than asked"))
    return Verdict("generator", "offered MB/s", offered / 1e6, totals.requested_bytes_per_s / 1e6 * 0.9, passed, text)


def _refusals(totals: RunTotals) -> Verdict:
    refused = sum(totals.failures.values())
    detail = ", ".join(f"{error}: {count}" for error, count in sorted(totals.failures.items())) or "none"
    return Verdict("generator", "refused requests", refused, 0, refused == 0, f"refused requests: {detail}")


def _latency(totals: RunTotals, limit_ms: float) -> Verdict:
    passed = totals.latency_p99_ms <= limit_ms
    return Verdict("generator", "push latency p99 ms", totals.latency_p99_ms, limit_ms, passed,
                   f"push latency p50 {totals.latency_p50_ms:.0f} ms, p99 {totals.latency_p99_ms:.0f} ms "
                   f"({'within' if passed else 'over'} the {limit_ms:.0f} ms limit)")


def _replica(name: str, replica: Series, target: Target | None, totals: RunTotals, offered_per_s: float) -> list[Verdict]:
    verdicts = []
    accepted = accepted_bytes(replica, totals)
    if accepted is not None:
        per_s = accepted / totals.duration_s
        verdicts.append(Verdict(name, "accepted MB/s", per_s / 1e6, offered_per_s / 1e6 * 0.99,
                                per_s >= 0.99 * offered_per_s if _is_entry(replica) else True,
                                f"{name} accepted {per_s / 1e6:.2f} MB/s"
                                + (f" of {offered_per_s / 1e6:.2f} MB/s offered" if _is_entry(replica) else "")))
    for counter in ("refused_spans", "failed_exports", "discarded_spans"):
        lost = replica.delta(counter)
        if lost:
            verdicts.append(Verdict(name, counter, lost, 0, False, f"{name} {counter.replace('_', ' ')}: {lost:.0f}"))
    peak = replica.peak_rss()
    if peak is not None and target is not None and target.memory_mib is not None:
        limit = target.memory_mib[1]
        verdicts.append(Verdict(name, "peak RSS MiB", peak / MIB, limit, peak / MIB <= limit,
                                f"{name} peak RSS {peak / MIB:.1f} MiB, limit {limit:.0f} MiB ({target.source})"))
    return verdicts


def _is_entry(replica: Series) -> bool:
    """Replicas that receive the generator's traffic (they count accepted spans at a receiver)."""
    return replica.delta("accepted_spans") is not None


def accepted_bytes(replica: Series, totals: RunTotals) -> float | None:
    received = replica.delta("received_bytes")
    if received is not None:
        return received
    spans = replica.delta("accepted_spans")
    return None if spans is None else spans * totals.bytes_per_span


def implied_replicas(traffic_bytes_per_s: float, series: Series, totals: RunTotals,
                     sized_mb_s: float | None) -> str:
    """How many replicas a traffic figure needs, from the measured rate (a lower bound of capacity)."""
    accepted = accepted_bytes(series, totals)
    if not accepted:
        return f"{series.component}: no throughput measured"
    measured = accepted / totals.duration_s
    needed = math.ceil(traffic_bytes_per_s / measured)
    sizing = (f"; the sizing guide says {math.ceil(traffic_bytes_per_s / (sized_mb_s * 1e6))} "
              f"at {sized_mb_s:g} MB/s per replica" if sized_mb_s else "")
    return (f"{series.component}: at most {needed} replica(s) for {traffic_bytes_per_s / 1e6:g} MB/s at the measured "
            f"{measured / 1e6:.2f} MB/s per replica (a lower bound of its capacity unless it refused spans: step the "
            f"rate with TRACESTACK_LOAD_STEPS to find the knee){sizing}")
