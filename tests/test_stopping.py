"""Stopping a stack: every replica signalled at once with one deadline, the ones that needed SIGKILL named;
``tracestack stop DIR`` ends the processes a kept stack runs now (restarts included), returns only once they
are gone, and says which it could not stop. Tempo replicas are FAKE TEMPO FOR TESTS (tests/doubles), told
to linger after SIGTERM as Tempo's query-frontend and querier can."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.cli import main
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.local import process as process_module
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings, SlowStopWarning

SCENARIOS = Path(__file__).parent / "scenarios"
DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"


def _runtime(tmp_path: Path, otelcol: Path | None = None, **settings) -> LocalRuntime:
    explicit = {"tempo": str(DOUBLE), **({"otelcol": str(otelcol)} if otelcol else {})}
    return LocalRuntime(
        LocalSettings(binaries=BinaryProvider(explicit=explicit, allow_download=False), ready_timeout_s=60, **settings)
    )


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sigterm_received_at(log: Path) -> float:
    return float(re.search(r"ts=([\d.]+) msg=\"=== received SIGINT/SIGTERM", log.read_text()).group(1))


def test_replicas_are_signalled_at_once_and_those_needing_sigkill_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TEMPO_STOPPING_TARGETS", "querier,query-frontend")
    runtime = _runtime(tmp_path, stop_grace_s=3, report_dir=tmp_path / "report")
    stack = runtime.start(load_profile("distributed"))
    pids = [replica.pid for replica in stack.replicas]
    with pytest.warns(SlowStopWarning, match=r"querier-0, query-frontend-0 did not exit within 3s of SIGTERM"):
        report = runtime.stop(stack)
    assert report.killed == ["querier-0", "query-frontend-0"]
    assert not any(_alive(pid) for pid in pids)
    logs = tmp_path / "report" / "logs"
    received = [_sigterm_received_at(logs / f"{name}.log") for name in ("querier-0", "query-frontend-0")]
    # one shared deadline: the second lingering replica got SIGTERM before the first one's grace ran out
    assert abs(received[0] - received[1]) < 3


def test_tracestack_stop_ends_the_process_a_restart_started(
    tmp_path: Path, otelcol_binary: Path, capsys: pytest.CaptureFixture
) -> None:
    runtime = _runtime(tmp_path, otelcol_binary, keep=True)
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    first = stack.replicas_of("otelcol")[0]
    before = first.pid
    try:
        stack.restart(first.name)
        state = json.loads((stack.workdir / "stack.json").read_text())
        assert state["replicas"][0]["pid"] == first.pid != before
        assert main(["stop", str(stack.workdir)]) == 0
        assert not any(_alive(replica.pid) for replica in stack.replicas)
        assert f"otelcol-0 (pid {first.pid})" in capsys.readouterr().out
        assert not stack.workdir.exists()
    finally:
        runtime.stop(stack)


def test_tracestack_stop_returns_only_once_every_process_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TEMPO_EXIT_DELAY_S", "2")  # ports closed at once, exit two seconds later
    runtime = _runtime(tmp_path, keep=True)
    stack = runtime.start(load_profile("manifest"))
    try:
        assert main(["stop", str(stack.workdir)]) == 0
        assert not _alive(stack.first("tempo").pid)
    finally:
        runtime.stop(stack)


def test_tracestack_stop_names_what_it_could_not_stop_and_exits_1(
    tmp_path: Path, otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    runtime = _runtime(tmp_path, otelcol_binary, keep=True)
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    stubborn = stack.replicas_of("otelcol")[1]
    real_killpg = os.killpg
    monkeypatch.setattr(process_module, "KILL_WAIT_S", 0.5)
    monkeypatch.setattr(
        process_module.os,
        "killpg",  # signals to it get lost, as to another user's process
        lambda pgid, signum: None if pgid == stubborn.pid else real_killpg(pgid, signum),
    )
    try:
        assert main(["stop", str(stack.workdir), "--grace", "0.5"]) == 1
        captured = capsys.readouterr()
        assert f"could not stop otelcol-1: still running after SIGKILL: pids {stubborn.pid}" in captured.out
        assert "could not stop everything" in captured.err
        assert stack.workdir.exists() and not _alive(stack.replicas[0].pid)
    finally:
        monkeypatch.undo()
        runtime.stop(stack)


def test_tracestack_stop_leaves_a_process_that_reused_a_pid_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    workdir = tmp_path / "tracestack-gone-1"
    workdir.mkdir()
    try:
        (workdir / "stack.json").write_text(
            json.dumps(
                {
                    "profile": "gone",
                    "replicas": [
                        {"name": "tempo-0", "pid": stranger.pid, "started": 1, "address": "127.250.1.1", "ports": {}}
                    ],
                }
            )
        )
        assert main(["stop", str(workdir)]) == 0
        assert f"their pid now belongs to another process: tempo-0 (pid {stranger.pid})" in capsys.readouterr().out
        assert stranger.poll() is None
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()
