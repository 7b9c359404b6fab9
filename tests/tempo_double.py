"""FAKE TEMPO FOR TESTS — NOT TEMPO.

An in-process HTTP server on loopback that answers a sliver of Tempo's query API from spans a test
hands it, so the Tempo client's waiting and error paths (search lag, a trace appearing late, a Tempo
that is not ready or answers garbage) can be driven on a machine without Tempo. Its answers copy the
shapes of the responses recorded from a real Tempo 2.10.8 (tests/recorded/tempo-2.10.8); it proves nothing about
Tempo itself and must never be used outside the project's own tests.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from google.protobuf import json_format

from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import to_resource_spans

GARBAGE = b"<html><body>502 from a proxy that is not Tempo</body></html>"
NOT_READY = b"Ingester not ready: waiting for 15s after being ready\n"
# Shaped like Tempo's /api/status/buildinfo (recorded from 3.0.3: {"version":"v3.0.3","revision":...}), and
# saying what it is in the version, so no summary ever takes it for Tempo.
BUILD_INFO = {
    "version": "v2.10.8 FAKE TEMPO FOR TESTS (not Tempo)",
    "revision": "fake",
    "branch": "none",
    "buildUser": "",
    "buildDate": "",
    "goVersion": "none",
}
# `{ resource.k = "v" }`, `{ span."k" = "v" }`, `{ .k = "v" }`, joined by ||: all the double understands.
_CONDITION = re.compile(r'(resource|span)?\.("?)([\w.]+)\2\s*=\s*"([^"]*)"')


@dataclass
class Arrival:
    span: Span
    at: float  # time.monotonic() when the double received it


@dataclass
class FakeTempoForTests:
    """FAKE TEMPO FOR TESTS — NOT TEMPO. See the module docstring."""

    search_lag_s: float = 0.0  # a span is searchable this long after it arrived (Tempo: after the cut)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    garbage: bool = False  # answer every API call with an HTML page and status 200
    unavailable_next: int = 0  # answer this many next requests 503 "Ingester not ready ..."
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _arrivals: list[Arrival] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _timers: list[threading.Timer] = field(default_factory=list)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> FakeTempoForTests:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-tempo-for-tests", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTempoForTests:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- what the test controls ----------------------------------------------------------------

    def add_spans(self, spans: list[Span]) -> None:
        now = time.monotonic()
        with self._lock:
            self._arrivals.extend(Arrival(span, now) for span in spans)

    def add_spans_later(self, spans: list[Span], after_s: float) -> None:
        timer = threading.Timer(after_s, self.add_spans, args=(spans,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def take_unavailable(self) -> bool:
        with self._lock:
            if self.unavailable_next <= 0:
                return False
            self.unavailable_next -= 1
            return True

    def not_ready_reason(self) -> str | None:
        """Why ``/ready`` answers 503, or ``None`` when ready (the process double applies Tempo's rules)."""
        return None

    def arrivals(self) -> list[Arrival]:
        """Every span received so far, with when it arrived (the process double reads them from disk)."""
        with self._lock:
            return list(self._arrivals)

    # --- what it answers -----------------------------------------------------------------------

    def trace_document(self, trace_id: str) -> dict:
        return trace_document_of([a.span for a in self.arrivals() if a.span.trace_id == trace_id])

    def extra_answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str] | None:
        """(status, body, content type) for a path the process double serves beyond the query API, else None."""
        return None

    def search_document(self, conditions: list[tuple[str, str, str]], limit: int) -> dict:
        cut = time.monotonic() - self.search_lag_s
        visible = [a.span for a in self.arrivals() if a.at <= cut]
        traces: dict[str, dict] = {}
        for span in visible:
            if any(_matches(span, scope, key, value) for scope, key, value in conditions):
                traces.setdefault(span.trace_id, _search_result(span.trace_id, visible))
        return {"traces": list(traces.values())[:limit], "metrics": {"inspectedTraces": len(traces)}}


def trace_document_of(spans: list[Span]) -> dict:
    """A v2 by-id answer holding ``spans`` (``{"trace": {}}`` when there are none, as Tempo says "not found")."""
    if not spans:
        return {"trace": {}, "metrics": {}}
    resource_spans = [json_format.MessageToDict(rs) for rs in to_resource_spans(spans)]
    return {"trace": {"resourceSpans": resource_spans}, "metrics": {"inspectedBytes": "1"}}


def _matches(span: Span, scope: str, key: str, value: str) -> bool:
    places = {"resource": [span.resource], "span": [span.attributes]}.get(scope, [span.resource, span.attributes])
    return any(str(place.get(key)) == value for place in places if key in place)


def _search_result(trace_id: str, visible: list[Span]) -> dict:
    spans = [span for span in visible if span.trace_id == trace_id]
    root = next((span for span in spans if not span.parent_span_id), spans[0])
    return {
        "traceID": trace_id.lstrip("0"),
        "rootServiceName": root.service_name or "",
        "rootTraceName": root.name,
        "startTimeUnixNano": str(root.start_ns),
        "durationMs": (root.end_ns - root.start_ns) // 1_000_000,
    }


def _tag_conditions(tags: str) -> list[tuple[str, str, str]]:
    pairs = (item.split("=", 1) for item in shlex.split(tags) if "=" in item)
    return [("", key, value) for key, value in pairs]


def _handler(double: FakeTempoForTests) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
            url = urlsplit(self.path)
            double.requests.append((url.path, dict(self.headers)))
            if double.take_unavailable():
                return self.reply(503, NOT_READY, "text/plain; charset=utf-8")
            if url.path == "/ready":
                reason = double.not_ready_reason()
                if reason:
                    return self.reply(503, f"{reason}\n".encode(), "text/plain; charset=utf-8")
                return self.reply(200, b"ready\n", "text/plain; charset=utf-8")
            if double.garbage:
                return self.reply(200, GARBAGE, "text/html")
            self.route(url.path, parse_qs(url.query))

        do_POST = do_GET  # noqa: N815 (an ingester's /flush takes POST)

        def route(self, path: str, query: dict[str, list[str]]) -> None:
            if path == "/api/echo":
                return self.reply(200, b"echo\n", "text/plain; charset=utf-8")
            if path == "/api/status/buildinfo":
                return self.reply_json(BUILD_INFO)
            if path.startswith("/api/v2/traces/"):
                return self.trace(path.rsplit("/", 1)[1])
            if path == "/api/search":
                return self.search(query)
            answer = double.extra_answer(path, query)
            if answer is not None:
                return self.reply(*answer)
            self.reply(404, b"404 page not found\n", "text/plain; charset=utf-8")

        def trace(self, trace_id: str) -> None:
            if not re.fullmatch(r"[0-9a-fA-F]{1,32}", trace_id):
                return self.reply(400, b"trace IDs can only contain hex characters", "text/plain; charset=utf-8")
            self.reply_json(double.trace_document(trace_id.lower().rjust(32, "0")))

        def search(self, query: dict[str, list[str]]) -> None:
            limit = int(query.get("limit", ["20"])[0])
            if "tags" in query:
                return self.reply_json(double.search_document(_tag_conditions(query["tags"][0]), limit))
            conditions = [
                (scope or "", key, value) for scope, _, key, value in _CONDITION.findall(query.get("q", [""])[0])
            ]
            if not conditions:
                return self.reply(
                    400, b'invalid TraceQL query: the test double understands only k = "v"', "text/plain; charset=utf-8"
                )
            self.reply_json(double.search_document(conditions, limit))

        def reply_json(self, document: dict) -> None:
            self.reply(200, json.dumps(document).encode(), "application/json")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # keep pytest's output clean
            return

    return Handler
