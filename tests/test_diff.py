"""A wrong answer from Tempo (missing span, changed attribute, broken parent) fails with a diff naming it."""

from __future__ import annotations

import json

import httpx
import pytest

from pytest_tracestack.diff import compare_traces
from pytest_tracestack.otlp import from_otlp_http_json
from pytest_tracestack.tempo import TempoClient
from recorded_tempo import FIXTURES, TRACE_ID

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"recorded Tempo responses not found at {FIXTURES}")


def _sent():
    return from_otlp_http_json((FIXTURES / "input-otlp.json").read_bytes())


def _tempo_answering(mutate) -> TempoClient:
    document = json.loads((FIXTURES / "trace-v2.body").read_text())
    mutate(document["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"])
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json=document))
    return TempoClient("http://tempo.handmade:3200", transport=answer)


def _diff(mutate):
    return compare_traces(_sent(), _tempo_answering(mutate).trace(TRACE_ID))


def test_the_recorded_answer_matches_what_was_sent() -> None:
    assert _diff(lambda spans: None).ok


def test_a_missing_span_is_named() -> None:
    diff = _diff(lambda spans: spans.pop(1))
    assert not diff.ok and diff.kinds() == {"missing_span"}
    assert "span 'db' (9f064c4b14048cd8):\n  missing span" in diff.render()


def test_a_changed_attribute_is_named_with_both_values_and_types() -> None:
    def change(spans):
        spans[0]["attributes"][2] = {"key": "http.status_code", "value": {"stringValue": "200"}}

    diff = _diff(change)
    assert diff.kinds() == {"changed_attribute"}
    assert "changed attribute http.status_code:\n    - expected 200\n    + actual   '200'" in diff.render()


def test_a_broken_parent_link_is_named() -> None:
    def break_parent(spans):
        spans[1]["parentSpanId"] = "AAAAAAAAAAE="

    diff = _diff(break_parent)
    assert diff.kinds() == {"broken_parent"}
    assert "broken parent parent_span_id:\n    - expected '8d0768a1b92d2e5d'\n    + actual   '0000000000000001'" \
        in diff.render()


def test_clock_fields_name_and_kind_changes_are_each_named() -> None:
    def change(spans):
        spans[0]["endTimeUnixNano"] = "1795493191843628684"
        spans[0]["name"] = "GET /other"
        spans[1]["kind"] = "SPAN_KIND_INTERNAL"

    diff = _diff(change)
    assert diff.kinds() == {"changed_time", "changed_name", "changed_kind"}
    assert "changed kind kind:\n    - expected 'CLIENT'\n    + actual   'INTERNAL'" in diff.render()


def test_attributes_added_on_the_way_are_kept_apart_unless_asked() -> None:
    def add(spans):
        spans[1]["attributes"] = [{"key": "added.by.collector", "value": {"boolValue": True}}]

    sent, received = _sent(), _tempo_answering(add).trace(TRACE_ID)
    lenient = compare_traces(sent, received)
    assert lenient.ok and [d.field for d in lenient.ignored_extra] == ["added.by.collector"]
    strict = compare_traces(sent, received, ignore_extra_attributes=False)
    assert strict.kinds() == {"extra_attribute"}


def test_an_unexpected_span_is_named() -> None:
    def extra(spans):
        spans.append(dict(spans[1], spanId="AQIDBAUGBwg=", name="surprise"))

    diff = _diff(extra)
    assert diff.kinds() == {"unexpected_span"} and "span 'surprise' (0102030405060708)" in diff.render()
