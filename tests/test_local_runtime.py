"""The local runtime with real collector processes: own addresses, readiness, and nothing left behind."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.errors import ComponentExited
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.local.process import port_open
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

SCENARIOS = Path(__file__).parent / "scenarios"


def _runtime(otelcol: Path, **kwargs) -> LocalRuntime:
    return LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"otelcol": str(otelcol)}, allow_download=False),
            ready_timeout_s=kwargs.pop("ready_timeout_s", 60),
            **kwargs,
        )
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_each_replica_runs_on_its_own_loopback_address_and_stops_cleanly(otelcol_binary: Path) -> None:
    runtime = _runtime(otelcol_binary)
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    replicas = stack.replicas_of("otelcol")
    try:
        assert len({r.address for r in replicas}) == 2
        assert all(r.address.startswith("127.") and r.ports["otlp-grpc"] == 4317 for r in replicas)
        assert all(port_open(r.address, 4317) and _alive(r.pid) for r in replicas)
        assert "otelcol" in stack.binaries
        workdir = stack.workdir
    finally:
        runtime.stop(stack)
    assert not any(_alive(r.pid) for r in replicas)
    assert not any(port_open(r.address, port) for r in replicas for port in r.ports.values())
    assert not workdir.exists()


def test_a_component_that_exits_at_start_is_reported_with_its_log(otelcol_binary: Path, tmp_path: Path) -> None:
    profile_text = (
        (SCENARIOS / "lone-collector.yaml")
        .read_text()
        .replace("      service.extensions: [health_check]", "      service.extensions: [health_check, zpages]")
    )
    broken = profile_text.replace("name: lone-collector", "name: broken-collector")
    (tmp_path / "broken-collector.yaml").write_text(broken)
    runtime = _runtime(otelcol_binary, report_dir=tmp_path / "report")
    with pytest.raises(ComponentExited) as raised:
        runtime.start(load_profile("broken-collector", [tmp_path]))
    message = str(raised.value)
    # both replicas refuse the config; readiness is polled for all at once and the first seen exiting is named
    assert re.match(r"otelcol-[01] exited while waiting for http://127\.", message)
    assert "zpages" in message  # the collector's own complaint, from its log
    assert (tmp_path / "report" / "logs" / "otelcol-0.log").is_file()


def test_a_components_args_reach_each_replicas_command_and_the_plan(otelcol_binary: Path, tmp_path: Path) -> None:
    """A feature gate the collector does not know makes it exit at once: only an argument that reached it can."""
    profile = (SCENARIOS / "lone-collector.yaml").read_text().replace("name: lone-collector", "name: args-collector")
    profile = profile.replace(
        "    replicas: 2\n", "    replicas: 2\n    args: [--feature-gates=tracestack.no-such-gate]\n"
    )
    (tmp_path / "args-collector.yaml").write_text(profile)
    runtime = _runtime(otelcol_binary)
    loaded = load_profile("args-collector", [tmp_path])
    assert "2 x otelcol (otelcol --feature-gates=tracestack.no-such-gate)," in runtime.plan(loaded)[0].description
    with pytest.raises(ComponentExited) as raised:
        runtime.start(loaded)
    assert re.match(r"otelcol-[01] exited", str(raised.value))
    assert 'no such feature gate "tracestack.no-such-gate"' in str(raised.value)  # the collector's own complaint


def test_keep_leaves_processes_running_until_tracestack_stop(otelcol_binary: Path) -> None:
    from pytest_tracestack.cli import main

    runtime = _runtime(otelcol_binary, keep=True)
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    try:
        text = runtime.describe_keep(stack)
        assert f"tracestack stop {stack.workdir}" in text
        assert all(_alive(r.pid) for r in stack.replicas)
        assert main(["stop", str(stack.workdir)]) == 0  # returns once every process is gone
        assert not any(_alive(r.pid) for r in stack.replicas)
        assert not stack.workdir.exists()
    finally:
        for replica in stack.replicas:
            if _alive(replica.pid):
                os.killpg(replica.pid, signal.SIGKILL)
        runtime.stop(stack)


def test_faults_kill_pause_and_restart_a_replica(otelcol_binary: Path) -> None:
    runtime = _runtime(otelcol_binary)
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    first, second = stack.replicas_of("otelcol")
    try:
        stack.kill(first.name)
        assert not _alive(first.pid) and not port_open(first.address, 4317)
        assert port_open(second.address, 4317)
        old_pid = first.pid
        stack.restart(first.name)
        assert first.pid != old_pid and port_open(first.address, 4317)
        stack.pause(second.name)
        assert Path(f"/proc/{second.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
        stack.resume(second.name)
        with pytest.raises(Exception, match=r"no process replica named 'nope'; process replicas: otelcol-0, otelcol-1"):
            stack.kill("nope")
    finally:
        runtime.stop(stack)
    assert not _alive(first.pid) and not _alive(second.pid)


def test_a_port_taken_on_every_loopback_address_is_named(otelcol_binary: Path, tmp_path: Path) -> None:
    import socket

    from pytest_tracestack.runtimes.local.addresses import PortTakenError

    # A health port of this test's own: a listener on 0.0.0.0 takes the port on every loopback address, so with
    # the profile's 13133 it would also break the stacks other xdist workers start meanwhile.
    profile = (SCENARIOS / "lone-collector.yaml").read_text().replace("health: 13133", "health: 13177")
    (tmp_path / "taken-collector.yaml").write_text(profile.replace("name: lone-collector", "name: taken-collector"))
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        blocker.bind(("0.0.0.0", 13177))
    except OSError:
        pytest.skip("port 13177 is already in use on this machine; cannot stage the conflict")
    blocker.listen()
    try:
        with pytest.raises(PortTakenError, match=r"port\(s\) 13177 are taken on every loopback address"):
            _runtime(otelcol_binary).start(load_profile("taken-collector", [tmp_path]))
    finally:
        blocker.close()


def test_a_ctrl_c_during_start_stays_a_ctrl_c_with_what_could_not_be_cleaned_as_a_note(
    otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_tracestack.runtimes.local import runtime as local_module
    from pytest_tracestack.runtimes.local.reservations import try_reserve

    started: list = []

    def interrupted(self, stack, launched_at) -> None:
        started.append(stack)
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalRuntime, "_wait_ready", interrupted)
    # stands for a listener the stop could not end (a port it cannot free stays open after the stop)
    monkeypatch.setattr(local_module, "wait_ports_free", lambda endpoints, deadline_s=15.0: endpoints[:1])
    with pytest.raises(KeyboardInterrupt) as raised:
        _runtime(otelcol_binary).start(load_profile("lone-collector", [SCENARIOS]))
    stack = started[0]
    assert any(
        note.startswith("tracestack: after stopping lone-collector: still listening: 127.")
        for note in getattr(raised.value, "__notes__", [])
    ), raised.value
    assert not any(_alive(r.pid) for r in stack.replicas) and not stack.workdir.exists()
    again = try_reserve(f"loopback-block-{stack.block.number}")  # the block is free for the next stack
    assert again is not None
    again.release()
