"""The OpenTelemetry Python SDK as a load generator, for comparison: traces shaped like tracestack's web
requests (a root with 3 children with 3 children each: 13 spans, 8 attributes of 24 characters), exported
over OTLP gRPC by the BatchSpanProcessor.

Usage: python benchmarks/sdk_generator.py HOST:PORT SECONDS [SPANS_PER_SECOND]   (0 or absent: unthrottled)
Prints the number of spans it created.
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SPANS_PER_TRACE = 13


def main() -> None:
    target, seconds = sys.argv[1], float(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-generator"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=target, insecure=True), max_queue_size=65536, max_export_batch_size=512
        )
    )
    tracer = provider.get_tracer("benchmark")
    attributes = {f"tracestack.attr.{n}": "x" * 24 for n in range(8)}
    spans, started = 0, time.monotonic()
    while (now := time.monotonic()) < started + seconds:
        if rate and spans / rate > now - started:  # ahead of the asked rate: wait for it
            time.sleep(min(spans / rate - (now - started), 0.05))
            continue
        with tracer.start_as_current_span("op-0", attributes=attributes):
            for _ in range(3):
                with tracer.start_as_current_span("op-1", attributes=attributes):
                    for _ in range(3):
                        with tracer.start_as_current_span("op-2", attributes=attributes):
                            pass
        spans += SPANS_PER_TRACE
    provider.shutdown()
    print(spans)


if __name__ == "__main__":
    main()
