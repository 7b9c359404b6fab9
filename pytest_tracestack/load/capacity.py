"""Capacity search: step the rate up until a verdict breaks (refusals, latency, memory, throughput) and
report the knee, the highest rate at which every verdict held."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .rates import Rate
from .runner import LoadResult


@dataclass
class CapacityResult:
    steps: list[tuple[Rate, LoadResult]] = field(default_factory=list)

    @property
    def knee(self) -> Rate | None:
        passed = [rate for rate, result in self.steps if result.passed]
        return passed[-1] if passed else None

    def describe(self) -> str:
        lines = [f"{rate.describe()}: {'held' if result.passed else 'broke: ' + '; '.join(result.failures())}"
                 for rate, result in self.steps]
        knee = self.knee
        lines.append(f"knee: {knee.describe()}" if knee else "knee: below the first step")
        return "\n".join(lines)


def capacity_search(run: Callable[[Rate], LoadResult], rates: list[Rate]) -> CapacityResult:
    """Run each rate in order; stop at the first one whose verdicts fail."""
    result = CapacityResult()
    for rate in rates:
        outcome = run(rate)
        result.steps.append((rate, outcome))
        if not outcome.passed:
            break
    return result
