"""Contract tests: the Tempo client against responses recorded from a real Tempo 2.10.8."""

from __future__ import annotations

import httpx
import pytest

from pytest_tracestack.otlp import from_otlp_http_json
from pytest_tracestack.prometheus import sample_value
from pytest_tracestack.tempo import TempoClient, TempoQueryError, TempoResponseError, VisibilityTimeout
from recorded_tempo import FIXTURES, TRACE_ID, transport

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"recorded Tempo responses not found at {FIXTURES}")


@pytest.fixture
def tempo() -> TempoClient:
    return TempoClient("http://tempo.recorded:3200", transport=transport())


def _sent():
    return sorted(from_otlp_http_json((FIXTURES / "input-otlp.json").read_bytes()), key=lambda s: s.span_id)


def test_v2_trace_is_the_pushed_trace_span_for_span(tempo: TempoClient) -> None:
    assert sorted(tempo.trace(TRACE_ID), key=lambda s: s.span_id) == _sent()


def test_v1_trace_decodes_base64_ids_and_enum_names_to_the_same_spans(tempo: TempoClient) -> None:
    spans = sorted(tempo.trace(TRACE_ID, api="v1"), key=lambda s: s.span_id)
    assert spans == _sent()
    assert spans[0].attributes["http.status_code"] == 200     # an int, not "200"
    assert spans[1].parent_span_id == spans[0].span_id


def test_unknown_id_is_not_found_in_v2_despite_status_200(tempo: TempoClient) -> None:
    assert tempo.trace("0" * 31 + "1") is None


def test_unknown_id_is_not_found_in_v1_from_the_empty_404(tempo: TempoClient) -> None:
    assert tempo.trace("0" * 31 + "1", api="v1") is None


def test_an_invalid_id_carries_tempos_message(tempo: TempoClient) -> None:
    with pytest.raises(TempoQueryError, match=r"trace IDs can only contain hex characters: invalid character 'z'"):
        tempo.trace("zz", api="v1")


def test_search_by_tags_returns_zero_padded_ids(tempo: TempoClient) -> None:
    hits = tempo.search(tags={"service.name": "nginx"})
    assert [(h.trace_id, h.root_service, h.root_name, h.duration_ms) for h in hits] == [(TRACE_ID, "nginx", "GET /", 5)]


def test_search_by_traceql_lists_the_matched_spans(tempo: TempoClient) -> None:
    hits = tempo.search(traceql='{ resource.service.name = "nginx" }')
    assert hits[0].trace_id == TRACE_ID
    assert hits[0].matched_span_ids == ("8d0768a1b92d2e5d", "9f064c4b14048cd8")


def test_invalid_traceql_carries_tempos_parse_error(tempo: TempoClient) -> None:
    with pytest.raises(TempoQueryError, match=r"invalid TraceQL query: parse error at line 1, col 2"):
        tempo.search(traceql="{ bad }")


def test_search_refuses_tags_and_traceql_together(tempo: TempoClient) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        tempo.search(tags={"a": "b"}, traceql="{}")


def test_tags_and_values(tempo: TempoClient) -> None:
    assert "resource.service.name" in tempo.search_tags()
    assert "span.http.status_code" in tempo.search_tags()
    assert tempo.tag_values("resource.service.name") == ["nginx"]


def test_ready_echo_and_metrics(tempo: TempoClient) -> None:
    assert tempo.ready() and tempo.echo() == "echo"
    families = tempo.metrics()
    assert sample_value(families, "tempo_distributor_spans_received_total") is not None
    assert sample_value(families, "tempo_distributor_spans_received") == sample_value(
        families, "tempo_distributor_spans_received_total")


def test_wait_for_trace_measures_visibility(tempo: TempoClient) -> None:
    waited = tempo.wait_for_trace(TRACE_ID, expected_spans=2, deadline_s=5)
    assert len(waited.spans) == 2 and waited.attempts == 1 and waited.visible_after_s < 5


def test_wait_for_a_trace_that_never_appears_says_what_and_how_long(tempo: TempoClient) -> None:
    with pytest.raises(VisibilityTimeout, match=r"waited 1s \(\d+ attempts\) for trace 0+1 with 1 spans at .*last answer had 0 spans"):
        tempo.wait_for_trace("0" * 31 + "1", expected_spans=1, deadline_s=1)


@pytest.mark.parametrize(("status", "body", "message"), [
    (200, b"<html>proxy error</html>", r"is not JSON; it begins b'<html>proxy error"),
    (200, b"[1, 2]", r"expected a JSON object, got list"),
    (502, b"bad gateway", r"HTTP 502: 'bad gateway'"),
    (200, b'{"trace": {"resourceSpans": [{"scopeSpans": "nope"}]}}', r"does not match the OTLP schema"),
])
def test_garbage_from_tempo_is_named_with_url_and_first_bytes(status: int, body: bytes, message: str) -> None:
    garbage = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with pytest.raises(TempoResponseError, match=message):
        TempoClient("http://tempo.garbage:3200", transport=garbage).trace(TRACE_ID)


def test_an_unreachable_tempo_is_named_with_its_address() -> None:
    with TempoClient("http://127.0.0.1:9", timeout=2) as unreachable:
        assert unreachable.ready() is False
        with pytest.raises(TempoResponseError, match=r"http://127.0.0.1:9/api/v2/traces/.*: no answer \(ConnectError"):
            unreachable.trace(TRACE_ID)
