"""The built-in checks of a profile, run as test items by ``pytest --tracestack-profile=NAME``.

Each test is marked with the check name it implements; the plugin deselects the checks the
profile does not list. Names say what broke: ``test_roundtrip[otlp-grpc]``, ``test_refused[zipkin]``.
"""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import pytest

from pytest_tracestack.checks import backend
from pytest_tracestack.checks.closed import closed_target
from pytest_tracestack.checks.faults import SteadyTraffic
from pytest_tracestack.checks.sources import SinkSource, TempoSource, TraceSource
from pytest_tracestack.clients.promql import PromQLTimeout, quoted
from pytest_tracestack.clients.tempo import TempoClient
from pytest_tracestack.configs.ingest_keys import explain_refusal
from pytest_tracestack.plugin.fixtures import require
from pytest_tracestack.plugin.session import STASH_KEY
from pytest_tracestack.traces.attribute_schemas import check_span, load_schema, render_findings
from pytest_tracestack.traces.diff import compare_traces
from pytest_tracestack.traces.model import SpanKind, normalize_hex_id
from pytest_tracestack.traffic import trace_shapes
from pytest_tracestack.traffic.senders import send

READ_DEADLINE_S = 30.0
# Search sees a trace only after the ingester cuts it (trace_idle_period + flush_check_period).
SEARCH_DEADLINE_S = 45.0

# OTLP/HTTP is checked in both of its encodings.
_VARIANTS = {"otlp-http": ("otlp-http", "otlp-http-json")}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = metafunc.config.stash.get(STASH_KEY, None)
    if session is None:
        return
    profile = session.profile
    if "protocol" in metafunc.fixturenames:
        protocols = [v for p in profile.ingest for v in _VARIANTS.get(p, (p,))]
        metafunc.parametrize("protocol", protocols)
    if "closed_protocol" in metafunc.fixturenames:
        metafunc.parametrize("closed_protocol", list(profile.refused))
    if "schema_name" in metafunc.fixturenames:
        metafunc.parametrize("schema_name", list(profile.schemas))


@pytest.fixture(scope="module")
def trace_source(tracestack_stack, request) -> TraceSource:
    if tracestack_stack.profile.query.kind == "sink":
        return SinkSource(request.getfixturevalue("tracestack_sink"))
    return TempoSource(request.getfixturevalue("tracestack_tempo"))


def _build(service_name: str, shape_name: str = "SMALL"):
    return trace_shapes.build_trace(getattr(trace_shapes, shape_name), service_name=service_name)


def _send_and_read(stack, trace_source, protocol: str, spans):
    wire = "otlp-http" if protocol == "otlp-http-json" else protocol
    result = send(protocol, spans, stack.ingest_target(wire))
    assert result.ok, (
        f"{protocol} push to {stack.ingest_target(wire)} was not acknowledged: {result.status} "
        f"{result.detail}{_why_refused(stack, wire, result.status)}"
    )
    return trace_source.read_trace(spans[0].trace_id, len(spans), READ_DEADLINE_S)


def _why_refused(stack, protocol: str, status: str) -> str:
    """A refused connection: the key of the user's files that turns the receiver off, when there is one."""
    why = explain_refusal(stack.profile, protocol) if status == "REFUSED" else ""
    return f"\nnothing listens for {protocol} because {why}" if why else ""


@pytest.mark.tracestack_check("roundtrip")
def test_roundtrip(tracestack_stack, trace_source, tracestack_service_name, protocol, record_property):
    """Every span sent over the protocol comes back whole: ids, parents, names, kinds, clocks, attributes."""
    sent = _build(tracestack_service_name, "WIDE")
    read = _send_and_read(tracestack_stack, trace_source, protocol, sent)
    record_property("visible_after_s", round(read.visible_after_s, 3))
    record_property("read_from", read.where)
    diff = compare_traces(sent, read.spans, protocol_losses=protocol)
    if diff.losses is not None:  # what the protocol cannot carry, discounted as measured (diff.PROTOCOL_LOSSES)
        record_property("protocol_losses", diff.losses.describe())
    assert diff.ok, f"trace {sent[0].trace_id} sent over {protocol}, read from {read.where}:\n{diff.render()}"


@pytest.mark.tracestack_check("service-name")
def test_service_name(tracestack_stack, trace_source, tracestack_service_name):
    """The resource's service.name arrives unchanged on every span."""
    protocol = next(iter(tracestack_stack.profile.ingest))
    sent = _build(tracestack_service_name)
    read = _send_and_read(tracestack_stack, trace_source, protocol, sent)
    names = {span.span_id: span.resource.get("service.name") for span in read.spans}
    wrong = {span_id: name for span_id, name in names.items() if name != tracestack_service_name}
    assert names and not wrong, f"expected service.name {tracestack_service_name!r} on every span; got {wrong or names}"


