#!/usr/bin/env python3
"""FAKE TEMPO FOR TESTS — NOT TEMPO.

A test double that lets the project's own tests drive tracestack's Tempo-dependent paths (config
rendering, process start, readiness, the built-in checks) on machines where Tempo cannot be had. It
speaks a sliver of Tempo's surface: `-version`, `-config.file`/`-target`, OTLP gRPC+HTTP receivers (from
distributor.receivers), and the query API of tests/tempo_double.py (`/ready`, `/api/v2/traces/<id>`,
`/api/search`). Processes of one stack share spans through the config's storage.trace.local.path, as
Tempo's local backend shares blocks. It proves nothing about Tempo itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS.parent), str(TESTS)]
from pytest_tracestack.otlp import from_protobuf_bytes, to_export_request  # noqa: E402
from pytest_tracestack.sink import CaptureSink  # noqa: E402
from tempo_double import Arrival, FakeTempoForTests  # noqa: E402

SEARCH_LAG_S = float(os.environ.get("FAKE_TEMPO_SEARCH_LAG_S", "1"))


@dataclass
class StoredSpansTempo(FakeTempoForTests):
    """The in-process double answering from the export requests every distributor of the stack wrote to
    ``store``; a file's age is how long ago its spans arrived."""

    store: Path = field(default_factory=Path)

    def arrivals(self) -> list[Arrival]:
        wall, monotonic = time.time(), time.monotonic()
        return [Arrival(span, monotonic - (wall - file.stat().st_mtime))
                for file in sorted(self.store.glob("*.pb")) for span in from_protobuf_bytes(file.read_bytes())]


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
    receivers = start_receivers(config, store) if args.target in ("all", "distributor") else []
    api = StoredSpansTempo(search_lag_s=SEARCH_LAG_S, host=server.get("http_listen_address", "127.0.0.1"),
                           port=int(server.get("http_listen_port", 3200)), store=store).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    api.stop()
    for receiver in receivers:
        receiver.stop()


def start_receivers(config: dict, store: Path) -> list[CaptureSink]:
    """The distributor's OTLP receivers: the capture sink, writing each export request it accepted to the store."""
    protocols = config["distributor"]["receivers"].get("otlp", {}).get("protocols", {})
    grpc_host, grpc_port = protocols["grpc"]["endpoint"].rsplit(":", 1)
    http_port = int(protocols["http"]["endpoint"].rsplit(":", 1)[1]) if "http" in protocols else 0
    sink = CaptureSink(grpc_host, int(grpc_port), http_port)
    original_add = sink._store.add

    def persist(protocol, size, spans):
        original_add(protocol, size, spans)
        (store / f"{uuid.uuid4().hex}.pb").write_bytes(to_export_request(spans).SerializeToString())

    sink._store.add = persist
    return [sink.start()]


if __name__ == "__main__":
    main()
