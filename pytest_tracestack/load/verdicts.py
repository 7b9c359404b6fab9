"""Verdicts of a load run against the profile's per-component targets (the seeds' sizing guide), per
replica: accepted MB/s against what was asked of it, peak RSS against the memory limit, CPU against the
cores, refused/failed/discarded spans (named by their cause), push latency; whether the generator offered
the rate asked (offered.py); each Tempo ingester's share of the distributors' bytes (replication.py); and the
delivery cross-check (generator, replicas, sink). A failed verdict's text names the replica, the figure and
the limit. A figure a verdict needs but nobody measured fails it, saying why it is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pytest_tracestack.load.figures import ReplicaFigures
from pytest_tracestack.load.locust_stats import GeneratorStats
from pytest_tracestack.load.offered import GeneratorSide, OfferLimits, judge_offered
from pytest_tracestack.load.refusals import CAUSES, explain_discards, explain_refusal
from pytest_tracestack.load.replication import BAND, RECORDED, Replication, expected_share
from pytest_tracestack.profiles.profile import Target

MIB = 1024 * 1024
LOSS_NAMES = {
    "refused_spans": "refused spans",
    "failed_exports": "spans it failed to export",
    "enqueue_failed_spans": "spans it could not queue for export",
    "discarded_spans": "discarded spans",
}


@dataclass(frozen=True)
class Limits:
    latency_p99_ms: float = 1000.0  # push latency the generator sees, per replica
    min_share_of_asked: float = 0.9  # accepted MB/s at least this share of the rate asked of a replica
    agreement: float = 0.02  # generator, replicas and sink agree within this fraction
    offer: OfferLimits = field(default_factory=OfferLimits)  # did the generator offer the rate (offered.py)
    # an ingester's bytes / its share of the distributors' (replication.py)
    replication_band: tuple[float, float] = BAND


@dataclass(frozen=True)
class Verdict:
    subject: str  # a replica name, "generator" or "delivery"
    figure: str  # what was measured
    value: float | None  # None: not measured (the verdict then fails)
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
    bound: str  # "at most" (the run held: capacity is at least what it took) or "about"
    sizing_replicas: int | None
    text: str


def judge(
    stats: GeneratorStats,
    asked_bytes_per_s: float,
    replicas: list[ReplicaFigures],
    targets: dict[str, Target],
    generator: GeneratorSide = GeneratorSide(),
    sink: SinkFigures | None = None,
    limits: Limits = Limits(),
    replication: Replication | None = None,
) -> list[Verdict]:
    duration = stats.duration_s
    entries = [figures for figures in replicas if figures.entry]
    asked_each = asked_bytes_per_s / max(1, len(entries))
    offered = judge_offered(stats, asked_bytes_per_s, generator, limits.offer)
    verdicts = [
        Verdict(
            "generator",
            "offered MB/s",
            offered.offered_bytes_per_s / 1e6,
            offered.floor_bytes_per_s / 1e6,
            offered.held,
            offered.text,
        )
    ]
    for figures in replicas:
        target = targets.get(figures.component)
        if figures.entry:
            verdicts += _entry(figures, target, asked_each, duration, offered.held, limits)
        verdicts += _losses(figures)
        verdicts += _resources(figures, target)
    if replication is not None:
        verdicts += _replication(replicas, replication, targets, duration, limits)
    verdicts += _delivery(stats, entries, sink, limits)
    return verdicts


def _entry(
    figures: ReplicaFigures, target: Target | None, asked: float, duration: float, offered_held: bool, limits: Limits
) -> list[Verdict]:
    name = figures.replica
    verdicts = [_accepted(figures, target, asked, duration, offered_held, limits)]
    refusals = sum(figures.failures.values())
    if figures.requests is not None:
        detail = ", ".join(f"{error}: {count}" for error, count in sorted(figures.failures.items()))
        causes = [
            f"{count} {why}" for error, count in sorted(figures.failures.items()) if (why := explain_refusal(error))
        ]
        verdicts.append(
            Verdict(
                name,
                "failed requests",
                refusals,
                0,
                refusals == 0,
                f"{name} answered {refusals} of {figures.requests} requests with an error"
                + (f" ({detail})" if detail else "")
                + ", limit 0"
                + "".join(f"; {cause}" for cause in causes),
            )
        )
    if figures.push_p99_ms is not None:
        passed = figures.push_p99_ms <= limits.latency_p99_ms
        verdicts.append(
            Verdict(
                name,
                "push latency p99 ms",
                figures.push_p99_ms,
                limits.latency_p99_ms,
                passed,
                f"{name} push latency p50 {figures.push_p50_ms:.0f} ms, "
                f"p99 {figures.push_p99_ms:.0f} ms, limit p99 {limits.latency_p99_ms:.0f} ms",
            )
        )
    return verdicts


def _accepted(
    figures: ReplicaFigures, target: Target | None, asked: float, duration: float, offered_held: bool, limits: Limits
) -> Verdict:
    """Accepted MB/s against the floor of what was asked of this replica; not measured is a failure."""
    name, floor = figures.replica, limits.min_share_of_asked * asked
    sizing = _sizing(target)
    if figures.accepted_bytes is None:
        return Verdict(
            name,
            "accepted MB/s",
            None,
            floor / 1e6,
            False,
            f"{name} accepted MB/s not measured ({figures.why_not_measured()}): the floor of "
            f"{floor / 1e6:.2f} MB/s ({limits.min_share_of_asked:.0%} of the {asked / 1e6:.2f} MB/s asked "
            f"of it) cannot be checked{sizing}",
        )
    rate = figures.accepted_bytes / duration
    how = "" if figures.accepted_bytes_source.startswith("measured") else f" ({figures.accepted_bytes_source})"
    text = (
        f"{name} accepted {rate / 1e6:.2f} MB/s{how} of the {asked / 1e6:.2f} MB/s asked of it "
        f"(limit: at least {floor / 1e6:.2f} MB/s, {limits.min_share_of_asked:.0%}){sizing}"
    )
    if not offered_held and rate < floor:
        text += "; the generator did not offer the rate asked (see its verdict), so this may not be the replica's limit"
    configured = figures.limits.get(CAUSES["rate_limited"].limit_metric or "")
    if configured and asked > configured:
        text += (
            f"; the rate asked of it is above its per-tenant ingestion limit ({configured:,.0f} B/s): the run "
            f"measures that limit, not the capacity ({' / '.join(CAUSES['rate_limited'].overrides)})"
        )
    return Verdict(name, "accepted MB/s", rate / 1e6, floor / 1e6, rate >= floor, text)


def _losses(figures: ReplicaFigures) -> list[Verdict]:
    verdicts = []
    for key, words in LOSS_NAMES.items():
        lost = figures.counters.get(key)
        if lost is None:
            continue
        text = f"{figures.replica} {words}: {lost:.0f}, limit 0"
        if key == "discarded_spans" and (why := explain_discards(figures.discarded_by_reason, figures.limits)):
            text += f" ({why})"
        verdicts.append(Verdict(figures.replica, key, lost, 0, lost == 0, text))
    return verdicts


def _replication(
    replicas: list[ReplicaFigures],
    replication: Replication,
    targets: dict[str, Target],
    duration: float,
    limits: Limits,
) -> list[Verdict]:
    """Each ingester received its share of what the distributors accepted (replication.py)."""
    if not replication.ingesters:
        return []
    distributed = [f.counters["distributor_bytes"] for f in replicas if "distributor_bytes" in f.counters]
    by_name = {f.replica: f for f in replicas}
    share = expected_share(replication.factor, len(replication.ingesters))
    low, high = limits.replication_band
    accounting = (
        f"{share:.0%} of what the distributors accepted with replication factor {replication.factor} over "
        f"{len(replication.ingesters)} ingester(s); limit {low:.0%}-{high:.0%} of that, the ingesters count "
        f"the traces re-encoded for them ({RECORDED})"
    )
    verdicts = []
    for name in replication.ingesters:
        figures = by_name.get(name)
        received = figures.counters.get("ingester_bytes") if figures else None
        if figures is None or received is None or not distributed:
            missing = (
                "it was not sampled"
                if figures is None
                else figures.why_not_measured()
                if received is None
                else "no distributor's bytes were measured"
            )
            verdicts.append(
                Verdict(
                    name,
                    "ingester share",
                    None,
                    low,
                    False,
                    f"{name} received bytes not measured ({missing}): its share, {accounting}, cannot be checked",
                )
            )
            continue
        due = sum(distributed) * share
        ratio = received / due if due else 0.0
        verdicts.append(
            Verdict(
                name,
                "ingester share",
                ratio,
                low,
                low <= ratio <= high,
                f"{name} received {received / 1e6:.2f} MB ({received / duration / 1e6:.2f} MB/s), "
                f"{ratio:.0%} of its due {due / 1e6:.2f} MB: {accounting}"
                f"{_sizing(targets.get(figures.component))}",
            )
        )
    return verdicts


def _sizing(target: Target | None) -> str:
    if target is None or target.throughput_mb_s is None:
        return ""
    return f"; sized for {_range(target.throughput_mb_s)} MB/s per replica ({target.source})"


def _resources(figures: ReplicaFigures, target: Target | None) -> list[Verdict]:
    if target is None:
        return []
    verdicts, name = [], figures.replica
    if figures.peak_rss_bytes is not None and target.memory_mib is not None:
        peak, limit = figures.peak_rss_bytes / MIB, target.memory_mib[1]
        verdicts.append(
            Verdict(
                name,
                "peak RSS MiB",
                peak,
                limit,
                peak <= limit,
                f"{name} peak RSS {peak:.1f} MiB, limit {limit:g} MiB ({target.source})",
            )
        )
    if figures.mean_cores is not None and target.cpu_cores is not None:
        verdicts.append(
            Verdict(
                name,
                "CPU cores",
                figures.mean_cores,
                target.cpu_cores,
                figures.mean_cores <= target.cpu_cores,
                f"{name} used {figures.mean_cores:.2f} CPU cores on average, limit "
                f"{target.cpu_cores:g} cores ({target.source})",
            )
        )
    return verdicts


def _delivery(
    stats: GeneratorStats, entries: list[ReplicaFigures], sink: SinkFigures | None, limits: Limits
) -> list[Verdict]:
    """Generator, entry replicas and sink must agree: what one side counts, the next one counted too."""
    verdicts = []
    accepted_spans = _total([f.counters.get("accepted_spans") for f in entries])
    if accepted_spans is not None:
        verdicts.append(
            _agree(
                "spans answered OK to the generator",
                stats.delivered_spans,
                "spans the entry replicas accepted",
                accepted_spans,
                limits,
            )
        )
    accepted_bytes = _total([f.accepted_bytes for f in entries])
    if accepted_bytes is not None and all(f.accepted_bytes_source.startswith("measured") for f in entries):
        verdicts.append(
            _agree(
                "bytes answered OK to the generator",
                stats.delivered_bytes,
                "bytes the entry replicas accepted",
                accepted_bytes,
                limits,
                scale=1e6,
                unit="MB",
            )
        )
    if sink is not None and accepted_bytes is not None:
        measured = all(f.accepted_bytes_source.startswith("measured") for f in entries)
        accepted_name = "bytes the entry replicas accepted" + ("" if measured else " (estimated from their spans)")
        verdicts.append(
            _agree(
                accepted_name,
                accepted_bytes,
                "bytes the sink received",
                sink.received_bytes,
                limits,
                scale=1e6,
                unit="MB",
            )
        )
        exported = _total([f.counters.get("exported_spans") for f in entries])
        if exported is not None:
            verdicts.append(
                _agree(
                    "spans the entry replicas exported",
                    exported,
                    "spans the sink received",
                    sink.received_spans,
                    limits,
                )
            )
    return verdicts


def _total(values: list[float | None]) -> float | None:
    """The sum when every value was measured (and there is one at least), else None."""
    if not values or any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


def _agree(
    left_name: str, left: float, right_name: str, right: float, limits: Limits, scale: float = 1.0, unit: str = ""
) -> Verdict:
    apart = abs(left - right) / max(left, right) if max(left, right) else 0.0
    text = (
        f"{left_name} {left / scale:,.{2 if scale > 1 else 0}f}{' ' + unit if unit else ''} vs {right_name} "
        f"{right / scale:,.{2 if scale > 1 else 0}f}{' ' + unit if unit else ''}: {apart:.2%} apart, "
        f"limit {limits.agreement:.0%}"
    )
    return Verdict("delivery", f"{left_name} vs {right_name}", apart, limits.agreement, apart <= limits.agreement, text)


def implied_replicas(
    traffic_bytes_per_s: float,
    component: str,
    entries: list[ReplicaFigures],
    duration_s: float,
    held: bool,
    target: Target | None,
) -> Implied:
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
        text = (
            f"{component}: {bound} {replicas} replica(s) for {traffic_mb_s:g} MB/s "
            f"at the {measured / 1e6:.2f} MB/s one replica took"
            + (
                " (the run held: its capacity is at least that)"
                if held
                else " (the run broke: that is about its capacity)"
            )
        )
    else:
        text = f"{component}: no throughput measured"
    if sizing_replicas and target is not None:
        text += f"; the sizing guide says {sizing_replicas} at {sizing:g} MB/s per replica ({target.source})"
    return Implied(
        component, traffic_mb_s, None if measured is None else measured / 1e6, replicas, bound, sizing_replicas, text
    )


def sizing_only(traffic_bytes_per_s: float, component: str, target: Target) -> Implied | None:
    """Components the generator does not push to: the sizing guide's count alone."""
    if not target.throughput_mb_s:
        return None
    sizing = target.throughput_mb_s[0]
    count = math.ceil(traffic_bytes_per_s / 1e6 / sizing)
    return Implied(
        component,
        traffic_bytes_per_s / 1e6,
        None,
        None,
        "",
        count,
        f"{component}: the sizing guide says {count} replica(s) for {traffic_bytes_per_s / 1e6:g} MB/s at "
        f"{sizing:g} MB/s per replica ({target.source})",
    )


def _range(values: tuple[float, float]) -> str:
    low, high = values
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"
