"""Jaeger Thrift (binary protocol) batches, as Jaeger clients send to a collector's ``/api/traces``.

Jaeger carries typed tags (string, double, bool, long, binary) but no arrays, microsecond clocks,
span kind and status as tags, events as logs, links as FOLLOWS_FROM references.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import serialize

from pytest_tracestack.traces.model import Span, SpanKind

IDL = Path(__file__).with_name("jaeger.thrift")
# the kinds tagged, in lower case; a span without the tag is INTERNAL, so that kind is left out
TAGGED_KINDS = (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER)


@functools.lru_cache(maxsize=1)
def _idl():
    return thriftpy2.load(str(IDL), module_name="jaeger_thrift")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _ids(hex_id: str) -> tuple[int, int]:
    value = int(hex_id, 16)
    return _signed(value & ((1 << 64) - 1)), _signed(value >> 64)


def _tag(key: str, value):
    jaeger = _idl()
    if isinstance(value, bool):
        return jaeger.Tag(key=key, vType=jaeger.TagType.BOOL, vBool=value)
    if isinstance(value, int):
        return jaeger.Tag(key=key, vType=jaeger.TagType.LONG, vLong=value)
    if isinstance(value, float):
        return jaeger.Tag(key=key, vType=jaeger.TagType.DOUBLE, vDouble=value)
    if isinstance(value, bytes):
        return jaeger.Tag(key=key, vType=jaeger.TagType.BINARY, vBinary=value)
    if isinstance(value, (tuple, list, dict)):
        value = json.dumps(list(value) if isinstance(value, tuple) else value)
    return jaeger.Tag(key=key, vType=jaeger.TagType.STRING, vStr=str(value))


def _span(span: Span):
    jaeger = _idl()
    low, high = _ids(span.trace_id)
    tags = [_tag(k, v) for k, v in span.attributes.items()]
    if span.kind in TAGGED_KINDS:
        tags.append(_tag("span.kind", SpanKind(span.kind).name.lower()))
    if span.status_code == 2:
        tags += [_tag("error", True), _tag("otel.status_code", "ERROR")]
        if span.status_message:
            tags.append(_tag("otel.status_description", span.status_message))
    references = [
        jaeger.SpanRef(
            refType=jaeger.SpanRefType.FOLLOWS_FROM,
            traceIdLow=_ids(link.trace_id)[0],
            traceIdHigh=_ids(link.trace_id)[1],
            spanId=_signed(int(link.span_id, 16)),
        )
        for link in span.links
    ]
    logs = [
        jaeger.Log(
            timestamp=event.time_ns // 1000,
            fields=[_tag("event", event.name), *(_tag(k, v) for k, v in event.attributes.items())],
        )
        for event in span.events
    ]
    return jaeger.Span(
        traceIdLow=low,
        traceIdHigh=high,
        spanId=_signed(int(span.span_id, 16)),
        parentSpanId=_signed(int(span.parent_span_id, 16)) if span.parent_span_id else 0,
        operationName=span.name,
        references=references,
        flags=1,
        startTime=span.start_ns // 1000,
        duration=max(1, (span.end_ns - span.start_ns) // 1000),
        tags=tags,
        logs=logs,
    )


def encode_jaeger_batch(spans: list[Span]) -> bytes:
    """One Batch; the process is the first span's resource (a Jaeger batch has one process)."""
    jaeger = _idl()
    resource = spans[0].resource if spans else {}
    process = jaeger.Process(
        serviceName=str(resource.get("service.name", "unknown")),
        tags=[_tag(k, v) for k, v in resource.items() if k != "service.name"],
    )
    batch = jaeger.Batch(process=process, spans=[_span(span) for span in spans])
    return serialize(batch, TBinaryProtocolFactory())
