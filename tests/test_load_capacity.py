"""Load: the capacity search steps the rate until a verdict breaks and reports the knee."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_tracestack.load.capacity import capacity_search, geometric_rates
from pytest_tracestack.load.rates import Rate, parse_rate


@dataclass
class StepOutcome:
    """What a step's run reports: held, or the verdicts that broke."""

    passed: bool
    broken: tuple[str, ...] = ()

    def failures(self) -> list[str]:
        return list(self.broken)


def _deployment_taking(capacity_mb_s: float, ran: list[str]):
    def run(rate: Rate) -> StepOutcome:
        ran.append(rate.describe())
        if rate.value <= capacity_mb_s * 1e6:
            return StepOutcome(True)
        return StepOutcome(
            False, (f"otelcol-0 accepted {capacity_mb_s:.2f} MB/s of the {rate.value / 1e6:.2f} MB/s asked of it",)
        )

    return run


def test_the_search_stops_at_the_first_broken_step_and_reports_the_knee() -> None:
    ran: list[str] = []
    rates = [parse_rate(r) for r in ("1MB/s", "2MB/s", "4MB/s", "8MB/s")]
    result = capacity_search(_deployment_taking(3.0, ran), rates)
    assert ran == ["1 MB/s", "2 MB/s", "4 MB/s"]
    assert result.knee.describe() == "2 MB/s" and result.broke_at.describe() == "4 MB/s"
    assert result.describe().splitlines() == [
        "1 MB/s: held",
        "2 MB/s: held",
        "4 MB/s: broke: otelcol-0 accepted 3.00 MB/s of the 4.00 MB/s asked of it",
        "knee: 2 MB/s",
    ]


def test_bisection_narrows_the_knee() -> None:
    ran: list[str] = []
    result = capacity_search(_deployment_taking(3.3, ran), [parse_rate("2MB/s"), parse_rate("4MB/s")], refine=3)
    assert ran == ["2 MB/s", "4 MB/s", "3 MB/s", "3.5 MB/s", "3.25 MB/s"]
    assert result.knee.describe() == "3.25 MB/s" and result.broke_at.describe() == "3.5 MB/s"


def test_knee_below_the_first_step_and_no_break() -> None:
    assert (
        capacity_search(_deployment_taking(0.5, []), [parse_rate("1MB/s")], refine=2)
        .describe()
        .endswith("knee: below the first step")
    )
    assert (
        capacity_search(_deployment_taking(99, []), [parse_rate("1MB/s")])
        .describe()
        .endswith("knee: 1 MB/s (no step broke: the knee is higher)")
    )


def test_geometric_steps() -> None:
    steps = geometric_rates(parse_rate("1MB/s"), 2, 4)
    assert [r.describe() for r in steps] == ["1 MB/s", "2 MB/s", "4 MB/s", "8 MB/s"]
    with pytest.raises(ValueError, match=r"factor > 1"):
        geometric_rates(parse_rate("1MB/s"), 1, 3)


def test_the_capacity_fixture_runs_each_step_at_its_exact_rate(pytester: pytest.Pytester) -> None:
    """tracestack_capacity hands tracestack_load the rate itself: 2.5 spans/s stays 2.5, not "2spans/s"."""
    pytester.makepyfile(
        test_steps="""
        import pytest
        from types import SimpleNamespace

        from pytest_tracestack.load.rates import parse_rate

        asked = []

        @pytest.fixture
        def tracestack_load():
            def run(rate, duration, protocol):
                asked.append(parse_rate(rate))
                return SimpleNamespace(passed=True, failures=lambda: [])
            return run

        def test_steps(tracestack_capacity):
            result = tracestack_capacity(["2.5spans/s", "5.5spans/s"], duration="1s")
            assert [rate.describe() for rate in asked] == ["2.5 spans/s", "5.5 spans/s"]
            assert result.knee.describe() == "5.5 spans/s"
    """
    )
    pytester.runpytest().assert_outcomes(passed=1)
