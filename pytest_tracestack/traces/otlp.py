"""Conversions between the trace model and OTLP (protobuf, OTLP/HTTP JSON, Tempo's JSON).

Two JSON dialects exist and must not be mixed: OTLP/HTTP JSON writes ids as hex and enums as
integers; Tempo's query API writes the protobuf JSON mapping, ids as base64 and enums as names.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.traces.model import Attributes, AttrValue, Event, Link, Span


class OtlpDecodeError(TracestackError):
    """A payload that claims to be OTLP (or Tempo's JSON) and is not."""


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


# --- model -> protobuf -------------------------------------------------------------------------


def to_any_value(value: AttrValue) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (tuple, list)):
        out = AnyValue()
        out.array_value.values.extend(to_any_value(item) for item in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(to_key_values(value))
        return out
    if value is None:
        return AnyValue()
    raise TypeError(f"attribute value {value!r} has no OTLP type")


def to_key_values(attributes: Attributes) -> list[KeyValue]:
    return [KeyValue(key=key, value=to_any_value(value)) for key, value in attributes.items()]


def _span_to_proto(span: Span) -> trace_pb2.Span:
    proto = trace_pb2.Span(
        trace_id=bytes.fromhex(span.trace_id),
        span_id=bytes.fromhex(span.span_id),
        parent_span_id=bytes.fromhex(span.parent_span_id) if span.parent_span_id else b"",
        name=span.name,
        kind=trace_pb2.Span.SpanKind.ValueType(span.kind),
        start_time_unix_nano=span.start_ns,
        end_time_unix_nano=span.end_ns,
        attributes=to_key_values(span.attributes),
        status=trace_pb2.Status(
            code=trace_pb2.Status.StatusCode.ValueType(span.status_code), message=span.status_message
        ),
    )
    for event in span.events:
        proto.events.add(name=event.name, time_unix_nano=event.time_ns, attributes=to_key_values(event.attributes))
    for link in span.links:
        proto.links.add(
            trace_id=bytes.fromhex(link.trace_id),
            span_id=bytes.fromhex(link.span_id),
            attributes=to_key_values(link.attributes),
        )
    return proto


def _resource_key(span: Span) -> tuple:
    return (json.dumps(span.resource, sort_keys=True, default=repr), span.scope_name, span.scope_version)


def to_resource_spans(spans: Iterable[Span]) -> list[trace_pb2.ResourceSpans]:
    """Group spans by (resource, scope), as an SDK exporter would."""
    groups: dict[str, trace_pb2.ResourceSpans] = {}
    scopes: dict[tuple, trace_pb2.ScopeSpans] = {}
    for span in spans:
        res_key = json.dumps(span.resource, sort_keys=True, default=repr)
        if res_key not in groups:
            groups[res_key] = trace_pb2.ResourceSpans()
            groups[res_key].resource.attributes.extend(to_key_values(span.resource))
        scope_key = _resource_key(span)
        if scope_key not in scopes:
            scope_spans = groups[res_key].scope_spans.add()
            scope_spans.scope.name = span.scope_name
            scope_spans.scope.version = span.scope_version
            scopes[scope_key] = scope_spans
        scopes[scope_key].spans.append(_span_to_proto(span))
    return list(groups.values())


def to_export_request(spans: Iterable[Span]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=to_resource_spans(spans))


def to_otlp_http_json(spans: Iterable[Span]) -> bytes:
    """OTLP/HTTP JSON: the protobuf JSON mapping, but ids in hex and enums as integers."""
    body = json_format.MessageToDict(to_export_request(spans), use_integers_for_enums=True)
    _rewrite_ids(body, _base64_to_hex)
    return json.dumps(body, separators=(",", ":")).encode()


# --- protobuf -> model -------------------------------------------------------------------------


def from_any_value(value: AnyValue) -> AttrValue:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(from_any_value(item) for item in value.array_value.values)
    if which == "kvlist_value":
        return from_key_values(value.kvlist_value.values)
    return getattr(value, which)


def from_key_values(items: Iterable[KeyValue]) -> Attributes:
    return {item.key: from_any_value(item.value) for item in items}


def _span_from_proto(proto: trace_pb2.Span, resource: Attributes, scope) -> Span:
    return Span(
        trace_id=proto.trace_id.hex(),
        span_id=proto.span_id.hex(),
        parent_span_id=proto.parent_span_id.hex(),
        name=proto.name,
        kind=proto.kind,
        start_ns=proto.start_time_unix_nano,
        end_ns=proto.end_time_unix_nano,
        attributes=from_key_values(proto.attributes),
        resource=resource,
        scope_name=scope.name,
        scope_version=scope.version,
        status_code=proto.status.code,
        status_message=proto.status.message,
        events=tuple(Event(e.name, e.time_unix_nano, from_key_values(e.attributes)) for e in proto.events),
        links=tuple(
            Link(link.trace_id.hex(), link.span_id.hex(), from_key_values(link.attributes)) for link in proto.links
        ),
    )


def from_resource_spans(resource_spans: Iterable[trace_pb2.ResourceSpans]) -> list[Span]:
    spans: list[Span] = []
    for rs in resource_spans:
        resource = from_key_values(rs.resource.attributes)
        for ss in rs.scope_spans:
            spans.extend(_span_from_proto(span, resource, ss.scope) for span in ss.spans)
    return spans


def from_protobuf_bytes(payload: bytes) -> list[Span]:
    """Decode an OTLP ExportTraceServiceRequest (wire-compatible with TracesData)."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except Exception as error:  # protobuf raises its DecodeError or RuntimeWarning-like errors
        raise OtlpDecodeError(f"not an OTLP protobuf ExportTraceServiceRequest: {error}") from error
    return from_resource_spans(request.resource_spans)


def from_tempo_json(document: Any) -> list[Span]:
    """Decode Tempo's query JSON: v1 ``{"batches": [...]}`` or v2 ``{"trace": {"resourceSpans": [...]}}``."""
    if not isinstance(document, dict):
        raise OtlpDecodeError(f"Tempo trace JSON must be an object, got {type(document).__name__}")
    if "trace" in document:
        resource_spans = (document.get("trace") or {}).get("resourceSpans", [])
    else:
        resource_spans = document.get("batches", [])
    data = trace_pb2.TracesData()
    _parse_dict({"resourceSpans": resource_spans}, data, "Tempo trace JSON")
    return from_resource_spans(data.resource_spans)


def from_otlp_http_json(payload: bytes | str) -> list[Span]:
    """Decode OTLP/HTTP JSON (hex ids, integer enums)."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise OtlpDecodeError(f"OTLP/HTTP JSON is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise OtlpDecodeError(f"OTLP/HTTP JSON must be an object, got {type(body).__name__}")
    try:
        _rewrite_ids(body, _hex_to_base64)
    except ValueError as error:
        raise OtlpDecodeError(f"OTLP/HTTP JSON has an id that is not hex: {error}") from error
    request = ExportTraceServiceRequest()
    _parse_dict(body, request, "OTLP/HTTP JSON")
    return from_resource_spans(request.resource_spans)


def _parse_dict(body: dict[str, Any], message, what: str) -> None:
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, AttributeError) as error:
        raise OtlpDecodeError(f"{what} does not match the OTLP schema: {error}") from error


# --- id encodings ------------------------------------------------------------------------------


def _base64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_base64(value: str) -> str:
    return base64.b64encode(bytes.fromhex(value)).decode()


def _rewrite_ids(node: Any, convert) -> None:
    """Rewrite every traceId/spanId/parentSpanId in a JSON tree in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str) and value:
                node[key] = convert(value)
            else:
                _rewrite_ids(value, convert)
    elif isinstance(node, list):
        for item in node:
            _rewrite_ids(item, convert)
