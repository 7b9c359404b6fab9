"""TEMPO'S RATE-LIMIT ANSWERS, FOR TESTS — NOT TEMPO.

A test double of one Tempo 2.10.8 distributor's ingestion limit, so a load run past the limit can be driven
on a machine without Tempo. It listens for OTLP gRPC and OTLP/HTTP, keeps a per-tenant token bucket
(``rate_limit_bytes`` refilled per second, ``burst_size_bytes`` deep) and, past it, answers exactly what a real
distributor answered (tests/recorded/tempo-2.10.8/rate-limited.txt): gRPC ``RESOURCE_EXHAUSTED`` with the
``RATE_LIMITED: ...`` details, or HTTP 429 with a protobuf google.rpc.Status carrying the same message; a request
larger than the burst gets the "batch size" form. Its HTTP port serves /metrics with the counters a real
distributor exposes for this (``tempo_distributor_bytes_received_total`` after the limit,
``tempo_distributor_ingress_bytes_total`` before it, ``tempo_distributor_spans_received_total``,
``tempo_discarded_spans_total{reason}``, ``tempo_limits_defaults``). Accepted spans are counted and dropped.
It proves nothing about Tempo itself and must never be used outside the project's own tests.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pytest_tracestack.clients.capture_sink import AnsweringHandler

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TENANT = "single-tenant"
REASONS = ("live_traces_exceeded", "rate_limited", "trace_too_large", "unknown_error")


@dataclass
class TempoRateLimitForTests:
    """TEMPO'S RATE-LIMIT ANSWERS, FOR TESTS — NOT TEMPO. See the module docstring."""

    rate_limit_bytes: int = 1_000_000
    burst_size_bytes: int = 1_000_000
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)  # otlp-grpc, otlp-http, http: filled by start()
    counters: dict[str, float] = field(
        default_factory=lambda: {"ingress": 0, "bytes": 0, "spans": 0, "rate_limited": 0}
    )
    _tokens: float = 0.0
    _refilled_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _servers: list = field(default_factory=list)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> TempoRateLimitForTests:
        self._tokens, self._refilled_at = float(self.burst_size_bytes), time.monotonic()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "opentelemetry.proto.collector.trace.v1.TraceService",
                    {
                        "Export": grpc.unary_unary_rpc_method_handler(
                            self._grpc_export, request_deserializer=None, response_serializer=None
                        )
                    },
                )
            ]
        )
        self.ports["otlp-grpc"] = server.add_insecure_port(f"{self.host}:0")
        server.start()
        self._servers.append(server)
        for name in ("otlp-http", "http"):
            http = ThreadingHTTPServer((self.host, 0), _handler(self))
            http.daemon_threads = True
            threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self.ports[name] = http.server_address[1]
            self._servers.append(http)
        return self

    def stop(self) -> None:
        for server in self._servers:
            if isinstance(server, ThreadingHTTPServer):
                server.shutdown()
                server.server_close()
            else:
                server.stop(grace=None).wait(2)
        self._servers.clear()

    def __enter__(self) -> TempoRateLimitForTests:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the distributor's limit --------------------------------------------------------------

    def admit(self, payload: bytes) -> str | None:
        """None when the request is within the limit, else Tempo's RATE_LIMITED message for it."""
        size = len(payload)
        spans = sum(
            len(scope.spans)
            for resource in ExportTraceServiceRequest.FromString(payload).resource_spans
            for scope in resource.scope_spans
        )
        limits = f"(local: {self.rate_limit_bytes} bytes/s, global: 0 bytes/s, burst: {self.burst_size_bytes} bytes)"
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst_size_bytes, self._tokens + (now - self._refilled_at) * self.rate_limit_bytes)
            self._refilled_at = now
            self.counters["ingress"] += size
            if size > self.burst_size_bytes:
                message = (
                    f"RATE_LIMITED: batch size ({size} bytes) exceeds ingestion limit {limits} while adding "
                    f"{size} bytes for user {TENANT}. consider reducing batch size or increasing rate limit."
                )
            elif size > self._tokens:
                message = (
                    f"RATE_LIMITED: ingestion rate limit {limits} exceeded while adding {size} bytes for user "
                    f"{TENANT}. consider increasing the limit or reducing ingestion rate."
                )
            else:
                self._tokens -= size
                self.counters["bytes"] += size
                self.counters["spans"] += spans
                return None
            self.counters["rate_limited"] += spans
            return message

    def _grpc_export(self, payload: bytes, context: grpc.ServicerContext) -> bytes:
        refusal = self.admit(payload)
        if refusal:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        return ExportTraceServiceResponse().SerializeToString()

    def metrics_text(self) -> str:
        with self._lock:
            counters = dict(self.counters)
        lines = [
            f'tempo_distributor_ingress_bytes_total{{tenant="{TENANT}"}} {counters["ingress"]}',
            f'tempo_distributor_bytes_received_total{{tenant="{TENANT}"}} {counters["bytes"]}',
            f'tempo_distributor_spans_received_total{{tenant="{TENANT}"}} {counters["spans"]}',
        ]
        lines += [
            f'tempo_discarded_spans_total{{reason="{reason}",tenant="{TENANT}"}} '
            f"{counters['rate_limited'] if reason == 'rate_limited' else 0}"
            for reason in REASONS
        ]
        lines += [
            f'tempo_limits_defaults{{limit_name="ingestion_burst_size_bytes"}} {self.burst_size_bytes}',
            f'tempo_limits_defaults{{limit_name="ingestion_rate_limit_bytes"}} {self.rate_limit_bytes}',
        ]
        return "\n".join(lines) + "\n"


def _handler(double: TempoRateLimitForTests) -> type[BaseHTTPRequestHandler]:
    class Handler(AnsweringHandler):
        def do_POST(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            refusal = double.admit(payload)
            if refusal:
                status = Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message=refusal)
                return self._answer(429, status.SerializeToString(), "application/x-protobuf")
            self._answer(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        def do_GET(self) -> None:  # noqa: N802
            self._answer(200, double.metrics_text().encode(), "text/plain; version=0.0.4")

    return Handler
