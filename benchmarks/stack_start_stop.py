"""Where a local stack's start and stop time goes: the `distributed` profile with 3 and more ingesters, and
the `manifest` single binary, started and stopped by the local runtime, each phase timed by the runtime
itself (LocalStack.timings):

  find      finding the binaries and asking Tempo its version
  launch    rendering every replica's config and spawning it (nothing waits for readiness here)
  ready     from the last spawn until every replica answered ready (all polled at once)
  slowest   the replica that took longest from its own spawn to ready
  stop      every replica signalled at once, one grace period, SIGKILL for the rest; ports checked free

Against a real Tempo (--tempo PATH) the figures are Tempo's and the project's; against FAKE TEMPO FOR TESTS
(the default, tests/doubles/) they are the project's own costs plus a Python process per replica.
--linger makes the double's query-frontend and querier ignore SIGTERM, as Tempo's can while connections
are open, so the stop column shows what one shared grace period costs.

Usage: python benchmarks/stack_start_stop.py [--tempo PATH] [--ingesters 3,6] [--repeat 3] [--linger]
                                             [--grace 10] [--out benchmarks/stack_start_stop.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from pytest_tracestack.binaries.finder import BinaryProvider  # noqa: E402
from pytest_tracestack.profiles.profile import Profile, load_profile  # noqa: E402
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings, SlowStopWarning  # noqa: E402

DOUBLE = REPO / "tests" / "doubles" / "fake_tempo_for_tests.py"


@dataclasses.dataclass
class Run:
    label: str
    processes: int
    find_s: float
    launch_s: float
    ready_s: float
    slowest: str
    stop_s: float
    killed: list[str]

    @property
    def start_s(self) -> float:
        return self.find_s + self.launch_s + self.ready_s


def with_ingesters(profile: Profile, count: int) -> Profile:
    ingester = dataclasses.replace(profile.components["ingester"], replicas=count)
    return dataclasses.replace(profile, components={**profile.components, "ingester": ingester})


def measure(runtime: LocalRuntime, profile: Profile, label: str) -> Run:
    stack = runtime.start(profile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowStopWarning)  # the report's killed list says it
        report = runtime.stop(stack)
    timings = stack.timings
    slowest = max(timings.replica_ready_s.items(), key=lambda item: item[1])
    return Run(
        label,
        len(stack.replicas),
        timings.find_binaries_s,
        timings.launch_s,
        timings.ready_s,
        f"{slowest[0]} {slowest[1]:.2f}s",
        report.seconds,
        report.killed,
    )


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda run: run.start_s)[len(runs) // 2]


def table(runs: list[Run]) -> list[str]:
    lines = [
        "| stack | processes | start s | find | launch | ready | slowest replica | stop s | needed SIGKILL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {run.processes} | {run.start_s:.2f} | {run.find_s:.2f} | {run.launch_s:.2f} | "
            f"{run.ready_s:.2f} | {run.slowest} | {run.stop_s:.2f} | {', '.join(run.killed) or 'none'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tempo", default=str(DOUBLE), help="Tempo binary (default: FAKE TEMPO FOR TESTS)")
    parser.add_argument("--ingesters", default="3,6", help="ingester counts for `distributed`, comma separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stack; the table shows the median start")
    parser.add_argument("--linger", action="store_true", help="the double's frontend and querier ignore SIGTERM")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--out", type=Path, default=HERE / "stack_start_stop.md")
    args = parser.parse_args()
    if args.linger:
        os.environ["FAKE_TEMPO_STOPPING_TARGETS"] = "querier,query-frontend"
    runtime = LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"tempo": args.tempo}, allow_download=False), stop_grace_s=args.grace
        )
    )
    stacks = [("manifest", load_profile("manifest"))]
    distributed = load_profile("distributed")
    stacks += [
        (f"distributed, {count} ingesters", with_ingesters(distributed, int(count)))
        for count in args.ingesters.split(",")
    ]
    results = []
    for label, profile in stacks:
        runs = [measure(runtime, profile, label) for _ in range(args.repeat)]
        chosen = median_run(runs)
        chosen.stop_s = statistics.median(run.stop_s for run in runs)
        results.append(chosen)
        print(table([chosen])[-1], flush=True)
    write_report(args, results)


def write_report(args: argparse.Namespace, results: list[Run]) -> None:
    tempo = "FAKE TEMPO FOR TESTS (tests/doubles/), not Tempo" if Path(args.tempo) == DOUBLE else args.tempo
    lines = [
        "# Local stack start and stop times",
        "",
        f"Written by `python benchmarks/stack_start_stop.py --ingesters {args.ingesters} --repeat {args.repeat}"
        f"{' --linger' if args.linger else ''} --grace {args.grace:g}` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d} ({platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end). Tempo: {tempo}.",
        "",
        f"Median of {args.repeat} runs (by start time; stop is the median stop). Seconds.",
        "",
        *table(results),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
