"""Offered MB/s and spans/s per CPU core of three load generators, side by side in one run, against the
same receiver (the real OpenTelemetry Collector with a debug exporter, counting what its OTLP server
received; or tracestack's capture sink with --receiver sink):

  tracestack    Locust users stamping pre-encoded payloads (loadtests/locustfile.py, one process)
  telemetrygen  the OpenTelemetry Collector contrib generator (Go), `telemetrygen traces`
  sdk           the OpenTelemetry Python SDK, BatchSpanProcessor + OTLP gRPC exporter

Two rounds: unthrottled (what each delivers per CPU-second it uses: received / CPU time of its process),
and the same fixed rate for all (the CPU each needs to hold it). CPU time is the generator process's
user+system time (getrusage of the child), so the receiver sharing the machine is not counted.

Usage: python benchmarks/compare_generators.py [--seconds 15] [--rate 5000] [--telemetrygen PATH|build]
                                               [--receiver collector|sink] [--out benchmarks/generators.md]
The collector is taken from TRACESTACK_OTELCOL, else tracestack's binary cache.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from pytest_tracestack.clients.capture_sink import CaptureSink  # noqa: E402
from pytest_tracestack.load.scrape import counters_from_text  # noqa: E402

# The Go module proxy refuses v0.129.0 ("not available"); it serves v0.149.0, v0.160.0 and v0.161.0, and
# v0.149.0 builds with the Go here. Pinned.
TELEMETRYGEN_VERSION = "v0.149.0"
TELEMETRYGEN = f"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@{TELEMETRYGEN_VERSION}"


@dataclass
class Measurement:
    generator: str
    mode: str
    wall_s: float
    cpu_s: float
    received_bytes: int
    received_spans: int

    @property
    def mb_per_core_s(self) -> float:
        return self.received_bytes / 1e6 / self.cpu_s

    @property
    def spans_per_core_s(self) -> float:
        return self.received_spans / self.cpu_s


def build_telemetrygen() -> str:
    """go install telemetrygen (through the Go module proxy) into tracestack's cache, once."""
    from pytest_tracestack.paths import cache_dir

    target = cache_dir() / "tools" / f"telemetrygen-{TELEMETRYGEN_VERSION}"
    binary = target / "telemetrygen"
    if not binary.is_file():
        subprocess.run(["go", "install", TELEMETRYGEN], env={**os.environ, "GOBIN": str(target)}, check=True)
    return str(binary)


class SinkReceiver:
    name = "tracestack's capture sink (Python, OTLP gRPC, counting only)"

    def __init__(self) -> None:
        self.sink = CaptureSink("127.0.0.1").start()
        self.sink.keep_spans = False
        self.endpoint = self.sink.grpc_endpoint

    def counts(self) -> tuple[int, int]:
        return sum(self.sink.received_bytes.values()), self.sink.span_count

    def close(self) -> None:
        self.sink.stop()


COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}", max_recv_msg_size_mib: 64}}
exporters:
  debug: {{verbosity: basic}}
service:
  telemetry:
    logs: {{level: warn}}
    metrics:
      level: detailed
      readers:
        - pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {metrics}}}}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug]}}
