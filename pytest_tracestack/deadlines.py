"""Waiting with a deadline: a ``Deadline`` on ``time.monotonic()``, and ``poll_until`` a check holds or it passes.

A poll returns what the check saw last, so the caller's error can say what it was waiting for and what it got.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Deadline:
    """``seconds`` from the moment it is made, on a clock that wall-clock changes do not move."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left, 0 once passed."""
        return max(0.0, self.started + self.seconds - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def elapsed(self) -> float:
        return self.clock() - self.started


@dataclass(frozen=True)
class Polled(Generic[T]):
    """How a poll ended: whether the check held, what it returned last, how often and how long it was asked."""

    ok: bool
    last: T
    attempts: int
    elapsed_s: float


def poll_until(
    check: Callable[[], T],
    deadline: Deadline | float,
    interval_s: float,
    *,
    done: Callable[[T], bool] = bool,
    backoff: float = 1.0,
    max_interval_s: float | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> Polled[T]:
    """Call ``check`` until ``done`` holds for what it returned, or ``deadline`` (a Deadline or seconds from now)
    passes, or ``stop`` is set.

    ``check`` is called at least once, and once more at the deadline when a pause reached it. Pauses start at
    ``interval_s`` and grow by ``backoff`` up to ``max_interval_s``; they wait on ``stop`` when given, else
    ``sleep``. An exception from ``check`` ends the poll: that is how a check reports a failure that waiting
    will not mend.
    """
    deadline = deadline if isinstance(deadline, Deadline) else Deadline(deadline)
    pause, attempts = interval_s, 0
    while True:
        attempts += 1
        last = check()
        if done(last):
            return Polled(True, last, attempts, deadline.elapsed())
        remaining = deadline.remaining()
        if remaining <= 0:
            return Polled(False, last, attempts, deadline.elapsed())
        if stop is None:
            sleep(min(pause, remaining))
        elif stop.wait(min(pause, remaining)):
            return Polled(False, last, attempts, deadline.elapsed())
        pause = pause * backoff if max_interval_s is None else min(pause * backoff, max_interval_s)
