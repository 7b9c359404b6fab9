"""The capture sink is a real OTLP server: gRPC and HTTP (protobuf and JSON), failures on demand."""

from __future__ import annotations

import httpx
import pytest

from pytest_tracestack.clients.capture_sink import CaptureSink
from pytest_tracestack.traces.otlp import to_export_request, to_otlp_http_json
from pytest_tracestack.traffic.senders import send
from pytest_tracestack.traffic.trace_shapes import WIDE, build_trace


@pytest.fixture
def sink():
    with CaptureSink("127.0.0.1") as running:
        yield running


@pytest.mark.parametrize("protocol", ["otlp-grpc", "otlp-http", "otlp-http-json"])
def test_spans_arrive_intact_over_each_protocol(sink: CaptureSink, protocol: str) -> None:
    spans = build_trace(WIDE, service_name="sink-test", rng_seed=7)
    target = sink.grpc_endpoint if protocol == "otlp-grpc" else sink.http_endpoint + "/v1/traces"
    result = send(protocol, spans, target)
    assert result.ok and result.status == "OK"
    received, waited = sink.wait_for_spans(spans[0].trace_id, len(spans), timeout=5)
    assert sorted(received, key=lambda s: s.span_id) == sorted(spans, key=lambda s: s.span_id)
    assert waited < 5


def test_bytes_spans_and_requests_are_counted_and_cleared(sink: CaptureSink) -> None:
    spans = build_trace(WIDE, service_name="count", rng_seed=1)
    send("otlp-grpc", spans, sink.grpc_endpoint)
    httpx.post(
        sink.http_endpoint + "/v1/traces",
        content=to_otlp_http_json(spans),
        headers={"Content-Type": "application/json"},
    )
    assert sink.received_bytes["otlp-grpc"] == to_export_request(spans).ByteSize()
    assert sink.received_bytes["otlp-http"] == len(to_otlp_http_json(spans))
    assert (sink.request_count, sink.span_count) == (2, 2 * len(spans))
    sink.clear()
    assert (sink.request_count, sink.span_count, sum(sink.received_bytes.values()), sink.spans()) == (0, 0, 0, [])


def test_counting_only_mode_keeps_no_spans(sink: CaptureSink) -> None:
    sink.keep_spans = False
    spans = build_trace(WIDE, service_name="count-only", rng_seed=2)
    send("otlp-grpc", spans, sink.grpc_endpoint)
    assert sink.span_count == len(spans) and sink.spans() == []


def test_told_to_fail_it_refuses_with_the_status_then_recovers(sink: CaptureSink) -> None:
    spans = build_trace(WIDE, service_name="fail", rng_seed=3)
    sink.fail_next(2, "RESOURCE_EXHAUSTED")
    assert send("otlp-grpc", spans, sink.grpc_endpoint).status == "RESOURCE_EXHAUSTED"
    assert send("otlp-http", spans, sink.http_endpoint + "/v1/traces").status == "HTTP 429"
    assert send("otlp-grpc", spans, sink.grpc_endpoint).ok
    with pytest.raises(ValueError, match="not a gRPC status code name"):
        sink.fail_next(1, "NOPE")


def test_a_malformed_body_is_a_400_naming_the_problem(sink: CaptureSink) -> None:
    response = httpx.post(
        sink.http_endpoint + "/v1/traces", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "not JSON" in response.text


def test_a_taken_port_is_an_error_naming_the_address(sink: CaptureSink) -> None:
    host, port = sink.grpc_endpoint.rsplit(":", 1)
    with pytest.raises(OSError, match=f"cannot listen on {host}:{port}"):
        CaptureSink(host, int(port), 0).start()


def test_closed_receivers_answer_refused_for_every_sender() -> None:
    spans = build_trace(WIDE, service_name="closed", rng_seed=4)
    for protocol, target in [
        ("otlp-grpc", "127.0.0.1:9"),
        ("otlp-http", "http://127.0.0.1:9/v1/traces"),
        ("zipkin", "http://127.0.0.1:9/api/v2/spans"),
        ("jaeger-thrift-http", "http://127.0.0.1:9/api/traces"),
    ]:
        assert send(protocol, spans, target).status == "REFUSED", protocol
