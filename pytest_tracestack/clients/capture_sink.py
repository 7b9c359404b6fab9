"""The capture sink: a real OTLP gRPC and HTTP server that records every span it receives.

It stands where a backend would in the ``collector`` profile, so a check can compare what a collector
pipeline emits with what was sent. It can also be told to refuse the next requests, for fault tests.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from pytest_tracestack.deadlines import Deadline
from pytest_tracestack.traces.model import Span, Trace, group_by_trace
from pytest_tracestack.traces.otlp import OtlpDecodeError, from_otlp_http_json, from_resource_spans

_GRPC_TO_HTTP = {"UNAVAILABLE": 503, "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "INVALID_ARGUMENT": 400}


@dataclass
class _Store:
    """Spans and byte counts, guarded by one condition so waiters wake when spans arrive."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    spans: list[Span] = field(default_factory=list)
    received_bytes: dict[str, int] = field(default_factory=lambda: {"otlp-grpc": 0, "otlp-http": 0})
    request_count: int = 0
    failures_left: int = 0
    failure_code: str = "UNAVAILABLE"
    keep_spans: bool = True  # off during load runs: count spans and bytes only
    span_count: int = 0

    def take_failure(self) -> tuple[str, str] | None:
        """The gRPC status name and message to refuse the next request with, if told to."""
        with self.condition:
            if self.failures_left <= 0:
                return None
            self.failures_left -= 1
            return self.failure_code, f"capture sink told to fail with {self.failure_code}"

    def add_request(self, protocol: str, payload_size: int, request) -> None:
        """An OTLP request: decoded into spans only when they are kept (decoding is the costly part)."""
        if self.keep_spans:
            return self.add(protocol, payload_size, from_resource_spans(request.resource_spans))
        count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        with self.condition:
            self.span_count += count
            self.received_bytes[protocol] += payload_size
            self.request_count += 1
            self.condition.notify_all()

    def add(self, protocol: str, payload_size: int, spans: list[Span]) -> None:
        with self.condition:
            self.span_count += len(spans)
            if self.keep_spans:
                self.spans.extend(spans)
            self.received_bytes[protocol] += payload_size
            self.request_count += 1
            self.condition.notify_all()


def _parse_request(body: bytes) -> trace_service_pb2.ExportTraceServiceRequest:
    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as error:  # protobuf's DecodeError
        raise OtlpDecodeError(f"not an OTLP protobuf ExportTraceServiceRequest: {error}") from error
    return request


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, store: _Store) -> None:
        self.store = store

    def Export(self, request, context):  # noqa: N802 (the generated servicer's name)
        failure = self.store.take_failure()
        if failure:
            context.abort(getattr(grpc.StatusCode, failure[0]), failure[1])
        self.store.add_request("otlp-grpc", request.ByteSize(), request)
        return trace_service_pb2.ExportTraceServiceResponse()


class AnsweringHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 handler that answers with a body of known length and logs nothing (pytest's output stays clean)."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        return


def _http_handler(store: _Store) -> type[BaseHTTPRequestHandler]:
    class Handler(AnsweringHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/traces":
                return self._answer(404, b"only /v1/traces is served")
            failure = store.take_failure()
            if failure:
                return self._answer(_GRPC_TO_HTTP.get(failure[0], 503), failure[1].encode())
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                if content_type == "application/json":
                    store.add("otlp-http", len(body), from_otlp_http_json(body))
                else:
                    store.add_request("otlp-http", len(body), _parse_request(body))
            except OtlpDecodeError as error:
                return self._answer(400, str(error).encode())
            empty = trace_service_pb2.ExportTraceServiceResponse()
            if content_type == "application/json":
                return self._answer(200, b"{}", "application/json")
            return self._answer(200, empty.SerializeToString(), "application/x-protobuf")

    return Handler


class CaptureSink:
    """OTLP receiver that keeps what it gets. ``grpc_port``/``http_port`` 0 picks free ports."""

    def __init__(self, host: str = "127.0.0.1", grpc_port: int = 0, http_port: int = 0) -> None:
        self.host = host
        self._store = _Store()
        self._grpc_port, self._http_port = grpc_port, http_port
        self._grpc: grpc.Server | None = None
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> CaptureSink:
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024), ("grpc.so_reuseport", 0)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self._store), self._grpc)
        try:
            bound = self._grpc.add_insecure_port(f"{self.host}:{self._grpc_port}")
        except RuntimeError:  # grpcio raises instead of returning 0 in recent versions
            bound = 0
        if bound == 0:
            raise OSError(f"capture sink cannot listen on {self.host}:{self._grpc_port} (gRPC): address in use?")
        self._grpc_port = bound
        self._grpc.start()
        try:
            self._http = ThreadingHTTPServer((self.host, self._http_port), _http_handler(self._store))
        except OSError:
            self._grpc.stop(grace=None)
            raise
        self._http.daemon_threads = True
        self._http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="capture-sink-http", daemon=True)
        self._http_thread.start()
        return self

    def stop(self, grace_s: float = 2.0) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=grace_s).wait(grace_s + 1)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> CaptureSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- where to send --------------------------------------------------------------------------

    @property
    def grpc_endpoint(self) -> str:
        return f"{self.host}:{self._grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://{self.host}:{self._http_port}"

    # --- what arrived ---------------------------------------------------------------------------

    def spans(self) -> list[Span]:
        with self._store.condition:
            return list(self._store.spans)

    def spans_for(self, trace_id: str) -> list[Span]:
        return [span for span in self.spans() if span.trace_id == trace_id]

    def traces(self) -> dict[str, Trace]:
        return group_by_trace(self.spans())

    @property
    def received_bytes(self) -> dict[str, int]:
        with self._store.condition:
            return dict(self._store.received_bytes)

    @property
    def keep_spans(self) -> bool:
        return self._store.keep_spans

    @keep_spans.setter
    def keep_spans(self, keep: bool) -> None:
        with self._store.condition:
            self._store.keep_spans = keep

    @property
    def span_count(self) -> int:
        """Every span received, kept or not."""
        with self._store.condition:
            return self._store.span_count

    @property
    def request_count(self) -> int:
        with self._store.condition:
            return self._store.request_count

    def wait_for_spans(self, trace_id: str, count: int, timeout: float) -> tuple[list[Span], float]:
        """Wait until ``count`` spans of ``trace_id`` arrived or ``timeout`` passed; returns them and the wait."""
        deadline = Deadline(timeout)
        with self._store.condition:
            while True:
                found = [span for span in self._store.spans if span.trace_id == trace_id]
                if len(found) >= count or deadline.expired():
                    return found, deadline.elapsed()
                self._store.condition.wait(deadline.remaining())

    def clear(self) -> None:
        with self._store.condition:
            self._store.spans.clear()
            self._store.received_bytes = {"otlp-grpc": 0, "otlp-http": 0}
            self._store.request_count = 0
            self._store.span_count = 0

    def fail_next(self, count: int, code: str = "UNAVAILABLE") -> None:
        """Refuse the next ``count`` requests with a gRPC status (HTTP gets the matching status code)."""
        if not hasattr(grpc.StatusCode, code):
            raise ValueError(f"{code!r} is not a gRPC status code name (e.g. UNAVAILABLE, RESOURCE_EXHAUSTED)")
        with self._store.condition:
            self._store.failures_left, self._store.failure_code = count, code
