"""A child process the local runtime owns: own process group, log file, bounded stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tracestack.deadlines import poll_until

KILL_WAIT_S = 5.0  # after SIGKILL, how long a group may take to disappear before it is reported


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A new session makes the process the leader of its own group, so stop() reaches its children
            # and a Ctrl-C in the terminal is handled by pytest alone, which then stops us in order.
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signum)

    def stop(self, grace_s: float = 10.0) -> GroupStop:
        """SIGTERM the process group, wait up to ``grace_s``, then SIGKILL what is left of it."""
        return stop_processes([self], grace_s)

    def last_log_lines(self, count: int = 25) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-count:]) or "(log is empty)"


@dataclass
class GroupStop:
    """How a stop went: who needed SIGKILL, and who is still running after it (could not be stopped)."""

    killed: list[str] = field(default_factory=list)
    remaining: dict[str, list[int]] = field(default_factory=dict)  # name -> pids still running


def stop_processes(processes: list[ManagedProcess], grace_s: float) -> GroupStop:
    """Stop our own children together (see ``stop_groups``), then reap them."""
    started = [(process.name, process.popen) for process in processes if process.popen is not None]
    outcome = stop_groups({name: popen.pid for name, popen in started}, grace_s)
    for name, popen in started:
        if name not in outcome.remaining:
            popen.wait(timeout=KILL_WAIT_S)
    return outcome


def stop_groups(groups: dict[str, int], grace_s: float) -> GroupStop:
    """SIGTERM every process group at once and wait for all of them against one deadline; SIGKILL the groups
    still running then, and wait until they are gone. A group is gone when none of its members runs (a zombie
    leader waiting to be reaped by its parent counts as gone)."""
    for signum in (signal.SIGCONT, signal.SIGTERM):  # a paused process cannot act on SIGTERM
        _signal_groups(groups.values(), signum)
    running = _wait_gone(groups, grace_s)
    _signal_groups(running.values(), signal.SIGKILL)
    remaining = _wait_gone(running, KILL_WAIT_S)
    members = group_members(set(remaining.values()))
    return GroupStop(killed=sorted(running), remaining={name: members[pgid] for name, pgid in remaining.items()})


def _signal_groups(pgids, signum: int) -> None:
    for pgid in pgids:
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # already gone; or not ours to signal, which the wait then reports


def _wait_gone(groups: dict[str, int], deadline_s: float) -> dict[str, int]:
    """The groups that still have a running member after ``deadline_s`` (returns early once all are gone)."""
    running = dict(groups)

    def still_running() -> dict[str, int]:
        nonlocal running
        members = group_members(set(running.values()))
        running = {name: pgid for name, pgid in running.items() if members[pgid]}
        return running

    return poll_until(still_running, deadline_s, 0.05, done=lambda left: not left).last


@dataclass(frozen=True)
class ProcStat:
    state: str  # R running, S sleeping, T stopped, Z zombie, ...
    pgrp: int
    start_ticks: int  # start time in clock ticks after boot: tells a process from a later one with its pid
    cpu_ticks: int  # user + system CPU time so far, in clock ticks


def proc_stat(pid: int) -> ProcStat | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return ProcStat(
        state=fields[0], pgrp=int(fields[2]), start_ticks=int(fields[19]), cpu_ticks=int(fields[11]) + int(fields[12])
    )


def process_state(pid: int) -> str:
    """The one-letter state of a process from /proc (R running, S sleeping, T stopped, Z zombie; ? gone)."""
    stat = proc_stat(pid)
    return stat.state if stat else "?"


def group_members(pgids: set[int]) -> dict[int, list[int]]:
    """The running (non-zombie) processes of each process group, from one pass over /proc."""
    members: dict[int, list[int]] = {pgid: [] for pgid in pgids}
    if not pgids:
        return members
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat.pgrp in members and stat.state != "Z":
                members[stat.pgrp].append(int(entry.name))
    return members


def stop_child(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM a plain child (not a group leader), wait up to ``grace_s``, then SIGKILL it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_ports_free(endpoints: list[tuple[str, int]], deadline_s: float = 15.0) -> list[tuple[str, int]]:
    """Wait until nothing listens on any endpoint; returns those still open at the deadline."""
    still_open = list(endpoints)

    def listening() -> list[tuple[str, int]]:
        nonlocal still_open
        still_open = [ep for ep in still_open if port_open(*ep, timeout=0.2)]
        return still_open

    return poll_until(listening, deadline_s, 0.1, done=lambda left: not left).last
