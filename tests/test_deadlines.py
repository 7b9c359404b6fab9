"""The one deadline-polling helper: counts and a fake clock, never timed assertions."""

from __future__ import annotations

import threading

import pytest

from pytest_tracestack.deadlines import Deadline, poll_until


class FakeClock:
    """A clock that moves only when something sleeps on it; records every pause."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_a_deadline_counts_down_on_its_clock_and_never_below_zero() -> None:
    clock = FakeClock()
    deadline = Deadline(5.0, clock=clock)
    clock.sleep(2.0)
    assert (deadline.remaining(), deadline.elapsed(), deadline.expired()) == (3.0, 2.0, False)
    clock.sleep(4.0)
    assert (deadline.remaining(), deadline.elapsed(), deadline.expired()) == (0.0, 6.0, True)


def test_a_check_that_holds_at_once_is_asked_once_and_never_sleeps() -> None:
    clock = FakeClock()
    polled = poll_until(lambda: "ready", Deadline(10, clock=clock), 1.0, sleep=clock.sleep)
    assert (polled.ok, polled.last, polled.attempts, clock.pauses) == (True, "ready", 1, [])


def test_polling_stops_when_done_holds_and_returns_what_it_saw() -> None:
    clock = FakeClock()
    answers = iter([503, 503, 200, 500])
    polled = poll_until(
        lambda: next(answers), Deadline(10, clock=clock), 0.5, done=lambda code: code == 200, sleep=clock.sleep
    )
    assert (polled.ok, polled.last, polled.attempts, polled.elapsed_s) == (True, 200, 3, 1.0)


def test_at_the_deadline_the_last_observation_comes_back_for_the_callers_message() -> None:
    clock = FakeClock()
    seen = iter(range(100))
    polled = poll_until(lambda: next(seen), Deadline(2.0, clock=clock), 0.75, done=lambda n: n < 0, sleep=clock.sleep)
    # pauses never run past the deadline, and the check is asked once more at the deadline itself
    assert clock.pauses == [0.75, 0.75, 0.5]
    assert (polled.ok, polled.last, polled.attempts, polled.elapsed_s) == (False, 3, 4, 2.0)


def test_pauses_grow_by_the_backoff_up_to_the_cap() -> None:
    clock = FakeClock()
    poll_until(lambda: False, Deadline(10, clock=clock), 0.1, backoff=2.0, max_interval_s=0.5, sleep=clock.sleep)
    assert clock.pauses[:5] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert sum(clock.pauses) == pytest.approx(10)


def test_an_error_from_the_check_ends_the_poll_at_once() -> None:
    clock = FakeClock()
    calls = []

    def exited() -> bool:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the process exited")
        return False

    with pytest.raises(RuntimeError, match="exited"):
        poll_until(exited, Deadline(10, clock=clock), 1.0, sleep=clock.sleep)
    assert len(calls) == 2


def test_a_set_stop_event_ends_the_poll_after_its_pause_without_asking_again() -> None:
    stop = threading.Event()
    calls = []

    def check() -> bool:
        calls.append(1)
        stop.set()  # another replica failed while this one was being asked
        return False

    polled = poll_until(check, 60.0, 30.0, stop=stop)
    assert (polled.ok, polled.attempts, len(calls)) == (False, 1, 1)


def test_seconds_work_as_a_deadline_and_zero_still_asks_once() -> None:
    calls = []
    polled = poll_until(lambda: calls.append(1), 0.0, 1.0)
    assert (polled.ok, polled.attempts, len(calls)) == (False, 1, 1)
