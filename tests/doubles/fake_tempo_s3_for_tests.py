"""FAKE TEMPO FOR TESTS — NOT TEMPO: the S3 storage of fake_tempo_for_tests.py (``storage.trace.backend: s3``).

It talks to a real S3 server (the tests run versitygw) the way shared/notes/tempo-facts.md says Tempo 2.10.8 does,
so the S3 side of tracestack (bucket made before Tempo starts, credentials, the check's listing) is exercised
for real; what it writes is not Tempo's:
- at start, every target that opens Tempo's store (all but the distributor) lists the bucket and exits as Tempo
  exits when it cannot (the bucket missing, the credentials refused);
- ingesters (and single binaries) keep what the distributors received in a directory the stack's processes share,
  and every ``ingester.flush_check_period`` write what is older than ``ingester.max_block_duration`` (at once
  on ``/flush``: all of it) as a block, ``<bucket>/[<prefix>/]single-tenant/<block uuid>/`` holding
  ``data.parquet``, ``index``, ``bloom-0`` and, last, ``meta.json``. ``data.parquet`` holds an OTLP protobuf
  export request, NOT Parquet; a failed write is logged and retried;
- queriers (and single binaries) answer ``/querier/api/v2/traces/<id>?mode=blocks`` from the blocks they saw at
  their last ``storage.trace.blocklist_poll``, as Tempo's poller does.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pytest_tracestack.checks.backend import go_duration_s
from pytest_tracestack.clients.object_store import SINGLE_TENANT, S3Settings, s3_client
from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import from_protobuf_bytes, to_export_request

STORE_TARGETS = ("all", "ingester", "querier", "query-frontend", "compactor")
FLUSHING_TARGETS = ("all", "ingester")
BLOCK_READING_TARGETS = ("all", "querier")


def live_directory(config: dict) -> Path:
    """Where the double's distributors leave what they received for its ingesters (Tempo sends it over gRPC): a
    directory beside the replicas' own ones, found from the WAL path (<stack dir>/<replica>/wal)."""
    return Path(config["storage"]["trace"]["wal"]["path"]).parent.parent / "fake-tempo-live"


@dataclass
class FakeS3Storage:
    settings: S3Settings
    target: str
    instance: str  # ingester.lifecycler.id (unset in a single binary)
    live: Path
    flush_check_s: float
    max_block_s: float
    blocklist_poll_s: float
    _flush_now: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _blocks: list[str] = field(default_factory=list)  # block prefixes as of the last poll
    _polled_at: float = float("-inf")

    @classmethod
    def from_config(cls, config: dict, target: str) -> FakeS3Storage:
        settings = S3Settings.from_tempo_config(config)
        assert settings is not None
        ingester = config.get("ingester") or {}
        return cls(
            settings,
            target,
            str((ingester.get("lifecycler") or {}).get("id") or target),
            live_directory(config),
            go_duration_s(ingester.get("flush_check_period"), 10.0),
            go_duration_s(ingester.get("max_block_duration"), 1800.0),
            go_duration_s(config["storage"]["trace"].get("blocklist_poll"), 300.0),
        )

    # --- start ------------------------------------------------------------------------------------

    def open_or_exit(self) -> None:
        """Tempo's S3 backend lists the bucket when its store starts, and Tempo exits when that fails."""
        if self.target not in STORE_TARGETS:
            return
        try:
            s3_client(self.settings).list_objects_v2(
                Bucket=self.settings.bucket, Prefix=self.settings.prefix, MaxKeys=1
            )
        except Exception as error:
            print(
                f'level=error ts={time.time():.6f} caller=main.go msg="error running Tempo" err="failed to init '
                f"module services: error initialising module: store: failed to create store: unexpected error "
                f'from ListObjects on {self.settings.bucket}: {_said(error)}"',
                file=sys.stderr,
                flush=True,
            )
            sys.exit(1)
        self.live.mkdir(parents=True, exist_ok=True)
        if self.target in FLUSHING_TARGETS:
            threading.Thread(target=self._flush_loop, name="fake-tempo-flush", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    # --- ingesters --------------------------------------------------------------------------------

    def request_flush(self) -> None:
        self._flush_now.set()

    def _flush_loop(self) -> None:
        while not self._stopped.is_set():
            forced = self._flush_now.wait(self.flush_check_s)
            self._flush_now.clear()
            try:
                self._flush_once(0.0 if forced else self.max_block_s)
            except Exception as error:  # Tempo logs a failed flush and retries it at the next check
                print(
                    f'level=error ts={time.time():.6f} msg="error performing op in flushQueue" err="{_said(error)}"',
                    flush=True,
                )

    def _flush_once(self, older_than_s: float) -> None:
        cut = time.time() - older_than_s
        pending = [
            file
            for file in sorted(self.live.glob("*.pb"))
            if not file.with_suffix(f".flushed-{self.instance}").exists() and file.stat().st_mtime <= cut
        ]
        if not pending:
            return
        spans = [span for file in pending for span in from_protobuf_bytes(file.read_bytes())]
        self._write_block(spans)
        for file in pending:
            file.with_suffix(f".flushed-{self.instance}").touch()

    def _write_block(self, spans: list[Span]) -> None:
        block = uuid.uuid4()
        prefix = f"{self.settings.tenant_prefix(SINGLE_TENANT)}{block}/"
        client = s3_client(self.settings)
        data = to_export_request(spans).SerializeToString()
        for name, body in (
            ("data.parquet", data),
            ("index", b"FAKE TEMPO FOR TESTS"),
            ("bloom-0", b"FAKE TEMPO FOR TESTS"),
        ):
            client.put_object(Bucket=self.settings.bucket, Key=prefix + name, Body=body)
        client.put_object(Bucket=self.settings.bucket, Key=prefix + "meta.json", Body=json.dumps(_meta(block, spans)))

    # --- queriers ---------------------------------------------------------------------------------

    def trace_in_blocks(self, trace_id: str) -> list[Span]:
        client = s3_client(self.settings)
        if time.monotonic() - self._polled_at >= self.blocklist_poll_s:
            listed = client.list_objects_v2(
                Bucket=self.settings.bucket, Prefix=self.settings.tenant_prefix(SINGLE_TENANT)
            ).get("Contents", [])
            self._blocks = [
                item["Key"].removesuffix("meta.json") for item in listed if item["Key"].endswith("/meta.json")
            ]
            self._polled_at = time.monotonic()
        spans: dict[str, Span] = {}  # each ingester writes its own copy (replication): combined, as Tempo does
        for block in self._blocks:
            data = client.get_object(Bucket=self.settings.bucket, Key=block + "data.parquet")["Body"].read()
            spans.update((span.span_id, span) for span in from_protobuf_bytes(data) if span.trace_id == trace_id)
        return list(spans.values())


def _meta(block: uuid.UUID, spans: list[Span]) -> dict:
    def when(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat()

    return {
        "format": "FAKE TEMPO FOR TESTS (not vParquet)",
        "blockID": str(block),
        "tenantID": SINGLE_TENANT,
        "startTime": when(min(span.start_ns for span in spans)),
        "endTime": when(max(span.end_ns for span in spans)),
        "totalObjects": len({span.trace_id for span in spans}),
    }


def _said(error: Exception) -> str:
    details = getattr(error, "response", {}).get("Error", {})
    return str(details.get("Message") or error)
