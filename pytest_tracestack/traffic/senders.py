"""Send spans over every ingest protocol and say what the server acknowledged.

A refused connection is an answer (``status="REFUSED"``), not an exception, so a check can prove a
receiver is closed with the same call it uses to prove one is open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import to_export_request, to_otlp_http_json
from pytest_tracestack.traffic.jaeger import encode_jaeger_batch
from pytest_tracestack.traffic.zipkin import encode_zipkin_json


@dataclass(frozen=True)
class SendResult:
    protocol: str
    ok: bool
    status: str  # "OK", a gRPC status name, "HTTP 503", "REFUSED", "TIMEOUT"
    spans_sent: int
    bytes_sent: int
    latency_s: float
    rejected_spans: int = 0  # from an OTLP partial success
    detail: str = ""


def send_otlp_grpc(spans: list[Span], target: str, timeout: float = 10.0) -> SendResult:
    request = to_export_request(spans)
    size = request.ByteSize()
    started = time.monotonic()
    with grpc.insecure_channel(target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            response = stub.Export(request, timeout=timeout)
        except grpc.RpcError as error:
            return _grpc_failure(error, len(spans), size, time.monotonic() - started)
    rejected = response.partial_success.rejected_spans
    return SendResult(
        "otlp-grpc",
        rejected == 0,
        "OK",
        len(spans),
        size,
        time.monotonic() - started,
        rejected,
        response.partial_success.error_message,
    )


def _grpc_failure(error: grpc.RpcError, count: int, size: int, latency: float) -> SendResult:
    code = error.code()
    details = error.details() or ""
    status = code.name
    # grpc reports a closed port as UNAVAILABLE; tell it apart from a server that answered UNAVAILABLE.
    if code == grpc.StatusCode.UNAVAILABLE and ("Connection refused" in details or "connect" in details.lower()):
        status = "REFUSED"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        status = "TIMEOUT"
    return SendResult("otlp-grpc", False, status, count, size, latency, detail=details)


def send_otlp_http(spans: list[Span], url: str, timeout: float = 10.0) -> SendResult:
    body = to_export_request(spans).SerializeToString()
    return _post("otlp-http", url, body, "application/x-protobuf", len(spans), timeout, _otlp_partial_protobuf)


def send_otlp_http_json(spans: list[Span], url: str, timeout: float = 10.0) -> SendResult:
    body = to_otlp_http_json(spans)
    return _post("otlp-http-json", url, body, "application/json", len(spans), timeout, _otlp_partial_json)


def send_zipkin(spans: list[Span], url: str, timeout: float = 10.0) -> SendResult:
    """Zipkin v2 JSON to ``/api/v2/spans``."""
    return _post("zipkin", url, encode_zipkin_json(spans), "application/json", len(spans), timeout)


def send_jaeger_thrift_http(spans: list[Span], url: str, timeout: float = 10.0) -> SendResult:
    """Jaeger Thrift (binary protocol) over HTTP to ``/api/traces``, as Jaeger clients send to 14268."""
    body = encode_jaeger_batch(spans)
    return _post("jaeger-thrift-http", url, body, "application/x-thrift", len(spans), timeout)


def _post(
    protocol: str,
    url: str,
    body: bytes,
    content_type: str,
    count: int,
    timeout: float,
    partial: Callable[[httpx.Response], tuple[int, str]] | None = None,
) -> SendResult:
    started = time.monotonic()
    try:
        response = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=timeout)
    except httpx.ConnectError as error:
        return SendResult(protocol, False, "REFUSED", count, len(body), time.monotonic() - started, detail=str(error))
    except httpx.TimeoutException as error:
        return SendResult(protocol, False, "TIMEOUT", count, len(body), time.monotonic() - started, detail=str(error))
    latency = time.monotonic() - started
    if response.status_code // 100 != 2:
        return SendResult(
            protocol, False, f"HTTP {response.status_code}", count, len(body), latency, detail=response.text[:300]
        )
    rejected, message = partial(response) if partial else (0, "")
    return SendResult(protocol, rejected == 0, "OK", count, len(body), latency, rejected, message)


def _otlp_partial_protobuf(response: httpx.Response) -> tuple[int, str]:
    parsed = trace_service_pb2.ExportTraceServiceResponse()
    try:
        parsed.ParseFromString(response.content)
    except Exception:  # a 2xx body that is not OTLP: nothing was reported as rejected
        return 0, ""
    return parsed.partial_success.rejected_spans, parsed.partial_success.error_message


def _otlp_partial_json(response: httpx.Response) -> tuple[int, str]:
    try:
        partial = (response.json() or {}).get("partialSuccess") or {}
    except ValueError:
        return 0, ""
    return int(partial.get("rejectedSpans") or 0), partial.get("errorMessage", "")


SENDERS: dict[str, Callable[[list[Span], str, float], SendResult]] = {
    "otlp-grpc": send_otlp_grpc,
    "otlp-http": send_otlp_http,
    "otlp-http-json": send_otlp_http_json,
    "zipkin": send_zipkin,
    "jaeger-thrift-http": send_jaeger_thrift_http,
}


def send(protocol: str, spans: list[Span], target: str, timeout: float = 10.0) -> SendResult:
    """Send over a profile protocol; ``target`` is ``host:port`` for gRPC, a URL otherwise."""
    if protocol not in SENDERS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(SENDERS)}")
    return SENDERS[protocol](spans, target, timeout)
