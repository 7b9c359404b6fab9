"""pytest-benchmark: the cost of one request's payload, stamped from a template vs built and encoded.

Run: python -m pytest benchmarks/test_payload_benchmark.py --benchmark-only
"""

from pytest_tracestack.load.payloads import DEFAULT_SHAPE, make_template
from pytest_tracestack.otlp import to_export_request
from pytest_tracestack.traffic.shapes import build_trace

TEMPLATES = make_template(traces_per_request=10)


def test_stamp_a_request_of_ten_traces(benchmark):
    payload = benchmark(lambda: b"".join(template.stamp() for template in TEMPLATES))
    assert len(payload) == sum(len(t.data) for t in TEMPLATES)


def test_build_and_encode_a_request_of_ten_traces(benchmark):
    def build():
        spans = [span for n in range(10) for span in build_trace(DEFAULT_SHAPE, service_name="bench", rng_seed=n)]
        return to_export_request(spans).SerializeToString()

    assert len(benchmark(build)) > 0
