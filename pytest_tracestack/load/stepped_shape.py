"""Stepped load (a Locust LoadTestShape): the rate rises in steps, each held for a while.

Active only when TRACESTACK_LOAD_STEPS is set, e.g. ``1MB/s,2MB/s,4MB/s`` with TRACESTACK_LOAD_STEP_SECONDS
(default 20) per step and TRACESTACK_LOAD_USERS users (default 4). The users keep their number; each step
moves the rate they pace themselves to. With master and workers the shape runs on the master, which passes
each step's rate to its workers (workers.py).
"""

from __future__ import annotations

from locust import LoadTestShape

from pytest_tracestack.load.locust_env import STEP_SECONDS_VAR, STEPS_VAR
from pytest_tracestack.load.rates import parse_duration, parse_steps
from pytest_tracestack.load.users import SETTINGS, LoadState


class StepShape(LoadTestShape):
    abstract = SETTINGS.steps is None

    def __init__(self) -> None:
        super().__init__()
        self.steps = parse_steps(SETTINGS.steps or "", STEPS_VAR)
        self.step_seconds = parse_duration(SETTINGS.step_seconds, STEP_SECONDS_VAR)
        self.users = int(SETTINGS.step_users)

    def tick(self) -> tuple[int, float] | None:
        index = int(self.get_run_time() // self.step_seconds)
        if index >= len(self.steps):
            return None
        if LoadState.pacing is not None:
            LoadState.pacing.rate = self.steps[index]
        return self.users, self.users
