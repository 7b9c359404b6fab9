"""A check that needs something of the stack (fault injection, the capture sink, a port the replica does not
list) runs when the stack provides it and skips with the runtime's own reason when the stack declines it.

The pytester runs use a runtime of this file's own ("ownrt"): the collector profile with both its replicas
played by one capture sink in this process. Nothing here stands for a real collector; the runs test only how
the built-in checks treat what a stack offers, which is what a new runtime relies on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pytest_tracestack.checks.closed import closed_target
from pytest_tracestack.clients.capture_sink import CaptureSink
from pytest_tracestack.profiles.profile import Profile, load_profile
from pytest_tracestack.runtimes.base import Capability, FaultInjection, Offer, PlanStep, Replica, Stack
from pytest_tracestack.runtimes.kube.engine import KubeStack
from pytest_tracestack.runtimes.kube.install import cluster_access
from pytest_tracestack.runtimes.local.launchers import SinkHandle
from pytest_tracestack.runtimes.local.process import ManagedProcess
from pytest_tracestack.runtimes.local.runtime import LocalStack


class RecordingFaults:
    """Fault injection that records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def kill(self, replica_name: str) -> None:
        self.calls.append(("kill", replica_name))

    def pause(self, replica_name: str) -> None:
        self.calls.append(("pause", replica_name))

    def resume(self, replica_name: str) -> None:
        self.calls.append(("resume", replica_name))

    def restart(self, replica_name: str, grace_s: float = 10.0) -> None:
        self.calls.append(("restart", replica_name))


@dataclass
class OwnStack(Stack):
    """Provides the capture sink; provides fault injection only when given a recorder; declines unlisted ports."""

    sink: CaptureSink | None = None
    faults: RecordingFaults | None = None
    offers_sink: bool = True

    def fault_injection(self) -> Offer[FaultInjection]:
        if self.faults is None:
            return self._decline(Capability.FAULT_INJECTION, "ownrt's replicas cannot be signalled (test reason 41)")
        return self._provide(Capability.FAULT_INJECTION, self.faults)

    def capture_sink(self, replica: Replica) -> Offer[CaptureSink]:
        if not self.offers_sink or self.sink is None:
            return self._decline(Capability.CAPTURE_SINK, "ownrt keeps no sink in the test process (test reason 42)")
        return self._provide(Capability.CAPTURE_SINK, self.sink)


@dataclass
class OwnRuntime:
    """Starts an OwnStack: both replicas of the collector profile are one capture sink in this process."""

    faults: RecordingFaults | None = None
    offers_sink: bool = True
    stopped: list[Stack] = field(default_factory=list)
    name: str = "ownrt"

    def plan(self, profile: Profile) -> list[PlanStep]:
        return []

    def start(self, profile: Profile) -> OwnStack:
        sink = CaptureSink("127.0.0.1").start()
        ports = {
            "otlp-grpc": int(sink.grpc_endpoint.rsplit(":", 1)[1]),
            "otlp-http": int(sink.http_endpoint.rsplit(":", 1)[1]),
        }
        replicas = [Replica(component, 0, "127.0.0.1", dict(ports)) for component in ("sink", "otelcol")]
        return OwnStack(profile, self.name, replicas, sink=sink, faults=self.faults, offers_sink=self.offers_sink)

    def stop(self, stack: Stack) -> None:
        assert isinstance(stack, OwnStack) and stack.sink is not None
        stack.sink.stop()
        self.stopped.append(stack)

    def describe_keep(self, stack: Stack) -> str:
        return ""


def _run_with(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, runtime: OwnRuntime, *args: str
) -> pytest.RunResult:
    monkeypatch.setattr("pytest_tracestack.plugin.session.make_runtime", lambda name, config, binaries=None: runtime)
    result = pytester.runpytest("--tracestack-profile=collector", "--tracestack-runtime=local", "-v", "-rs", *args)
    assert len(runtime.stopped) == 1, "the stack is stopped at the end of the session"
    return result


def test_a_fault_check_skips_with_the_reason_of_a_runtime_that_declines_faults(pytester, monkeypatch) -> None:
    result = _run_with(pytester, monkeypatch, OwnRuntime(), "-k", "restart")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *builtin.py:*: fault injection (kill, pause or restart a replica): the ownrt runtime "
            "declines: ownrt's replicas cannot be signalled (test reason 41)"
        ]
    )