@pytest.mark.tracestack_check("refused")
def test_refused(tracestack_stack, tracestack_service_name, closed_protocol):
    """A receiver the profile disables really refuses: nothing listens where it would."""
    target = closed_target(tracestack_stack, closed_protocol)
    result = send(closed_protocol, _build(tracestack_service_name), target)
    assert not result.ok and result.status == "REFUSED", (
        f"{closed_protocol} is disabled in profile {tracestack_stack.profile.name}, but {target} answered "
        f"{result.status} {result.detail}"
    )


def _app_url(stack) -> str:
    apps = [c.name for c in stack.profile.components.values() if c.binary == "sample-app"]
    assert apps, f"profile {stack.profile.name} lists an instrumentation check but has no sample-app component"
    return stack.first(apps[0]).url("http")


@pytest.mark.tracestack_check("auto-instrumentation")
def test_auto_instrumentation(tracestack_stack, trace_source, record_property):
    """A request to the auto-instrumented service yields its SERVER span, with no tracing code in the service."""
    path = f"/reviews/{uuid.uuid4().int % 10**12}"
    response = httpx.get(_app_url(tracestack_stack) + path, timeout=10)
    assert response.status_code == 200
    # The stable HTTP conventions say url.path; instrumentations still on the old ones say http.target.
    read = trace_source.find_by_attribute(("url.path", "http.target"), path, READ_DEADLINE_S)
    record_property("visible_after_s", round(read.visible_after_s, 3))
    servers = [
        s
        for s in read.spans
        if s.kind == SpanKind.SERVER and path in (s.attributes.get("url.path"), s.attributes.get("http.target"))
    ]
    assert servers, f"no SERVER span with url.path or http.target {path} reached {read.where} within {READ_DEADLINE_S}s"
    assert servers[0].resource.get("telemetry.auto.version") or servers[0].scope_name.startswith("opentelemetry"), (
        f"the span does not come from OpenTelemetry instrumentation: scope {servers[0].scope_name!r}"
    )


# Each propagator the Instrumentation resource enables, with the header a caller would send.
_PROPAGATION_HEADERS = {
    "tracecontext": lambda trace_id, span_id: {"traceparent": f"00-{trace_id}-{span_id}-01"},
    "b3": lambda trace_id, span_id: {"b3": f"{trace_id}-{span_id}-1"},
}


@pytest.mark.tracestack_check("propagation")
@pytest.mark.parametrize("propagator", sorted(_PROPAGATION_HEADERS))
def test_propagation(tracestack_stack, trace_source, propagator):
    """A caller's context in W3C or B3 headers is honoured: the server span joins the caller's trace."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = _PROPAGATION_HEADERS[propagator](trace_id, parent_id)
    response = httpx.get(_app_url(tracestack_stack) + "/reviews/1", headers=headers, timeout=10)
    assert response.status_code == 200
    read = trace_source.read_trace(trace_id, 1, READ_DEADLINE_S)
    servers = [s for s in read.spans if s.kind == SpanKind.SERVER]
    assert servers, (
        f"no server span joined trace {trace_id} sent in {headers}; {read.where} has {len(read.spans)} spans"
    )
    assert servers[0].parent_span_id == parent_id, (
        f"{propagator}: server span's parent is {servers[0].parent_span_id or '(none)'}, "
        f"expected the caller's {parent_id}"
    )


@pytest.mark.tracestack_check("search")
@pytest.mark.parametrize("how", ["tags", "traceql"])
def test_search(tracestack_stack, tracestack_tempo, tracestack_service_name, how, record_property):
    """A pushed trace is found by Tempo's search, by tag and by TraceQL (after the ingester cuts it)."""
    spans = _build(tracestack_service_name)
    protocol = next(iter(tracestack_stack.profile.ingest))
    result = send(protocol, spans, tracestack_stack.ingest_target(protocol))
    assert result.ok, f"{protocol} push was not acknowledged: {result.status} {result.detail}"
    query = (
        {"tags": {"service.name": tracestack_service_name}}
        if how == "tags"
        else {"traceql": f'{{ resource.service.name = "{tracestack_service_name}" }}'}
    )
    hits = tracestack_tempo.wait_for_search(**query, deadline_s=SEARCH_DEADLINE_S, trace_id=spans[0].trace_id)
    found = [normalize_hex_id(hit.trace_id, 32) for hit in hits]
    record_property("search", str(query))
    record_property("search_visible_after_s", round(getattr(hits, "visible_after_s", 0.0), 3))
    assert spans[0].trace_id in found, f"search {query} did not return trace {spans[0].trace_id}; it returned {found}"


