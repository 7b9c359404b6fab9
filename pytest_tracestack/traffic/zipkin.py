"""Zipkin v2 JSON: what a Zipkin reporter posts to ``/api/v2/spans``.

Zipkin carries less than OTLP: tags are strings, times are microseconds, INTERNAL has no kind,
links do not exist, and the resource is only ``localEndpoint.serviceName``.
"""

from __future__ import annotations

import json

from pytest_tracestack.traces.model import Span, SpanKind

ZIPKIN_KINDS = (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER)  # by their OTLP names


def to_zipkin(span: Span) -> dict:
    out: dict = {
        "traceId": span.trace_id,
        "id": span.span_id,
        "name": span.name,
        "timestamp": span.start_ns // 1000,
        "duration": max(1, (span.end_ns - span.start_ns) // 1000),
        "localEndpoint": {"serviceName": span.service_name or "unknown"},
        "tags": {key: zipkin_tag_value(value) for key, value in span.attributes.items()},
    }
    if span.parent_span_id:
        out["parentId"] = span.parent_span_id
    if span.kind in ZIPKIN_KINDS:
        out["kind"] = SpanKind(span.kind).name
    if span.status_code == 2:
        out["tags"]["error"] = span.status_message or "true"
    if span.events:
        out["annotations"] = [{"timestamp": e.time_ns // 1000, "value": e.name} for e in span.events]
    return out


def zipkin_tag_value(value) -> str:
    """How a typed attribute becomes a Zipkin tag (always a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list, dict)):
        return json.dumps(value if not isinstance(value, tuple) else list(value))
    return str(value)


def encode_zipkin_json(spans: list[Span]) -> bytes:
    return json.dumps([to_zipkin(span) for span in spans], separators=(",", ":")).encode()
