"""The normalized trace model every part of tracestack compares in.

Ids are lowercase hex (32 chars for traces, 16 for spans), the way OTLP/HTTP JSON and Tempo's
search results write them; attribute values keep their OTLP type (str, bool, int, float, bytes,
tuple for arrays, dict for key-value lists) so a schema can tell ``200`` from ``"200"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

AttrValue = str | bool | int | float | bytes | tuple | dict | None
Attributes = dict[str, AttrValue]


class SpanKind(IntEnum):
    """OTLP's SpanKind values (opentelemetry.proto.trace.v1.Span.SpanKind); the names are what users see."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5

    @classmethod
    def name_of(cls, value: int) -> str:
        """The kind's name; a value this enum does not know (a newer OTLP) shows as its number."""
        try:
            return cls(value).name
        except ValueError:
            return str(value)


# OTLP Status.StatusCode values.
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class Event:
    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    name: str
    parent_span_id: str = ""
    kind: int = SpanKind.INTERNAL  # an int: OTLP may carry a kind newer than SpanKind
    start_ns: int = 0
    end_ns: int = 0
    attributes: Attributes = field(default_factory=dict)
    resource: Attributes = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    status_code: int = 0
    status_message: str = ""
    events: tuple[Event, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def service_name(self) -> str | None:
        value = self.resource.get("service.name")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Trace:
    """All spans of one trace id, in no particular order."""

    trace_id: str
    spans: tuple[Span, ...]

    @property
    def root(self) -> Span | None:
        roots = [span for span in self.spans if not span.parent_span_id]
        return roots[0] if len(roots) == 1 else None


def group_by_trace(spans: list[Span]) -> dict[str, Trace]:
    grouped: dict[str, list[Span]] = {}
    for span in spans:
        grouped.setdefault(span.trace_id, []).append(span)
    return {trace_id: Trace(trace_id, tuple(items)) for trace_id, items in grouped.items()}


def normalize_hex_id(value: str, length: int) -> str:
    """Zero-pad a hex id to its full length (Tempo's search drops leading zeros)."""
    return value.lower().rjust(length, "0")
