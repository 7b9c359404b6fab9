"""Did the generator offer the rate asked? If not, the run fails and says which side ran out.

A load run judges a stack at the rate asked; offered less, every other verdict judges a smaller run, so a
shortfall fails the gate. The sides, checked in this order:

- the generator's CPU: one Locust process runs on one core (gevent), so near a whole core it is the limit;
- the stack's latency: the users kept their requests in flight (rate x latency, Little's law) close to the
  most they may (users x TRACESTACK_LOAD_IN_FLIGHT), so sends waited for the stack's answers (on a machine
  whose cores were all busy, the text says so: the stack may have been short of CPU itself);
- the machine: with slots free, the generator still fell behind while it waited for a core (other processes,
  the stack itself took them); where that wait cannot be read, all the machine's cores busy;
- the stack's refusals or errors, when requests failed;
- none measured: the figures are given so the reader can look further.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_tracestack.load.locust_stats import GeneratorStats

SIDES = ("generator CPU", "machine", "stack latency", "stack refusals", "not measured")


@dataclass(frozen=True)
class OfferLimits:
    min_share_of_asked: float = 0.9  # offered at least this share of the rate asked
    generator_busy_cores: float = 0.9  # a Locust process is single-threaded: near 1 core it is the limit
    generator_wait_share: float = 0.1  # the generator waited for a core this share of the time: the machine is
    machine_busy_share: float = 0.9  # ... or, when that wait is not measured, the machine's cores this busy
    in_flight_full_share: float = 0.8  # requests in flight this close to the most allowed: the stack's answers are


@dataclass(frozen=True)
class GeneratorSide:
    """What the generator had to work with during the run (None: not measured)."""

    cores: float | None = None  # CPU cores the Locust process used on average
    wait_share: float | None = None  # share of the time the Locust process waited for a core
    machine_busy_cores: float | None = None  # cores the whole machine used on average
    machine_cores: int | None = None
    in_flight_limit: int | None = None  # users x requests in flight per user


@dataclass(frozen=True)
class Offered:
    asked_bytes_per_s: float
    offered_bytes_per_s: float
    floor_bytes_per_s: float
    in_flight_mean: float | None  # requests in flight on average (requests/s x mean latency)
    side: str | None  # which side ran out (one of SIDES), None when the rate was offered
    text: str

    @property
    def held(self) -> bool:
        return self.side is None


def judge_offered(
    stats: GeneratorStats, asked_bytes_per_s: float, generator: GeneratorSide, limits: OfferLimits = OfferLimits()
) -> Offered:
    offered = stats.offered_bytes / stats.duration_s
    floor = limits.min_share_of_asked * asked_bytes_per_s
    in_flight = stats.requests / stats.duration_s * stats.mean_ms() / 1000 if stats.requests else None
    side = None if offered >= floor else _side(stats, generator, in_flight, limits)
    text = (
        f"generator offered {offered / 1e6:.2f} MB/s of the {asked_bytes_per_s / 1e6:.2f} MB/s asked "
        f"(limit: at least {floor / 1e6:.2f} MB/s, {limits.min_share_of_asked:.0%})"
    )
    if side is not None:
        text += f": {_why(side, stats, generator, in_flight, limits)}"
    text += f"; measured: {_measured(stats, generator, in_flight)}"
    return Offered(asked_bytes_per_s, offered, floor, in_flight, side, text)


def _side(stats: GeneratorStats, generator: GeneratorSide, in_flight: float | None, limits: OfferLimits) -> str:
    if generator.cores is not None and generator.cores >= limits.generator_busy_cores:
        return "generator CPU"
    if (
        in_flight is not None
        and generator.in_flight_limit
        and in_flight >= limits.in_flight_full_share * generator.in_flight_limit
    ):
        return "stack latency"
    if _starved(generator, limits):
        return "machine"
    if stats.failed_requests:
        return "stack refusals"
    return "not measured"


def _starved(generator: GeneratorSide, limits: OfferLimits) -> bool:
    if generator.wait_share is not None:
        return generator.wait_share >= limits.generator_wait_share
    return _machine_busy(generator, limits)


def _machine_busy(generator: GeneratorSide, limits: OfferLimits) -> bool:
    busy, cores = generator.machine_busy_cores, generator.machine_cores
    return busy is not None and cores is not None and cores > 0 and busy >= limits.machine_busy_share * cores


def _why(
    side: str, stats: GeneratorStats, generator: GeneratorSide, in_flight: float | None, limits: OfferLimits
) -> str:
    if side == "generator CPU":
        return (
            f"the generator's CPU ran out: its process used {generator.cores:.2f} cores and one Locust process "
            f"runs on one core (limit {limits.generator_busy_cores:g}); run Locust with more processes"
        )
    if side == "machine" and generator.wait_share is not None:
        return (
            f"the machine ran out of CPU: the generator waited for a core {generator.wait_share:.0%} of the time "
            f"(limit {limits.generator_wait_share:.0%})"
        )
    if side == "machine":
        return (
            f"the machine ran out of CPU: its {generator.machine_cores} cores were "
            f"{generator.machine_busy_cores:.2f} busy on average (limit {limits.machine_busy_share:.0%}), "
            "so the generator waited for a core"
        )
    if side == "stack latency":
        text = (
            f"the stack answered too slowly: {in_flight:.0f} requests were in flight on average of the "
            f"{generator.in_flight_limit} the users may have (push p50 {stats.percentile_ms(0.5):.0f} ms, "
            f"p99 {stats.percentile_ms(0.99):.0f} ms), so sends waited for its answers"
        )
        if _machine_busy(generator, limits):
            text += (
                f" (the machine's {generator.machine_cores} cores were {generator.machine_busy_cores:.2f} busy: "
                f"a stack on this machine may have been short of CPU itself)"
            )
        return text
    if side == "stack refusals":
        return (
            f"the stack refused or failed {stats.failed_requests:,} of {stats.requests:,} requests "
            f"(see the replicas' verdicts)"
        )
    return "no side was measured as exhausted; see locust.log and the figures below"


def _measured(stats: GeneratorStats, generator: GeneratorSide, in_flight: float | None) -> str:
    parts = []
    if generator.cores is not None:
        parts.append(f"generator {generator.cores:.2f} cores")
    if generator.wait_share is not None:
        parts.append(f"generator waiting for a core {generator.wait_share:.0%} of the time")
    if generator.machine_busy_cores is not None and generator.machine_cores:
        parts.append(f"machine {generator.machine_busy_cores:.2f} of {generator.machine_cores} cores busy")
    if in_flight is not None:
        limit = f" of {generator.in_flight_limit}" if generator.in_flight_limit else ""
        parts.append(f"{in_flight:.1f}{limit} requests in flight on average")
    parts.append(f"push p50 {stats.percentile_ms(0.5):.0f} ms")
    parts.append(f"{stats.failed_requests:,} of {stats.requests:,} requests failed")
    return ", ".join(parts)
