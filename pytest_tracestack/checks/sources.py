"""Where a check reads traces back from: the capture sink or Tempo, behind one small interface."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from pytest_tracestack.deadlines import poll_until
from pytest_tracestack.traces.model import Span


@dataclass(frozen=True)
class ReadBack:
    spans: list[Span]
    visible_after_s: float  # from the acknowledged push until the spans were all visible
    where: str  # "capture sink" or "Tempo /api/v2/traces"


class TraceSource(Protocol):
    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack: ...

    def find_by_attribute(self, keys: tuple[str, ...], value: str, deadline_s: float) -> ReadBack:
        """Spans of the first trace holding a span whose attribute (any of ``keys``) equals ``value``."""


class SinkSource:
    def __init__(self, sink) -> None:
        self.sink = sink

    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack:
        spans, waited = self.sink.wait_for_spans(trace_id, expected_spans, timeout=deadline_s)
        return ReadBack(list(spans), waited, "capture sink")

    def find_by_attribute(self, keys: tuple[str, ...], value: str, deadline_s: float) -> ReadBack:
        polled = poll_until(
            lambda: [span for key in keys for span in spans_matching(self.sink.spans(), key, value)], deadline_s, 0.1
        )
        spans = self.sink.spans_for(polled.last[0].trace_id) if polled.ok else []
        return ReadBack(spans, polled.elapsed_s, "capture sink")


class TempoSource:
    def __init__(self, client) -> None:
        self.client = client

    def read_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> ReadBack:
        waited = self.client.wait_for_trace(trace_id, expected_spans, deadline_s)
        return ReadBack(list(waited.spans), waited.visible_after_s, "Tempo /api/v2/traces")

    def find_by_attribute(self, keys: tuple[str, ...], value: str, deadline_s: float) -> ReadBack:
        started = time.monotonic()
        query = " || ".join(f'span."{key}" = "{value}"' for key in keys)
        hits = self.client.wait_for_search(traceql=f"{{ {query} }}", deadline_s=deadline_s)
        if not hits:
            return ReadBack([], time.monotonic() - started, "Tempo /api/search")
        spans = self.client.trace(hits[0].trace_id) or []
        return ReadBack(spans, time.monotonic() - started, "Tempo /api/search + /api/v2/traces")


def spans_matching(spans: list[Span], attribute: str, value) -> list[Span]:
    return [span for span in spans if span.attributes.get(attribute) == value]
