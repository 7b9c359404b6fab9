"""Samples every replica while load runs: resident memory and CPU time from /proc, counters from /metrics.

Counters become rates per replica over time (``Series.rate``). Metric names vary with the version and
the telemetry level (with or without ``_total`` and unit suffixes): every spelling listed is accepted,
and the first one a replica exposes is used, so two spellings of one counter are never added up.
Where a replica serves /metrics is the profile's business (``Component.metrics_endpoint``: Tempo on its
HTTP port, a collector on its Prometheus reader's port). The machine itself is sampled too: the CPU time
all its processes used, so a run that fell short can tell a busy machine from a busy generator.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import httpx

from pytest_tracestack.clients.prometheus_text import (
    MetricFamilies,
    MetricsParseError,
    parse_metrics,
    sample_value,
    values_by_label,
)
from pytest_tracestack.profiles.profile import Component
from pytest_tracestack.runtimes.base import Replica
from pytest_tracestack.runtimes.local.process import proc_stat

OTLP_GRPC_SERVICE = {"rpc_service": "opentelemetry.proto.collector.trace.v1.TraceService"}
MACHINE = "machine"


@dataclass(frozen=True)
class Counter:
    """A quantity worth a series, and the metric spellings (with label filters) that expose it. With ``by``,
    also one series per value of that label, keyed ``<key>:<value>`` (e.g. ``discarded_spans:rate_limited``)."""

    key: str
    names: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    by: str | None = None
    total: bool = True  # False: only the per-label series make sense (gauges of different things)


COUNTERS: tuple[Counter, ...] = (
    Counter("accepted_spans", ("otelcol_receiver_accepted_spans", "tempo_receiver_accepted_spans")),
    Counter("refused_spans", ("otelcol_receiver_refused_spans", "tempo_receiver_refused_spans")),
    Counter("exported_spans", ("otelcol_exporter_sent_spans",)),
    Counter("failed_exports", ("otelcol_exporter_send_failed_spans",)),
    Counter("enqueue_failed_spans", ("otelcol_exporter_enqueue_failed_spans",)),
    # Tempo: spans dropped, by reason (rate_limited, live_traces_exceeded, trace_too_large, unknown_error)
    Counter("discarded_spans", ("tempo_discarded_spans_total",), by="reason"),
    Counter("distributor_bytes", ("tempo_distributor_bytes_received_total",)),  # after the limits
    Counter("distributor_spans", ("tempo_distributor_spans_received_total",)),
    Counter("ingester_bytes", ("tempo_ingester_bytes_received_total",), {"data_type": "trace"}),
    # Tempo's per-tenant limits as configured (gauges): ingestion_rate_limit_bytes, max_bytes_per_trace, ...
    Counter("tempo_limit", ("tempo_limits_defaults",), by="limit_name", total=False),
    # Wire bytes the collector's own OTLP servers received (telemetry level "detailed").
    Counter(
        "grpc_request_bytes", ("rpc_server_request_size_bytes_sum", "rpc_server_request_size_sum"), OTLP_GRPC_SERVICE
    ),
    Counter(
        "http_request_bytes",
        ("http_server_request_body_size_bytes_sum", "http_server_request_body_size_sum"),
        {"http_response_status_code": "200"},
    ),
    # Process figures a replica reports itself: used when its pid is not visible (kind, cluster).
    Counter(
        "metrics_rss_bytes",
        ("otelcol_process_memory_rss_bytes", "otelcol_process_memory_rss", "process_resident_memory_bytes"),
    ),
    Counter(
        "metrics_cpu_seconds",
        ("otelcol_process_cpu_seconds_total", "otelcol_process_cpu_seconds", "process_cpu_seconds_total"),
    ),
)
LOSS_COUNTERS = ("refused_spans", "failed_exports", "enqueue_failed_spans", "discarded_spans")
# The metric families COUNTERS read (a histogram's _sum is in the family of its name without it). A page keeps
# only their lines before it is parsed: a Tempo page has 1,000-2,100 lines and the sampler reads every replica's
# every second while the load runs.
_FAMILIES = tuple(
    sorted({name.removesuffix("_sum").removesuffix("_total") for counter in COUNTERS for name in counter.names})
)


@dataclass(frozen=True)
class Probe:
    """What to sample: a process (pid) and/or a /metrics URL."""

    name: str
    component: str
    pid: int | None
    metrics_url: str | None = None

    @classmethod
    def of(cls, replica: Replica, component: Component | None, pid: int | None = None) -> Probe:
        """``pid``: the process the stack offers for ``replica`` (``Stack.process_id``), if any."""
        return cls(replica.name, replica.component, pid, metrics_url(replica, component))

    @classmethod
    def machine(cls) -> Probe:
        """The whole machine: CPU time of all its processes (pid None, see ``Sampler.sample_once``)."""
        return cls(MACHINE, MACHINE, None)


def metrics_url(replica: Replica, component: Component | None) -> str | None:
    """Where ``replica`` serves /metrics, or None when its component declares nothing this runtime reaches
    (e.g. a port the kind runtime does not forward)."""
    endpoint = component.metrics_endpoint if component is not None else None
    if endpoint is None or endpoint[0] not in replica.ports:
        return None
    return replica.url(*endpoint)


@dataclass(frozen=True)
class ReplicaSample:
    at: float  # wall clock, seconds since the epoch (Locust's history uses it too)
    rss_bytes: int | None
    cpu_seconds: float | None
    counters: dict[str, float]
    scraped: bool = False  # /metrics answered (a counter absent then has not started: 0)
    wait_seconds: float | None = None  # time the process waited for a core so far (/proc/<pid>/schedstat)


@dataclass
class Series:
    replica: str
    component: str
    samples: list[ReplicaSample] = field(default_factory=list)
    source: str | None = None  # the /metrics URL sampled, if any

    def rss(self) -> list[tuple[float, int]]:
        """(time, resident bytes): from /proc, else what the replica reports on /metrics."""
        points = []
        for sample in self.samples:
            value = sample.rss_bytes if sample.rss_bytes is not None else sample.counters.get("metrics_rss_bytes")
            if value is not None:
                points.append((sample.at, int(value)))
        return points

    def peak_rss(self) -> int | None:
        values = [value for _, value in self.rss()]
        return max(values) if values else None

    def cpu(self) -> list[tuple[float, float]]:
        return [
            (s.at, s.cpu_seconds if s.cpu_seconds is not None else s.counters["metrics_cpu_seconds"])
            for s in self.samples
            if s.cpu_seconds is not None or "metrics_cpu_seconds" in s.counters
        ]

    def cores(self) -> list[tuple[float, float]]:
        """CPU cores in use between consecutive samples."""
        return _rates(self.cpu())

    def mean_cores(self, start: float | None = None, end: float | None = None) -> float | None:
        """CPU cores used on average from ``start`` to ``end`` (wall clock; default: the whole series),
        between the samples that bracket that window."""
        return _mean_rate(self.cpu(), start, end)

    def mean_wait_share(self, start: float | None = None, end: float | None = None) -> float | None:
        """The share of the time from ``start`` to ``end`` the process was ready to run but waited for a core."""
        return _mean_rate([(s.at, s.wait_seconds) for s in self.samples if s.wait_seconds is not None], start, end)

    def has(self, counter: str) -> bool:
        return any(counter in s.counters for s in self.samples)

    def values(self, counter: str) -> list[tuple[float, float]]:
        """(time, value) of a counter; a collector only exports a counter once it has counted something,
        so before it appears in an answered scrape it is 0."""
        if not self.has(counter):
            return []
        return [(s.at, s.counters.get(counter, 0.0)) for s in self.samples if s.scraped]

    def delta(self, counter: str) -> float | None:
        """How much a counter grew over the series (None when the replica does not expose it)."""
        values = self.values(counter)
        return values[-1][1] - values[0][1] if len(values) >= 2 else None

    def rate(self, counter: str) -> list[tuple[float, float]]:
        """Per-second rate between consecutive samples: [(time, rate)]."""
        return _rates(self.values(counter))


def _mean_rate(points: list[tuple[float, float]], start: float | None, end: float | None) -> float | None:
    """How fast a cumulative value grew per wall-clock second, between the samples bracketing the window."""
    if start is not None:
        before = [p for p in points if p[0] <= start]
        points = points[len(before) - 1 :] if before else points
    if end is not None:
        after = [n for n, p in enumerate(points) if p[0] >= end]
        points = points[: after[0] + 1] if after else points
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    return (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])


def _rates(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(t2, (v2 - v1) / (t2 - t1)) for (t1, v1), (t2, v2) in pairwise(points) if t2 > t1]


def rss_bytes(pid: int | None) -> int | None:
    """VmRSS of a process from /proc/<pid>/status (None when it is gone or not ours to see)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process from /proc/<pid>/stat."""
    stat = proc_stat(pid) if pid is not None else None
    return stat.cpu_ticks / os.sysconf("SC_CLK_TCK") if stat else None


def wait_seconds(pid: int | None) -> float | None:
    """Time the process's main thread spent ready to run but waiting for a core (/proc/<pid>/schedstat)."""
    if pid is None:
        return None
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def machine_cpu_seconds() -> float | None:
    """CPU time every process of the machine used, summed over its cores (/proc/stat: all but idle and
    iowait; steal counts as used, since the machine could not run anything of ours then)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def machine_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def counters_from_text(text: str, source: str = "/metrics") -> dict[str, float]:
    """The counters of interest in a Prometheus text answer (raises MetricsParseError if it is not one)."""
    return counters_of(parse_metrics(_lines_of_interest(text), source))


def counters_of(families: MetricFamilies) -> dict[str, float]:
    """The counters of interest among parsed metric families."""
    found = {}
    for counter in COUNTERS:
        for name in counter.names:
            value = sample_value(families, name, counter.labels)
            if value is not None:
                if counter.total:
                    found[counter.key] = value
                if counter.by:
                    by_value = values_by_label(families, name, counter.by, counter.labels)
                    found.update({f"{counter.key}:{label}": total for label, total in by_value.items()})
                break
    return found


def _lines_of_interest(text: str) -> str:
    """The samples and the # HELP / # TYPE lines of the families COUNTERS read. Anything that is not Prometheus
    text at all is kept whole, so the parser still refuses it."""
    kept = []
    for line in text.splitlines():
        name = line.split(" ", 3)[2] if line.startswith(("# HELP ", "# TYPE ")) and line.count(" ") >= 2 else line
        if name.startswith(_FAMILIES):
            kept.append(line)
    return "\n".join(kept) + "\n" if kept else text


def scrape(client: httpx.Client, url: str) -> dict[str, float] | None:
    """The counters of interest, or None when /metrics did not answer."""
    try:
        response = client.get(url)
        response.raise_for_status()
        return counters_from_text(response.text, url)
    except (httpx.HTTPError, MetricsParseError):
        return None


class Sampler:
    """A background thread sampling each probe every ``interval_s`` until stopped, and once more at the end."""

    def __init__(self, probes: list[Probe], interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._probes = list(probes)
        self.series = {p.name: Series(p.name, p.component, source=p.metrics_url) for p in probes}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracestack-sampler", daemon=True)

    def add(self, probe: Probe) -> None:
        """Sample another process from now on (e.g. the load generator once it started)."""
        with self._lock:
            self._probes.append(probe)
            self.series[probe.name] = Series(probe.name, probe.component, source=probe.metrics_url)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while True:
                self.sample_once(client)
                if self._stop.wait(self.interval_s):
                    self.sample_once(client)
                    return

    def sample_once(self, client: httpx.Client) -> None:
        with self._lock:
            probes = list(self._probes)
        for probe in probes:
            counters = scrape(client, probe.metrics_url) if probe.metrics_url else None
            cpu = machine_cpu_seconds() if probe.name == MACHINE else cpu_seconds(probe.pid)
            sample = ReplicaSample(
                time.time(),
                rss_bytes(probe.pid),
                cpu,
                counters or {},
                scraped=counters is not None,
                wait_seconds=wait_seconds(probe.pid),
            )
            with self._lock:
                self.series[probe.name].samples.append(sample)
