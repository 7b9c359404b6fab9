"""Prometheus text exposition, parsed with prometheus-client's parser, and the look-ups tracestack needs.

Counter names vary across versions and exporters (``tempo_receiver_accepted_spans`` has no ``_total``
in Tempo's text, the parser adds one; the collector's names change with its config): every look-up
accepts a name with or without ``_total``.
"""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from pytest_tracestack.errors import TracestackError

MetricFamilies = list[Metric]


class MetricsParseError(TracestackError):
    """A /metrics answer that is not Prometheus text."""


def parse_metrics(text: str, source: str = "/metrics") -> MetricFamilies:
    try:
        return list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise MetricsParseError(f"{source} is not Prometheus text: {error}; it begins {text[:200]!r}") from error


def _names(name: str) -> set[str]:
    base = name.removesuffix("_total")
    return {base, base + "_total"}


def samples(families: MetricFamilies, name: str, labels: dict[str, str] | None = None) -> list[Sample]:
    """Samples of a metric (name with or without ``_total``) whose labels include ``labels``."""
    wanted = _names(name)
    return [
        sample
        for family in families
        for sample in family.samples
        if sample.name in wanted and all(sample.labels.get(k) == v for k, v in (labels or {}).items())
    ]


def sample_value(families: MetricFamilies, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The sum of the samples of ``name`` whose labels include ``labels``; None when there are none."""
    matching = samples(families, name, labels)
    return sum(sample.value for sample in matching) if matching else None


def values_by_label(
    families: MetricFamilies, name: str, label: str, labels: dict[str, str] | None = None
) -> dict[str, float]:
    """``name`` summed per value of ``label``, e.g. ``tempo_discarded_spans_total`` per ``reason``."""
    totals: dict[str, float] = {}
    for sample in samples(families, name, labels):
        if label in sample.labels:
            totals[sample.labels[label]] = totals.get(sample.labels[label], 0.0) + sample.value
    return totals
