"""A wrong answer from Tempo (missing span, changed attribute, broken parent, ...) fails with a diff naming
exactly that; what an ingest protocol cannot carry is not reported — measured through a real collector."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from pytest_tracestack.clients.tempo import TempoClient
from pytest_tracestack.runtimes.local.process import stop_child
from pytest_tracestack.traces.diff import PROTOCOL_LOSSES, ProtocolLosses, compare_traces, same_value
from pytest_tracestack.traces.model import Event, Span
from pytest_tracestack.traces.otlp import from_otlp_http_json
from recorded_tempo import FIXTURES, TRACE_ID


def _sent() -> list[Span]:
    return from_otlp_http_json((FIXTURES / "input-otlp.json").read_bytes())


def _tempo_answering(mutate) -> list[Span]:
    """What the client decodes when Tempo answers the recorded trace-v2.body after ``mutate``."""
    document = json.loads((FIXTURES / "trace-v2.body").read_bytes())
    mutate(document["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"], document["trace"]["resourceSpans"][0])
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json=document))
    return TempoClient("http://tempo.handmade:3200", transport=answer).trace(TRACE_ID)


def _diff(mutate, **options):
    return compare_traces(_sent(), _tempo_answering(mutate), **options)


# --- hand-made wrong answers, from the recorded one ---------------------------------------------


def test_the_recorded_answer_matches_what_was_sent() -> None:
    diff = _diff(lambda spans, rs: None)
    assert diff.ok and diff.render() == f"trace {TRACE_ID} matches"


def test_a_missing_span_is_named_and_nothing_else() -> None:
    diff = _diff(lambda spans, rs: spans.pop(1))
    assert [(d.kind, d.span_id, d.span_name) for d in diff.differences] == [("missing_span", "9f064c4b14048cd8", "db")]
    assert diff.render() == f"trace {TRACE_ID}: 1 difference(s)\nspan 'db' (9f064c4b14048cd8):\n  missing span"


def test_a_changed_attribute_is_named_with_both_values_and_types() -> None:
    def change(spans, rs):
        spans[0]["attributes"][2] = {"key": "http.status_code", "value": {"stringValue": "200"}}

    diff = _diff(change)
    assert [(d.kind, d.span_id, d.field, d.expected, d.actual) for d in diff.differences] == [
        ("changed_attribute", "8d0768a1b92d2e5d", "http.status_code", 200, "200")
    ]
    assert (
        "span 'GET /' (8d0768a1b92d2e5d):\n  changed attribute http.status_code:\n    - expected 200\n"
        "    + actual   '200'" in diff.render()
    )


def test_a_dropped_attribute_is_missing() -> None:
    diff = _diff(lambda spans, rs: spans[0]["attributes"].pop(1))  # http.method
    assert [(d.kind, d.field, d.expected, d.actual) for d in diff.differences] == [
        ("missing_attribute", "http.method", "GET", None)
    ]


def test_a_broken_parent_link_is_named() -> None:
    def break_parent(spans, rs):
        spans[1]["parentSpanId"] = "AAAAAAAAAAE="

    diff = _diff(break_parent)
    assert [(d.kind, d.span_id, d.field) for d in diff.differences] == [
        ("broken_parent", "9f064c4b14048cd8", "parent_span_id")
    ]
    assert (
        "broken parent parent_span_id:\n    - expected '8d0768a1b92d2e5d'\n    + actual   '0000000000000001'"
        in diff.render()
    )


def test_a_child_turned_root_is_a_broken_parent() -> None:
    diff = _diff(lambda spans, rs: spans[1].pop("parentSpanId"))
    assert [(d.kind, d.expected, d.actual) for d in diff.differences] == [
        ("broken_parent", "8d0768a1b92d2e5d", "(root)")
    ]


def test_clock_name_and_kind_changes_are_each_named_in_a_fixed_order() -> None:
    def change(spans, rs):
        spans[0]["endTimeUnixNano"] = "1795493191843628684"
        spans[0]["name"] = "GET /other"
        spans[1]["kind"] = "SPAN_KIND_INTERNAL"

    diff = _diff(change)
    assert [(d.span_name, d.kind, d.field) for d in diff.differences] == [
        ("GET /", "changed_name", "name"),
        ("GET /", "changed_time", "end_ns"),
        ("db", "changed_kind", "kind"),
    ]
    assert "changed kind kind:\n    - expected 'CLIENT'\n    + actual   'INTERNAL'" in diff.render()


def test_a_time_tolerance_absorbs_small_clock_differences_only() -> None:
    def shift(spans, rs):
        spans[0]["endTimeUnixNano"] = str(int(spans[0]["endTimeUnixNano"]) + 500)

    assert _diff(shift, time_tolerance_ns=500).ok
    assert _diff(shift, time_tolerance_ns=499).kinds() == {"changed_time"}


def test_status_resource_scope_events_and_links_are_each_named() -> None:
    def change(spans, rs):
        spans[1]["status"] = {"code": "STATUS_CODE_ERROR", "message": "boom"}
        spans[1]["events"] = [{"name": "retry", "timeUnixNano": "1795493191840000000"}]
        spans[1]["links"] = [{"traceId": "AAAAAAAAAAAAAAAAAAAAAQ==", "spanId": "AAAAAAAAAAE="}]
        rs["resource"]["attributes"][0]["value"]["stringValue"] = "not-nginx"
        rs["scopeSpans"][0]["scope"]["version"] = "1.27.5"

    diff = _diff(change)
    assert [(d.span_name, d.kind, d.field) for d in diff.differences] == [
        ("GET /", "changed_resource", "resource"),
        ("GET /", "changed_resource", "scope"),
        ("db", "changed_status", "status"),
        ("db", "changed_resource", "resource"),
        ("db", "changed_resource", "scope"),
        ("db", "changed_events", "events"),
        ("db", "changed_links", "links"),
    ]
    rendered = diff.render()
    assert "changed status status:\n    - expected 'UNSET'\n    + actual   'ERROR boom'" in rendered
    assert "changed resource scope:\n    - expected 'nginx 1.27.4'\n    + actual   'nginx 1.27.5'" in rendered
    assert "+ actual   [('retry', 1795493191840000000, {})]" in rendered


def test_attributes_added_on_the_way_are_reported_unless_ignored() -> None:
    def add(spans, rs):
        spans[1]["attributes"] = [
            {"key": "added.by.collector", "value": {"boolValue": True}},
            {"key": "k8s.pod.name", "value": {"stringValue": "p"}},
        ]

    strict = _diff(add)
    assert [(d.kind, d.field, d.actual) for d in strict.differences] == [
        ("extra_attribute", "added.by.collector", True),
        ("extra_attribute", "k8s.pod.name", "p"),
    ]
    lenient = _diff(add, ignore_extra_attributes=True)
    assert lenient.ok and [d.field for d in lenient.ignored] == ["added.by.collector", "k8s.pod.name"]
    assert "ignored 2 extra attribute(s): added.by.collector on 9f064c4b14048cd8" in lenient.render()
    by_pattern = _diff(add, ignore_attributes=["k8s.*", "added.*"])
    assert by_pattern.ok and by_pattern.ignored == []


def test_resource_keys_a_collector_adds_are_not_differences_but_a_changed_one_is() -> None:
    def add(spans, rs):
        rs["resource"]["attributes"].append({"key": "k8s.namespace.name", "value": {"stringValue": "tempo"}})

    assert _diff(add).ok
    sent = [replace(span, resource={**span.resource, "host.name": "a"}) for span in _sent()]
    changed = [replace(span, resource={**span.resource, "host.name": "b"}) for span in _sent()]
    assert compare_traces(sent, changed).kinds() == {"changed_resource"}
    assert compare_traces(sent, changed, ignore_resource_keys=["host.*"]).ok


def test_an_unexpected_span_and_a_duplicate_are_named() -> None:
    def extra(spans, rs):
        spans.append(dict(spans[1], spanId="AQIDBAUGBwg=", name="surprise"))
        spans.append(dict(spans[0]))

    diff = _diff(extra)
    assert [(d.kind, d.span_id, d.field) for d in diff.differences] == [
        ("unexpected_span", "8d0768a1b92d2e5d", "another copy"),
        ("unexpected_span", "0102030405060708", ""),
    ]
    assert "span 'surprise' (0102030405060708):\n  unexpected span" in diff.render()


def test_the_rendering_does_not_depend_on_the_order_spans_come_back_in() -> None:
    def mangle(spans, rs):
        for span in spans:
            span["attributes"] = list(reversed(span.get("attributes", []))) + [{"key": "z", "value": {"intValue": "1"}}]
            span["name"] += "!"
        spans.reverse()

    first = _diff(mangle).render()
    reordered = compare_traces(list(reversed(_sent())), list(reversed(_tempo_answering(mangle))))
    assert first == reordered.render() and first.index("'GET /'") < first.index("'db'")


def test_values_compare_with_their_types_all_the_way_down() -> None:
    assert same_value((1, "a"), (1, "a")) and same_value({"k": [True]}, {"k": [True]})
    assert not same_value(1, True) and not same_value((1, 2), (1.0, 2)) and not same_value({"k": 1}, {"k": "1"})
    assert not same_value((1,), [1])


def test_an_unknown_protocol_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"no protocol losses known for 'carrier-pigeon'; known: otlp-grpc, "):
        compare_traces([], [], protocol_losses="carrier-pigeon")


# --- protocol losses ----------------------------------------------------------------------------


def _wide() -> list[Span]:
    from pytest_tracestack.traffic.trace_shapes import WIDE, build_trace

    return build_trace(WIDE, service_name="losses", rng_seed=11)


def _as_zipkin_delivers(span: Span) -> Span:
    """What the collector's zipkin receiver made of each span when this was measured (see test below)."""
    duration_us = max(1, (span.end_ns - span.start_ns) // 1000)
    start = span.start_ns // 1000 * 1000
    attributes = {
        k: v
        if isinstance(v, str)
        else json.dumps(list(v))
        if isinstance(v, tuple)
        else str(v).lower()
        if isinstance(v, bool)
        else str(v)
        for k, v in span.attributes.items()
    }
    if span.status_code == 2:
        attributes["error"] = span.status_message or "true"
    return replace(
        span,
        start_ns=start,
        end_ns=start + duration_us * 1000,
        attributes=attributes,
        kind=0 if span.kind == 1 else span.kind,
        status_message="",
        scope_name="",
        scope_version="",
        resource={"service.name": span.resource["service.name"]},
        links=(),
        events=tuple(Event(e.name, e.time_ns // 1000 * 1000) for e in span.events),
    )


def test_zipkin_losses_are_not_differences_but_other_changes_still_are() -> None:
    sent = _wide()
    arrived = [_as_zipkin_delivers(span) for span in sent]
    assert len(compare_traces(sent, arrived).differences) > len(sent)  # without losses: noise
    lossy = compare_traces(sent, arrived, protocol_losses="zipkin")
    assert lossy.ok and {d.field for d in lossy.ignored} == {"error"}
    assert "compared as zipkin carries it (lost: clocks to 1000 ns; attribute types (all text)" in lossy.render()
    broken = [
        replace(arrived[1], name="renamed", attributes={**arrived[1].attributes, "tracestack.span.index": "9"}),
        *arrived[2:],
    ]
    assert [(d.kind, d.field) for d in compare_traces(sent, broken, protocol_losses="zipkin").differences] == [
        ("missing_span", ""),
        ("changed_name", "name"),
        ("changed_attribute", "tracestack.span.index"),
    ]


def test_a_typed_value_where_jaeger_keeps_types_is_still_a_difference() -> None:
    sent = _wide()[:1]
    stringified = [replace(sent[0], attributes={**sent[0].attributes, "tracestack.span.index": "0"})]
    diff = compare_traces(sent, stringified, protocol_losses=PROTOCOL_LOSSES["jaeger-thrift-http"])
    assert [(d.kind, d.field, d.expected, d.actual) for d in diff.differences] == [
        ("changed_attribute", "tracestack.span.index", 0, "0")
    ]


def test_otlp_loses_nothing_so_a_nanosecond_counts() -> None:
    sent = _wide()
    late = [replace(sent[0], end_ns=sent[0].end_ns + 1), *sent[1:]]
    assert compare_traces(sent, late, protocol_losses="otlp-grpc").kinds() == {"changed_time"}
    assert ProtocolLosses("otlp-grpc").describe() == "otlp-grpc carries every field"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def collector_to_sink(tmp_path_factory, otelcol_binary: Path):
    """The real collector with zipkin, jaeger thrift_http and OTLP receivers, exporting to the capture sink."""
    from pytest_tracestack.clients.capture_sink import CaptureSink

    ports = {name: _free_port() for name in ("zipkin", "jaeger", "otlp", "health")}
    sink = CaptureSink().start()
    config = tmp_path_factory.mktemp("otelcol") / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "receivers": {
                    "zipkin": {"endpoint": f"127.0.0.1:{ports['zipkin']}"},
                    "jaeger": {"protocols": {"thrift_http": {"endpoint": f"127.0.0.1:{ports['jaeger']}"}}},
                    "otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{ports['otlp']}"}}},
                },
                "processors": {"batch": {"timeout": "100ms"}},
                "exporters": {"otlp": {"endpoint": sink.grpc_endpoint, "tls": {"insecure": True}}},
                "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['health']}"}},
                "service": {
                    "extensions": ["health_check"],
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {
                        "traces": {
                            "receivers": ["zipkin", "jaeger", "otlp"],
                            "processors": ["batch"],
                            "exporters": ["otlp"],
                        }
                    },
                },
            }
        )
    )
    log = config.with_name("otelcol.log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(otelcol_binary), "--config", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(process, ports["health"], log)
        yield (
            sink,
            {
                "zipkin": f"http://127.0.0.1:{ports['zipkin']}/api/v2/spans",
                "jaeger-thrift-http": f"http://127.0.0.1:{ports['jaeger']}/api/traces",
                "otlp-http": f"http://127.0.0.1:{ports['otlp']}/v1/traces",
            },
        )
    finally:
        stop_child(process)
        sink.stop()


def _wait_healthy(process: subprocess.Popen, port: int, log: Path, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the collector exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the collector was not healthy within {deadline_s}s:\n{log.read_text()[-2000:]}")


@pytest.mark.parametrize("protocol", ["zipkin", "jaeger-thrift-http", "otlp-http"])
def test_what_a_real_collector_delivers_matches_within_the_protocol_losses(collector_to_sink, protocol: str) -> None:
    from pytest_tracestack.traffic.senders import send

    sink, targets = collector_to_sink
    sent = [replace(span, resource={**span.resource, "service.name": f"losses-{protocol}"}) for span in _wide()]
    sink.clear()
    result = send(protocol, sent, targets[protocol])
    assert result.ok, f"{protocol}: {result.status} {result.detail}"
    arrived, _ = sink.wait_for_spans(sent[0].trace_id, len(sent), timeout=20)
    diff = compare_traces(sent, arrived, protocol_losses=protocol)
    assert diff.ok, diff.render()
    if protocol == "zipkin":  # the losses are real: the model of them in this file is what was measured
        assert compare_traces([_as_zipkin_delivers(s) for s in sent], arrived).ok
    if protocol != "otlp-http":
        assert not compare_traces(sent, arrived).ok
