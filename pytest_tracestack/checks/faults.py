"""Steady traffic while a replica is killed or restarted, with exact loss accounting: every trace whose
push was acknowledged must be found afterwards. A trace that cannot be read (the query path answers an
error, e.g. a querier whose ingester is down) is told apart from a trace that is gone (read, not there)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pytest_tracestack.checks.sources import TraceSource
from pytest_tracestack.clients.tempo import VisibilityTimeout
from pytest_tracestack.deadlines import Deadline
from pytest_tracestack.errors import TracestackError, first_line
from pytest_tracestack.traffic.senders import send
from pytest_tracestack.traffic.trace_shapes import SMALL, build_trace


@dataclass
class LossAccount:
    sent: int = 0
    acknowledged: list[str] = field(default_factory=list)  # trace ids the receiver acknowledged
    refused: dict[str, int] = field(default_factory=dict)  # status -> count
    found: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, read back, not there (gone)
    read_failed: dict[str, str] = field(default_factory=dict)  # acknowledged, but the read answered an error

    def as_properties(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "acknowledged": len(self.acknowledged),
            "refused": dict(self.refused),
            "found": self.found,
            "acknowledged_but_lost": len(self.lost),
            "reads_failed": len(self.read_failed),
            "read_errors": sorted(set(self.read_failed.values()))[:3],
        }

    def describe_missing(self) -> str:
        """Which acknowledged traces are missing and why: gone, or not readable (with the error answered)."""
        missing = len(self.lost) + len(self.read_failed)
        lines = [
            f"{missing} of {len(self.acknowledged)} acknowledged traces were not read back (sent {self.sent}, "
            f"refused {self.refused}):"
        ]
        if self.lost:
            lines.append(f"  {len(self.lost)} are gone: read back, not there (first: {', '.join(self.lost[:3])})")
        if self.read_failed:
            errors: dict[str, list[str]] = {}
            for trace_id, error in self.read_failed.items():
                errors.setdefault(error, []).append(trace_id)
            lines.append(
                f"  {len(self.read_failed)} could not be read: the query path answered an error, so "
                "whether they are stored is unknown:"
            )
            lines += [f"    {len(ids)} x {error} (first: {', '.join(ids[:3])})" for error, ids in errors.items()]
        return "\n".join(lines)


class SteadyTraffic:
    """Sends one small trace every ``interval_s`` from a thread, recording what was acknowledged."""

    def __init__(self, protocol: str, target: str, service_name: str, interval_s: float = 0.05) -> None:
        self.protocol, self.target, self.service_name, self.interval_s = protocol, target, service_name, interval_s
        self.account = LossAccount()
        self._spans_per_trace = SMALL.span_count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracestack-steady-traffic", daemon=True)

    def __enter__(self) -> SteadyTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            spans = build_trace(SMALL, service_name=self.service_name)
            result = send(self.protocol, spans, self.target, timeout=5)
            self.account.sent += 1
            if result.ok:
                self.account.acknowledged.append(spans[0].trace_id)
            else:
                self.account.refused[result.status] = self.account.refused.get(result.status, 0) + 1
            self._stop.wait(self.interval_s)

    def reconcile(self, source: TraceSource, deadline_s: float) -> LossAccount:
        """Look up every acknowledged trace; the deadline is shared by all lookups."""
        deadline = Deadline(deadline_s)
        for trace_id in self.account.acknowledged:
            remaining = max(0.5, deadline.remaining())
            try:
                spans = source.read_trace(trace_id, self._spans_per_trace, remaining).spans
            except VisibilityTimeout as timeout:  # empty answers until the deadline: gone; errors: unreadable
                if timeout.last_error is not None:
                    self.account.read_failed[trace_id] = str(timeout.last_error)
                    continue
                spans = []
            except TracestackError as error:  # an answer that is not a trace at all
                self.account.read_failed[trace_id] = first_line(error)
                continue
            if len(spans) >= self._spans_per_trace:
                self.account.found += 1
            else:
                self.account.lost.append(trace_id)
        return self.account
