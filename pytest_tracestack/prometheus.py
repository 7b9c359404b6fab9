"""Prometheus text exposition, parsed with prometheus-client's parser, and the look-ups tracestack needs."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from .errors import TracestackError

MetricFamilies = list


class MetricsParseError(TracestackError):
    """A /metrics answer that is not Prometheus text."""


def parse_metrics(text: str, source: str = "/metrics") -> list:
    try:
        return list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as error:
        raise MetricsParseError(f"{source} is not Prometheus text: {error}") from error


def samples(families: list, name: str) -> list[Sample]:
    """Samples of a metric, accepting the name with or without ``_total`` (it varies across versions)."""
    wanted = {name, name.removesuffix("_total"), name.removesuffix("_total") + "_total"}
    return [sample for family in families for sample in family.samples if sample.name in wanted]


def sample_value(families: list, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The sum of the samples of ``name`` whose labels include ``labels``; None when there are none."""
    matching = [s for s in samples(families, name) if all(s.labels.get(k) == v for k, v in (labels or {}).items())]
    return sum(sample.value for sample in matching) if matching else None
