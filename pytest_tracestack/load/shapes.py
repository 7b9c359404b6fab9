"""Stepped load: the rate rises in steps, each held for a while (Locust LoadTestShape)."""

from __future__ import annotations

import os

from locust import LoadTestShape

from .rates import parse_rate


class StepShape(LoadTestShape):
    """Active only when TRACESTACK_LOAD_STEPS is set: each step sets the rate the users pace themselves to."""

    abstract = "TRACESTACK_LOAD_STEPS" not in os.environ

    def __init__(self) -> None:
        super().__init__()
        self.steps = [parse_rate(step) for step in os.environ.get("TRACESTACK_LOAD_STEPS", "").split(",") if step]
        self.step_seconds = float(os.environ.get("TRACESTACK_LOAD_STEP_SECONDS", "20"))
        self.users = int(os.environ.get("TRACESTACK_LOAD_USERS", "4"))

    def tick(self):
        index = int(self.get_run_time() // self.step_seconds)
        if index >= len(self.steps):
            return None
        rate = self.steps[index]
        os.environ["TRACESTACK_LOAD_RATE"] = f"{rate.value:.0f}B/s" if rate.unit == "bytes" else f"{rate.value:.0f}spans/s"
        return self.users, self.users
