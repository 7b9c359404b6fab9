"""A child process the local runtime owns: own process group, log file, bounded stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


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
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=self.env, cwd=self.cwd, start_new_session=True)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_code(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signum)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, wait up to ``grace_s``, then SIGKILL it."""
        if self.popen is None:
            return
        if self.alive():
            self.signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(timeout=10)
        _kill_group_leftovers(self.popen.pid)

    def last_log_lines(self, count: int = 25) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-count:]) or "(log is empty)"


def stop_child(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM a plain child (not a group leader), wait up to ``grace_s``, then SIGKILL it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _kill_group_leftovers(pgid: int) -> None:
    """Children that outlived their leader keep its process group id; end them too."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_ports_free(endpoints: list[tuple[str, int]], deadline_s: float = 15.0) -> list[tuple[str, int]]:
    """Wait until nothing listens on any endpoint; returns those still open at the deadline."""
    deadline = time.monotonic() + deadline_s
    still_open = list(endpoints)
    while still_open and time.monotonic() < deadline:
        still_open = [ep for ep in still_open if port_open(*ep, timeout=0.2)]
        if still_open:
            time.sleep(0.1)
    return still_open