def test_a_fault_check_runs_on_a_runtime_that_provides_faults(pytester, monkeypatch) -> None:
    faults = RecordingFaults()
    result = _run_with(pytester, monkeypatch, OwnRuntime(faults), "-k", "restart")
    result.assert_outcomes(passed=1)
    assert faults.calls == [("restart", "otelcol-0")]


def test_the_sink_fixture_skips_with_the_reason_of_a_runtime_that_declines_the_sink(pytester, monkeypatch) -> None:
    result = _run_with(pytester, monkeypatch, OwnRuntime(offers_sink=False), "-k", "roundtrip and grpc")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: the capture sink in the test process: the ownrt runtime declines: ownrt keeps no sink "
            "in the test process (test reason 42)"
        ]
    )


def test_the_refused_check_skips_on_a_runtime_that_reaches_only_listed_ports(pytester, monkeypatch) -> None:
    """OwnStack keeps Stack's default: only the ports a replica lists are reached."""
    result = _run_with(pytester, monkeypatch, OwnRuntime(), "-k", "refused")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED [[]2[]] *: {Capability.UNLISTED_PORTS.value}: the ownrt runtime declines: it makes only the "
            "ports a replica lists reachable"
        ]
    )


# --- each runtime's stack provides or declines, with its reason -------------------------------------------------


@pytest.fixture
def collector() -> Profile:
    return load_profile("collector")


def test_the_local_stack_provides_faults_the_sink_every_port_and_the_pids_of_its_processes(collector, tmp_path):
    """Nothing is started: a sink handle and a process handle as the local runtime holds them."""
    sink, otelcol = Replica("sink", 0, "127.3.0.1", {"otlp-grpc": 4317}), Replica("otelcol", 0, "127.3.1.1", {})
    stack = LocalStack(collector, "local", [sink, otelcol], workdir=tmp_path)
    capture = CaptureSink("127.3.0.1")
    stack.handles = {
        "sink-0": SinkHandle(capture),
        "otelcol-0": ManagedProcess("otelcol-0", ["otelcol"], tmp_path / "otelcol-0.log"),
    }
    assert stack.fault_injection().value is stack
    assert stack.capture_sink(sink).value is capture
    assert stack.capture_sink(otelcol).declined() == (
        "the capture sink in the test process: the local runtime declines: otelcol-0 is not a capture sink"
    )
    assert stack.unlisted_port_host(otelcol).value == "127.3.1.1"
    assert closed_target(stack, "zipkin") == "http://127.3.1.1:9411/api/v2/spans"
    assert "sink-0 runs inside the pytest process" in stack.process_id(sink).declined()
    assert "otelcol-0 is not running" in stack.process_id(otelcol).declined()


def test_the_kube_stack_declines_each_capability_with_its_reason(collector, tmp_path):
    stack = KubeStack(
        collector,
        "kind",
        [Replica("otelcol", 0, "127.0.0.1", {"otlp-grpc": 40001})],
        workdir=tmp_path,
        access=cluster_access([], "tracestack-test", tmp_path),
    )
    replica = stack.replicas[0]
    offers = [
        stack.fault_injection(),
        stack.capture_sink(replica),
        stack.unlisted_port_host(replica),
        stack.process_id(replica),
    ]
    assert all(offer.value is None for offer in offers)
    assert all(offer.declined().startswith(f"{offer.what.value}: the kind runtime declines: ") for offer in offers)
    assert "only the ports a replica lists are forwarded" in offers[2].reason
    with pytest.raises(pytest.skip.Exception, match="the kind runtime declines: only the ports a replica lists"):
        closed_target(stack, "zipkin")
    assert closed_target(stack, "otlp-grpc") == "127.0.0.1:40001"  # a listed port is reached on every runtime


def test_a_stack_made_of_replicas_offers_the_pids_it_was_given(collector) -> None:
    stack = Stack(collector, "test", [Replica("otelcol", 0, "127.0.0.1", {}, pid=4242), Replica("sink", 0, "h", {})])
    assert stack.process_id(stack.replicas[0]).value == 4242
    assert stack.process_id(stack.replicas[1]).declined() == (
        "a process id on this machine to sample in /proc: the test runtime declines: it gave sink-0 no process id"
    )
