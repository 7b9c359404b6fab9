"""Tempo's single binary dials its own ingester and query-frontend at 127.0.0.1:<grpc port> (recorded from
Tempo 2.10.8: tests/recorded/tempo-2.10.8/single-binary/). The profiles' gRPC server answers there, on a
port of each stack's own; FAKE TEMPO FOR TESTS applies the same rule, so the configs from before the fix
fail against it as they failed against the real binary. Passing here proves nothing about Tempo itself."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from leftovers import tracestack_processes, tracestack_sockets
from pytest_tracestack import paths
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.errors import ReadinessTimeout
from pytest_tracestack.profiles.file_paths import as_copy
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.local.process import port_open
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
FRONTEND_NOT_READY = "Query Frontend not ready: not ready: number of queriers connected to query-frontend is 0"

HOLDS_ITS_STACK = """
import json, os, time
from pathlib import Path

def test_holds_a_stack(tracestack_stack):
    grpc = tracestack_stack.first("tempo").hostport("grpc")
    barrier = Path(os.environ["BARRIER_DIR"])
    (barrier / os.environ["PYTEST_XDIST_WORKER"]).write_text(grpc)
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < 2:      # both stacks are up at the same time
        assert time.monotonic() < deadline, "the other worker's stack never came up alongside this one"
        time.sleep(0.1)
"""


def _runtime(ready_timeout_s: float = 30) -> LocalRuntime:
    return LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"tempo": str(DOUBLE)}, allow_download=False),
            ready_timeout_s=ready_timeout_s,
        )
    )


def _manifest_before_the_fix(tmp_path: Path, frontend_address: str | None) -> str:
    """The manifest profile as it was: gRPC on the replica's own address, on Tempo's default port."""
    text = (paths.scenarios_dir() / "manifest.yaml").read_text()
    frontend = '      querier.frontend_worker.frontend_address: "127.0.0.1:{localhost_port:grpc}"\n'
    assert frontend in text
    text = text.replace(
        frontend, f'      querier.frontend_worker.frontend_address: "{frontend_address}"\n' if frontend_address else ""
    )
    text = text.replace("server.grpc_listen_address: 127.0.0.1", 'server.grpc_listen_address: "{address}"')
    text = text.replace('"{localhost_port:grpc}"', '"{port:grpc}"').replace("name: manifest", "name: manifest-before")
    copied = as_copy(yaml.safe_load(text))  # the copy's files stay the built-in manifests
    (tmp_path / "manifest-before.yaml").write_text(yaml.safe_dump(copied, sort_keys=False))
    return "manifest-before"


@pytest.fixture
def nothing_on_localhost_9095() -> None:
    if port_open("127.0.0.1", 9095, timeout=0.2):
        pytest.skip("something listens on 127.0.0.1:9095 here, where the old config's Tempo would dial; stop it")


def test_the_config_from_before_the_fix_never_gets_ready(tmp_path: Path, nothing_on_localhost_9095) -> None:
    profile = load_profile(_manifest_before_the_fix(tmp_path, frontend_address=None), [tmp_path])
    with pytest.raises(ReadinessTimeout) as raised:
        _runtime(ready_timeout_s=5).start(profile)
    assert f"HTTP 503: {FRONTEND_NOT_READY}" in str(raised.value)


def test_with_the_frontend_address_set_it_is_ready_but_refuses_every_push(
    tmp_path: Path, nothing_on_localhost_9095
) -> None:
    profile = load_profile(_manifest_before_the_fix(tmp_path, frontend_address="{address}:{port:grpc}"), [tmp_path])
    runtime = _runtime()
    stack = runtime.start(profile)
    try:
        with grpc.insecure_channel(stack.ingest_target("otlp-grpc")) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                trace_service_pb2_grpc.TraceServiceStub(channel).Export(
                    trace_service_pb2.ExportTraceServiceRequest(), timeout=10
                )
    finally:
        runtime.stop(stack)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "dial tcp 127.0.0.1:9095: connect: connection refused" in refused.value.details()


def test_the_fixed_profile_serves_grpc_on_127_0_0_1_and_accepts_pushes() -> None:
    runtime = _runtime()
    stack = runtime.start(load_profile("manifest"))
    try:
        tempo = stack.first("tempo")
        host, port = tempo.hostport("grpc").rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) != 9095 and port_open(host, int(port))
        with grpc.insecure_channel(stack.ingest_target("otlp-grpc")) as channel:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(
                trace_service_pb2.ExportTraceServiceRequest(), timeout=10
            )
        state = json.loads((stack.workdir / "stack.json").read_text())
        assert tempo.hostport("grpc") in state["replicas"][0]["endpoints"]
    finally:
        runtime.stop(stack)
    assert not port_open(host, int(port))


def test_two_manifest_stacks_run_at_once_under_xdist(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_first=HOLDS_ITS_STACK, test_second=HOLDS_ITS_STACK)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv("BARRIER_DIR", str(barrier))
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--dist",
        "loadfile",
        "--tracestack-profile=manifest",
        f"--tracestack-tempo={DOUBLE}",
        "-k",
        "holds_a_stack",
        "test_first.py",
        "test_second.py",
    )
    result.assert_outcomes(passed=2)
    grpc_endpoints = {file.read_text() for file in barrier.iterdir()}
    assert len(grpc_endpoints) == 2 and all(e.startswith("127.0.0.1:") for e in grpc_endpoints)
    assert tracestack_processes() == [] and tracestack_sockets() == set()
