"""FAKE TEMPO JAEGER RECEIVER FOR TESTS — NOT TEMPO.

Jaeger Thrift over HTTP (``POST /api/traces``, binary protocol) as Tempo's distributor takes it on
``distributor.receivers.jaeger.protocols.thrift_http.endpoint``, turned into spans by the rules of the collector's
Jaeger translator (contrib pkg/translator/jaeger, which Tempo embeds): the process is the resource, ``span.kind``,
``error``, ``otel.status_code`` and ``otel.status_description`` tags become kind and status, logs become events
(``event`` field as the name), references other than the parent become links whose only attribute is
``opentracing.ref_type``, and there is no instrumentation scope. It lets the Jaeger profiles' paths run where Tempo
cannot; the losses a real receiver makes were measured on the real collector (tests/test_diff.py), not here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.utils import deserialize

from pytest_tracestack.traces.model import Event, Link, Span, SpanKind
from pytest_tracestack.traffic.jaeger import _idl

_KINDS = {kind.name.lower(): int(kind) for kind in SpanKind if kind != SpanKind.UNSPECIFIED}
_STATUS = {"OK": 1, "ERROR": 2}


def _value(tag):
    return {0: tag.vStr, 1: tag.vDouble, 2: tag.vBool, 3: tag.vLong, 4: tag.vBinary}[tag.vType]


def _hex(value: int, size: int) -> str:
    return (value % (1 << (8 * size))).to_bytes(size, "big").hex()


def _span(jaeger_span, resource: dict) -> Span:
    attributes = {tag.key: _value(tag) for tag in jaeger_span.tags or []}
    kind = _KINDS.get(attributes.pop("span.kind", None), 0)
    status, message = 0, ""
    if attributes.get("error") is True:
        status, message = 2, attributes.pop("otel.status_description", "")
        attributes.pop("error")
    if "otel.status_code" in attributes:
        code = str(attributes.pop("otel.status_code")).upper()
        if status == 0:
            status, message = _STATUS.get(code, 0), attributes.pop("otel.status_description", "")
    trace_id = _hex(jaeger_span.traceIdHigh, 8) + _hex(jaeger_span.traceIdLow, 8)
    parent = _hex(jaeger_span.parentSpanId, 8) if jaeger_span.parentSpanId else ""
    events = []
    for log in jaeger_span.logs or []:
        fields = {tag.key: _value(tag) for tag in log.fields or []}
        events.append(Event(str(fields.pop("event", "")), log.timestamp * 1000, fields))
    links = tuple(
        Link(
            _hex(ref.traceIdHigh, 8) + _hex(ref.traceIdLow, 8),
            _hex(ref.spanId, 8),
            {"opentracing.ref_type": "child_of" if ref.refType == 0 else "follows_from"},
        )
        for ref in jaeger_span.references or []
        if _hex(ref.spanId, 8) != parent
    )
    start = jaeger_span.startTime * 1000
    return Span(
        trace_id=trace_id,
        span_id=_hex(jaeger_span.spanId, 8),
        name=jaeger_span.operationName,
        parent_span_id=parent,
        kind=kind,
        start_ns=start,
        end_ns=start + jaeger_span.duration * 1000,
        attributes=attributes,
        resource=resource,
        status_code=status,
        status_message=message,
        events=tuple(events),
        links=links,
    )


def spans_from_batch(body: bytes) -> list[Span]:
    batch = deserialize(_idl().Batch(), body, TBinaryProtocolFactory())
    resource = {"service.name": batch.process.serviceName, **{tag.key: _value(tag) for tag in batch.process.tags or []}}
    return [_span(span, resource) for span in batch.spans or []]


class JaegerReceiverForTests:
    """FAKE TEMPO JAEGER RECEIVER FOR TESTS — NOT TEMPO. ``accept`` stores the spans; ``refusal`` says why a push is
    refused (503), as the double's OTLP receivers refuse while a single binary cannot reach its ingester."""

    def __init__(
        self, endpoint: str, accept: Callable[[list[Span]], None], refusal: Callable[[], str | None] = lambda: None
    ) -> None:
        host, port = endpoint.rsplit(":", 1)
        self.server = ThreadingHTTPServer((host, int(port)), self._handler(accept, refusal))
        self.server.daemon_threads = True

    def start(self) -> JaegerReceiverForTests:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _handler(accept, refusal) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reason = refusal()
                if self.path != "/api/traces":
                    return self.reply(404, b"404 page not found\n")
                if reason:
                    return self.reply(503, reason.encode())
                try:
                    spans = spans_from_batch(body)
                except Exception as error:  # what a malformed batch gets: 400 with the decoder's words
                    return self.reply(400, f"Unable to process request body: {error}\n".encode())
                accept(spans)
                self.reply(202, b"")

            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return

        return Handler
