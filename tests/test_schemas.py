"""Attribute schemas: the NGINX span of seed 002 passes its schema; wrong types, missing and deprecated
attributes, and values outside the conventions are each named; a malformed schema file names file and key."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.traces.attribute_schemas import (
    Finding,
    applies_to,
    check_span,
    check_spans,
    has_type,
    load_schema,
    render_findings,
    schema_names,
)
from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import from_tempo_json
from pytest_tracestack.traffic.trace_shapes import HTTP_SERVER, build_trace
from recorded_tempo import RECORDED

SEED_002 = RECORDED / "seed-002_831f44bbec5f30d3.txt"

# The server span of seed 002's Tempo answer, as NGINX sent it (test_the_constant_is_the_seeds_span checks it).
NGINX_SPAN = Span(
    trace_id="a442a6ff08e3b2e907fa1fc8ac2476e3",
    span_id="68e1ddb1cac5426e",
    name="/",
    kind=2,
    start_ns=1747621636180000000,
    end_ns=1747621636180000000,
    resource={"service.name": "nginx"},
    scope_name="nginx",
    scope_version="1.27.4",
    attributes={
        "http.target": "/",
        "http.route": "/",
        "http.scheme": "http",
        "http.flavor": "1.1",
        "http.user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/136.0.0.0 Safari/537.36",
        "http.request_content_length": 0,
        "http.response_content_length": 615,
        "net.host.name": "192.168.201.141",
        "net.sock.peer.addr": "10.0.133.0",
        "net.sock.peer.port": 57483,
        "http.method": "GET",
        "http.status_code": 200,
    },
)


def _with(span: Span, **changes) -> Span:
    """The span with attributes changed (a value) or removed (None)."""
    attributes = {k: v for k, v in span.attributes.items() if changes.get(k, ...) is not None}
    attributes.update({k: v for k, v in changes.items() if v is not None})
    return replace(span, attributes=attributes)


def _nginx(**changes) -> list[Finding]:
    return check_span(load_schema("nginx-server-span"), _with(NGINX_SPAN, **changes))


def _seed_json(text: str) -> dict:
    """The Tempo answer printed in seed 002, without the author's `# ...` annotations."""
    start = text.index('{\n  "batches"')
    depth = 0
    for end, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return json.loads(re.sub(r"\s#[^\n]*", "", text[start : end + 1]))
    raise AssertionError("seed 002's Tempo answer never closes its braces")


# --- the NGINX span of seed 002 ------------------------------------------------------------------


def test_the_constant_is_the_seeds_span() -> None:
    assert from_tempo_json(_seed_json(SEED_002.read_text())) == [NGINX_SPAN]


def test_seed_002_nginx_span_passes_the_nginx_schema_without_a_finding() -> None:
    assert _nginx() == []


def test_status_code_as_a_string_is_a_type_mismatch_naming_it() -> None:
    assert _nginx(**{"http.status_code": "200"}) == [
        Finding("violation", "http.status_code", "type_mismatch", "int", "200")
    ]


def test_a_missing_method_is_a_missing_attribute() -> None:
    assert _nginx(**{"http.method": None}) == [
        Finding("violation", "http.method", "missing_attribute", "string (required)", None)
    ]


@pytest.mark.parametrize(
    ("port", "findings"), [(8080, []), (80, ["bad_value"]), (443, ["bad_value"]), ("8080", ["type_mismatch"])]
)
def test_the_host_port_appears_only_when_not_80_or_443(port, findings: list[str]) -> None:
    assert [f.kind for f in _nginx(**{"net.host.port": port})] == findings


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"http.method": "FETCH"},
            ("http.method", "one of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']"),
        ),
        ({"http.status_code": 42}, ("http.status_code", "between 100 and 599")),
        ({"http.flavor": "1.2"}, ("http.flavor", "one of ['1.0', '1.1', '2.0', '3.0']")),
        ({"net.sock.peer.port": 70000}, ("net.sock.peer.port", "between 1 and 65535")),
    ],
)
def test_values_the_conventions_do_not_allow_are_bad_values(changes: dict, expected: tuple) -> None:
    assert [(f.kind, f.attribute, f.expected) for f in _nginx(**changes)] == [("bad_value", *expected)]


def test_service_name_must_be_nginx_and_the_span_a_server_span() -> None:
    other = replace(NGINX_SPAN, resource={"service.name": "unknown_service:nginx"}, kind=1)
    assert [
        (f.attribute, f.kind, f.expected, f.actual) for f in check_span(load_schema("nginx-server-span"), other)
    ] == [
        ("span.kind", "bad_value", "SERVER", "INTERNAL"),
        ("resource.service.name", "bad_value", "'nginx'", "unknown_service:nginx"),
    ]


@pytest.mark.parametrize(
    ("value", "type_name", "ok"),
    [
        (200, "int", True),
        (True, "int", False),
        (200, "double", False),
        (2.0, "double", True),
        ("a", "string", True),
        (b"a", "bytes", True),
        (("a", "b"), "string[]", True),
        (("a", 1), "string[]", False),
        ((), "int[]", True),
        ([1], "int[]", False),
        (False, "bool", True),
        (0, "bool", False),
    ],
)
def test_types_are_otlps_not_pythons(value, type_name: str, ok: bool) -> None:
    assert has_type(value, type_name) is ok