"""


class CollectorReceiver:
    """The real collector: OTLP gRPC in, debug exporter out; counts from its own /metrics (accepted spans,
    bytes its gRPC server received)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.name = f"the OpenTelemetry Collector ({Path(binary).name}, OTLP gRPC -> debug exporter)"
        grpc_port, self.metrics_port = _free_port(), _free_port()
        config = workdir / "receiver-otelcol.yaml"
        config.write_text(COLLECTOR_CONFIG.format(grpc=grpc_port, metrics=self.metrics_port))
        self.log = (workdir / "receiver-otelcol.log").open("w")
        self.process = subprocess.Popen([binary, "--config", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        self.endpoint = f"127.0.0.1:{grpc_port}"
        deadline = time.monotonic() + 30
        while self._scrape() is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise SystemExit(f"the collector did not come up; see {workdir / 'receiver-otelcol.log'}")
            time.sleep(0.1)

    def _scrape(self) -> dict[str, float] | None:
        import httpx

        try:
            return counters_from_text(httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).text)
        except httpx.HTTPError:
            return None

    def counts(self) -> tuple[int, int]:
        counters = self._scrape() or {}
        return int(counters.get("grpc_request_bytes", 0)), int(counters.get("accepted_spans", 0))

    def close(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_collector() -> str | None:
    from pytest_tracestack.binaries.finder import OTELCOL, BinaryProvider

    explicit = os.environ.get("TRACESTACK_OTELCOL")
    if explicit and Path(explicit).is_file():
        return explicit
    cached = BinaryProvider().cached_path(OTELCOL)
    return str(cached) if cached.is_file() else None


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def settled(receiver, quiet_s: float = 1.0, deadline_s: float = 20.0) -> tuple[int, int]:
    """Wait until the receiver's counts stop moving (the last exports have landed); returns them."""
    deadline, last, since = time.monotonic() + deadline_s, None, time.monotonic()
    while time.monotonic() < deadline:
        counts = receiver.counts()
        if counts != last:
            last, since = counts, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        time.sleep(0.2)
    return last


def measure(name: str, mode: str, argv: list[str], receiver, env: dict[str, str] | None = None) -> Measurement:
    before = settled(receiver)
    cpu_before, started = children_cpu(), time.monotonic()
    done = subprocess.run(argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    wall, cpu = time.monotonic() - started, children_cpu() - cpu_before
    after = settled(receiver)
    result = Measurement(name, mode, wall, cpu, after[0] - before[0], after[1] - before[1])
    print(
        f"{name} ({mode}): {result.received_spans} spans, {result.received_bytes / 1e6:.1f} MB, {cpu:.1f} CPU s",
        file=sys.stderr,
    )
    return result


def tracestack(target: str, seconds: float, rate: float | None) -> tuple[list[str], dict[str, str]]:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "loadtests" / "locustfile.py"),
        "--headless",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        f"{seconds:.0f}s",
        "--stop-timeout",
        "5",
        "--only-summary",
        "--skip-log",
    ]
    return argv, {
        "TRACESTACK_OTLP_GRPC": target,
        "PYTHONPATH": str(REPO),
        "TRACESTACK_LOAD_RATE": f"{rate:.0f}spans/s" if rate else "max",
    }


def telemetrygen(binary: str, target: str, seconds: float, rate: float | None) -> list[str]:
    # --rate is spans/s per worker; batches of 1000 spans (the default 100 delivers a sixth as much here)
    return [
        binary,
        "traces",
        "--otlp-endpoint",
        target,
        "--otlp-insecure",
        "--duration",
        f"{seconds:.0f}s",
        "--child-spans",
        "12",
        "--batch-size",
        "1000",
        "--workers",
        "4",
        "--rate",
        f"{(rate or 0) / 4:.0f}",
    ]


def sdk(target: str, seconds: float, rate: float | None) -> list[str]:
    return [sys.executable, str(HERE / "sdk_generator.py"), target, f"{seconds}", f"{rate or 0:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=5000, help="spans/s of the fixed-rate round")
    parser.add_argument(
        "--telemetrygen",
        default=shutil.which("telemetrygen"),
        help="path of telemetrygen; 'build' installs the pinned version with go install",
    )
    parser.add_argument(
        "--receiver", choices=("collector", "sink"), default="collector" if find_collector() else "sink"
    )
    parser.add_argument("--out", type=Path, default=HERE / "generators.md")
    args = parser.parse_args()
    if args.telemetrygen == "build":
        args.telemetrygen = build_telemetrygen()
    results = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tracestack-bench-")))
        receiver = SinkReceiver() if args.receiver == "sink" else CollectorReceiver(find_collector(), workdir)
        stack.callback(receiver.close)
        args.receiver_name = receiver.name
        target = receiver.endpoint
        for mode, rate in (("unthrottled", None), (f"{args.rate:.0f} spans/s asked", args.rate)):
            argv, env = tracestack(target, args.seconds, rate)
            results.append(measure("tracestack (Locust, 4 users, 1 process)", mode, argv, receiver, env))
            if args.telemetrygen:
                results.append(
                    measure(
                        f"telemetrygen {TELEMETRYGEN_VERSION} (4 workers, 12 child spans, batches of 1000)",
                        mode,
                        telemetrygen(args.telemetrygen, target, args.seconds, rate),
                        receiver,
                    )
                )
            results.append(
                measure(
                    "OpenTelemetry Python SDK (BatchSpanProcessor, OTLP gRPC)",
                    mode,
                    sdk(target, args.seconds, rate),
                    receiver,
                )
            )
    write(results, args)


def write(results: list[Measurement], args: argparse.Namespace) -> None:
    command = (
        f"python benchmarks/compare_generators.py --seconds {args.seconds:g} --rate {args.rate:.0f}"
        f" --receiver {args.receiver}" + (" --telemetrygen build" if args.telemetrygen else "")
    )
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Load generators side by side",
        "",
        f"Command: `{command}`  ",
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu_model}), "
        f"Python {platform.python_version()}, locust {version('locust')}, grpcio {version('grpcio')}, "
        f"opentelemetry-sdk {version('opentelemetry-sdk')}, telemetrygen {TELEMETRYGEN_VERSION} "
        f"(`go install {TELEMETRYGEN}`).",
        "",
        f"Receiver: {args.receiver_name}, on the same machine. Per core = what the receiver got / the CPU "
        "time (user+system) of the generator's process, so the receiver's own CPU is not counted; the time "
        "includes starting up (about a second of CPU for the Python ones).",
        "",
    ]
    for mode in dict.fromkeys(r.mode for r in results):
        rows = [r for r in results if r.mode == mode]
        lines += [
            f"## {mode}",
            "",
            "| generator | wall s | CPU s | cores used | MB received | spans received | bytes/span | "
            "MB/s per core | spans/s per core |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r.generator} | {r.wall_s:.1f} | {r.cpu_s:.2f} | {r.cpu_s / r.wall_s:.2f} | "
            f"{r.received_bytes / 1e6:.1f} | {r.received_spans:,} | "
            f"{r.received_bytes / max(1, r.received_spans):.0f} | "
            f"{r.mb_per_core_s:.2f} | {r.spans_per_core_s:,.0f} |"
            for r in rows
        ]
        lines.append("")
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
