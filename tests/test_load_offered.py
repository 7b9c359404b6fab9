"""Load: a run that did not offer the rate asked fails, naming the side that ran out."""

from __future__ import annotations

import pytest

from pytest_tracestack.load.locust_stats import GeneratorStats, TargetStats
from pytest_tracestack.load.offered import SIDES, GeneratorSide, judge_offered
from pytest_tracestack.load.verdicts import judge

NAME = "otlp-grpc 127.0.0.1:4317"
BYTES = 48_043


def _stats(mb_s: float, latency_ms: int = 17, failed: int = 0, seconds: float = 30.0) -> GeneratorStats:
    """A run that offered ``mb_s`` in requests of 48,043 bytes, every push answered in ``latency_ms``."""
    requests = round(mb_s * 1e6 * seconds / BYTES)
    failures = {"refused UNAVAILABLE: at least 2 live replicas required, could only find 1": failed} if failed else {}
    target = TargetStats(
        NAME, requests, failed, requests * BYTES, {latency_ms: requests}, 1000.0, 1000.0 + seconds, failures
    )
    return GeneratorStats({NAME: target}, [], BYTES, 122)


def test_the_issue_run_fails_where_it_passed_before() -> None:
    """30 MB/s asked on distributed, 7.64 MB/s offered by 4 users (closed loop, one request each) at 17 ms a
    push: the generator was at 0.45 cores, so the old verdict (fail only at >= 0.9 cores) passed it."""
    stats = _stats(7.64, latency_ms=26)
    side = GeneratorSide(cores=0.45, machine_busy_cores=1.1, machine_cores=2, in_flight_limit=4)
    offered = judge_offered(stats, 30e6, side)
    assert not offered.held and offered.side == "stack latency"
    assert offered.text.startswith(
        "generator offered 7.64 MB/s of the 30.00 MB/s asked (limit: at least 27.00 MB/s, 90%): the stack answered "
        "too slowly: 4 requests were in flight on average of the 4 the users may have (push p50 26 ms, p99 26 ms)"
    )
    verdict = judge(stats, 30e6, [], {}, side)[0]
    assert (verdict.subject, verdict.figure, verdict.passed) == ("generator", "offered MB/s", False)
    assert verdict.text == offered.text


@pytest.mark.parametrize(
    ("side", "expected", "words"),
    [
        (
            GeneratorSide(cores=0.97, machine_busy_cores=1.99, machine_cores=2, in_flight_limit=128),
            "generator CPU",
            "the generator's CPU ran out: its process used 0.97 cores and one Locust process runs on one core "
            "(limit 0.9)",
        ),
        (
            GeneratorSide(cores=0.5, wait_share=0.34, machine_busy_cores=2.0, machine_cores=2, in_flight_limit=128),
            "machine",
            "the machine ran out of CPU: the generator waited for a core 34% of the time (limit 10%)",
        ),
        (
            GeneratorSide(cores=0.5, machine_busy_cores=1.9, machine_cores=2, in_flight_limit=128),
            "machine",
            "the machine ran out of CPU: its 2 cores were 1.90 busy on average (limit 90%), "
            "so the generator waited for a core",
        ),
        (
            GeneratorSide(cores=0.5, machine_busy_cores=1.0, machine_cores=2, in_flight_limit=20),
            "stack latency",
            "the stack answered too slowly: 17 requests were in flight on average of the 20 the users may have",
        ),
        (
            GeneratorSide(cores=0.5, machine_busy_cores=1.0, machine_cores=2, in_flight_limit=128),
            "not measured",
            "no side was measured as exhausted; see locust.log and the figures below",
        ),
    ],
)
def test_a_shortfall_names_the_side_that_ran_out(side: GeneratorSide, expected: str, words: str) -> None:
    offered = judge_offered(_stats(10.0, latency_ms=200), 30e6, side)  # 208 requests/s x 0.2 s: 42 in flight
    if expected == "stack latency":
        offered = judge_offered(_stats(4.0, latency_ms=200), 30e6, side)  # 83 requests/s x 0.2 s: 17 in flight
    assert (offered.held, offered.side) == (False, expected) and expected in SIDES
    assert words in offered.text
    assert "; measured: generator 0." in offered.text and " requests in flight on average" in offered.text


def test_full_slots_name_the_stack_even_on_a_busy_machine_and_say_the_machine_was_busy() -> None:
    """Other processes kept both cores busy and the generator waited for a core at times, but every slot was
    taken: its requests waited for the stack's answers (which may be slow for want of CPU: said so)."""
    side = GeneratorSide(cores=0.05, wait_share=0.11, machine_busy_cores=2.0, machine_cores=2, in_flight_limit=2)
    offered = judge_offered(_stats(0.5, latency_ms=200), 3e6, side)
    assert offered.side == "stack latency"
    assert (
        "so sends waited for its answers (the machine's 2 cores were 2.00 busy: a stack on this machine may have "
        "been short of CPU itself)"
    ) in offered.text
    assert "generator waiting for a core 11% of the time, machine 2.00 of 2 cores busy" in offered.text


def test_refusals_are_the_side_when_nothing_else_ran_out() -> None:
    offered = judge_offered(
        _stats(10.0, failed=40),
        30e6,
        GeneratorSide(cores=0.3, machine_busy_cores=0.8, machine_cores=2, in_flight_limit=128),
    )
    assert offered.side == "stack refusals"
    assert "the stack refused or failed 40 of 6,244 requests (see the replicas' verdicts)" in offered.text


def test_a_run_that_offered_the_rate_holds_whatever_the_machine_did() -> None:
    offered = judge_offered(
        _stats(4.0), 4e6, GeneratorSide(cores=0.97, machine_busy_cores=2.0, machine_cores=2, in_flight_limit=4)
    )
    assert offered.held and offered.side is None
    assert offered.text.startswith(
        "generator offered 4.00 MB/s of the 4.00 MB/s asked (limit: at least 3.60 MB/s, "
        "90%); measured: generator 0.97 cores, machine 2.00 of 2 cores busy"
    )


def test_a_shortfall_with_nothing_measured_still_fails() -> None:
    offered = judge_offered(_stats(1.0), 30e6, GeneratorSide())
    assert (offered.held, offered.side) == (False, "not measured")
