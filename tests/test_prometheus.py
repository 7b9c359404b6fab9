"""Prometheus text look-ups, on the scrape recorded from a real Tempo 2.10.8."""

from __future__ import annotations

import pytest

from pytest_tracestack.clients.prometheus_text import (
    MetricsParseError,
    parse_metrics,
    sample_value,
    samples,
    values_by_label,
)
from recorded_tempo import FIXTURES

SCRAPE = FIXTURES / "metrics-full.txt"


@pytest.fixture(scope="module")
def families():
    return parse_metrics(SCRAPE.read_text(), str(SCRAPE))


@pytest.mark.parametrize("name", ["tempo_distributor_spans_received_total", "tempo_distributor_spans_received"])
def test_a_counter_is_found_with_or_without_total(families, name: str) -> None:
    assert sample_value(families, name) == 2


@pytest.mark.parametrize("name", ["tempo_receiver_accepted_spans", "tempo_receiver_accepted_spans_total"])
def test_a_counter_written_without_total_is_found_both_ways(families, name: str) -> None:
    # Tempo writes `tempo_receiver_accepted_spans{...} 2`; the parser renames the sample with _total.
    assert "\ntempo_receiver_accepted_spans{" in SCRAPE.read_text()
    assert sample_value(families, name, {"transport": "grpc"}) == 2


def test_labels_select_and_the_rest_are_summed(families) -> None:
    members = {
        state: sample_value(families, "tempo_ring_members", {"name": "ingester", "state": state})
        for state in ("ACTIVE", "JOINING", "LEAVING")
    }
    assert members == {"ACTIVE": 1, "JOINING": 0, "LEAVING": 0}
    assert sample_value(families, "tempo_ring_members", {"name": "ingester"}) == 1


def test_discards_are_read_per_reason(families) -> None:
    reasons = values_by_label(families, "tempo_discarded_spans", "reason", {"tenant": "single-tenant"})
    assert {"trace_too_large", "live_traces_exceeded"} <= set(reasons)
    assert set(reasons.values()) == {0.0}


def test_a_gauge_keeps_its_value(families) -> None:
    assert sample_value(families, "process_resident_memory_bytes") == 1.13856512e8


def test_an_absent_metric_or_label_is_none_not_zero(families) -> None:
    assert sample_value(families, "tempo_no_such_metric") is None
    assert sample_value(families, "tempo_ring_members", {"name": "no-such-ring"}) is None
    assert samples(families, "tempo_no_such_metric") == []


def test_text_that_is_not_prometheus_names_its_source() -> None:
    with pytest.raises(
        MetricsParseError, match=r"http://replica:3200/metrics is not Prometheus text: .*it begins '<html>"
    ):
        parse_metrics("<html>\nnot { metrics\n", "http://replica:3200/metrics")
