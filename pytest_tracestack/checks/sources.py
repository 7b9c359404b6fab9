"""Where a check reads traces back from: the capture sink or Tempo, behind one small interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..model import Span


@dataclass(frozen=True)
class ReadBack:
    spans: list[Span]
    visible_after_s: float       # from the acknowledged push until the spans were all visible
    where: str                   # "capture sink" or "Tempo /api/v2/traces"


class TraceSource(Protocol):
    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack: ...


class SinkSource:
    def __init__(self, sink) -> None:
        self.sink = sink

    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack:
        spans, waited = self.sink.wait_for_spans(trace_id, expected_spans, timeout=deadline_s)
        return ReadBack(list(spans), waited, "capture sink")


class TempoSource:
    def __init__(self, client) -> None:
        self.client = client

    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack:
        waited = self.client.wait_for_trace(trace_id, expected_spans, deadline_s)
        return ReadBack(list(waited.spans), waited.visible_after_s, "Tempo /api/v2/traces")
