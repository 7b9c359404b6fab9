"""Pre-encoded OTLP requests whose ids are stamped fresh for every send.

Encoding a trace costs far more than sending it; so a request of a few traces is encoded once, the byte
offsets of its trace and span ids are found, and each send copies the bytes and writes new random ids at
those offsets. Every trace sent is a new trace (Tempo grows a trace that reuses an id past
max_bytes_per_trace and drops its spans); parent links stay intact because every occurrence of an old
span id, as span_id or parent_span_id, gets the same new id. Concatenated protobuf messages merge, so
the encoded traces laid end to end are one ExportTraceServiceRequest with one ResourceSpans per trace.
Templates are re-encoded once they are ``refresh_s`` old so span timestamps stay near the wall clock.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import to_export_request
from pytest_tracestack.traffic.trace_shapes import DEEP, WIDE, TraceShape, build_trace

WEB_REQUEST = TraceShape(depth=2, fan_out=3, attributes=8, attribute_size=24, http=True)
# A mix of what services emit: an HTTP request fanning out, a wide trace with events, links and errors,
# and a deep call chain. Traces in a request cycle through it.
DEFAULT_MIX: tuple[TraceShape, ...] = (WEB_REQUEST, WEB_REQUEST, WIDE, DEEP)
TRACE_ID_BYTES, SPAN_ID_BYTES = 16, 8


@dataclass(frozen=True)
class StampSite:
    """Where one id sits in the encoded bytes (every occurrence gets the same fresh value)."""

    size: int
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class RequestTemplate:
    """One encoded request and where its ids sit."""

    data: bytes
    spans: int
    traces: int
    sites: tuple[StampSite, ...]
    random_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "random_bytes", sum(site.size for site in self.sites))

    def stamp(self) -> bytes:
        """A copy with a fresh trace id per trace and a fresh id per span (one urandom call)."""
        buffer = bytearray(self.data)
        fresh = os.urandom(self.random_bytes)
        cursor = 0
        for site in self.sites:
            value = fresh[cursor : cursor + site.size]
            cursor += site.size
            for offset in site.offsets:
                buffer[offset : offset + site.size] = value
        return bytes(buffer)


def encode_request(traces: list[list[Span]]) -> RequestTemplate:
    """Encode traces as one request and locate every trace and span id in the bytes."""
    parts, sites, position = [], [], 0
    for spans in traces:
        data = to_export_request(spans).SerializeToString()
        sites.append(StampSite(TRACE_ID_BYTES, _offsets(data, bytes.fromhex(spans[0].trace_id), position)))
        sites += [StampSite(SPAN_ID_BYTES, _offsets(data, bytes.fromhex(span.span_id), position)) for span in spans]
        parts.append(data)
        position += len(data)
    return RequestTemplate(b"".join(parts), sum(map(len, traces)), len(traces), tuple(sites))


def build_request(
    traces_per_request: int = 10,
    mix: tuple[TraceShape, ...] = DEFAULT_MIX,
    seed: int = 1,
    service_name: str = "tracestack-load",
    start_ns: int | None = None,
) -> RequestTemplate:
    """A request of ``traces_per_request`` traces whose shapes cycle through ``mix``."""
    if traces_per_request < 1:
        raise ValueError(f"traces per request must be at least 1, got {traces_per_request}")
    start_ns = start_ns or time.time_ns()
    traces = [
        build_trace(mix[n % len(mix)], service_name=service_name, rng_seed=seed + n, start_ns=start_ns)
        for n in range(traces_per_request)
    ]
    return encode_request(traces)


class PayloadSource:
    """Fresh payloads for senders: stamps a template, re-encoding it once it is ``refresh_s`` old."""

    def __init__(
        self,
        traces_per_request: int = 10,
        mix: tuple[TraceShape, ...] = DEFAULT_MIX,
        refresh_s: float = 60.0,
        service_name: str = "tracestack-load",
    ) -> None:
        self.traces_per_request, self.mix, self.refresh_s = traces_per_request, mix, refresh_s
        self.service_name = service_name
        self.template = self._build()

    def _build(self) -> RequestTemplate:
        self.built_at = time.monotonic()
        return build_request(self.traces_per_request, self.mix, service_name=self.service_name)

    @property
    def bytes_per_request(self) -> int:
        return len(self.template.data)

    @property
    def spans_per_request(self) -> int:
        return self.template.spans

    def next(self) -> bytes:
        if time.monotonic() - self.built_at > self.refresh_s:
            self.template = self._build()
        return self.template.stamp()


def _offsets(data: bytes, needle: bytes, shift: int) -> tuple[int, ...]:
    found, start = [], 0
    while (index := data.find(needle, start)) != -1:
        found.append(shift + index)
        start = index + 1
    if not found:
        raise ValueError(f"id {needle.hex()} not found in the encoded payload")
    return tuple(found)
