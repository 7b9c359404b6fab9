"""The one layer through which the kind and cluster runtimes touch the world: commands and port-forwards.

Tests replace it with a recording runner and assert the exact order and arguments.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.runtimes.local.process import ManagedProcess


@dataclass(frozen=True)
class CompletedCommand:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        tail = "\n".join(self._said()[-15:])
        return redact(f"$ {' '.join(self.argv)}\nexit {self.returncode}\n{tail}")

    def last_line(self) -> str:
        """The command's last word (stderr, else stdout), secrets masked; "" when it printed nothing."""
        said = self._said()
        return redact(said[-1]) if said else ""

    def _said(self) -> list[str]:
        return (self.stderr or self.stdout).strip().splitlines()


# How a runtime runs one command to completion (argv, timeout in seconds): its runner, tools resolved to their paths.
Run = Callable[[tuple[str, ...], float], CompletedCommand]


class BackgroundHandle(Protocol):
    def alive(self) -> bool: ...
    def stop(self, grace_s: float = 5.0) -> object: ...
    def last_log_lines(self, count: int = 25) -> str: ...


class CommandRunner(Protocol):
    def run(self, argv: list[str], timeout: float, input: str | None = None) -> CompletedCommand:
        """Run to completion; a timeout or a missing program is a failed command, never an exception."""

    def start(self, argv: list[str], log_path: Path) -> BackgroundHandle:
        """Start a long-running command (a port-forward) writing its output to ``log_path``."""


class SubprocessRunner:
    """Runs commands for real."""

    def run(self, argv: list[str], timeout: float, input: str | None = None) -> CompletedCommand:
        stdin = None if input is not None else subprocess.DEVNULL
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, stdin=stdin)
        except subprocess.TimeoutExpired as expired:
            output = expired.stdout or ""  # bytes even under text=True on some Pythons
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
            return CompletedCommand(tuple(argv), 124, output, f"timed out after {timeout:.0f}s")
        except OSError as error:  # no such program (127, as a shell says), or not executable (126)
            return CompletedCommand(tuple(argv), 127 if isinstance(error, FileNotFoundError) else 126, "", str(error))
        return CompletedCommand(tuple(argv), done.returncode, done.stdout, done.stderr)

    def start(self, argv: list[str], log_path: Path) -> BackgroundHandle:
        process = ManagedProcess(Path(argv[0]).name, argv, log_path)
        process.start()
        return process
