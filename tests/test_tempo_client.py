"""The Tempo client: contract tests against responses recorded from a real Tempo 2.10.8 (served byte for
byte through httpx.MockTransport), hand-made wrong answers, and waits driven against FAKE TEMPO FOR
TESTS (tests/tempo_double.py), a loopback server that is not Tempo."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from pytest_tracestack.clients.tempo import (
    SearchHit,
    SearchWait,
    TempoClient,
    TempoQueryError,
    TempoResponseError,
    TempoUnavailable,
    TraceIncomplete,
    VisibilityTimeout,
    logfmt,
)
from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import from_otlp_http_json
from recorded_tempo import FIXTURES, RECORDED, TRACE_ID, recorded, transport
from tempo_double import FakeTempoForTests

UNKNOWN_ID = "0" * 31 + "1"


@pytest.fixture
def tempo() -> TempoClient:
    with TempoClient("http://tempo.recorded:3200", transport=transport()) as client:
        yield client


@pytest.fixture
def fake_tempo() -> FakeTempoForTests:
    with FakeTempoForTests() as double:
        yield double


def _sent() -> list[Span]:
    return sorted(from_otlp_http_json((FIXTURES / "input-otlp.json").read_bytes()), key=lambda s: s.span_id)


def _answering(handler) -> TempoClient:
    return TempoClient("http://tempo.handmade:3200", transport=httpx.MockTransport(handler))


def _recorded_json(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.body").read_bytes())


# --- contract: what a real Tempo 2.10.8 answered ------------------------------------------------


def test_v2_trace_is_the_pushed_trace_span_for_span(tempo: TempoClient) -> None:
    assert sorted(tempo.trace(TRACE_ID), key=lambda s: s.span_id) == _sent()


def test_v1_trace_decodes_base64_ids_and_enum_names_to_the_same_spans(tempo: TempoClient) -> None:
    spans = sorted(tempo.trace(TRACE_ID, api="v1"), key=lambda s: s.span_id)
    assert spans == _sent()
    assert spans[0].attributes["http.status_code"] == 200  # an int, not "200"
    assert (spans[0].kind, spans[1].kind) == (2, 3)  # SPAN_KIND_SERVER, SPAN_KIND_CLIENT
    assert spans[1].parent_span_id == spans[0].span_id


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_an_unknown_id_is_not_found(tempo: TempoClient, api: str) -> None:
    # v2 says so with 200 and an empty trace, v1 with an empty 404: both mean "not (yet) there".
    assert recorded("trace-v2-notfound").status_code == 200 and recorded("trace-v1-notfound").status_code == 404
    assert tempo.trace(UNKNOWN_ID, api=api) is None


def test_an_invalid_id_carries_the_id_and_tempos_message(tempo: TempoClient) -> None:
    with pytest.raises(
        TempoQueryError,
        match=r"trace id 'zz': trace IDs can only contain hex characters: "
        r"invalid character 'z' at position 1",
    ):
        tempo.trace("zz", api="v1")


def test_search_by_tags_decodes_every_field(tempo: TempoClient) -> None:
    assert tempo.search(tags={"service.name": "nginx"}) == [
        SearchHit(TRACE_ID, "nginx", "GET /", 1795493191838628683, 5, ())
    ]


def test_search_by_traceql_lists_the_matched_spans_once(tempo: TempoClient) -> None:
    # the recording carries the same spans in spanSet and spanSets
    hits = tempo.search(traceql='{ resource.service.name = "nginx" }')
    assert [(h.trace_id, h.matched_span_ids) for h in hits] == [(TRACE_ID, ("8d0768a1b92d2e5d", "9f064c4b14048cd8"))]


def test_search_with_select_keeps_the_selected_span(tempo: TempoClient) -> None:
    hits = tempo.search(traceql="{ span.http.status_code = 200 } | select(span.http.target)")
    assert hits[0].matched_span_ids == ("8d0768a1b92d2e5d",)


def test_invalid_traceql_carries_tempos_parse_error(tempo: TempoClient) -> None:
    with pytest.raises(
        TempoQueryError,
        match=r"invalid TraceQL query: parse error at line 1, col 2: "
        r"unknown identifier: bad",
    ):
        tempo.search(traceql="{ bad }")


def test_search_pads_ids_tempo_shortened(tmp_path: Path) -> None:
    document = _recorded_json("search-tags-param")
    document["traces"][0]["traceID"] = "b52c687babdee40d00b5c87c98c30"  # what Tempo writes for 000b52c6...
    client = _answering(lambda request: httpx.Response(200, json=document))
    assert client.search(tags={"service.name": "nginx"})[0].trace_id == "000b52c687babdee40d00b5c87c98c30"


def test_tag_names_are_scoped_as_traceql_writes_them(tempo: TempoClient) -> None:
    tags = tempo.search_tags()
    assert {"resource.service.name", "span.http.method", "span.http.status_code", "span.http.target"} <= set(tags)
    assert "duration" in tags and "intrinsic.duration" not in tags
    assert tempo.tag_values("resource.service.name") == ["nginx"]


def test_ready_and_echo(tempo: TempoClient) -> None:
    assert tempo.ready() is True and tempo.echo() == "echo"


def test_metrics_are_parsed_from_the_recorded_scrape(tempo: TempoClient) -> None:
    from pytest_tracestack.clients.prometheus_text import sample_value

    families = tempo.metrics()
    assert sample_value(families, "tempo_distributor_spans_received_total", {"tenant": "single-tenant"}) == 2
    assert sample_value(families, "tempo_ring_members", {"name": "ingester", "state": "ACTIVE"}) == 1


# --- requests the client sends -----------------------------------------------------------------


def test_search_parameters_are_what_tempo_reads() -> None:
    seen: list[httpx.URL] = []
    client = _answering(lambda request: seen.append(request.url) or httpx.Response(200, json={"traces": []}))
    client.search(tags={"service.name": "my svc", "http.status_code": "200"}, limit=5, start=10, end=20)
    client.search(traceql='{ .a = "b" }')
    assert dict(seen[0].params) == {
        "tags": 'service.name="my svc" http.status_code=200',
        "limit": "5",
        "start": "10",
        "end": "20",
    }
    assert dict(seen[1].params) == {"q": '{ .a = "b" }', "limit": "20"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": {"a": "b"}, "traceql": "{}"}, "exactly one"),
        ({}, "exactly one"),
        ({"tags": {"a": "b"}, "start": 1}, "start and end together"),
    ],
)
def test_search_refuses_what_tempo_would_refuse(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _answering(lambda request: httpx.Response(500)).search(**kwargs)


def test_logfmt_quotes_spaces_quotes_and_empty_values() -> None:
    assert logfmt({"k": "v", "s": "a b", "q": 'say "hi"', "e": ""}) == r'k=v s="a b" q="say \"hi\"" e=""'


def test_the_tenant_goes_in_x_scope_orgid_and_scope_in_the_query() -> None:
    seen: list[httpx.Request] = []
    answer = {"scopes": [{"name": "span", "tags": ["http.method"]}]}
    client = TempoClient(
        "http://tempo.handmade:3200/",
        tenant="team-a",
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=answer)),
    )
    assert client.search_tags(scope="span") == ["span.http.method"]
    assert seen[0].headers["X-Scope-OrgID"] == "team-a" and seen[0].url.params["scope"] == "span"
    untenanted = _answering(lambda r: seen.append(r) or httpx.Response(200, json=answer))
    untenanted.search_tags()
    assert "X-Scope-OrgID" not in seen[1].headers


def test_build_info_is_the_json_object() -> None:
    info = {"version": "2.10.8", "revision": "abc", "branch": "HEAD", "goVersion": "go1.24"}
    client = _answering(
        lambda request: (
            httpx.Response(200, json=info)
            if request.url.path == "/api/status/buildinfo"
            else httpx.Response(404, text="404 page not found\n")
        )
    )
    assert client.build_info() == info


def test_build_info_reads_the_recorded_tempo_3_answer() -> None:
    answer = recorded("buildinfo", RECORDED / "tempo-3.0.3")
    assert _answering(lambda request: answer).build_info()["version"] == "v3.0.3"


# --- contract: "not found" as real Tempos answer it, and what only looks like it ------------------


@pytest.mark.parametrize("version", ["tempo-2.10.8", "tempo-3.0.3"])
@pytest.mark.parametrize("api", ["v2", "v1"])
def test_the_recorded_not_found_answers_are_not_found(version: str, api: str) -> None:
    answer = recorded(f"trace-{api}-notfound", RECORDED / version)
    assert answer.status_code == (200 if api == "v2" else 404)
    assert _answering(lambda request: answer).trace(UNKNOWN_ID, api=api) is None


NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
    b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize(
    ("api", "content_type", "body"),
    [
        ("v2", "text/html", NGINX_404),
        ("v1", "text/html", NGINX_404),
        ("v2", "text/plain", b""),  # Tempo's v1 "not found", on the v2 path: not Tempo's v2 either
    ],
)
def test_a_404_that_tempo_would_not_send_is_not_a_tempo_query_api(api: str, content_type: str, body: bytes) -> None:
    page = httpx.Response(404, headers={"content-type": content_type}, content=body)
    with pytest.raises(
        TempoResponseError,
        match=rf"HTTP 404 \({content_type}\) answering b'.*this endpoint is "
        r"not a Tempo query API.*is http://tempo.handmade:3200 Tempo's "
        r"HTTP port",
    ) as raised:
        _answering(lambda request: page).trace(UNKNOWN_ID, api=api)
    assert not isinstance(raised.value, TempoUnavailable)


def test_waiting_on_a_server_that_is_not_tempo_stops_at_once_and_says_so() -> None:
    page = httpx.Response(404, headers={"content-type": "text/html"}, content=NGINX_404)
    with pytest.raises(TempoResponseError, match="not a Tempo query API"):
        _answering(lambda request: page).wait_for_trace(UNKNOWN_ID, 1, deadline_s=30)


# --- partial traces ----------------------------------------------------------------------------


def test_a_partial_v2_answer_is_named_with_tempos_message_and_keeps_the_spans() -> None:
    document = _recorded_json("trace-v2")
    document.update(status="PARTIAL", message="trace exceeds max size (max bytes: 5000000)")
    with pytest.raises(TraceIncomplete, match=r"partially \(2 span\(s\)\): trace exceeds max size") as raised:
        _answering(lambda request: httpx.Response(200, json=document)).trace(TRACE_ID)
    assert sorted(raised.value.spans, key=lambda s: s.span_id) == _sent() and raised.value.trace_id == TRACE_ID


def test_a_v1_422_is_a_trace_too_large() -> None:
    client = _answering(lambda request: httpx.Response(422, text="trace exceeds max size (max bytes: 5000000)"))
    with pytest.raises(TraceIncomplete, match=r"too large \(HTTP 422: trace exceeds max size.*max_bytes_per_trace"):
        client.trace(TRACE_ID, api="v1")


# --- garbage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            200,
            b"<html>proxy error</html>",
            r"/api/v2/traces/d60b\w+: HTTP 200: not JSON; the answer begins b'<html>proxy",
        ),
        (200, b"[1, 2]", r"HTTP 200: expected a JSON object, got list; the answer begins b'\[1, 2\]'"),
        (200, b'{"batches": []}', r"no 'trace' object"),
        (200, b'{"trace": {"resourceSpans": [{"scopeSpans": "nope"}]}}', r"does not match the OTLP schema"),
        (301, b"moved", r"HTTP 301: b'moved'"),
        (404, b"404 page not found\n", r"nothing serves this path; is http://tempo.garbage:3200 Tempo's HTTP port"),
    ],
)
def test_garbage_from_tempo_is_named_with_url_status_and_first_bytes(status: int, body: bytes, message: str) -> None:
    garbage = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with pytest.raises(TempoResponseError, match=message) as raised:
        TempoClient("http://tempo.garbage:3200", transport=garbage).trace(TRACE_ID)
    assert not isinstance(raised.value, TempoUnavailable)


def test_only_the_first_200_bytes_are_quoted() -> None:
    client = _answering(lambda request: httpx.Response(200, content=b"x" * 1000))
    with pytest.raises(TempoResponseError) as raised:
        client.search(traceql="{}")
    assert "x" * 200 in str(raised.value) and "x" * 201 not in str(raised.value)


@pytest.mark.parametrize(
    "document",
    [
        {"traces": {"a": 1}},
        {"traces": [{"rootServiceName": "x"}]},
        {"traces": [{"traceID": "zz-not-hex", "startTimeUnixNano": "x"}]},
    ],
)
def test_a_search_answer_of_the_wrong_shape_is_named(document: dict) -> None:
    with pytest.raises(TempoResponseError, match=r"/api/search\?.*HTTP 200: "):
        _answering(lambda request: httpx.Response(200, json=document)).search(traceql="{}")


def test_an_unreachable_tempo_is_named_with_its_address() -> None:
    with TempoClient("http://127.0.0.1:9", timeout=2) as unreachable:
        assert unreachable.ready() is False
        with pytest.raises(TempoUnavailable, match=r"http://127.0.0.1:9/api/v2/traces/\w+: no answer \(ConnectError"):
            unreachable.trace(TRACE_ID)


# --- waiting, against FAKE TEMPO FOR TESTS ------------------------------------------------------


def test_a_trace_already_there_is_visible_on_the_first_attempt(fake_tempo: FakeTempoForTests) -> None:
    fake_tempo.add_spans(_sent())
    waited = TempoClient(fake_tempo.url).wait_for_trace(TRACE_ID, expected_spans=2, deadline_s=10)
    assert sorted(waited.spans, key=lambda s: s.span_id) == _sent() and waited.attempts == 1


def test_a_trace_that_arrives_late_is_waited_for_and_its_delay_measured(fake_tempo: FakeTempoForTests) -> None:
    first, second = _sent()
    fake_tempo.add_spans([first])
    scheduled = time.monotonic()
    fake_tempo.add_spans_later([second], after_s=0.3)
    client = TempoClient(fake_tempo.url)
    waiting_from = time.monotonic()  # the delay is measured from the call, which starts a little later
    waited = client.wait_for_trace(TRACE_ID, expected_spans=2, deadline_s=10)
    assert len(waited.spans) == 2 and waited.attempts > 1
    assert 0.3 - (waiting_from - scheduled) <= waited.visible_after_s < 10


def test_a_trace_that_never_completes_says_what_how_long_and_the_last_answer(fake_tempo: FakeTempoForTests) -> None:
    fake_tempo.add_spans(_sent()[:1])
    with pytest.raises(VisibilityTimeout) as raised:
        TempoClient(fake_tempo.url).wait_for_trace(TRACE_ID, expected_spans=2, deadline_s=0.5)
    message = str(raised.value)
    assert message.startswith("waited 0.5s (")
    assert f"for trace {TRACE_ID} with 2 span(s) at {fake_tempo.url}/api/v2/traces/{TRACE_ID}" in message
    assert message.endswith("last answer: 1 span(s): 8d0768a1b92d2e5d")


def test_a_trace_never_seen_is_reported_not_found(fake_tempo: FakeTempoForTests) -> None:
    with pytest.raises(VisibilityTimeout, match=r"last answer: not found$"):
        TempoClient(fake_tempo.url).wait_for_trace(UNKNOWN_ID, expected_spans=1, deadline_s=0.2)


def test_a_tempo_that_is_not_ready_yet_is_retried(fake_tempo: FakeTempoForTests) -> None:
    fake_tempo.add_spans(_sent())
    fake_tempo.unavailable_next = 3
    client = TempoClient(fake_tempo.url)
    waited = client.wait_for_trace(TRACE_ID, expected_spans=2, deadline_s=10)
    assert waited.attempts == 4 and fake_tempo.unavailable_next == 0


def test_a_tempo_that_stays_unavailable_times_out_with_its_last_error(fake_tempo: FakeTempoForTests) -> None:
    fake_tempo.unavailable_next = 10_000
    with pytest.raises(VisibilityTimeout, match=r"last error: .*HTTP 503: b'Ingester not ready: waiting for 15s"):
        TempoClient(fake_tempo.url).wait_for_trace(TRACE_ID, expected_spans=1, deadline_s=0.3)
    assert TempoClient(fake_tempo.url).ready() is False


def test_garbage_while_waiting_is_raised_at_once_not_waited_out(fake_tempo: FakeTempoForTests) -> None:
    fake_tempo.garbage = True
    client = TempoClient(fake_tempo.url)
    with pytest.raises(TempoResponseError, match=r"HTTP 200: not JSON; the answer begins b'<html>"):
        client.wait_for_trace(TRACE_ID, expected_spans=1, deadline_s=600)
    with pytest.raises(TempoResponseError, match=r"/api/search\?.*not JSON"):
        client.wait_for_search(tags={"service.name": "x"}, deadline_s=600)
    assert len(fake_tempo.requests) == 2  # one attempt each


def test_a_refused_query_while_waiting_is_raised_at_once(fake_tempo: FakeTempoForTests) -> None:
    with pytest.raises(TempoQueryError, match="invalid TraceQL query"):
        TempoClient(fake_tempo.url).wait_for_search(traceql="{ duration > 1s }", deadline_s=600)


def test_search_sees_a_trace_only_after_the_lag_while_by_id_sees_it_at_once() -> None:
    with FakeTempoForTests(search_lag_s=0.5) as double:
        double.add_spans(_sent())
        client = TempoClient(double.url)
        assert client.wait_for_trace(TRACE_ID, 2, deadline_s=10).attempts == 1
        assert client.search(tags={"service.name": "nginx"}) == []  # normal right after a push
        found = client.wait_for_search(tags={"service.name": "nginx"}, deadline_s=10)
    assert isinstance(found, SearchWait) and found.attempts > 1 and found.visible_after_s > 0
    assert [hit.trace_id for hit in found] == [TRACE_ID] and found[0].root_name == "GET /" and len(found) == 1


def test_search_waits_for_the_trace_asked_for_and_pads_its_id() -> None:
    short = "00000000000000000000abcdef012345"
    other = Span(trace_id="f" * 32, span_id="1" * 16, name="other", resource={"service.name": "svc"})
    wanted = Span(trace_id=short, span_id="2" * 16, name="wanted", resource={"service.name": "svc"})
    with FakeTempoForTests() as double:
        double.add_spans([other])
        double.add_spans_later([wanted], after_s=0.2)
        client = TempoClient(double.url)
        found = client.wait_for_search(traceql='{ resource.service.name = "svc" }', trace_id=short, deadline_s=10)
        assert [hit.trace_id for hit in found] == [short]
        with pytest.raises(
            VisibilityTimeout, match=r"to return 0+1; last answer: 2 trace\(s\): f{32}, 0{20}abcdef012345"
        ):
            client.wait_for_search(tags={"service.name": "svc"}, trace_id=UNKNOWN_ID, deadline_s=0.2)


def test_an_empty_search_times_out_saying_so(fake_tempo: FakeTempoForTests) -> None:
    with pytest.raises(
        VisibilityTimeout,
        match=r"for search \{'service.name': 'nobody'\} at http://127.0.0.1:\d+"
        r"/api/search to return a trace; last answer: no traces$",
    ):
        TempoClient(fake_tempo.url).wait_for_search(tags={"service.name": "nobody"}, deadline_s=0.2)


# --- the querier's blocks-only read and an ingester's flush (backend-storage check) ------------


def test_a_blocks_only_read_asks_the_queriers_own_route_and_takes_a_404_as_not_there_yet() -> None:
    asked = []
    recorded_v2 = (FIXTURES / "trace-v2.body").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append((request.url.path, dict(request.url.params)))
        return httpx.Response(404, content=b"") if len(asked) == 1 else httpx.Response(200, content=recorded_v2)

    with _answering(handler) as client:
        assert client.trace_in_blocks(TRACE_ID) is None
        waited = client.wait_for_trace(TRACE_ID, len(_sent()), 5.0, blocks_only=True)
    assert sorted(waited.spans, key=lambda s: s.span_id) == _sent()
    assert asked[0] == (f"/querier/api/v2/traces/{TRACE_ID}", {"mode": "blocks"})


def test_a_blocks_only_read_where_no_querier_serves_it_says_so_at_once() -> None:
    with _answering(lambda request: httpx.Response(404, content=b"404 page not found\n")) as client:
        with pytest.raises(TempoResponseError, match=r"querier/api/v2/traces/.*nothing serves this path"):
            client.wait_for_trace(TRACE_ID, 1, 30.0, blocks_only=True)


@pytest.mark.parametrize(("status", "error"), [(503, TempoUnavailable), (404, TempoResponseError)])
def test_a_flush_is_a_post_answered_204_and_anything_else_is_named(status: int, error: type) -> None:
    methods = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append((request.method, request.url.path))
        return httpx.Response(204 if len(methods) == 1 else status, content=b"")

    with _answering(handler) as client:
        client.flush()
        with pytest.raises(error, match=rf"/flush: HTTP {status}"):
            client.flush()
    assert methods[0] == ("POST", "/flush")