@pytest.mark.tracestack_check("schemas")
def test_schema(tracestack_stack, trace_source, tracestack_service_name, schema_name):
    """An HTTP server span carries the attributes its semantic-convention schema requires, with their types."""
    schema = load_schema(schema_name)
    spans = _build(tracestack_service_name, "HTTP_SERVER")
    protocol = next(iter(tracestack_stack.profile.ingest))
    read = _send_and_read(tracestack_stack, trace_source, protocol, spans)
    root = next(span for span in read.spans if not span.parent_span_id)
    findings = [f for f in check_span(schema, root) if f.level == "violation"]
    assert not findings, f"span {root.name!r} against schema {schema_name}:\n{render_findings(findings)}"


@pytest.mark.tracestack_check("nginx-server-span")
def test_nginx_server_span(tracestack_stack, trace_source, record_property):
    """A request through NGINX yields its SERVER span in Tempo, with the attributes of seed 002 and their types."""
    target = f"/?tracestack={uuid.uuid4().hex}"
    response = httpx.get(tracestack_stack.first("nginx").url("http", target), timeout=10)
    assert response.status_code == 200
    # NGINX exports in batches every `interval` (5 s by default): the deadline covers it.
    read = trace_source.find_by_attribute(("http.target",), target, READ_DEADLINE_S)
    record_property("visible_after_s", round(read.visible_after_s, 3))
    servers = [s for s in read.spans if s.attributes.get("http.target") == target]
    assert servers, f"no NGINX span with http.target={target} reached {read.where}"
    findings = [f for f in check_span(load_schema("nginx-server-span"), servers[0]) if f.level == "violation"]
    assert not findings, render_findings(findings)


@pytest.mark.tracestack_check("load")
def test_load(tracestack_stack, tracestack_load, record_property):
    """--tracestack-load=RATE: Locust drives the ingest; the verdict is the profile's per-replica targets."""
    result = tracestack_load()
    record_property("load_report", str(result.report_dir / "load-report.html"))
    for implied in result.implied:
        record_property("implied_replicas", implied.text)
    assert result.passed, "load verdicts failed:\n  " + "\n  ".join(result.failures())


def _fault_run(stack, trace_source, service_name, record_property, fault) -> None:
    protocol = next(iter(stack.profile.ingest))
    with SteadyTraffic(protocol, stack.ingest_target(protocol), service_name) as traffic:
        time.sleep(1.5)
        fault()
        time.sleep(2.0)
    account = traffic.reconcile(trace_source, READ_DEADLINE_S)
    for key, value in account.as_properties().items():
        record_property(key, value)
    assert account.acknowledged, f"no push was acknowledged at all: refusals {account.refused}"
    assert not account.lost and not account.read_failed, account.describe_missing()


@pytest.mark.tracestack_check("collector-restart")
def test_collector_restart_loses_nothing_acknowledged(
    tracestack_stack, trace_source, tracestack_service_name, record_property
):
    """Restart a collector replica (SIGTERM, start again) under steady traffic: every acknowledged trace arrives."""
    faults = require(tracestack_stack.fault_injection())
    replica = tracestack_stack.replicas_of(next(iter(tracestack_stack.profile.ingest.values())).component)[0]
    _fault_run(
        tracestack_stack, trace_source, tracestack_service_name, record_property, lambda: faults.restart(replica.name)
    )


@pytest.mark.tracestack_check("ingester-kill")
def test_ingester_kill_loses_nothing_acknowledged(
    tracestack_stack, trace_source, tracestack_service_name, record_property
):
    """SIGKILL one of the ingesters under steady traffic (replication factor 3): every acknowledged trace is
    still retrievable by id."""
    faults = require(tracestack_stack.fault_injection())
    victim = tracestack_stack.replicas_of("ingester")[-1]
    try:
        _fault_run(
            tracestack_stack, trace_source, tracestack_service_name, record_property, lambda: faults.kill(victim.name)
        )
    finally:
        faults.restart(victim.name)  # later checks get the whole ring back


# Tempo's metrics-generator remote-writes its series every metrics_generator.registry.collection_interval (15 s by
# default; the local runtime sets 1 s) and Prometheus' remote-write client sends a batch within 5 s.
METRICS_DEADLINE_S = 60.0


def _send_client_server(stack, service_name: str) -> tuple[str, str]:
    """A client-server trace between two services named after the test; their names."""
    client, server = f"{service_name}-client", f"{service_name}-server"
    protocol = next(iter(stack.profile.ingest))
    result = send(protocol, trace_shapes.client_server_trace(client, server), stack.ingest_target(protocol))
    assert result.ok, f"{protocol} push was not acknowledged: {result.status} {result.detail}"
    return client, server


