"""What the values of seed 003's charts must say for the span-metrics and service-graphs checks to see anything: the
`tempo` chart's generator on with the processors listed and a remote-write URL, kube-prometheus-stack's Prometheus
taking remote writes. Checked offline with the plan, naming the file and the key."""

from __future__ import annotations

from typing import Any

from pytest_tracestack.configs.dotted import dotted_get
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.profile import Profile

METRICS_CHECKS = {"span-metrics": "span-metrics", "service-graphs": "service-graphs"}  # check -> processor
PROCESSORS_KEY = "tempo.overrides.defaults.metrics_generator.processors"
RECEIVER_KEY = "prometheus.prometheusSpec.enableRemoteWriteReceiver"


class MetricsValuesInvalid(TracestackError):
    """Values that would leave the metrics checks nothing to find."""


def check_metrics_values(values: dict[str, Any], chart: str, where: str, profile: Profile) -> list[str]:
    """The keys the profile's metrics checks rely on in ``chart``'s values; [] when it runs none of them."""
    processors = [METRICS_CHECKS[check] for check in profile.checks if check in METRICS_CHECKS]
    if not processors:
        return []
    if chart == "kube-prometheus-stack":
        _require(
            dotted_get(values, RECEIVER_KEY) is True,
            where,
            f"{RECEIVER_KEY} is "
            f"{dotted_get(values, RECEIVER_KEY)!r}: Prometheus would refuse Tempo's remote writes (404); set it "
            "to true",
        )
        return [f"{RECEIVER_KEY}=True"]
    if chart != "tempo":
        return []
    _require(
        dotted_get(values, "tempo.metricsGenerator.enabled") is True,
        where,
        "tempo.metricsGenerator.enabled is not true: the chart would run no metrics-generator",
    )
    remote = dotted_get(values, "tempo.metricsGenerator.storage.remote_write") or dotted_get(
        values, "tempo.metricsGenerator.remoteWriteUrl"
    )
    _require(
        bool(remote),
        where,
        "neither tempo.metricsGenerator.remoteWriteUrl nor .storage.remote_write is set: "
        "the generator would write to the chart's default http://prometheus.monitoring:9090",
    )
    listed = dotted_get(values, PROCESSORS_KEY) or []
    missing = [name for name in processors if name not in listed]
    _require(
        not missing,
        where,
        f"{PROCESSORS_KEY} lacks {', '.join(missing)}: chart 2.x writes only the processors "
        f"listed there (1.x added them itself), so profile {profile.name}'s checks "
        f"{', '.join(p for p in processors)} would find no series; add them",
    )
    return ["tempo.metricsGenerator.enabled=True", f"{PROCESSORS_KEY} has {', '.join(processors)}"]


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise MetricsValuesInvalid(f"{where}: {message}")
