"""The OpenTelemetry Python SDK as a load generator, for comparison: traces of the same shape as
tracestack's (13 spans, 8 attributes each), exported over OTLP gRPC by the BatchSpanProcessor.

Usage: python benchmarks/sdk_generator.py HOST:PORT SECONDS   (prints the number of spans created)
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

target, seconds = sys.argv[1], float(sys.argv[2])
provider = TracerProvider(resource=Resource.create({"service.name": "sdk-generator"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=target, insecure=True),
                                               max_queue_size=65536, max_export_batch_size=512))
tracer = provider.get_tracer("benchmark")
attributes = {f"tracestack.attr.{n}": "x" * 24 for n in range(8)}
spans, deadline = 0, time.monotonic() + seconds
while time.monotonic() < deadline:
    with tracer.start_as_current_span("op-0", attributes=attributes):
        for _ in range(3):
            with tracer.start_as_current_span("op-1", attributes=attributes):
                for _ in range(3):
                    with tracer.start_as_current_span("op-2", attributes=attributes):
                        pass
    spans += 13
provider.shutdown()
print(spans)
