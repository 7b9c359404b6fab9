"""Runs Locust against a started stack and judges the run per replica.

Locust runs as a subprocess (``locust -f pytest_tracestack/load/locustfile.py --headless``): it patches
its process with gevent, which must not happen inside pytest. Meanwhile every replica and the generator
itself are sampled (/proc and /metrics); after Locust stops, the run waits until the pipeline has
flushed, then takes a last sample, so the counters cover every span that was sent.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import pytest_tracestack
from pytest_tracestack.deadlines import Deadline, poll_until
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.load.figures import ReplicaFigures, replica_figures
from pytest_tracestack.load.locust_stats import GeneratorStats, read_stats
from pytest_tracestack.load.offered import GeneratorSide, Offered, judge_offered
from pytest_tracestack.load.pacing import http_url
from pytest_tracestack.load.payloads import build_request
from pytest_tracestack.load.rates import Rate
from pytest_tracestack.load.replication import replication_of
from pytest_tracestack.load.scrape import MACHINE, Probe, Sampler, Series, machine_cores, metrics_url, scrape
from pytest_tracestack.load.spec import LoadSpec
from pytest_tracestack.load.verdicts import Implied, SinkFigures, Verdict, implied_replicas, judge, sizing_only
from pytest_tracestack.runtimes.base import Replica, Stack
from pytest_tracestack.runtimes.local.process import stop_child

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
GENERATOR = "generator"


@dataclass
class LoadResult:
    protocol: str
    rate: Rate  # what was asked
    asked_bytes_per_s: float
    users: int
    stats: GeneratorStats
    series: dict[str, Series]  # every replica, the generator and the machine
    figures: list[ReplicaFigures]
    verdicts: list[Verdict]
    implied: list[Implied] = field(default_factory=list)
    sink: SinkFigures | None = None
    report_dir: Path | None = None
    request_names: dict[str, str] = field(default_factory=dict)  # entry replica -> its Locust request name
    generator: GeneratorSide = field(default_factory=GeneratorSide)  # what the generator had to work with
    offered: Offered | None = None  # was the rate asked offered; if not, which side ran out

    @property
    def passed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts)

    def failures(self) -> list[str]:
        return [verdict.text for verdict in self.verdicts if not verdict.passed]


def run_load(stack: Stack, spec: LoadSpec) -> LoadResult:
    """Run ``spec`` against the stack: its users spread evenly over the entry replicas, every replica and the
    machine sampled meanwhile; judge the run against ``stack.profile.targets``."""
    spec.report_dir.mkdir(parents=True, exist_ok=True)
    request = build_request(spec.traces_per_request)
    stack.reach_every_replica()
    entries = _entry_targets(stack, spec.protocol)
    users = math.ceil(max(spec.users, len(entries)) / len(entries)) * len(entries)  # the same number per target
    sink = spec.sink if spec.sink is not None else _sink_of(stack)
    before = _sink_counts(sink)
    keep = sink.keep_spans if sink is not None else None
    if sink is not None:
        sink.keep_spans = False  # count, don't keep: a load run would fill memory with spans
    try:
        with Sampler(replica_probes(stack) + [Probe.machine()], spec.interval_s) as sampler:
            stdout = _run_locust(spec, entries, users, sampler)
            _wait_until_flushed(stack, entries, sink)
        after = _sink_counts(sink)
    finally:
        if sink is not None:
            sink.keep_spans = keep
    stats = read_stats(stdout, spec.report_dir / "locust", len(request.data), request.spans)
    sink_figures = SinkFigures(after[0] - before[0], after[1] - before[1]) if sink is not None else None
    return _judge(stack, spec, users, stats, sampler.series, entries, sink_figures)


def replica_probes(stack: Stack) -> list[Probe]:
    """What to sample of each replica: its process (where the stack offers its id) and where it serves /metrics."""
    return [
        Probe.of(replica, stack.profile.components.get(replica.component), stack.process_id(replica).value)
        for replica in stack.replicas
    ]


def _judge(
    stack: Stack,
    spec: LoadSpec,
    users: int,
    stats: GeneratorStats,
    series: dict[str, Series],
    entries: dict[str, str],
    sink: SinkFigures | None,
) -> LoadResult:
    bytes_per_span = stats.bytes_per_request / stats.spans_per_request
    asked = spec.rate.bytes_per_s(bytes_per_span)
    window = stats.window
    names = {replica: f"{spec.protocol} {target}" for replica, target in entries.items()}
    figures = [
        replica_figures(s, stats, names.get(name), window)
        for name, s in series.items()
        if name not in (GENERATOR, MACHINE)
    ]
    generator = _generator_side(series, window, users * spec.in_flight)
    replication = replication_of(stack.profile, stack.replicas)
    verdicts = judge(stats, asked, figures, stack.profile.targets, generator, sink, spec.limits, replication)
    traffic_bytes = spec.traffic.bytes_per_s(bytes_per_span) if spec.traffic else asked
    implied = _implied(stack, figures, verdicts, traffic_bytes, stats.duration_s)
    return LoadResult(
        spec.protocol,
        spec.rate,
        asked,
        users,
        stats,
        series,
        figures,
        verdicts,
        implied,
        sink,
        spec.report_dir,
        names,
        generator,
        judge_offered(stats, asked, generator, spec.limits.offer),
    )


def _generator_side(series: dict[str, Series], window: tuple[float, float], in_flight_limit: int) -> GeneratorSide:
    generator, machine = series.get(GENERATOR), series.get(MACHINE)
    return GeneratorSide(
        cores=generator.mean_cores(*window) if generator else None,
        wait_share=generator.mean_wait_share(*window) if generator else None,
        machine_busy_cores=machine.mean_cores(*window) if machine else None,
        machine_cores=machine_cores(),
        in_flight_limit=in_flight_limit,
    )


def _implied(
    stack: Stack, figures: list[ReplicaFigures], verdicts: list[Verdict], traffic_bytes: float, duration_s: float
) -> list[Implied]:
    implied, targets = [], stack.profile.targets
    for component in dict.fromkeys(f.component for f in figures):
        entries = [f for f in figures if f.component == component and f.entry]
        if entries:
            held = all(v.passed for v in verdicts if v.subject in {f.replica for f in entries})
            implied.append(
                implied_replicas(traffic_bytes, component, entries, duration_s, held, targets.get(component))
            )
        elif component in targets and (only := sizing_only(traffic_bytes, component, targets[component])):
            implied.append(only)
    return implied


def _entry_targets(stack: Stack, protocol: str) -> dict[str, str]:
    """replica name -> the target the users push to (host:port for gRPC, the traces URL for HTTP)."""
    endpoint = stack.profile.ingest.get(protocol)
    if endpoint is None:
        raise TracestackError(
            f"profile {stack.profile.name!r} takes no {protocol} traffic "
            f"(its ingest: {', '.join(stack.profile.ingest) or 'none'})"
        )
    replicas = stack.replicas_of(endpoint.component)
    if not replicas:
        raise TracestackError(f"profile {stack.profile.name!r}: no running {endpoint.component} replica to push to")
    return {replica.name: _target(replica, protocol, endpoint) for replica in replicas}


def _target(replica: Replica, protocol: str, endpoint: Any) -> str:
    if protocol == "otlp-grpc":
        return replica.hostport(endpoint.port)
    return http_url(replica.url(endpoint.port, endpoint.path or "/v1/traces"))


def _run_locust(spec: LoadSpec, entries: dict[str, str], users: int, sampler: Sampler) -> str:
    package_root = str(Path(pytest_tracestack.__file__).resolve().parents[1])
    env = {
        **spec.locust_env(entries.values()).applied_to(os.environ),  # not stepped: a parent's steps are dropped
        # the subprocess must load this very package, not another installed copy
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    duration_s, report_dir = spec.duration_s, spec.report_dir
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{max(1, round(duration_s))}s",
        "--stop-timeout",
        "5",
        "--json",
        "--skip-log",
        "--exit-code-on-error",
        "0",
        "--csv",
        str(report_dir / "locust"),
        "--csv-full-history",
        "--html",
        str(report_dir / "locust.html"),
    ]
    (report_dir / "locust-command.txt").write_text(" ".join(argv) + "\n")
    with (report_dir / "locust.log").open("w") as log:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            sampler.add(Probe(GENERATOR, GENERATOR, process.pid))
            stdout, _ = process.communicate(timeout=duration_s + 90)
        except subprocess.TimeoutExpired:
            raise TracestackError(
                f"locust did not finish within {duration_s + 90:.0f}s; see {report_dir / 'locust.log'}"
            ) from None
        finally:
            stop_child(process)
    if not stdout.strip():
        tail = "\n".join((report_dir / "locust.log").read_text().splitlines()[-15:])
        raise TracestackError(
            f"locust exited {process.returncode} without its JSON statistics; last lines of "
            f"{report_dir / 'locust.log'}:\n{tail}"
        )
    return stdout


def _sink_of(stack: Stack) -> Any:
    """The first capture sink the stack offers in this process, if any."""
    for replica in stack.replicas:
        offer = stack.capture_sink(replica)
        if offer.value is not None:
            return offer.value
    return None


def _sink_counts(sink: Any) -> tuple[int, int]:
    return (sum(sink.received_bytes.values()), sink.span_count) if sink is not None else (0, 0)


def _wait_until_flushed(
    stack: Stack, entries: dict[str, str], sink: Any, deadline_s: float = 30.0, quiet_s: float = 2.0
) -> None:
    """Wait until what the entry replicas accepted has left them (exported >= accepted, where they count
    both) and the sink's count stopped moving; at most ``deadline_s``."""
    urls = [
        url
        for r in stack.replicas
        if r.name in entries and (url := metrics_url(r, stack.profile.components.get(r.component)))
    ]
    with httpx.Client(timeout=2.0) as client:
        poll_until(_settled(lambda: _flushed(client, urls), lambda: _sink_counts(sink), quiet_s), deadline_s, 0.25)


def _flushed(client: httpx.Client, urls: list[str]) -> bool:
    for url in urls:
        counters = scrape(client, url) or {}
        if "exported_spans" in counters and counters["exported_spans"] < counters.get("accepted_spans", 0):
            return False
    return True


def _settled(done: Callable[[], bool], progress: Callable[[], Any], quiet_s: float) -> Callable[[], bool]:
    """A check that holds once ``done()`` and ``progress()`` has not moved for ``quiet_s``."""
    last, quiet = progress(), Deadline(quiet_s)

    def check() -> bool:
        nonlocal last, quiet
        current = progress()
        if current != last:
            last, quiet = current, Deadline(quiet_s)
            return False
        return done() and quiet.expired()

    return check
