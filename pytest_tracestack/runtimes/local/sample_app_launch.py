"""Runs the sample service under OpenTelemetry auto-instrumentation with the settings of an
``Instrumentation`` resource (exporter endpoint, propagators, sampler) turned into OTEL_* variables."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pytest_tracestack.configs.rendering import ReplicaContext
from pytest_tracestack.errors import UnavailableError
from pytest_tracestack.profiles.profile import Component
from pytest_tracestack.runtimes.base import Replica


def instrumentation_env(spec: dict[str, Any], service_name: str) -> dict[str, str]:
    """The variables the operator sets from an Instrumentation spec (Python agents speak http/protobuf)."""
    endpoint = spec.get("exporter", {}).get("endpoint", "")
    env = {
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        # Export spans within a fraction of a second, so a check need not wait the SDK's default 5 s.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    if spec.get("propagators"):
        env["OTEL_PROPAGATORS"] = ",".join(spec["propagators"])
    sampler = spec.get("sampler") or {}
    if sampler.get("type"):
        env["OTEL_TRACES_SAMPLER"] = sampler["type"]
    if sampler.get("argument") is not None:
        env["OTEL_TRACES_SAMPLER_ARG"] = str(sampler["argument"])
    return env


def instrument_command() -> str:
    """``opentelemetry-instrument`` of this Python environment."""
    beside_python = Path(sys.executable).parent / "opentelemetry-instrument"
    found = str(beside_python) if beside_python.is_file() else shutil.which("opentelemetry-instrument")
    if found is None:
        raise UnavailableError(
            "opentelemetry-instrument is not installed, so the sample service cannot run under "
            "auto-instrumentation: pip install 'pytest-tracestack[operator]'"
        )
    return found


def sample_app_argv_env(
    component: Component, replica: Replica, spec: dict[str, Any], context: ReplicaContext
) -> tuple[list[str], dict[str, str]]:
    argv = [
        instrument_command(),
        sys.executable,
        "-m",
        "pytest_tracestack.runtimes.local.sample_app",
        "--host",
        replica.address,
        "--port",
        str(replica.ports["http"]),
    ]
    env = {**os.environ, **instrumentation_env(spec, service_name=component.name)}
    return argv, env
