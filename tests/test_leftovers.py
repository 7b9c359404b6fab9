"""The tests' leftover check counts what the test's own run started, on every address, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_sockets

LISTEN = (
    "import socket, sys, time\n"
    "server = socket.socket(); server.bind((sys.argv[1], 0)); server.listen()\n"
    "print(server.getsockname()[1], flush=True); time.sleep(60)\n"
)


@pytest.fixture
def listener():
    started: list[subprocess.Popen] = []

    def start(address: str, tmpdir: str) -> tuple[str, int]:
        process = subprocess.Popen(
            [sys.executable, "-c", LISTEN, address],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": tmpdir},
        )
        started.append(process)
        return address, int(process.stdout.readline())

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_listener_this_run_left_on_127_0_0_1_is_counted(listener) -> None:
    before = listening_sockets()
    ours = listener("127.0.0.1", os.environ["TMPDIR"])
    assert ours in tracestack_sockets(before)


def test_another_programs_server_on_loopback_is_not_counted(listener, tmp_path: Path) -> None:
    before = listening_sockets()
    theirs = listener("127.9.9.9", str(tmp_path / "someone-else"))
    assert theirs in listening_sockets()
    assert theirs not in tracestack_sockets(before)
