"""Load: pre-encoded requests with stamped ids decode to fresh, intact traces."""

from __future__ import annotations

from collections import Counter

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pytest_tracestack.load.payloads import DEFAULT_MIX, PayloadSource, build_request
from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import from_protobuf_bytes


def _by_trace(spans: list[Span]) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces


def test_a_stamped_request_decodes_to_fresh_traces_with_intact_parent_links() -> None:
    template = build_request(traces_per_request=4)
    original = from_protobuf_bytes(template.data)
    first, second = from_protobuf_bytes(template.stamp()), from_protobuf_bytes(template.stamp())
    assert len(first) == len(second) == len(original) == template.spans
    traces = _by_trace(first)
    assert len(traces) == template.traces == 4
    assert not set(traces) & set(_by_trace(second)) and not set(traces) & set(_by_trace(original))
    assert len({span.span_id for span in first + second}) == 2 * template.spans
    for spans in traces.values():
        ids = {span.span_id for span in spans}
        assert sum(1 for span in spans if not span.parent_span_id) == 1
        assert all(span.parent_span_id in ids for span in spans if span.parent_span_id)


def test_stamping_changes_only_the_ids() -> None:
    template = build_request(traces_per_request=3)
    stamped, original = from_protobuf_bytes(template.stamp()), from_protobuf_bytes(template.data)

    def without_ids(span: Span) -> tuple:
        return (
            span.name,
            span.kind,
            span.start_ns,
            span.end_ns,
            tuple(span.attributes.items()),
            span.resource,
            span.status_code,
            span.events,
            span.links,
        )

    assert [without_ids(s) for s in stamped] == [without_ids(s) for s in original]
    # the tree's structure is kept: a span's parent is the stamped counterpart of its original parent
    position = {span.span_id: n for n, span in enumerate(stamped)}
    original_position = {span.span_id: n for n, span in enumerate(original)}
    assert [position.get(s.parent_span_id) for s in stamped] == [
        original_position.get(s.parent_span_id) for s in original
    ]


def test_a_request_cycles_through_the_mix_of_shapes() -> None:
    template = build_request(traces_per_request=len(DEFAULT_MIX))
    sizes = sorted(len(spans) for spans in _by_trace(from_protobuf_bytes(template.stamp())).values())
    assert sizes == sorted(shape.span_count for shape in DEFAULT_MIX)
    spans = from_protobuf_bytes(template.data)
    assert any(span.events for span in spans) and any(span.links for span in spans)
    assert any("http.route" in span.attributes for span in spans) and any(span.status_code == 2 for span in spans)


def test_one_resource_spans_per_trace_in_the_wire_message() -> None:
    template = build_request(traces_per_request=5)
    request = ExportTraceServiceRequest.FromString(template.stamp())
    assert len(request.resource_spans) == 5
    assert Counter(len(rs.scope_spans[0].spans) for rs in request.resource_spans) == Counter(
        len(spans) for spans in _by_trace(from_protobuf_bytes(template.data)).values()
    )


def test_the_source_re_encodes_old_templates_with_current_timestamps_and_the_same_size() -> None:
    source = PayloadSource(traces_per_request=2, refresh_s=60)
    first = from_protobuf_bytes(source.next())
    young = source.template
    source.next()
    assert source.template is young  # no re-encoding while the template is young
    source.built_at -= 120  # as if it were two minutes old
    size = source.bytes_per_request
    refreshed = from_protobuf_bytes(source.next())
    assert source.template is not young and source.bytes_per_request == size
    assert min(span.start_ns for span in refreshed) > min(span.start_ns for span in first)
