"""Capacity search: step the rate up until a verdict breaks (refusals, latency, memory, CPU, throughput)
and report the knee, the highest rate at which every verdict held; optionally bisect between the knee
and the first broken step to narrow it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pytest_tracestack.load.rates import Rate


class Outcome(Protocol):
    """What a step's run returns (a LoadResult)."""

    @property
    def passed(self) -> bool: ...

    def failures(self) -> list[str]: ...


@dataclass
class CapacityResult:
    steps: list[tuple[Rate, Outcome]] = field(default_factory=list)

    @property
    def knee(self) -> Rate | None:
        held = [rate for rate, outcome in self.steps if outcome.passed]
        return max(held, key=lambda rate: rate.value) if held else None

    @property
    def broke_at(self) -> Rate | None:
        broken = [rate for rate, outcome in self.steps if not outcome.passed]
        return min(broken, key=lambda rate: rate.value) if broken else None

    def describe(self) -> str:
        lines = [
            f"{rate.describe()}: {'held' if outcome.passed else 'broke: ' + '; '.join(outcome.failures())}"
            for rate, outcome in self.steps
        ]
        knee, broke = self.knee, self.broke_at
        if knee is None:
            lines.append("knee: below the first step")
        else:
            lines.append(f"knee: {knee.describe()}" + ("" if broke else " (no step broke: the knee is higher)"))
        return "\n".join(lines)


def capacity_search(run: Callable[[Rate], Outcome], rates: list[Rate], refine: int = 0) -> CapacityResult:
    """Run each rate in order and stop at the first whose verdicts fail; then ``refine`` bisection steps
    between the last rate that held and the one that broke."""
    result = CapacityResult()
    for rate in rates:
        outcome = run(rate)
        result.steps.append((rate, outcome))
        if not outcome.passed:
            break
    for _ in range(refine):
        low, high = result.knee, result.broke_at
        if low is None or high is None:
            break
        middle = Rate((low.value + high.value) / 2, low.unit)
        result.steps.append((middle, run(middle)))
    return result


def geometric_rates(start: Rate, factor: float = 2.0, count: int = 6) -> list[Rate]:
    """``start``, ``start*factor``, ... : ``count`` rates to step through."""
    if factor <= 1 or count < 1:
        raise ValueError(f"capacity steps need factor > 1 and count >= 1, got factor={factor}, count={count}")
    return [start.scaled(factor**n) for n in range(count)]
