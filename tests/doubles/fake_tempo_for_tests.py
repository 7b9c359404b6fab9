#!/usr/bin/env python3
"""FAKE TEMPO FOR TESTS — NOT TEMPO.

A test double that lets the project's own tests drive tracestack's Tempo-dependent paths (config
rendering, process start, readiness, the built-in checks) on machines where Tempo cannot be had. It
speaks a sliver of Tempo's surface: `-version`, `-config.file`/`-target`, `/ready`, OTLP gRPC+HTTP
receivers (from distributor.receivers), `/api/v2/traces/<id>` and `/api/search` (tags or a TraceQL
`resource.service.name` equality). Processes of one stack share spans through the config's
storage.trace.local.path, as Tempo's local backend shares blocks. It proves nothing about Tempo itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from pytest_tracestack.sink import CaptureSink  # noqa: E402

SEARCH_LAG_S = float(os.environ.get("FAKE_TEMPO_SEARCH_LAG_S", "1"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-version", action="store_true")
    parser.add_argument("-config.file", dest="config")
    parser.add_argument("-target", default="all")
    args = parser.parse_args()
    if args.version:
        print("tempo, version 2.10.8 (FAKE TEMPO FOR TESTS, not Tempo)")
        return
    config = yaml.safe_load(Path(args.config).read_text())
    store = Path(config["storage"]["trace"]["local"]["path"])
    store.mkdir(parents=True, exist_ok=True)
    server = config.get("server", {})
    address = server.get("http_listen_address", "127.0.0.1")
    receivers = []
    if args.target in ("all", "distributor"):
        receivers = start_receivers(config, store)
    http = ThreadingHTTPServer((address, int(server.get("http_listen_port", 3200))), handler(store))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=http.shutdown).start())
    http.serve_forever()
    for receiver in receivers:
        receiver.stop()


def start_receivers(config: dict, store: Path) -> list[CaptureSink]:
    protocols = config["distributor"]["receivers"].get("otlp", {}).get("protocols", {})
    grpc_host, grpc_port = protocols["grpc"]["endpoint"].rsplit(":", 1)
    http_port = int(protocols["http"]["endpoint"].rsplit(":", 1)[1]) if "http" in protocols else 0
    sink = CaptureSink(grpc_host, int(grpc_port), http_port)
    original_add = sink._store.add

    def persist(protocol, size, spans):
        original_add(protocol, size, spans)
        from pytest_tracestack.otlp import to_export_request
        (store / f"{uuid.uuid4().hex}.pb").write_bytes(to_export_request(spans).SerializeToString())

    sink._store.add = persist
    return [sink.start()]


def stored(store: Path, older_than_s: float = 0.0) -> list[ExportTraceServiceRequest]:
    requests = []
    for file in sorted(store.glob("*.pb")):
        if time.time() - file.stat().st_mtime >= older_than_s:
            request = ExportTraceServiceRequest()
            request.ParseFromString(file.read_bytes())
            requests.append(request)
    return requests


def handler(store: Path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path, _, query = self.path.partition("?")
            if path == "/ready":
                return self.reply(200, b"ready", "text/plain")
            if path.startswith("/api/v2/traces/"):
                return self.reply(200, json.dumps({"trace": trace(store, path.rsplit("/", 1)[1]), "metrics": {}}).encode())
            if path == "/api/search":
                return self.reply(200, json.dumps({"traces": search(store, query), "metrics": {}}).encode())
            return self.reply(404, b"not served by the test double", "text/plain")

        def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            return

    return Handler


def trace(store: Path, trace_id: str) -> dict:
    wanted = bytes.fromhex(trace_id)
    resource_spans = []
    for request in stored(store):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                spans = [s for s in ss.spans if s.trace_id == wanted]
                if spans:
                    del ss.spans[:]
                    ss.spans.extend(spans)
                    resource_spans.append(json_format.MessageToDict(rs))
    return {"resourceSpans": resource_spans} if resource_spans else {}


def search(store: Path, query: str) -> list[dict]:
    from urllib.parse import parse_qs
    params = parse_qs(query)
    text = (params.get("tags") or params.get("q") or [""])[0]
    match = re.search(r'service\.name\s*=\s*"?([^"\s}]+)"?', text)
    found = {}
    for request in stored(store, older_than_s=SEARCH_LAG_S):
        for rs in request.resource_spans:
            service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
            if match and service != match.group(1):
                continue
            for ss in rs.scope_spans:
                for span in ss.spans:
                    found.setdefault(span.trace_id.hex().lstrip("0"), {"traceID": span.trace_id.hex().lstrip("0"),
                                     "rootServiceName": service, "rootTraceName": span.name,
                                     "startTimeUnixNano": str(span.start_time_unix_nano), "durationMs": 1})
    return list(found.values())


if __name__ == "__main__":
    main()
