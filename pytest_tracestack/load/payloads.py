"""Pre-encoded OTLP payloads whose ids are stamped fresh for every request.

Encoding a trace costs far more than sending it; so a few templates are encoded once, the byte
offsets of their trace and span ids are found, and each request copies a template and writes new
random ids at those offsets. Every request is a new trace (Tempo grows a trace that reuses an id past
max_bytes_per_trace and drops its spans), and parent links stay consistent because every occurrence of
an old span id, as span_id or parent_span_id, gets the same new id.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..otlp import to_export_request
from ..traffic.shapes import TraceShape, build_trace

DEFAULT_SHAPE = TraceShape(depth=2, fan_out=3, attributes=8, attribute_size=24, events=0, links=0)


@dataclass(frozen=True)
class PayloadTemplate:
    data: bytes
    spans: int
    trace_id_offsets: tuple[int, ...]
    span_id_offsets: tuple[tuple[int, ...], ...]   # per span: where its id (and its children's parent id) sit

    def stamp(self) -> bytes:
        """A copy with a fresh trace id and fresh span ids."""
        buffer = bytearray(self.data)
        trace_id = os.urandom(16)
        for offset in self.trace_id_offsets:
            buffer[offset:offset + 16] = trace_id
        for offsets in self.span_id_offsets:
            span_id = os.urandom(8)
            for offset in offsets:
                buffer[offset:offset + 8] = span_id
        return bytes(buffer)


def make_template(shape: TraceShape = DEFAULT_SHAPE, traces_per_request: int = 1, seed: int = 1,
                  service_name: str = "tracestack-load") -> list[PayloadTemplate]:
    """One template per request shape; ``traces_per_request`` traces are sent in one request."""
    traces = [build_trace(shape, service_name=service_name, rng_seed=seed + n) for n in range(traces_per_request)]
    templates = []
    for spans in traces:
        data = to_export_request(spans).SerializeToString()
        templates.append(PayloadTemplate(
            data=data, spans=len(spans),
            trace_id_offsets=_offsets(data, bytes.fromhex(spans[0].trace_id)),
            span_id_offsets=tuple(_offsets(data, bytes.fromhex(span.span_id)) for span in spans),
        ))
    return templates


def _offsets(data: bytes, needle: bytes) -> tuple[int, ...]:
    found, start = [], 0
    while (index := data.find(needle, start)) != -1:
        found.append(index)
        start = index + 1
    if not found:
        raise ValueError(f"id {needle.hex()} not found in the encoded payload")
    return tuple(found)
