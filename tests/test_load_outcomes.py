"""Load: export answers classified as accepted, refused or failed, and read back from Locust's output."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from pytest_tracestack.load.locust_stats import percentile, read_stats
from pytest_tracestack.load.outcomes import (
    Failed,
    PartiallyRejected,
    Refused,
    grpc_outcome,
    http_outcome,
    parse_failure,
    partial_outcome,
)

RUN = Path(__file__).with_name("load_data") / "locust-run"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("RESOURCE_EXHAUSTED", Refused),
        ("UNAVAILABLE", Refused),
        ("INVALID_ARGUMENT", Failed),
        ("DEADLINE_EXCEEDED", Failed),
    ],
)
def test_grpc_statuses_are_refusals_only_when_they_push_back(code: str, kind: type) -> None:
    outcome = grpc_outcome(code)
    assert type(outcome) is kind and parse_failure(repr(outcome)) == (kind.__name__.lower(), code)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, "refused HTTP 429"),
        (503, "refused HTTP 503"),
        (400, "failed HTTP 400"),
        (500, "failed HTTP 500"),
        (0, "failed connection: ConnectionRefusedError"),
    ],
)
def test_http_statuses(status: int, expected: str) -> None:
    outcome = http_outcome(status, b"", ConnectionRefusedError())
    assert " ".join(parse_failure(repr(outcome))) == expected


def test_ok_answers_are_accepted_unless_they_report_rejected_spans() -> None:
    assert http_outcome(200, b"") is None and http_outcome(200, None) is None
    partial = ExportTraceServiceResponse()
    partial.partial_success.rejected_spans = 7
    assert isinstance(http_outcome(200, partial.SerializeToString()), PartiallyRejected)
    assert parse_failure(repr(partial_outcome(partial))) == ("partially rejected", "7 spans rejected")
    assert partial_outcome(ExportTraceServiceResponse()) is None
    assert partial_outcome(b"\xff\xff not protobuf") is None


def test_an_unknown_failure_text_is_kept_as_a_failure() -> None:
    assert parse_failure("ConnectionResetError(104, 'reset')") == ("failed", "ConnectionResetError(104, 'reset')")


def test_a_recorded_locust_run_reads_back_per_target_with_refusals_by_status() -> None:
    stats = read_stats(
        (RUN / "stdout.json").read_text(), RUN / "locust", bytes_per_request=48043, spans_per_request=122
    )
    healthy, refusing = stats.targets["otlp-grpc 127.0.0.1:39057"], stats.targets["otlp-grpc 127.0.0.1:33133"]
    assert (healthy.requests, healthy.failed_requests, healthy.failures) == (39, 0, {})
    assert (refusing.requests, refusing.failed_requests) == (39, 3)
    assert refusing.failures == {"refused RESOURCE_EXHAUSTED": 3} and refusing.target == "127.0.0.1:33133"
    assert stats.offered_bytes == 2 * 39 * 48043 and stats.offered_spans == 78 * 122
    assert stats.delivered_spans == 75 * 122
    assert 3.0 < stats.duration_s < 4.5
    assert 0 < stats.percentile_ms(0.5) <= stats.percentile_ms(0.99)
    names = {point.name for point in stats.history}
    assert names == {"Aggregated", "otlp-grpc 127.0.0.1:39057", "otlp-grpc 127.0.0.1:33133"}


def test_with_worker_processes_the_masters_statistics_are_read_among_the_workers_empty_lists() -> None:
    recorded = (RUN / "stdout.json").read_text()
    alone = read_stats(recorded, RUN / "locust", 48043, 122)
    among_workers = read_stats(f"[]\n{recorded}\n[]\n", RUN / "locust", 48043, 122)
    assert among_workers.targets == alone.targets and among_workers.offered_bytes == 2 * 39 * 48043


def test_locust_output_without_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"locust printed no JSON statistics \(was it run with --json\?\)"):
        read_stats("Traceback ...", tmp_path / "locust", 1, 1)


def test_percentiles_of_a_histogram() -> None:
    histogram = {1: 50, 2: 40, 30: 9, 400: 1}
    assert [percentile(histogram, q) for q in (0.5, 0.9, 0.99, 1.0)] == [1, 2, 30, 400]
    assert percentile({}, 0.99) == 0.0
