"""One install into tracestack's cache at a time across processes: a second process waits and says for whom,
then uses what the first installed; the lock of a killed install does not block; the wait has a limit. (The
collector build under `pytest -n 2` is tested in test_session_output.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_tracestack.binaries import install_lock
from pytest_tracestack.binaries.install_lock import installing
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.local.reservations import holder_note, try_lock

HOLDS_THE_INSTALL = """
import sys, time
from pathlib import Path
from pytest_tracestack.binaries.install_lock import installing

with installing(Path(sys.argv[1]), "building a test binary", Path(sys.argv[1]).parent / "build.log"):
    print("holding", flush=True)
    time.sleep(600)
"""


def _lock(destination: Path) -> Path:
    return destination.with_name(destination.name + ".install-lock")


def test_the_lock_of_a_killed_install_does_not_block_the_next(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    destination = tmp_path / "bin" / "tool-1.0" / "tool"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDS_THE_INSTALL, str(destination)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        assert try_lock(_lock(destination)) is None  # held while the holder lives
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert json.loads(holder_note(_lock(destination)))["pid"] == holder.pid  # its note is still in the file
    began = time.monotonic()
    with installing(destination, "building it again") as install:
        assert not install.done_elsewhere
    assert time.monotonic() - began < 1.0
    assert "waiting" not in capsys.readouterr().err


def test_a_wait_has_a_limit_and_names_whom_it_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    destination = tmp_path / "tool"
    held = try_lock(
        _lock(destination), json.dumps({"pid": 4242, "what": "downloading https://example/tool", "log": None})
    )
    assert held is not None
    monkeypatch.setattr(install_lock, "WAIT_LIMIT_S", 0.3)
    monkeypatch.setattr(install_lock, "POLL_S", 0.05)
    try:
        with pytest.raises(
            TracestackError,
            match=r"waited 0s for pid 4242, which is still downloading "
            r"https://example/tool \(lock .*tool.install-lock\); end that "
            r"process and run again",
        ):
            with installing(destination, "downloading it too"):
                pass
    finally:
        held.release()
    assert (
        "tracestack: waiting for another tracestack process (pid 4242) downloading https://example/tool\n"
        in capsys.readouterr().err
    )


def test_the_second_waits_then_uses_what_the_first_installed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    destination = tmp_path / "tool"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDS_THE_INSTALL.replace(
                "time.sleep(600)",
                "time.sleep(1); Path(sys.argv[1]).write_text('built'); Path(sys.argv[1]).chmod(0o755)",
            ),
            str(destination),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        with installing(destination, "building it too") as install:
            assert install.done_elsewhere and destination.read_text() == "built"
    finally:
        holder.kill()
        holder.wait(10)
    err = capsys.readouterr().err
    assert (
        f"tracestack: waiting for another tracestack process (pid {holder.pid}) building a test binary "
        f"(log: {tmp_path}/build.log)\n"
    ) in err
    assert f"(pid {holder.pid}) building a test binary: done after " in err
