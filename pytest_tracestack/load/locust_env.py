"""The TRACESTACK_* environment variables a Locust run reads: what ``tracestack_load`` hands its Locust subprocess
and what a user of plain ``locust -f loadtests/locustfile.py`` sets. This module is the one place that names them;
the users and the stepped shape read them back through ``LocustEnv.from_env`` when Locust imports the locustfile.
No Locust import here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PROTOCOLS = ("otlp-grpc", "otlp-http")
DEFAULT_IN_FLIGHT = 32

RATE_VAR = "TRACESTACK_LOAD_RATE"
PROTOCOL_VAR = "TRACESTACK_LOAD_PROTOCOL"
TRACES_PER_REQUEST_VAR = "TRACESTACK_TRACES_PER_REQUEST"
IN_FLIGHT_VAR = "TRACESTACK_LOAD_IN_FLIGHT"
FAILURES_VAR = "TRACESTACK_LOAD_FAILURES"
STEPS_VAR = "TRACESTACK_LOAD_STEPS"
STEP_SECONDS_VAR = "TRACESTACK_LOAD_STEP_SECONDS"
STEP_USERS_VAR = "TRACESTACK_LOAD_USERS"
TARGET_VARS = {"otlp-grpc": "TRACESTACK_OTLP_GRPC", "otlp-http": "TRACESTACK_OTLP_HTTP"}
VARIABLES = frozenset(
    {
        RATE_VAR,
        PROTOCOL_VAR,
        TRACES_PER_REQUEST_VAR,
        IN_FLIGHT_VAR,
        FAILURES_VAR,
        STEPS_VAR,
        STEP_SECONDS_VAR,
        STEP_USERS_VAR,
        *TARGET_VARS.values(),
    }
)


@dataclass(frozen=True)
class LocustEnv:
    """A Locust run's settings. The protocol, the requests in flight and the targets are checked when read (the
    users need them when Locust imports them); the rest is text as given, which Locust's options (the rate, the
    traces per request) or the stepped shape parse, so that their errors name the variable."""

    protocol: str = "otlp-grpc"
    rate: str = "1MB/s"  # all users together: 5MB/s, 20000spans/s, or max
    traces_per_request: str = "10"
    in_flight: int = DEFAULT_IN_FLIGHT  # requests in flight per user at most
    grpc_targets: tuple[str, ...] = ()  # host:port; the users are spread over them (else --host)
    http_targets: tuple[str, ...] = ()  # http://host:port or a .../v1/traces URL
    failures: str | None = None  # a file to write the final failures by error to (JSON)
    steps: str | None = None  # a stepped rate, e.g. 1MB/s,2MB/s,4MB/s (shapes.py); None: not stepped
    step_seconds: str = "20"
    step_users: str = "4"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocustEnv:
        protocol = environ.get(PROTOCOL_VAR, cls.protocol)
        if protocol not in PROTOCOLS:
            raise ValueError(f"{PROTOCOL_VAR}={protocol!r}: write otlp-grpc or otlp-http")
        return cls(
            protocol=protocol,
            rate=environ.get(RATE_VAR, cls.rate),
            traces_per_request=environ.get(TRACES_PER_REQUEST_VAR, cls.traces_per_request),
            in_flight=in_flight_from(environ),
            grpc_targets=tuple(split_targets(environ.get(TARGET_VARS["otlp-grpc"]))),
            http_targets=tuple(split_targets(environ.get(TARGET_VARS["otlp-http"]))),
            failures=environ.get(FAILURES_VAR) or None,
            steps=environ.get(STEPS_VAR),
            step_seconds=environ.get(STEP_SECONDS_VAR, cls.step_seconds),
            step_users=environ.get(STEP_USERS_VAR, cls.step_users),
        )

    def to_env(self) -> dict[str, str]:
        """The variables that say these settings (from_env reads them back as they are)."""
        given = {
            PROTOCOL_VAR: self.protocol,
            RATE_VAR: self.rate,
            TRACES_PER_REQUEST_VAR: self.traces_per_request,
            IN_FLIGHT_VAR: str(self.in_flight),
            TARGET_VARS["otlp-grpc"]: ",".join(self.grpc_targets),
            TARGET_VARS["otlp-http"]: ",".join(self.http_targets),
            FAILURES_VAR: self.failures or "",
            STEPS_VAR: self.steps,
            STEP_SECONDS_VAR: self.step_seconds,
            STEP_USERS_VAR: self.step_users,
        }
        # Empty targets and failures are as good as unset; a set STEPS turns the stepped shape on, even empty.
        return {name: value for name, value in given.items() if value or (name == STEPS_VAR and value is not None)}

    def applied_to(self, environ: Mapping[str, str]) -> dict[str, str]:
        """``environ`` with these settings in place of any a Locust run would read from it."""
        return {name: value for name, value in environ.items() if name not in VARIABLES} | self.to_env()

    def targets(self, protocol: str) -> tuple[str, ...]:
        return self.grpc_targets if protocol == "otlp-grpc" else self.http_targets


def in_flight_from(environ: Mapping[str, str] = os.environ) -> int:
    """TRACESTACK_LOAD_IN_FLIGHT, also the default of a run under pytest."""
    return in_flight_per_user(environ.get(IN_FLIGHT_VAR))


def in_flight_per_user(text: str | None) -> int:
    """Requests a user may have in flight at once (default 32)."""
    if text is None or not text.strip():
        return DEFAULT_IN_FLIGHT
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{IN_FLIGHT_VAR}={text!r}: write a whole number of requests, at least 1")
    return int(text)


def split_targets(text: str | None) -> list[str]:
    """``a:4317,b:4317`` -> targets; users are spread over them round robin."""
    return [target.strip() for target in (text or "").split(",") if target.strip()]