def _wait_for_metrics(prometheus, expr: str, wanted, what: str, record_property):
    try:
        answer = prometheus.wait_for(expr, wanted, METRICS_DEADLINE_S, what)
    except PromQLTimeout as error:
        pytest.fail(str(error), pytrace=False)
    record_property("promql", expr)
    record_property("metrics_visible_after_s", round(answer.waited_s, 3))
    return answer


@pytest.mark.tracestack_check("span-metrics")
def test_span_metrics(tracestack_stack, tracestack_prometheus, tracestack_service_name, record_property):
    """Tempo's span-metrics processor counts the check's client and server spans, and Prometheus answers PromQL for
    traces_spanmetrics_calls_total with both services."""
    client, server = _send_client_server(tracestack_stack, tracestack_service_name)
    expr = f"sum by (service, span_kind) (traces_spanmetrics_calls_total{{service=~{quoted(f'{client}|{server}')}}})"
    expected = {(client, "SPAN_KIND_CLIENT"), (server, "SPAN_KIND_SERVER")}

    def counted(series) -> bool:
        return expected <= {(s.labels.get("service"), s.labels.get("span_kind")) for s in series if s.value >= 1}

    _wait_for_metrics(
        tracestack_prometheus,
        expr,
        counted,
        f"a call counted for {client}'s CLIENT span and {server}'s SERVER span",
        record_property,
    )


@pytest.mark.tracestack_check("service-graphs")
def test_service_graphs(tracestack_stack, tracestack_prometheus, tracestack_service_name, record_property):
    """Tempo's service-graphs processor pairs the check's client and server spans into an edge, and Prometheus answers
    PromQL for traces_service_graph_request_total with client and server set to the two services."""
    client, server = _send_client_server(tracestack_stack, tracestack_service_name)
    expr = (
        f"sum by (client, server) (traces_service_graph_request_total{{client={quoted(client)}, "
        f"server={quoted(server)}}})"
    )
    _wait_for_metrics(
        tracestack_prometheus,
        expr,
        lambda series: any(s.value >= 1 for s in series),
        f"a request counted on the edge {client} -> {server}",
        record_property,
    )


def _push_and_flush(stack, service_name: str):
    """Push a trace, have every ingester flush, and wait until a new block is in Tempo's bucket."""
    stack.reach_every_replica()  # Kubernetes: each ingester and the querier on port-forwards of their own
    config = backend.tempo_config(stack, backend.querier(stack))
    bucket = backend.bucket_of(stack, config)
    before = set(backend.list_blocks(bucket))
    spans = _build(service_name, "WIDE")
    protocol = next(iter(stack.profile.ingest))
    result = send(protocol, spans, stack.ingest_target(protocol))
    assert result.ok, f"{protocol} push was not acknowledged: {result.status} {result.detail}"
    unreached = backend.flush_ingesters(stack)
    deadline = backend.BLOCK_DEADLINE_S if not unreached else backend.BLOCK_DEADLINE_S + 1800
    seen = backend.wait_for_new_blocks(bucket, before, deadline)
    return spans, config, bucket, seen


@pytest.mark.tracestack_check("backend-storage")
def test_blocks_reach_the_bucket(tracestack_stack, tracestack_service_name, record_property):
    """After the ingesters flush, a pushed trace's block is in Tempo's S3 bucket: a new complete block (meta.json
    written) under the tenant's prefix."""
    _spans, _config, bucket, seen = _push_and_flush(tracestack_stack, tracestack_service_name)
    record_property("bucket", bucket.describe())
    record_property("blocks", "; ".join(f"{block.block_id}: {', '.join(block.objects)}" for block in seen.blocks))
    record_property("block_visible_after_s", round(seen.after_s, 3))
    assert all(block.complete for block in seen.blocks)


@pytest.mark.tracestack_check("backend-storage")
def test_trace_is_read_from_the_backend(tracestack_stack, tracestack_service_name, record_property):
    """A flushed trace comes back whole from the bucket alone: the querier's blocks-only read, which asks no
    ingester, returns every span sent."""
    sent, config, bucket, _seen = _push_and_flush(tracestack_stack, tracestack_service_name)
    querier = backend.querier(tracestack_stack)
    deadline = backend.blocklist_poll_s(config) + backend.POLL_MARGIN_S
    with TempoClient(querier.url("http")) as client:
        read = client.wait_for_trace(sent[0].trace_id, len(sent), deadline, blocks_only=True)
    record_property(
        "read_from", f"{querier.name} {client.base_url}/querier/api/v2/traces (mode=blocks), {bucket.describe()}"
    )
    record_property("visible_in_blocks_after_s", round(read.visible_after_s, 3))
    diff = compare_traces(sent, read.spans, protocol_losses=next(iter(tracestack_stack.profile.ingest)))
    assert diff.ok, f"trace {sent[0].trace_id} read from the blocks of {bucket.describe()}:\n{diff.render()}"
