"""Load: refusals and drops named by their cause, from what a real Tempo 2.10.8 answered past its limits."""

from __future__ import annotations

import ast
import re

from pytest_tracestack.load.outcomes import Refused, grpc_outcome, http_outcome, parse_failure
from pytest_tracestack.load.refusals import RateLimit, explain_discards, explain_refusal, rate_limit, short_message
from recorded_tempo import RATE_LIMITED

RECORDED = RATE_LIMITED.read_text()
GRPC = re.findall(r"OTLP gRPC answer after \d+ accepted requests: StatusCode\.(\w+) \| details: (.*)", RECORDED)
HTTP = re.search(
    r"OTLP/HTTP answer after \d+ accepted requests: (\d+) \| content-type: (\S+) \| body: (b'.*')", RECORDED
)


def test_the_recorded_answers_are_both_forms() -> None:
    assert [code for code, _ in GRPC] == ["RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"]
    assert GRPC[0][1].startswith("RATE_LIMITED: batch size (2074881 bytes) exceeds ingestion limit")
    assert GRPC[1][1].startswith("RATE_LIMITED: ingestion rate limit (local: 1000000 bytes/s")
    assert HTTP is not None


def test_a_grpc_rate_limited_refusal_keeps_tempos_limit_and_groups_without_the_request_size() -> None:
    code, details = GRPC[1]
    outcome = grpc_outcome(code, details)
    assert isinstance(outcome, Refused)
    kind, status = parse_failure(repr(outcome))
    assert (kind, status) == (
        "refused",
        "RESOURCE_EXHAUSTED: RATE_LIMITED: ingestion rate limit (local: 1000000 "
        "bytes/s, global: 0 bytes/s, burst: 1000000 bytes) exceeded",
    )
    other_request = details.replace("311209 bytes", "48043 bytes")
    assert repr(grpc_outcome(code, other_request)) == repr(outcome), "one Locust failure row per cause"
    assert rate_limit(status) == RateLimit(1_000_000, 0, 1_000_000)


def test_the_verdict_names_the_per_tenant_limit_tempo_reported_and_its_override() -> None:
    text = explain_refusal(parse_failure(repr(grpc_outcome(*GRPC[1])))[1])
    assert text == (
        "refused by the per-tenant ingestion rate limit (local 1,000,000 B/s, global 0 B/s, "
        "burst 1,000,000 B, as Tempo reported): a configuration limit, not the stack's capacity; set "
        "overrides.defaults.ingestion.rate_limit_bytes / overrides.defaults.ingestion.burst_size_bytes "
        "above the rate asked, or ask less"
    )


def test_one_request_larger_than_the_burst_is_named_as_such() -> None:
    text = explain_refusal(short_message(GRPC[0][1]))
    assert "one request of 2,074,881 B is larger than the burst" in text
    assert text.endswith(
        "set overrides.defaults.ingestion.burst_size_bytes above the request size, or send smaller requests"
    )


def test_the_http_429_answer_is_read_from_its_protobuf_status() -> None:
    status, content_type, body = int(HTTP[1]), HTTP[2], ast.literal_eval(HTTP[3])
    outcome = http_outcome(status, body, None, content_type)
    kind, text = parse_failure(repr(outcome))
    assert kind == "refused"
    assert text.startswith(
        "HTTP 429: RATE_LIMITED: batch size (2074881 bytes) exceeds ingestion "
        "limit (local: 1000000 bytes/s, global: 0 bytes/s, burst: 1000000 bytes)"
    )
    assert "configuration limit" in explain_refusal(text)


def test_other_refusals_keep_their_message_but_are_not_called_a_limit() -> None:
    outcome = grpc_outcome("UNAVAILABLE", "at least 2 live replicas required, could only find 1")
    kind, text = parse_failure(repr(outcome))
    assert (kind, text) == ("refused", "UNAVAILABLE: at least 2 live replicas required, could only find 1")
    assert explain_refusal(text) is None
    assert parse_failure("Refused('RESOURCE_EXHAUSTED')") == ("refused", "RESOURCE_EXHAUSTED"), "rows of older runs"
    assert len(short_message("x" * 1000)) == 200


def test_discards_are_explained_by_reason_with_the_configured_limit_and_override() -> None:
    reasons = dict(re.findall(r'tempo_discarded_spans_total\{reason="(\w+)",tenant="single-tenant"\} (\d+)', RECORDED))
    by_reason = {reason: float(count) for reason, count in reasons.items()}
    assert by_reason["rate_limited"] == 10_400
    text = explain_discards(by_reason, {"ingestion_rate_limit_bytes": 1e6})
    assert text == (
        "rate_limited 10,400: the per-tenant ingestion rate limit (ingestion_rate_limit_bytes 1,000,000); "
        "a configuration limit, not a capacity: overrides.defaults.ingestion.rate_limit_bytes / "
        "overrides.defaults.ingestion.burst_size_bytes"
    )
    silent = explain_discards(
        {"live_traces_exceeded": 12.0, "trace_too_large": 3.0},
        {"max_local_traces_per_user": 10_000, "max_bytes_per_trace": 5e6},
    )
    assert silent == (
        "live_traces_exceeded 12: more live traces per ingester than the per-tenant limit (max_local_traces_per_user "
        "10,000), dropped silently (the push was answered OK); a configuration limit, not a capacity: "
        "overrides.defaults.ingestion.max_traces_per_user; trace_too_large 3: a trace larger than the per-tenant limit "
        "(max_bytes_per_trace 5,000,000), dropped silently (the push was answered OK); a configuration limit, not a "
        "capacity: overrides.defaults.global.max_bytes_per_trace"
    )
