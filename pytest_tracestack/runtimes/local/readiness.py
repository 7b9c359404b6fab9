"""Waiting until replicas answer ready: every replica polled at once, against one deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Protocol

import httpx

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.deadlines import Deadline, poll_until
from pytest_tracestack.errors import ComponentExited, ReadinessTimeout
from pytest_tracestack.profiles.profile import http_endpoint
from pytest_tracestack.runtimes.base import Replica

POLL_INTERVAL_S = 0.2
REQUEST_TIMEOUT_S = 2.0


class Handle(Protocol):
    """A started replica: a child process or an in-process server (the capture sink)."""

    @property
    def pid(self) -> int | None: ...

    def alive(self) -> bool: ...
    def stop(self, grace_s: float = 10.0) -> object: ...
    def last_log_lines(self, count: int = 25) -> str: ...


def wait_all_ready(waits: Sequence[tuple[Replica, str, Handle]], deadline: Deadline) -> dict[str, float]:
    """Poll every replica's readiness at the same time (a slow or hanging one delays no other); the first
    failure is raised at once. Returns when (``time.monotonic()``) each replica first answered ready."""
    if not waits:
        return {}
    give_up = threading.Event()
    with ThreadPoolExecutor(max_workers=len(waits), thread_name_prefix="tracestack-ready") as pool:
        futures = {
            pool.submit(wait_ready, replica, readiness, handle, deadline, give_up): replica.name
            for replica, readiness, handle in waits
        }
        try:
            return {futures[future]: future.result() for future in as_completed(futures)}
        finally:
            give_up.set()


def wait_ready(
    replica: Replica, readiness: str, handle: Handle, deadline: Deadline, give_up: threading.Event | None = None
) -> float:
    """Poll ``http:PORT/PATH`` until 200; tell an exited process from a slow one, with its last log lines.
    Returns the ``time.monotonic()`` of the first 200."""
    url = replica.url(*http_endpoint(readiness))
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:

        def problem() -> str | None:
            """What keeps the replica from being ready (None once it answered 200)."""
            if not handle.alive():
                raise ComponentExited(
                    f"{replica.name} exited while waiting for {url} to answer 200; "
                    f"last log lines:\n{redact(handle.last_log_lines())}"
                )
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return None
                return f"HTTP {response.status_code}: {response.text[:200].strip()}"
            except httpx.HTTPError as error:
                return f"{type(error).__name__}: {error}"

        polled = poll_until(problem, deadline, POLL_INTERVAL_S, done=lambda found: found is None, stop=give_up)
    if polled.ok:
        return time.monotonic()
    raise ReadinessTimeout(
        f"{replica.name} not ready after {deadline.seconds:.0f}s: {url} last said {polled.last}; "
        f"last log lines:\n{redact(handle.last_log_lines())}"
    )
