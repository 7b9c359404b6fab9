"""What one load run is asked to do: what ``tracestack_load`` builds and ``run_load`` takes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.load.locust_env import PROTOCOLS, LocustEnv, in_flight_from
from pytest_tracestack.load.rates import Rate, parse_duration, parse_rate
from pytest_tracestack.load.verdicts import Limits


@dataclass(frozen=True)
class LoadSpec:
    """Push ``rate`` (bytes or spans per second, all users together) for ``duration_s`` at every replica of the
    profile's ingest component for ``protocol``, and judge the run against the profile's targets."""

    rate: Rate
    duration_s: float
    protocol: str
    report_dir: Path
    users: int = 4
    traffic: Rate | None = None  # the figure to size replica counts for (default: rate)
    limits: Limits = field(default_factory=Limits)
    sink: Any = None  # a CaptureSink behind the pipeline to cross-check (default: the stack's)
    traces_per_request: int = 10
    interval_s: float = 1.0  # between samples of each replica and the machine
    in_flight: int = field(default_factory=in_flight_from)  # per user at most: TRACESTACK_LOAD_IN_FLIGHT, else 32

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise TracestackError(f"load protocol {self.protocol!r}: write one of {', '.join(PROTOCOLS)}")

    @classmethod
    def of(cls, rate: Rate | str, duration: float | str, protocol: str, report_dir: Path, **options: Any) -> LoadSpec:
        """From what a user writes: ``LoadSpec.of("5MB/s", "30s", "otlp-grpc", report_dir, users=8)``."""
        traffic = options.pop("traffic", None)
        return cls(
            parse_rate(rate),
            parse_duration(duration),
            protocol,
            report_dir,
            traffic=parse_rate(traffic, "traffic") if traffic else None,
            **options,
        )

    def locust_env(self, targets: Iterable[str]) -> LocustEnv:
        """The settings the Locust users read, pushing to ``targets``."""
        targets = tuple(targets)
        grpc = self.protocol == "otlp-grpc"
        return LocustEnv(
            protocol=self.protocol,
            rate=self.rate.text(),
            traces_per_request=str(self.traces_per_request),
            in_flight=self.in_flight,
            grpc_targets=targets if grpc else (),
            http_targets=() if grpc else targets,
            failures=str(self.report_dir / "locust_failures.json"),
        )
