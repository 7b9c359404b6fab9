"""Load: the Locust users, run with plain `locust -f loadtests/locustfile.py` against capture sinks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tracestack.clients.capture_sink import CaptureSink
from pytest_tracestack.load.locust_stats import GeneratorStats, read_stats
from pytest_tracestack.load.payloads import build_request

REPO = Path(__file__).resolve().parents[1]
REQUEST = build_request(10)


@pytest.fixture
def sinks():
    """Capture sinks on free loopback ports, stopped after the test."""
    started: list[CaptureSink] = []

    def start() -> CaptureSink:
        sink = CaptureSink("127.0.0.1").start()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


def locust(
    tmp_path: Path, seconds: int, users: int = 2, host: str | None = None, extra: tuple[str, ...] = (), **env: str
) -> GeneratorStats:
    """Plain headless Locust on the repository's locustfile; returns what it reported."""
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "loadtests" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--json",
        "--skip-log",
        "--exit-code-on-error",
        "0",
        "--csv",
        str(tmp_path / "locust"),
        "--csv-full-history",
    ]
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACESTACK_")},
        **env,
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        argv + (["--host", host] if host else []) + list(extra),
        env=environment,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return read_stats(done.stdout, tmp_path / "locust", len(REQUEST.data), REQUEST.spans)


