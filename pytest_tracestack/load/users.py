"""Locust users that push pre-encoded OTLP payloads (import only from a locustfile: Locust patches the
process with gevent on import). Each request carries ``TRACESTACK_TRACES_PER_REQUEST`` fresh traces."""

from __future__ import annotations

import os
import time

from locust import FastHttpUser, User, constant_throughput, events, task

from .payloads import make_template
from .rates import parse_rate

TRACES_PER_REQUEST = int(os.environ.get("TRACESTACK_TRACES_PER_REQUEST", "10"))
_TEMPLATES = make_template(traces_per_request=TRACES_PER_REQUEST)
PAYLOAD_BYTES = sum(len(t.data) for t in _TEMPLATES)
SPANS_PER_REQUEST = sum(t.spans for t in _TEMPLATES)


class Refused(Exception):
    """The receiver answered but did not accept: RESOURCE_EXHAUSTED, UNAVAILABLE, HTTP 429/503, ..."""


def next_payload() -> bytes:
    # Concatenated protobuf messages merge: K stamped traces make one request with K ResourceSpans.
    return b"".join(template.stamp() for template in _TEMPLATES)


def requests_per_second(environment) -> float:
    """The whole run's target rate in requests/s, from TRACESTACK_LOAD_RATE (bytes or spans per second)."""
    rate = parse_rate(os.environ.get("TRACESTACK_LOAD_RATE", "1MB/s"))
    per_request = PAYLOAD_BYTES if rate.unit == "bytes" else SPANS_PER_REQUEST
    return rate.value / per_request


class _PacedUser(User):
    abstract = True

    def wait_time(self):
        users = max(1, self.environment.runner.user_count if self.environment.runner else 1)
        return constant_throughput(requests_per_second(self.environment) / users)(self)


class OtlpGrpcUser(_PacedUser):
    """OTLP/gRPC TraceService/Export; target from --host (host:port) or TRACESTACK_OTLP_GRPC."""

    abstract = os.environ.get("TRACESTACK_LOAD_PROTOCOL", "otlp-grpc") != "otlp-grpc"

    def on_start(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        target = os.environ.get("TRACESTACK_OTLP_GRPC") or (self.host or "").removeprefix("grpc://")
        self.channel = grpc.insecure_channel(target)
        self.export = self.channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                               request_serializer=lambda payload: payload,
                                               response_deserializer=ExportTraceServiceResponse.FromString)

    def on_stop(self) -> None:
        self.channel.close()

    @task
    def export_traces(self) -> None:
        import grpc

        payload = next_payload()
        started = time.perf_counter()
        exception = None
        try:
            self.export(payload, timeout=10)
        except grpc.RpcError as error:
            exception = Refused(error.code().name)
        events.request.fire(request_type="grpc", name="otlp-grpc Export", response_time=(time.perf_counter() - started) * 1000,
                            response_length=len(payload), exception=exception, context={})


class OtlpHttpUser(_PacedUser, FastHttpUser):
    """OTLP/HTTP protobuf POST /v1/traces; target from --host or TRACESTACK_OTLP_HTTP."""

    abstract = os.environ.get("TRACESTACK_LOAD_PROTOCOL", "otlp-grpc") != "otlp-http"
    host = os.environ.get("TRACESTACK_OTLP_HTTP")

    @task
    def export_traces(self) -> None:
        payload = next_payload()
        with self.client.post("/v1/traces", data=payload, headers={"Content-Type": "application/x-protobuf"},
                              name="otlp-http /v1/traces", catch_response=True) as response:
            response.request_meta["response_length"] = len(payload)
            if response.status_code // 100 != 2:
                response.failure(Refused(f"HTTP {response.status_code}"))
