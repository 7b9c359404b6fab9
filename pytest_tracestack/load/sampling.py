"""Samples every replica while load runs: resident memory from /proc and counters from /metrics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..prometheus import MetricsParseError, parse_metrics, sample_value
from ..runtimes.base import Replica

# Counters worth a series, by what they mean. Names vary with and without _total: both are accepted.
ACCEPTED_SPANS = ("otelcol_receiver_accepted_spans", "tempo_receiver_accepted_spans")
REFUSED_SPANS = ("otelcol_receiver_refused_spans", "tempo_receiver_refused_spans")
FAILED_EXPORTS = ("otelcol_exporter_send_failed_spans", "otelcol_exporter_enqueue_failed_spans")
DISCARDED_SPANS = ("tempo_discarded_spans_total",)
RECEIVED_BYTES = ("tempo_distributor_bytes_received_total", "tempo_ingester_bytes_received_total")
COUNTERS = {"accepted_spans": ACCEPTED_SPANS, "refused_spans": REFUSED_SPANS, "failed_exports": FAILED_EXPORTS,
            "discarded_spans": DISCARDED_SPANS, "received_bytes": RECEIVED_BYTES}


@dataclass(frozen=True)
class ReplicaSample:
    at_s: float                       # seconds since sampling started
    rss_bytes: int | None
    counters: dict[str, float]
    scraped: bool = False             # /metrics answered (a counter absent then has not started: 0)


@dataclass
class Series:
    replica: str
    component: str
    samples: list[ReplicaSample] = field(default_factory=list)

    def peak_rss(self) -> int | None:
        values = [s.rss_bytes for s in self.samples if s.rss_bytes is not None]
        return max(values) if values else None

    def values(self, counter: str) -> list[tuple[float, float]]:
        """(time, value) of a counter; a collector only exports a counter once it has counted something,
        so before it appears in an answered scrape it is 0."""
        if not any(counter in s.counters for s in self.samples):
            return []
        return [(s.at_s, s.counters.get(counter, 0.0)) for s in self.samples if s.scraped]

    def delta(self, counter: str) -> float | None:
        """How much a counter grew over the run (None when the replica does not expose it)."""
        values = self.values(counter)
        return values[-1][1] - values[0][1] if len(values) >= 2 else None

    def rate(self, counter: str) -> list[tuple[float, float]]:
        """Per-second rate between consecutive samples: [(time, rate)]."""
        points = self.values(counter)
        return [(t2, (v2 - v1) / (t2 - t1)) for (t1, v1), (t2, v2) in zip(points, points[1:]) if t2 > t1]


def rss_bytes(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def scrape(client: httpx.Client, url: str) -> dict[str, float] | None:
    """The counters of interest, or None when /metrics did not answer."""
    try:
        families = parse_metrics(client.get(url).text, url)
    except (httpx.HTTPError, MetricsParseError):
        return None
    counters = {}
    for key, names in COUNTERS.items():
        values = [value for name in names if (value := sample_value(families, name)) is not None]
        if values:
            counters[key] = sum(values)
    return counters


class Sampler:
    """A background thread sampling each replica every ``interval_s`` until stopped."""

    def __init__(self, replicas: list[Replica], interval_s: float = 1.0) -> None:
        self.replicas = replicas
        self.interval_s = interval_s
        self.series = {r.name: Series(r.name, r.component) for r in replicas}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracestack-sampler", daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while True:
                self.sample_once(client, time.monotonic() - started)
                if self._stop.wait(self.interval_s):
                    self.sample_once(client, time.monotonic() - started)   # a last sample at the end
                    return

    def sample_once(self, client: httpx.Client, at_s: float) -> None:
        for replica in self.replicas:
            counters = scrape(client, replica.url("metrics", "/metrics")) if "metrics" in replica.ports else None
            self.series[replica.name].samples.append(
                ReplicaSample(at_s, rss_bytes(replica.pid), counters or {}, scraped=counters is not None))