def _processes(count: int) -> tuple[str, ...]:
    """--processes on a master port of its own: Locust's default 5557 is taken when two such runs overlap."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    return ("--processes", str(count), "--master-bind-port", port, "--master-port", port)


def test_grpc_users_send_fresh_traces_and_count_refusals_by_status(sinks, tmp_path: Path) -> None:
    sink = sinks()
    sink.fail_next(3, "RESOURCE_EXHAUSTED")
    stats = locust(tmp_path, 3, host=sink.grpc_endpoint, TRACESTACK_LOAD_RATE="2MB/s")
    target = stats.targets[f"otlp-grpc {sink.grpc_endpoint}"]
    assert target.failures == {"refused RESOURCE_EXHAUSTED: capture sink told to fail with RESOURCE_EXHAUSTED": 3}
    assert target.requests > 20
    delivered = target.requests - 3
    assert sink.request_count == delivered and sum(sink.received_bytes.values()) == delivered * len(REQUEST.data)
    traces = sink.traces()
    assert len(traces) == delivered * REQUEST.traces, "every trace sent has a trace id of its own"
    assert len({span.span_id for span in sink.spans()}) == delivered * REQUEST.spans


def test_http_users_post_protobuf_and_count_503_and_400_apart(sinks, tmp_path: Path) -> None:
    sink = sinks()
    sink.fail_next(2, "UNAVAILABLE")
    stats = locust(
        tmp_path,
        3,
        TRACESTACK_LOAD_PROTOCOL="otlp-http",
        TRACESTACK_OTLP_HTTP=sink.http_endpoint,
        TRACESTACK_LOAD_RATE="1MB/s",
    )
    target = stats.targets[f"otlp-http {sink.http_endpoint}/v1/traces"]
    assert target.failures == {"refused HTTP 503: capture sink told to fail with UNAVAILABLE": 2}
    assert sink.received_bytes["otlp-http"] == (target.requests - 2) * len(REQUEST.data)
    assert len(sink.traces()) == (target.requests - 2) * REQUEST.traces


def test_users_spread_over_several_targets_with_a_row_each(sinks, tmp_path: Path) -> None:
    first, second = sinks(), sinks()
    stats = locust(
        tmp_path,
        3,
        users=4,
        TRACESTACK_OTLP_GRPC=f"{first.grpc_endpoint},{second.grpc_endpoint}",
        TRACESTACK_LOAD_RATE="2MB/s",
    )
    rows = {name: target.requests for name, target in stats.targets.items()}
    assert set(rows) == {f"otlp-grpc {first.grpc_endpoint}", f"otlp-grpc {second.grpc_endpoint}"}
    assert first.request_count == rows[f"otlp-grpc {first.grpc_endpoint}"] > 0
    assert second.request_count == rows[f"otlp-grpc {second.grpc_endpoint}"] > 0
    assert abs(first.request_count - second.request_count) <= 0.25 * max(first.request_count, second.request_count)


def test_pacing_holds_the_asked_rate(sinks, tmp_path: Path) -> None:
    sink = sinks()
    sink.keep_spans = False
    stats = locust(tmp_path, 4, users=4, host=sink.grpc_endpoint, TRACESTACK_LOAD_RATE="3MB/s")
    offered = stats.offered_bytes / stats.duration_s
    assert 0.8 * 3e6 <= offered <= 1.2 * 3e6, f"offered {offered / 1e6:.2f} MB/s when 3 MB/s was asked"


def test_with_worker_processes_the_rate_is_the_whole_runs(sinks, tmp_path: Path) -> None:
    """locust --processes 2: each worker's users pace to their share, so together they hold the asked rate
    (without the master's message each worker would offer all of it)."""
    sink = sinks()
    sink.keep_spans = False
    locust(tmp_path, 8, users=4, host=sink.grpc_endpoint, extra=_processes(2), TRACESTACK_LOAD_RATE="2MB/s")
    received = sum(sink.received_bytes.values()) / 8
    assert 0.6 * 2e6 <= received <= 1.2 * 2e6, f"the sink received {received / 1e6:.2f} MB/s when 2 MB/s was asked"


def test_the_stepped_shape_raises_the_rate_step_by_step(sinks, tmp_path: Path) -> None:
    sink = sinks()
    sink.keep_spans = False
    stats = locust(
        tmp_path,
        30,
        host=sink.grpc_endpoint,
        TRACESTACK_LOAD_STEPS="0.5MB/s,4MB/s",
        TRACESTACK_LOAD_STEP_SECONDS="3",
        TRACESTACK_LOAD_USERS="2",
    )
    points = sorted((p.at, p.requests) for p in stats.history if p.name == "Aggregated")
    start = stats.window[0]

    def mb_per_s_between(t1: float, t2: float) -> float:
        inside = [(t, r) for t, r in points if t1 <= t - start < t2]
        (first_at, first), (last_at, last) = inside[0], inside[-1]
        return (last - first) * len(REQUEST.data) / (last_at - first_at) / 1e6

    slow, fast = mb_per_s_between(0.5, 2.9), mb_per_s_between(3.5, 5.9)
    assert 0.3 <= slow <= 0.7 and 3.0 <= fast <= 5.0, (
        f"{slow:.2f} MB/s in the 0.5 MB/s step, {fast:.2f} MB/s in the 4 MB/s step, for the whole run"
    )
    assert stats.duration_s < 10, "the shape ends the run after its last step"


def test_with_worker_processes_the_steps_are_the_whole_runs(sinks, tmp_path: Path) -> None:
    """The master runs the shape and passes each step's rate to its workers. The master's statistics come in
    worker reports every few seconds, too coarse for per-step rates, so the sink's total is compared with
    3 s at 1 MB/s + 3 s at 8 MB/s (workers that never heard of the steps would stay at the default 1 MB/s
    each: 12 MB; workers each offering every step in full: 54 MB)."""
    sink = sinks()
    sink.keep_spans = False
    locust(
        tmp_path,
        30,
        host=sink.grpc_endpoint,
        extra=_processes(2),
        TRACESTACK_LOAD_STEPS="1MB/s,8MB/s",
        TRACESTACK_LOAD_STEP_SECONDS="3",
        TRACESTACK_LOAD_USERS="2",
    )
    received_mb = sum(sink.received_bytes.values()) / 1e6
    assert 0.75 * 27 <= received_mb <= 1.15 * 27, f"the sink received {received_mb:.1f} MB, 27 MB were asked"


def test_a_bad_rate_stops_locust_with_the_accepted_format(tmp_path: Path) -> None:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "loadtests" / "locustfile.py"),
        "--headless",
        "-u",
        "1",
        "-t",
        "2s",
        "--host",
        "127.0.0.1:9",
    ]
    done = subprocess.run(
        argv,
        env={**os.environ, "PYTHONPATH": str(REPO), "TRACESTACK_LOAD_RATE": "fast"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert "TRACESTACK_LOAD_RATE 'fast' is not a rate: write a positive number with GB/s, MB/s" in done.stderr


def test_nothing_the_plugin_imports_imports_locust_or_gevent() -> None:
    code = (
        "import sys, pytest_tracestack.plugin.hooks, pytest_tracestack.plugin.fixtures, pytest_tracestack.load.runner, "
        "pytest_tracestack.load.report, pytest_tracestack.load.capacity; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]", done.stderr
