"""pytest-benchmark: the cost of one request's payload, stamped from a pre-encoded template vs built
from span objects and encoded, as the generator would otherwise do for every request.

Run: python -m pytest benchmarks/test_payload_benchmark.py --benchmark-only
(bytes and spans per second per core = the request's size / the mean time shown).
"""

from pytest_tracestack.load.payloads import DEFAULT_MIX, PayloadSource, build_request
from pytest_tracestack.traces.otlp import from_protobuf_bytes, to_export_request
from pytest_tracestack.traffic.trace_shapes import build_trace

TRACES = 10
TEMPLATE = build_request(TRACES)


def test_stamp_a_request_of_ten_traces(benchmark) -> None:
    source = PayloadSource(traces_per_request=TRACES)
    payload = benchmark(source.next)
    benchmark.extra_info.update(bytes=len(payload), spans=source.spans_per_request)
    assert len(payload) == source.bytes_per_request and len(from_protobuf_bytes(payload)) == source.spans_per_request


def test_build_and_encode_a_request_of_ten_traces(benchmark) -> None:
    def build() -> bytes:
        spans = [
            span
            for n in range(TRACES)
            for span in build_trace(DEFAULT_MIX[n % len(DEFAULT_MIX)], service_name="tracestack-load", rng_seed=1 + n)
        ]
        return to_export_request(spans).SerializeToString()

    payload = benchmark(build)
    benchmark.extra_info.update(bytes=len(payload), spans=TEMPLATE.spans)
    # one ResourceSpans for all ten traces here (an SDK groups by resource), one per trace in the template
    assert len(from_protobuf_bytes(payload)) == TEMPLATE.spans
