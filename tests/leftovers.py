"""What a tracestack run may have left behind: processes it started, and the sockets they still listen on.

Every test gets a TMPDIR of its own (tests/conftest.py). The pytest subprocesses a test starts inherit it,
and so does every process they start; their stacks' work dirs live below it. A process is this run's when
its environment names that TMPDIR or its command line or working directory points into such a work dir.
Sockets are judged by who holds them, on every address (127.0.0.1 included), so another program's servers
on loopback are never counted, and a listener this run left on 127.0.0.1 always is."""

from __future__ import annotations

import os

import psutil


def _under() -> str:
    return os.environ.get("TMPDIR", "").rstrip("/")


def tracestack_processes() -> list[tuple[int, str]]:
    """Live processes whose command line points into a tracestack work dir below this test's TMPDIR."""
    marker = f"{_under()}/tracestack-"
    return [
        (process.pid, " ".join(process.info["cmdline"] or []))
        for process in _live_processes()
        if marker in " ".join(process.info["cmdline"] or [])
    ]


def run_processes() -> list[psutil.Process]:
    """Live processes this test's run started (see the module docstring), the test process excepted."""
    under = _under()
    return [process for process in _live_processes() if _started_by_this_run(process.info, under)]


def _live_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "environ", "status"]):
        if process.pid != os.getpid() and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def _started_by_this_run(info: dict, under: str) -> bool:
    if (info["environ"] or {}).get("TMPDIR", "").rstrip("/") == under:
        return True
    where = " ".join([*(info["cmdline"] or []), info["cwd"] or ""])
    return f"{under}/tracestack-" in where


def listening_sockets() -> set[tuple[str, int]]:
    """Every TCP socket in LISTEN state on this machine, whoever holds it."""
    return {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}


def tracestack_sockets(before: set[tuple[str, int]] = frozenset()) -> set[tuple[str, int]]:
    """Sockets listening now, held by a process of this run, that were not listening ``before``."""
    ours = {process.pid for process in run_processes()}
    return {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    } - set(before)
