"""Offered MB/s and spans/s per CPU-second of three load generators, side by side, in one run, against
the same receiver (tracestack's capture sink counting bytes and spans only):

  tracestack  Locust users stamping pre-encoded payloads (pytest_tracestack/load)
  telemetrygen  the OpenTelemetry Collector contrib generator (Go), `telemetrygen traces`
  sdk         the OpenTelemetry Python SDK with its OTLP gRPC exporter

Per CPU-second = what the generator delivered divided by the CPU time (user+system) its process used,
so a generator is not flattered or punished by the receiver sharing the machine.

Usage: python benchmarks/compare_generators.py [--seconds 10] [--telemetrygen PATH] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pytest_tracestack.sink import CaptureSink  # noqa: E402

HERE = Path(__file__).resolve().parent
# v0.129.0 is refused by the Go module proxy ("not available"); v0.149.0 is served and builds.
TELEMETRYGEN = "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.149.0"


def build_telemetrygen() -> str:
    """go install telemetrygen into tracestack's cache (Go module proxy), once."""
    from pytest_tracestack.paths import cache_dir

    target = cache_dir() / "tools" / "telemetrygen-v0.149.0"
    binary = target / "telemetrygen"
    if not binary.is_file():
        subprocess.run(["go", "install", TELEMETRYGEN], env={**os.environ, "GOBIN": str(target)}, check=True)
    return str(binary)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, argv: list[str], sink: CaptureSink, env: dict | None = None) -> dict:
    sink.clear()
    cpu_before, started = children_cpu(), time.monotonic()
    subprocess.run(argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True, timeout=600)
    time.sleep(1.0)   # let the last exports land
    cpu = children_cpu() - cpu_before
    received = sum(sink.received_bytes.values())
    return {"generator": name, "wall_s": time.monotonic() - started, "cpu_s": cpu, "bytes": received,
            "spans": sink.span_count, "mb_per_cpu_s": received / 1e6 / cpu, "spans_per_cpu_s": sink.span_count / cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--telemetrygen", default=shutil.which("telemetrygen"),
                        help="path of telemetrygen; 'build' installs it with go install")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    if args.telemetrygen == "build":
        args.telemetrygen = build_telemetrygen()
    seconds = f"{args.seconds:.0f}s"
    with CaptureSink("127.0.0.1") as sink:
        sink.keep_spans = False
        target = sink.grpc_endpoint
        results = [measure("tracestack (Locust, 4 users, unthrottled)",
                           [sys.executable, "-m", "locust", "-f", str(HERE.parent / "loadtests" / "locustfile.py"),
                            "--headless", "-u", "4", "-r", "4", "-t", seconds, "--only-summary"], sink,
                           {"TRACESTACK_OTLP_GRPC": target, "TRACESTACK_LOAD_RATE": "10000MB/s"})]
        if args.telemetrygen:
            results.append(measure("telemetrygen (4 workers, unthrottled, 12 child spans)",
                                   [args.telemetrygen, "traces", "--otlp-endpoint", target, "--otlp-insecure",
                                    "--workers", "4", "--rate", "0", "--duration", seconds, "--child-spans", "12"], sink))
        results.append(measure("OpenTelemetry Python SDK (BatchSpanProcessor, OTLP gRPC)",
                               [sys.executable, str(HERE / "sdk_generator.py"), target, str(args.seconds)], sink))
    write(results, args)


def write(results: list[dict], args: argparse.Namespace) -> None:
    lines = ["# Load generators side by side", "",
             f"Measured with `python benchmarks/compare_generators.py --seconds {args.seconds:.0f}"
             f"{' --telemetrygen ' + args.telemetrygen if args.telemetrygen else ''}` on {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d')}. Receiver: tracestack's capture sink (OTLP gRPC, counting only), on the same "
             "machine. Per CPU-second = delivered / CPU time of the generator's process.", "",
             "| generator | wall s | CPU s | MB received | spans received | MB/s per CPU-second | spans/s per CPU-second |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['generator']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['bytes'] / 1e6:.1f} | "
                     f"{r['spans']} | {r['mb_per_cpu_s']:.2f} | {r['spans_per_cpu_s']:.0f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
