"""Hypothesis fuzzing of what tracestack parses: profiles and OTLP/Tempo JSON. Bad input may only ever
produce tracestack's own errors (which name what is wrong), never a crash from deep inside a library."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import load_profile_file
from pytest_tracestack.traces.model import Span
from pytest_tracestack.traces.otlp import (
    OtlpDecodeError,
    from_otlp_http_json,
    from_protobuf_bytes,
    from_tempo_json,
    to_export_request,
    to_otlp_http_json,
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 70000), st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)
profile_keys = st.sampled_from(
    [
        "name",
        "extends",
        "description",
        "components",
        "ingest",
        "query",
        "checks",
        "refused",
        "targets",
        "runtimes",
        "replicas",
        "binary",
        "ports",
        "kind",
        "component",
        "port",
    ]
)
profile_like = st.recursive(scalars, lambda inner: st.dictionaries(profile_keys, inner, max_size=6), max_leaves=25)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=profile_like)
def test_any_profile_document_loads_or_names_the_problem(tmp_path: Path, document) -> None:
    file = tmp_path / "fuzzed.yaml"
    file.write_text(yaml.safe_dump(document))
    try:
        load_profile_file(file)
    except ProfileError as error:
        assert str(error).startswith(str(file))


@settings(max_examples=200)
@given(document=json_values)
def test_any_json_is_decoded_or_refused_as_otlp(document) -> None:
    for decode in (lambda d: from_otlp_http_json(json.dumps(d)), from_tempo_json):
        try:
            spans = decode(document)
        except OtlpDecodeError:
            continue
        assert all(isinstance(span, Span) for span in spans)


@settings(max_examples=200)
@given(payload=st.binary(max_size=200))
def test_any_bytes_are_decoded_or_refused_as_otlp_protobuf(payload: bytes) -> None:
    try:
        spans = from_protobuf_bytes(payload)
    except OtlpDecodeError:
        return
    assert all(isinstance(span, Span) for span in spans)


attribute_values = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.lists(st.integers(-5, 5), max_size=3).map(tuple),
)


@settings(max_examples=100)
@given(
    attributes=st.dictionaries(st.text(min_size=1, max_size=8), attribute_values, max_size=5),
    name=st.text(max_size=10),
    kind=st.integers(0, 5),
)
def test_spans_survive_the_otlp_json_and_protobuf_round_trip(attributes, name, kind) -> None:
    span = Span(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        name=name,
        kind=kind,
        start_ns=1,
        end_ns=2,
        attributes=attributes,
        resource={"service.name": "fuzz"},
    )
    assert from_otlp_http_json(to_otlp_http_json([span])) == [span]
    assert from_protobuf_bytes(to_export_request([span]).SerializeToString()) == [span]


@settings(max_examples=200)
@given(text=st.text(alphabet=st.sampled_from(list('abc_{}="# \n0123456789.+-eTYPEHLPcounter')), max_size=120))
def test_any_metrics_text_is_parsed_or_refused_by_name(text: str) -> None:
    from pytest_tracestack.clients.prometheus_text import MetricsParseError, parse_metrics

    try:
        families = parse_metrics(text, "http://replica/metrics")
    except MetricsParseError as error:
        assert str(error).startswith("http://replica/metrics is not Prometheus text")
        return
    assert isinstance(families, list)
