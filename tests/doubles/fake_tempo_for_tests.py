#!/usr/bin/env python3
"""FAKE TEMPO FOR TESTS — NOT TEMPO.

A test double that lets the project's own tests drive tracestack's Tempo-dependent paths (config
rendering, process start, readiness, the built-in checks) on machines where Tempo cannot be had. It
speaks a sliver of Tempo's surface: `-version`, `-config.file`/`-target`, a gRPC server on
server.grpc_listen_address:server.grpc_listen_port (no services, but the port is really taken), OTLP
gRPC+HTTP receivers (from distributor.receivers), and the query API of tests/tempo_double.py (`/ready`,
`/api/v2/traces/<id>`, `/api/search`), and with a `metrics_generator` section the remote write of
doubles/metrics_generator_for_tests.py. Processes of one stack share spans through the config's
storage.trace.local.path, as Tempo's local backend shares blocks; with `storage.trace.backend: s3` they write
blocks into the real S3 server instead (fake_tempo_s3_for_tests.py). It proves nothing about Tempo itself.

It fails where Tempo 2.10.8's single binary (`-target=all`) fails (tests/recorded/tempo-2.10.8/
single-binary/): that binary forces its ingester address to 127.0.0.1 and dials 127.0.0.1:<grpc port>,
and its query-frontend worker dials querier.frontend_worker.frontend_address (127.0.0.1:<grpc port> when
empty). While the worker's address does not answer, /ready is 503; while the ingester's does not, every
push is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent), str(TESTS)]
from doubles.jaeger_receiver_for_tests import JaegerReceiverForTests  # noqa: E402
from doubles.metrics_generator_for_tests import MetricsGeneratorForTests  # noqa: E402
from pytest_tracestack.clients.capture_sink import CaptureSink  # noqa: E402
from pytest_tracestack.traces.otlp import from_protobuf_bytes, to_export_request  # noqa: E402
from tempo_double import Arrival, FakeTempoForTests, trace_document_of  # noqa: E402

SEARCH_LAG_S = float(os.environ.get("FAKE_TEMPO_SEARCH_LAG_S", "1"))
# Targets that, like Tempo's query-frontend and querier with connections open, stay "stopping" after SIGTERM
# with their ports open until SIGKILL; and how long every target runs on after closing its ports.
STOPPING_TARGETS = set(filter(None, os.environ.get("FAKE_TEMPO_STOPPING_TARGETS", "").split(",")))
EXIT_DELAY_S = float(os.environ.get("FAKE_TEMPO_EXIT_DELAY_S", "0"))
FORCED_ADDRESS = "127.0.0.1"  # where Tempo's single binary looks for its own ingester
FRONTEND_NOT_READY = "Query Frontend not ready: not ready: number of queriers connected to query-frontend is 0"


@dataclass
class SingleBinaryDialing:
    """The addresses a Tempo single binary dials for its own modules, whatever the config says elsewhere."""

    ingester: str  # 127.0.0.1:<server.grpc_listen_port>
    frontend: str  # querier.frontend_worker.frontend_address, or the same as ``ingester`` when empty

    @classmethod
    def from_config(cls, config: dict) -> SingleBinaryDialing:
        ingester = f"{FORCED_ADDRESS}:{grpc_listen(config)[1]}"
        worker = (config.get("querier") or {}).get("frontend_worker") or {}
        return cls(ingester=ingester, frontend=worker.get("frontend_address") or ingester)

    def not_ready_reason(self) -> str | None:
        return None if _answers(self.frontend) else FRONTEND_NOT_READY

    def push_refusal(self) -> str | None:
        if _answers(self.ingester):
            return None
        return (
            f'connection error: desc = "transport: Error while dialing: dial tcp {self.ingester}: '
            f'connect: connection refused"'
        )


@dataclass
class StoredSpansTempo(FakeTempoForTests):
    """The in-process double answering from the export requests every distributor of the stack wrote to
    ``store``; a file's age is how long ago its spans arrived."""

    store: Path = field(default_factory=Path)
    dialing: SingleBinaryDialing | None = None
    s3: Any = None  # FakeS3Storage when the config's storage.trace.backend is s3

    def arrivals(self) -> list[Arrival]:
        wall, monotonic = time.time(), time.monotonic()
        return [
            Arrival(span, monotonic - (wall - file.stat().st_mtime))
            for file in sorted(self.store.glob("*.pb"))
            for span in from_protobuf_bytes(file.read_bytes())
        ]

    def not_ready_reason(self) -> str | None:
        return self.dialing.not_ready_reason() if self.dialing else None

    def extra_answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str] | None:
        """An ingester's /flush and a querier's blocks-only read, with S3 storage (fake_tempo_s3_for_tests.py)."""
        from fake_tempo_s3_for_tests import BLOCK_READING_TARGETS, FLUSHING_TARGETS

        if self.s3 is None:
            return None
        if path == "/flush" and self.s3.target in FLUSHING_TARGETS:
            self.s3.request_flush()
            return 204, b"", "text/plain; charset=utf-8"
        if (
            path.startswith("/querier/api/v2/traces/")
            and self.s3.target in BLOCK_READING_TARGETS
            and query.get("mode") == ["blocks"]
        ):
            spans = self.s3.trace_in_blocks(path.rsplit("/", 1)[1].lower().rjust(32, "0"))
            if not spans:
                return 404, b"", "text/plain; charset=utf-8"
            return 200, json.dumps(trace_document_of(spans)).encode(), "application/json"
        return None


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
    s3 = None
    if config["storage"]["trace"].get("backend") == "s3":
        from fake_tempo_s3_for_tests import FakeS3Storage, live_directory

        s3 = FakeS3Storage.from_config(config, args.target)
        s3.open_or_exit()
        store = live_directory(config)
    else:
        store = Path(config["storage"]["trace"]["local"]["path"])
    store.mkdir(parents=True, exist_ok=True)
    grpc_server = start_grpc_server(config)
    dialing = SingleBinaryDialing.from_config(config) if args.target == "all" else None
    receivers = start_receivers(config, store, dialing) if args.target in ("all", "distributor") else []
    server = config.get("server", {})
    api = StoredSpansTempo(
        search_lag_s=SEARCH_LAG_S,
        host=server.get("http_listen_address", "127.0.0.1"),
        port=int(server.get("http_listen_port", 3200)),
        store=store,
        dialing=dialing,
        s3=s3,
    ).start()
    generator = None
    if args.target in ("all", "metrics-generator") and config.get("metrics_generator"):
        generator = MetricsGeneratorForTests(config, lambda: [(a.span, a.at) for a in api.arrivals()]).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print(f'level=info ts={time.time():.6f} msg="=== received SIGINT/SIGTERM ===\\n*** exiting"', flush=True)
    if args.target in STOPPING_TARGETS:
        print('level=info msg="Application is stopping"', flush=True)
        threading.Event().wait()
    if generator is not None:
        generator.stop()
    api.stop()
    if s3 is not None:
        s3.stop()
    for receiver in receivers:
        receiver.stop()
    grpc_server.stop(grace=None)
    time.sleep(EXIT_DELAY_S)


