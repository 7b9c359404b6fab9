"""Runs Locust against a started stack (in a subprocess: Locust patches its process with gevent),
samples every replica meanwhile, and turns the result into per-replica verdicts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TracestackError
from ..runtimes.base import Stack
from .payloads import make_template
from .rates import Rate
from .sampling import Sampler, Series
from .verdicts import RunTotals, Verdict, implied_replicas, judge

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
TRACES_PER_REQUEST = 10


@dataclass
class LoadResult:
    protocol: str
    rate: Rate
    totals: RunTotals
    series: dict[str, Series]
    verdicts: list[Verdict]
    implied: list[str] = field(default_factory=list)
    sink_bytes: int | None = None
    report_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts)

    def failures(self) -> list[str]:
        return [verdict.text for verdict in self.verdicts if not verdict.passed]


def run_load(stack: Stack, rate: Rate, duration_s: float, protocol: str, report_dir: Path, users: int = 4,
             traffic_bytes_per_s: float | None = None) -> LoadResult:
    report_dir.mkdir(parents=True, exist_ok=True)
    sink = _sink_of(stack)
    sink_before = sum(sink.received_bytes.values()) if sink else None
    if sink is not None:
        sink.keep_spans = False         # count, don't keep: a load run would fill memory with spans
    processes = [replica for replica in stack.replicas if replica.pid is not None]
    try:
        with Sampler(processes) as sampler:
            stats = _run_locust(stack, rate, duration_s, protocol, report_dir, users)
            sink_bytes = _settled_bytes(sink) - sink_before if sink is not None else None
    finally:
        if sink is not None:
            sink.keep_spans = True
    totals = _totals(stats, rate, duration_s, report_dir)
    verdicts = judge(totals, sampler.series, stack.profile.targets)
    traffic = traffic_bytes_per_s or totals.requested_bytes_per_s
    implied = [implied_replicas(traffic, series, totals, _sized(stack, series.component))
               for series in sampler.series.values() if series.delta("accepted_spans") or series.delta("received_bytes")]
    return LoadResult(protocol, rate, totals, sampler.series, verdicts, implied, sink_bytes, report_dir)


def _sink_of(stack: Stack):
    for replica in stack.replicas:
        handle = getattr(stack, "handles", {}).get(replica.name)
        if handle is not None and hasattr(handle, "sink"):
            return handle.sink
    return None


def _sized(stack: Stack, component: str) -> float | None:
    target = stack.profile.targets.get(component)
    return target.throughput_mb_s[0] if target and target.throughput_mb_s else None


def _run_locust(stack: Stack, rate: Rate, duration_s: float, protocol: str, report_dir: Path, users: int) -> list:
    wire = "otlp-http" if protocol == "otlp-http" else "otlp-grpc"
    target = stack.ingest_target(wire)
    env = {**os.environ, "TRACESTACK_LOAD_RATE": f"{rate.value:.0f}{'B/s' if rate.unit == 'bytes' else 'spans/s'}",
           "TRACESTACK_LOAD_PROTOCOL": wire, "TRACESTACK_TRACES_PER_REQUEST": str(TRACES_PER_REQUEST),
           "TRACESTACK_OTLP_GRPC" if wire == "otlp-grpc" else "TRACESTACK_OTLP_HTTP":
               target if wire == "otlp-grpc" else target.removesuffix("/v1/traces")}
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
            "-t", f"{duration_s:.0f}s", "--stop-timeout", "5", "--json", "--skip-log",
            "--csv", str(report_dir / "locust"), "--csv-full-history", "--html", str(report_dir / "locust.html")]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration_s + 120)
    except subprocess.TimeoutExpired:
        raise TracestackError(f"locust did not finish within {duration_s + 120:.0f}s") from None
    (report_dir / "locust.log").write_text(done.stderr)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise TracestackError(f"locust exited {done.returncode} without its JSON stats; last lines:\n"
                              + "\n".join(done.stderr.splitlines()[-15:])) from None


def _settled_bytes(sink, deadline_s: float = 15.0) -> int:
    """Wait for the pipeline to flush: the sink's byte count stops changing."""
    deadline = time.monotonic() + deadline_s
    last = -1
    while time.monotonic() < deadline:
        current = sum(sink.received_bytes.values())
        if current == last:
            return current
        last = current
        time.sleep(1.5)
    return last


def _totals(stats: list, rate: Rate, duration_s: float, report_dir: Path) -> RunTotals:
    requests = sum(entry["num_requests"] for entry in stats)
    offered = sum(entry["total_content_length"] for entry in stats)
    payload_bytes = sum(len(t.data) for t in make_template(traces_per_request=TRACES_PER_REQUEST))
    spans_per_request = sum(t.spans for t in make_template(traces_per_request=TRACES_PER_REQUEST))
    latencies: dict[int, int] = {}
    for entry in stats:
        for value, count in entry.get("response_times", {}).items():
            latencies[int(float(value))] = latencies.get(int(float(value)), 0) + count
    requested = rate.value if rate.unit == "bytes" else rate.value * payload_bytes / spans_per_request
    return RunTotals(requested_bytes_per_s=requested, offered_bytes=offered, offered_spans=requests * spans_per_request,
                     duration_s=duration_s, failures=_failures(report_dir / "locust_failures.csv"),
                     latency_p50_ms=_percentile(latencies, 0.5), latency_p99_ms=_percentile(latencies, 0.99),
                     bytes_per_span=payload_bytes / spans_per_request)


def _failures(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    with path.open() as handle:
        return {row["Error"]: int(row["Occurrences"]) for row in csv.DictReader(handle)}


def _percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    if not total:
        return 0.0
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= fraction * total:
            return float(value)
    return float(max(histogram))
