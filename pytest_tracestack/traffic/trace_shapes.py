"""Builds traces of a chosen shape: a tree of spans with valid parent links, nested clocks and typed attributes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_tracestack.traces.model import Attributes, AttrValue, Event, Link, Span, SpanKind


@dataclass(frozen=True)
class TraceShape:
    depth: int = 2  # levels below the root
    fan_out: int = 2  # children per span
    attributes: int = 4  # generated attributes per span (besides the HTTP ones)
    attribute_size: int = 16  # characters of each generated string value
    events: int = 0  # events per span
    links: int = 0  # links per span (to random ids of another trace)
    error_every: int = 0  # every n-th span gets status ERROR (0 = none)
    kinds: tuple[SpanKind, ...] = (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL)
    http: bool = False  # HTTP server attributes on the root, old and stable names
    resource: tuple[tuple[str, str], ...] = (("deployment.environment", "tracestack"),)
    span_duration_ns: int = 5_000_000

    @property
    def span_count(self) -> int:
        return sum(self.fan_out**level for level in range(self.depth + 1))


SMALL = TraceShape(depth=1, fan_out=1, attributes=2)
WIDE = TraceShape(depth=2, fan_out=3, attributes=6, events=1, links=1, error_every=4)
DEEP = TraceShape(depth=8, fan_out=1, attributes=3)
HTTP_SERVER = TraceShape(depth=1, fan_out=2, attributes=2, http=True)


@dataclass
class _Builder:
    shape: TraceShape
    rng: random.Random
    service_name: str
    trace_id: str
    start_ns: int
    spans: list[Span] = field(default_factory=list)

    def build(self) -> list[Span]:
        self._span(parent="", level=0, start=self.start_ns, duration=self._duration(0))
        return self.spans

    def _duration(self, level: int) -> int:
        # A parent lasts long enough to hold its children one after the other.
        return self.shape.span_duration_ns * (self.shape.fan_out + 1) ** (self.shape.depth - level)

    def _span(self, parent: str, level: int, start: int, duration: int) -> None:
        span_id = self._hex(8)
        index = len(self.spans)
        kind = self.shape.kinds[index % len(self.shape.kinds)]
        status = 2 if self.shape.error_every and index % self.shape.error_every == self.shape.error_every - 1 else 0
        span = Span(
            trace_id=self.trace_id,
            span_id=span_id,
            parent_span_id=parent,
            name=f"op-{level}-{index}" if not (self.shape.http and level == 0) else "GET /api/items/{id}",
            kind=SpanKind.SERVER if self.shape.http and level == 0 else kind,
            start_ns=start,
            end_ns=start + duration,
            attributes=self._attributes(index, http=self.shape.http and level == 0),
            resource={"service.name": self.service_name, **dict(self.shape.resource)},
            scope_name="pytest-tracestack",
            scope_version="1",
            status_code=status,
            status_message="generated error" if status == 2 else "",
            events=tuple(
                Event(f"event-{n}", start + duration // 2, {"event.index": n}) for n in range(self.shape.events)
            ),
            links=tuple(Link(self._hex(16), self._hex(8), {"link.index": n}) for n in range(self.shape.links)),
        )
        self.spans.append(span)
        if level == self.shape.depth:
            return
        child_duration = self._duration(level + 1)
        for child in range(self.shape.fan_out):
            self._span(span_id, level + 1, start + child * child_duration + 1, child_duration - 2)

    def _attributes(self, index: int, http: bool) -> Attributes:
        attributes: Attributes = {}
        values: list[Callable[[], AttrValue]] = [
            lambda: "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz", k=self.shape.attribute_size)),
            lambda: self.rng.randint(-(2**40), 2**40),
            lambda: self.rng.random() * 1000,
            lambda: self.rng.random() < 0.5,
            lambda: tuple(self.rng.randint(0, 9) for _ in range(3)),
        ]
        for n in range(self.shape.attributes):
            attributes[f"tracestack.attr.{n}"] = values[n % 5]()
        attributes["tracestack.span.index"] = index
        if http:
            attributes.update(http_server_attributes(self.rng))
        return attributes

    def _hex(self, size: int) -> str:
        value = self.rng.getrandbits(size * 8)
        return (value or 1).to_bytes(size, "big").hex()


def http_server_attributes(rng: random.Random) -> Attributes:
    """An HTTP server span's attributes under both the old and the stable semantic conventions."""
    item = rng.randint(1, 10_000)
    return {
        "http.method": "GET",
        "http.target": f"/api/items/{item}",
        "http.route": "/api/items/{id}",
        "http.scheme": "http",
        "http.flavor": "1.1",
        "http.status_code": 200,
        "http.user_agent": "tracestack",
        "http.request.method": "GET",
        "url.path": f"/api/items/{item}",
        "url.scheme": "http",
        "http.response.status_code": 200,
        "network.protocol.version": "1.1",
        "server.address": "tracestack.local",
        "server.port": 8080,
        "user_agent.original": "tracestack",
    }


def build_trace(
    shape: TraceShape, *, service_name: str, rng_seed: int | None = None, start_ns: int | None = None
) -> list[Span]:
    """One trace of ``shape``: a fresh trace id, every span under one root, clocks nested in their parents."""
    rng = random.Random(rng_seed)
    builder = _Builder(shape, rng, service_name, trace_id="", start_ns=start_ns or time.time_ns())
    builder.trace_id = builder._hex(16)
    return builder.build()


def client_server_trace(client_service: str, server_service: str, *, start_ns: int | None = None) -> list[Span]:
    """One call between two services: the caller's CLIENT span and, as its child, the callee's SERVER span, each with
    its own resource. Tempo's service-graphs processor pairs such spans into a client -> server edge."""
    rng = random.Random()
    trace_id = rng.getrandbits(128).to_bytes(16, "big").hex()
    client_id, server_id = (rng.getrandbits(64).to_bytes(8, "big").hex() for _ in range(2))
    start = start_ns or time.time_ns()
    client = Span(
        trace_id=trace_id,
        span_id=client_id,
        name="GET /api/items",
        kind=SpanKind.CLIENT,
        start_ns=start,
        end_ns=start + 20_000_000,
        attributes={"http.request.method": "GET"},
        resource={"service.name": client_service},
        scope_name="pytest-tracestack",
        scope_version="1",
    )
    server = Span(
        trace_id=trace_id,
        span_id=server_id,
        parent_span_id=client_id,
        name="GET /api/items",
        kind=SpanKind.SERVER,
        start_ns=start + 2_000_000,
        end_ns=start + 18_000_000,
        attributes={"http.request.method": "GET", "http.response.status_code": 200},
        resource={"service.name": server_service},
        scope_name="pytest-tracestack",
        scope_version="1",
    )
    return [client, server]