def grpc_listen(config: dict) -> tuple[str, int]:
    """Tempo's defaults: every address (an empty server.grpc_listen_address), port 9095."""
    server = config.get("server") or {}
    return server.get("grpc_listen_address") or "", int(server.get("grpc_listen_port") or 9095)


def start_grpc_server(config: dict) -> grpc.Server:
    """A gRPC server on the configured address and port (no services): the port is taken as Tempo takes it,
    and a second process asking for it exits as Tempo does."""
    host, port = grpc_listen(config)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=[("grpc.so_reuseport", 0)])
    try:
        bound = server.add_insecure_port(f"{host or '[::]'}:{port}")
    except RuntimeError:  # grpcio raises instead of returning 0 in recent versions
        bound = 0
    if bound == 0:
        print(
            f'level=error msg="error running Tempo" err="failed to init module services: error initialising '
            f'module: server: listen tcp {host}:{port}: bind: address already in use"',
            file=sys.stderr,
        )
        sys.exit(1)
    server.start()
    return server


def start_receivers(config: dict, store: Path, dialing: SingleBinaryDialing | None) -> list:
    """The distributor's OTLP receivers: the capture sink, writing each export request it accepted to the store,
    refusing pushes (gRPC UNAVAILABLE, HTTP 503) while a single binary cannot reach its own ingester; and Jaeger's
    thrift_http receiver when the config has one."""
    protocols = config["distributor"]["receivers"].get("otlp", {}).get("protocols", {})
    grpc_host, grpc_port = protocols["grpc"]["endpoint"].rsplit(":", 1)
    http_port = int(protocols["http"]["endpoint"].rsplit(":", 1)[1]) if "http" in protocols else 0
    sink = CaptureSink(grpc_host, int(grpc_port), http_port)
    original_add = sink._store.add

    def persist(protocol, size, spans):
        original_add(protocol, size, spans)
        (store / f"{uuid.uuid4().hex}.pb").write_bytes(to_export_request(spans).SerializeToString())

    sink._store.add = persist
    if dialing is not None:
        _refuse_while(sink, dialing.push_refusal)
    started = [sink.start()]
    jaeger = ((config["distributor"]["receivers"].get("jaeger") or {}).get("protocols") or {}).get("thrift_http")
    if jaeger:

        def keep(spans) -> None:
            (store / f"{uuid.uuid4().hex}.pb").write_bytes(to_export_request(spans).SerializeToString())

        refusal = dialing.push_refusal if dialing is not None else (lambda: None)
        started.append(JaegerReceiverForTests(jaeger["endpoint"], keep, refusal).start())
    return started


def _refuse_while(sink: CaptureSink, refusal: Callable[[], str | None]) -> None:
    told = sink._store.take_failure

    def take_failure():
        reason = refusal()
        return ("UNAVAILABLE", reason) if reason else told()

    sink._store.take_failure = take_failure


def _answers(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
