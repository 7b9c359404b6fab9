"""Verdicts of a load run against the profile's per-component targets (the seeds' sizing guide), per
replica: accepted MB/s against what was asked of it, peak RSS against the memory limit, CPU against the
cores, refused/failed/discarded spans, push latency; and the delivery cross-check (generator, replicas,
sink). A failed verdict's text names the replica, the figure and the limit."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..profiles import Target
from .figures import ReplicaFigures
from .locust_stats import GeneratorStats

MIB = 1024 * 1024
LOSS_NAMES = {"refused_spans": "refused spans", "failed_exports": "spans it failed to export",
              "enqueue_failed_spans": "spans it could not queue for export", "discarded_spans": "discarded spans"}


@dataclass(frozen=True)
class Limits:
    latency_p99_ms: float = 1000.0        # push latency the generator sees, per replica
    min_share_of_asked: float = 0.9       # accepted MB/s at least this share of the rate asked of a replica
    agreement: float = 0.02               # generator, replicas and sink agree within this fraction
    generator_busy_cores: float = 0.9     # a Locust process is single-threaded: near 1 core it is the limit


@dataclass(frozen=True)
class Verdict:
    subject: str          # a replica name, "generator" or "delivery"
    figure: str           # what was measured
    value: float
    limit: float
    passed: bool
    text: str


@dataclass(frozen=True)
class SinkFigures:
    received_bytes: int
    received_spans: int


@dataclass(frozen=True)
class Implied:
    component: str
    traffic_mb_s: float
    measured_mb_s: float | None
    replicas: int | None
    bound: str             # "at most" (the run held: capacity is at least what it took) or "about"
    sizing_replicas: int | None
    text: str


def judge(stats: GeneratorStats, asked_bytes_per_s: float, replicas: list[ReplicaFigures],
          targets: dict[str, Target], generator_cores: float | None, sink: SinkFigures | None = None,
          limits: Limits = Limits()) -> list[Verdict]:
    duration = stats.duration_s
    entries = [figures for figures in replicas if figures.entry]
    asked_each = asked_bytes_per_s / max(1, len(entries))
    saturated = generator_cores is not None and generator_cores >= limits.generator_busy_cores
    verdicts = [_generator(stats, asked_bytes_per_s, generator_cores, limits)]
    for figures in replicas:
        target = targets.get(figures.component)
        if figures.entry:
            verdicts += _entry(figures, target, asked_each, duration, saturated, limits)
        verdicts += _losses(figures)
        verdicts += _resources(figures, target)
    verdicts += _delivery(stats, entries, sink, limits)
    return verdicts


def _generator(stats: GeneratorStats, asked: float, cores: float | None, limits: Limits) -> Verdict:
    offered = stats.offered_bytes / stats.duration_s
    busy = cores is not None and cores >= limits.generator_busy_cores
    short = offered < limits.min_share_of_asked * asked
    text = (f"generator offered {offered / 1e6:.2f} MB/s of the {asked / 1e6:.2f} MB/s asked"
            + (f", using {cores:.2f} cores" if cores is not None else ""))
    if short and busy:
        text += f" (limit {limits.generator_busy_cores:g} cores): the generator, not the deployment, was the limit"
    return Verdict("generator", "cores", cores or 0.0, limits.generator_busy_cores, not (short and busy), text)


def _entry(figures: ReplicaFigures, target: Target | None, asked: float, duration: float, saturated: bool,
           limits: Limits) -> list[Verdict]:
    name = figures.replica
    verdicts = []
    if figures.accepted_bytes is not None:
        rate = figures.accepted_bytes / duration
        floor = limits.min_share_of_asked * asked
        text = (f"{name} accepted {rate / 1e6:.2f} MB/s of the {asked / 1e6:.2f} MB/s asked of it "
                f"(limit: at least {floor / 1e6:.2f} MB/s, {limits.min_share_of_asked:.0%})")
        if target is not None and target.throughput_mb_s is not None:
            text += f"; sized for {_range(target.throughput_mb_s)} MB/s per replica ({target.source})"
        if saturated and rate < floor:
            text += "; the generator was busy, so this may be its limit rather than the replica's"
        verdicts.append(Verdict(name, "accepted MB/s", rate / 1e6, floor / 1e6, rate >= floor, text))
    refusals = sum(figures.failures.values())
    if figures.requests is not None:
        detail = ", ".join(f"{error}: {count}" for error, count in sorted(figures.failures.items()))
        verdicts.append(Verdict(name, "failed requests", refusals, 0, refusals == 0,
                                f"{name} answered {refusals} of {figures.requests} requests with an error"
                                + (f" ({detail})" if detail else "") + ", limit 0"))
    if figures.push_p99_ms is not None:
        passed = figures.push_p99_ms <= limits.latency_p99_ms
        verdicts.append(Verdict(name, "push latency p99 ms", figures.push_p99_ms, limits.latency_p99_ms, passed,
                                f"{name} push latency p50 {figures.push_p50_ms:.0f} ms, p99 {figures.push_p99_ms:.0f} ms"
                                f", limit p99 {limits.latency_p99_ms:.0f} ms"))
    return verdicts


def _losses(figures: ReplicaFigures) -> list[Verdict]:
    verdicts = []
    for key, words in LOSS_NAMES.items():
        lost = figures.counters.get(key)
        if lost is not None:
            verdicts.append(Verdict(figures.replica, key, lost, 0, lost == 0,
                                    f"{figures.replica} {words}: {lost:.0f}, limit 0"))
    return verdicts


def _resources(figures: ReplicaFigures, target: Target | None) -> list[Verdict]:
    if target is None:
        return []
    verdicts, name = [], figures.replica
    if figures.peak_rss_bytes is not None and target.memory_mib is not None:
        peak, limit = figures.peak_rss_bytes / MIB, target.memory_mib[1]
        verdicts.append(Verdict(name, "peak RSS MiB", peak, limit, peak <= limit,
                                f"{name} peak RSS {peak:.1f} MiB, limit {limit:g} MiB ({target.source})"))
    if figures.mean_cores is not None and target.cpu_cores is not None:
        verdicts.append(Verdict(name, "CPU cores", figures.mean_cores, target.cpu_cores,
                                figures.mean_cores <= target.cpu_cores,
                                f"{name} used {figures.mean_cores:.2f} CPU cores on average, limit "
                                f"{target.cpu_cores:g} cores ({target.source})"))
    return verdicts


def _delivery(stats: GeneratorStats, entries: list[ReplicaFigures], sink: SinkFigures | None,
              limits: Limits) -> list[Verdict]:
    """Generator, entry replicas and sink must agree: what one side counts, the next one counted too."""
    verdicts = []
    accepted_spans = [f.counters.get("accepted_spans") for f in entries]
    if entries and all(value is not None for value in accepted_spans):
        verdicts.append(_agree("spans answered OK to the generator", stats.delivered_spans,
                               "spans the entry replicas accepted", sum(accepted_spans), limits))
    accepted_bytes = [f.accepted_bytes for f in entries]
    if sink is not None and entries and all(value is not None for value in accepted_bytes):
        verdicts.append(_agree("bytes the entry replicas accepted", sum(accepted_bytes),
                               "bytes the sink received", sink.received_bytes, limits, scale=1e6, unit="MB"))
        exported = [f.counters.get("exported_spans") for f in entries]
        if all(value is not None for value in exported):
            verdicts.append(_agree("spans the entry replicas exported", sum(exported),
                                   "spans the sink received", sink.received_spans, limits))
    return verdicts


def _agree(left_name: str, left: float, right_name: str, right: float, limits: Limits, scale: float = 1.0,
           unit: str = "") -> Verdict:
    apart = abs(left - right) / max(left, right) if max(left, right) else 0.0
    text = (f"{left_name} {left / scale:,.{2 if scale > 1 else 0}f}{' ' + unit if unit else ''} vs {right_name} "
            f"{right / scale:,.{2 if scale > 1 else 0}f}{' ' + unit if unit else ''}: {apart:.2%} apart, "
            f"limit {limits.agreement:.0%}")
    return Verdict("delivery", f"{left_name} vs {right_name}", apart, limits.agreement, apart <= limits.agreement, text)


def implied_replicas(traffic_bytes_per_s: float, component: str, entries: list[ReplicaFigures], duration_s: float,
                     held: bool, target: Target | None) -> Implied:
    """How many replicas of ``component`` a traffic figure needs: from the rate one replica took in this
    run (a lower bound of its capacity if the run held, about its capacity if it broke), and from the
    sizing guide's per-replica throughput."""
    rates = [f.accepted_bytes / duration_s for f in entries if f.accepted_bytes]
    measured = max(rates) if rates else None
    traffic_mb_s = traffic_bytes_per_s / 1e6
    sizing = target.throughput_mb_s[0] if target is not None and target.throughput_mb_s else None
    sizing_replicas = math.ceil(traffic_mb_s / sizing) if sizing else None
    bound = "at most" if held else "about"
    replicas = math.ceil(traffic_bytes_per_s / measured) if measured else None
    if measured:
        text = (f"{component}: {bound} {replicas} replica(s) for {traffic_mb_s:g} MB/s at the {measured / 1e6:.2f} MB/s "
                f"one replica took" + (" (the run held: its capacity is at least that)" if held else
                                       " (the run broke: that is about its capacity)"))
    else:
        text = f"{component}: no throughput measured"
    if sizing_replicas:
        text += f"; the sizing guide says {sizing_replicas} at {sizing:g} MB/s per replica ({target.source})"
    return Implied(component, traffic_mb_s, None if measured is None else measured / 1e6, replicas, bound,
                   sizing_replicas, text)


def sizing_only(traffic_bytes_per_s: float, component: str, target: Target) -> Implied | None:
    """Components the generator does not push to: the sizing guide's count alone."""
    if not target.throughput_mb_s:
        return None
    sizing = target.throughput_mb_s[0]
    count = math.ceil(traffic_bytes_per_s / 1e6 / sizing)
    return Implied(component, traffic_bytes_per_s / 1e6, None, None, "", count,
                   f"{component}: the sizing guide says {count} replica(s) for {traffic_bytes_per_s / 1e6:g} MB/s at "
                   f"{sizing:g} MB/s per replica ({target.source})")


def _range(values: tuple[float, float]) -> str:
    low, high = values
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"
