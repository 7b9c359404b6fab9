"""The one span-kind enum has OTLP's values and names (the protobuf's own enum is the reference), and the
Zipkin and Jaeger encodings say every kind but INTERNAL by its name."""

from __future__ import annotations

import thriftpy2
from opentelemetry.proto.trace.v1 import trace_pb2
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import deserialize

from pytest_tracestack.traces.model import Span, SpanKind
from pytest_tracestack.traffic.jaeger import IDL, encode_jaeger_batch
from pytest_tracestack.traffic.zipkin import to_zipkin

NAMED = {
    SpanKind.SERVER: "SERVER",
    SpanKind.CLIENT: "CLIENT",
    SpanKind.PRODUCER: "PRODUCER",
    SpanKind.CONSUMER: "CONSUMER",
}


def _span(kind: int) -> Span:
    return Span("a" * 32, "b" * 16, "op", kind=kind)


def test_span_kind_is_otlps_span_kind() -> None:
    assert {f"SPAN_KIND_{kind.name}": kind.value for kind in SpanKind} == dict(trace_pb2.Span.SpanKind.items())


def test_a_kind_newer_than_the_enum_shows_as_its_number() -> None:
    assert (SpanKind.name_of(2), SpanKind.name_of(9)) == ("SERVER", "9")


def test_zipkin_names_every_kind_but_internal() -> None:
    kinds = {kind: to_zipkin(_span(kind)).get("kind") for kind in SpanKind}
    assert {kind: name for kind, name in kinds.items() if name} == NAMED


def test_jaeger_tags_every_kind_but_internal_in_lower_case() -> None:
    idl = thriftpy2.load(str(IDL), module_name="jaeger_kind_test_thrift")
    batch = deserialize(idl.Batch(), encode_jaeger_batch([_span(kind) for kind in SpanKind]), TBinaryProtocolFactory())
    tags = [{tag.key: tag.vStr for tag in span.tags}.get("span.kind") for span in batch.spans]
    assert {kind: tag for kind, tag in zip(SpanKind, tags, strict=True) if tag} == {
        kind: name.lower() for kind, name in NAMED.items()
    }
