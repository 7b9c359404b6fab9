"""Nothing is left running after a session: passed, failed, setup failure, Ctrl-C, and under xdist."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets

SCENARIOS = Path(__file__).parent / "scenarios"

USES_THE_STACK = """
import os, time
from pathlib import Path

def test_uses_stack(tracestack_stack):
    assert len(tracestack_stack.replicas) == 2
    Path(os.environ["READY_FILE"]).write_text("up")
    time.sleep(float(os.environ.get("HOLD_S", "0")))
    assert os.environ.get("MAKE_IT_FAIL") != "1", "failing on purpose"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    pytester.makepyfile(test_stack=USES_THE_STACK)
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(SCENARIOS))
    monkeypatch.setenv("READY_FILE", str(tmp_path / "ready"))
    return pytester


def _assert_nothing_left(before: set) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (tracestack_processes() or tracestack_sockets(before)):
        time.sleep(0.2)
    assert tracestack_processes() == []
    assert tracestack_sockets(before) == set()


def test_after_a_passing_session(project: pytest.Pytester) -> None:
    before = listening_sockets()
    result = project.runpytest_subprocess("--tracestack-profile=lone-collector", "test_stack.py")
    result.assert_outcomes(passed=1, skipped=1)  # the built-in roundtrip skips: this profile has no sink
    _assert_nothing_left(before)


def test_after_a_failing_test(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKE_IT_FAIL", "1")
    before = listening_sockets()
    result = project.runpytest_subprocess("--tracestack-profile=lone-collector", "test_stack.py")
    result.assert_outcomes(failed=1, skipped=1)
    _assert_nothing_left(before)


def test_after_setup_fails_half_way(project: pytest.Pytester, tmp_path: Path, monkeypatch) -> None:
    good = (SCENARIOS / "lone-collector.yaml").read_text().replace("name: lone-collector", "name: half-broken")
    components, rest = good.split("ingest:", 1)
    # a second component whose collector refuses its config (it names an extension this build lacks)
    bad = (
        components.split("components:\n", 1)[1]
        .replace("  otelcol:", "  bad:", 1)
        .replace("service.extensions: [health_check]", "service.extensions: [health_check, zpages]")
    )
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "half-broken.yaml").write_text(components + bad + "ingest:" + rest)
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(scenarios))
    before = listening_sockets()
    result = project.runpytest_subprocess("--tracestack-profile=half-broken", "test_stack.py")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*bad-[01] exited while waiting for*"])  # readiness is polled for all at once
    _assert_nothing_left(before)


def _ctrl_c_by_default() -> None:
    """In the child, before exec: SIGINT back to its default and unblocked. A shell that ran us with
    `trap '' INT` or `nohup ... &` ignores SIGINT, an ignored signal stays ignored across exec, and Python
    then installs no KeyboardInterrupt handler: the child would never see this test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_after_ctrl_c(project: pytest.Pytester, tmp_path: Path) -> None:
    before = listening_sockets()
    env = {**os.environ, "HOLD_S": "60"}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as when started by `nohup ... &` or `trap '' INT`
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "--tracestack-profile=lone-collector", "test_stack.py"],
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_ctrl_c_by_default,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.1)
    assert len(tracestack_processes()) == 2  # the stack is up while the test holds
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert b"KeyboardInterrupt" in output
    _assert_nothing_left(before)


def test_with_xdist_workers_in_parallel(project: pytest.Pytester) -> None:
    project.makepyfile(test_second=USES_THE_STACK.replace("test_uses_stack", "test_uses_stack_too"))
    before = listening_sockets()
    result = project.runpytest_subprocess(
        "-n", "2", "--tracestack-profile=lone-collector", "test_stack.py", "test_second.py"
    )
    result.assert_outcomes(passed=2, skipped=1)
    _assert_nothing_left(before)