# --- the HTTP conventions, and the selector --------------------------------------------------------


def test_generated_http_spans_follow_both_conventions_and_the_old_names_are_deprecated() -> None:
    root = build_trace(HTTP_SERVER, service_name="svc", rng_seed=3)[0]
    assert [f for f in check_span(load_schema("otel-http-old"), root) if f.level == "violation"] == []
    schema = load_schema("otel-http-stable")
    stable = check_span(schema, root)
    assert [f for f in stable if f.level == "violation"] == []
    old_names = {key for key in root.attributes if key in schema.deprecated}
    assert old_names >= {"http.method", "http.status_code", "http.target", "http.scheme"}
    assert {f.attribute for f in stable if f.kind == "deprecated"} == old_names
    assert all(f.level == "warning" for f in stable if f.kind == "deprecated")


def test_a_missing_recommended_attribute_is_a_warning_and_an_optional_one_nothing() -> None:
    span = Span(
        "1" * 32,
        "2" * 16,
        "GET",
        kind=2,
        attributes={
            "http.request.method": "GET",
            "url.path": "/",
            "url.scheme": "https",
            "http.response.status_code": 204,
        },
    )
    findings = check_span(load_schema("otel-http-stable"), span)
    assert {f.level for f in findings} == {"warning"}
    assert {f.attribute for f in findings} == {
        "server.address",
        "network.protocol.version",
        "user_agent.original",
        "client.address",
        "network.peer.address",
        "network.peer.port",
    }
    assert "http.route" not in {f.attribute for f in findings}


def test_the_selector_picks_server_spans_carrying_the_method() -> None:
    spans = build_trace(HTTP_SERVER, service_name="svc", rng_seed=3)
    schema = load_schema("otel-http-stable")
    picked = check_spans(schema, spans)
    assert list(picked) == [spans[0].span_id] and len(spans) > 1
    assert not applies_to(schema, replace(spans[0], kind=3))
    assert not applies_to(schema, _with(spans[0], **{"http.request.method": None}))


def test_findings_render_with_span_and_schema_violations_first() -> None:
    schema = load_schema("nginx-server-span")
    span = _with(NGINX_SPAN, **{"http.status_code": "200", "http.method": None})
    text = render_findings(
        check_span(schema, span) + [Finding("warning", "x", "deprecated", "y instead", 1)], span, schema
    )
    assert text.splitlines() == [
        f"span '/' (68e1ddb1cac5426e) against schema nginx-server-span ({schema.source})",
        "  violation: missing_attribute http.method: expected string (required), got nothing",
        "  violation: type_mismatch http.status_code: expected int, got '200' (str)",
        "  warning: deprecated x: expected y instead, got 1 (int)",
    ]
    assert render_findings([]) == "  no findings"


# --- the schema files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", schema_names())
def test_every_bundled_schema_loads_and_selects_server_spans(name: str) -> None:
    schema = load_schema(name)
    assert schema.name == name and schema.kinds == {2} and schema.attributes


@pytest.mark.parametrize(
    ("content", "key", "problem"),
    [
        (
            "attributes:\n  http.method: {type: text}\n",
            "attributes.http.method.type",
            "'text' is not one of string, int",
        ),
        (
            "attributes:\n  http.method: {type: string, requried: true}\n",
            "attributes.http.method",
            "'requried' was unexpected.*allowed keys: equals, max, min, not_one_of, note, one_of, requirement, type",
        ),
        (
            "attributes:\n  http.flavor: {type: string, one_of: [1.0, 1.1]}\n",
            "attributes.http.flavor.one_of.0",
            "1.0 is a float, not a string; quote it if it is text",
        ),
        (
            "attributes:\n  http.target: {type: string, min: 1}\n",
            "attributes.http.target.min",
            "applies to int or double attributes, not string",
        ),
        (
            "attributes:\n  a: {type: int, requirement: must}\n",
            "attributes.a.requirement",
            "'must' is not one of required",
        ),
        ("applies_to: {kind: SERVERS}\nattributes: {}\n", "applies_to.kind", "'SERVERS' is not a span kind"),
        ("name: other\nattributes: {}\n", "name", "is 'other' but the file is bad.yaml; make them agree"),
        ("resource: {}\n", r"\(top level\)", "'attributes' is a required property"),
        ("attributes: [http.method]\n", "attributes", r"\['http.method'\] is not of type 'object'"),
        ("attributes:\n  a: {type: string\n", "", "is not valid YAML"),
    ],
)
def test_a_malformed_schema_names_file_and_key(tmp_path: Path, content: str, key: str, problem: str) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    where = re.escape(str(tmp_path / "bad.yaml")) + (f": {key}" if key else "")
    with pytest.raises(ProfileError, match=f"{where}: .*{problem}" if key else f"{where}: {problem}"):
        load_schema("bad", tmp_path)


def test_an_unknown_schema_lists_the_known_ones() -> None:
    with pytest.raises(
        ProfileError,
        match=r"nope.yaml: no such schema; schemas: nginx-server-span, otel-http-old, "
        r"otel-http-stable",
    ):
        load_schema("nope")
