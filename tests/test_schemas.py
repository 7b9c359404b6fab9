"""Attribute schemas, checked attribute by attribute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.model import Span
from pytest_tracestack.schemas import check_span, load_schema
from pytest_tracestack.traffic.shapes import HTTP_SERVER, build_trace

# The server span of seed 002's Tempo answer, as NGINX sent it.
NGINX_SPAN = Span(
    trace_id="a442a6ff08e3b2e907fa1fc8ac2476e3", span_id="68e1ddb1cac5426e", name="/", kind=2,
    start_ns=1747621636180000000, end_ns=1747621636180000000, resource={"service.name": "nginx"},
    scope_name="nginx", scope_version="1.27.4",
    attributes={"http.target": "/", "http.route": "/", "http.scheme": "http", "http.flavor": "1.1",
                "http.user_agent": "Mozilla/5.0", "http.request_content_length": 0,
                "http.response_content_length": 615, "net.host.name": "192.168.201.141",
                "net.sock.peer.addr": "10.0.133.0", "net.sock.peer.port": 57483, "http.method": "GET",
                "http.status_code": 200},
)


def _with(span: Span, **changes) -> Span:
    attributes = {k: v for k, v in span.attributes.items() if changes.get(k, ...) is not None}
    attributes.update({k: v for k, v in changes.items() if v is not None})
    return Span(**{**span.__dict__, "attributes": attributes})


def test_seed_002_nginx_span_passes_the_nginx_schema() -> None:
    assert check_span(load_schema("nginx-server-span"), NGINX_SPAN) == []


def test_status_code_as_a_string_is_a_type_mismatch_naming_it() -> None:
    findings = check_span(load_schema("nginx-server-span"), _with(NGINX_SPAN, **{"http.status_code": "200"}))
    assert [(f.level, f.kind, f.attribute, f.expected, f.actual) for f in findings] == [
        ("violation", "type_mismatch", "http.status_code", "int", "200")]


def test_a_missing_method_is_named() -> None:
    findings = check_span(load_schema("nginx-server-span"), _with(NGINX_SPAN, **{"http.method": None}))
    assert [(f.kind, f.attribute) for f in findings] == [("missing_attribute", "http.method")]


def test_service_name_must_be_nginx_and_the_span_a_server_span() -> None:
    other = Span(**{**NGINX_SPAN.__dict__, "resource": {"service.name": "unknown_service:nginx"}, "kind": 1})
    kinds = {(f.kind, f.attribute) for f in check_span(load_schema("nginx-server-span"), other)}
    assert kinds == {("wrong_span_kind", "(span kind)"), ("bad_value", "resource service.name")}


def test_generated_http_spans_carry_both_old_and_stable_conventions() -> None:
    root = build_trace(HTTP_SERVER, service_name="svc", rng_seed=3)[0]
    assert [f for f in check_span(load_schema("otel-http-old"), root) if f.level == "violation"] == []
    stable = check_span(load_schema("otel-http-stable"), root)
    assert [f for f in stable if f.level == "violation"] == []
    assert {f.attribute for f in stable if f.kind == "deprecated"} == {"http.method", "http.status_code",
                                                                       "http.target", "http.scheme"}


def test_a_malformed_schema_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("attributes:\n  http.method: {type: text}\n")
    with pytest.raises(ProfileError, match=r"bad.yaml: attributes.http.method.type: must be one of string, int"):
        load_schema("bad", tmp_path)


def test_an_unknown_schema_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"no such schema; schemas: nginx-server-span, otel-http-old, otel-http-stable"):
        load_schema("nope")
