"""The ingester-kill report tells traces that are gone (read back, not there) from reads that failed (the query
path answered an error, e.g. a querier whose ingester is down), naming which traces and what was answered.

Driven against FAKE TEMPO FOR TESTS (tests/tempo_double.py), which answers 503 "Ingester not ready" while told
to. How a real Tempo's querier answers when an ingester it needs is down (replication_factor 1) was NOT
measured here: this shows the report's shape only."""

from __future__ import annotations

from pytest_tracestack.checks.faults import SteadyTraffic
from pytest_tracestack.checks.sources import TempoSource
from pytest_tracestack.clients.tempo import TempoClient
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.traffic.trace_shapes import SMALL, build_trace
from tempo_double import FakeTempoForTests


def _traffic(acknowledged: list[str]) -> SteadyTraffic:
    traffic = SteadyTraffic("otlp-grpc", "127.0.0.1:1", "svc")
    traffic.account.sent = len(acknowledged) + 2
    traffic.account.acknowledged = list(acknowledged)
    traffic.account.refused = {"UNAVAILABLE": 2}
    return traffic


def test_a_trace_read_back_and_not_there_is_gone_and_one_stored_is_found() -> None:
    stored, gone = build_trace(SMALL, service_name="svc"), build_trace(SMALL, service_name="svc")
    with FakeTempoForTests() as double:
        double.add_spans(stored)
        account = _traffic([stored[0].trace_id, gone[0].trace_id]).reconcile(TempoSource(TempoClient(double.url)), 2)
    assert account.found == 1 and account.lost == [gone[0].trace_id] and account.read_failed == {}
    report = account.describe_missing()
    assert report.startswith("1 of 2 acknowledged traces were not read back (sent 4, refused {'UNAVAILABLE': 2}):")
    assert f"1 are gone: read back, not there (first: {gone[0].trace_id})" in report
    assert "could not be read" not in report


def test_reads_answered_with_an_error_are_reported_apart_with_the_error_and_the_traces() -> None:
    stored = build_trace(SMALL, service_name="svc")
    with FakeTempoForTests(unavailable_next=10**6) as double:
        double.add_spans(stored)
        account = _traffic([stored[0].trace_id]).reconcile(TempoSource(TempoClient(double.url)), 1)
        url = double.url
    assert account.lost == [] and list(account.read_failed) == [stored[0].trace_id]
    report = account.describe_missing()
    assert "1 could not be read: the query path answered an error, so whether they are stored is unknown:" in report
    assert f"1 x {url}/api/v2/traces/{stored[0].trace_id}: HTTP 503: b'Ingester not ready" in report
    assert "are gone" not in report
    assert account.as_properties()["reads_failed"] == 1 and account.as_properties()["acknowledged_but_lost"] == 0


class _SourceAnsweringAnEmptyErrorForTests:
    """A trace source whose every read fails with an error that carries no message."""

    def read_trace(self, trace_id: str, min_spans: int, deadline_s: float):
        raise TracestackError("")


def test_a_read_failing_with_an_empty_message_is_reported_by_the_error_type() -> None:
    account = _traffic(["a" * 32]).reconcile(_SourceAnsweringAnEmptyErrorForTests(), 1)  # type: ignore[arg-type]
    assert account.read_failed == {"a" * 32: "TracestackError"}
    assert "1 x TracestackError (first: " + "a" * 32 + ")" in account.describe_missing()
