"""A command runner for tests: records every command in order and answers from a script (no cluster)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pytest_tracestack.kube.commands import CompletedCommand

Answer = Callable[[list[str]], CompletedCommand | None]


@dataclass
class FakeForward:
    """Stands for a `kubectl port-forward`: listens on the local port it was given, like the real one."""

    argv: list[str]
    stopped: bool = False

    def __post_init__(self) -> None:
        import socket

        port = int(self.argv[-1].split(":")[0])
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen()

    def alive(self) -> bool:
        return not self.stopped

    def stop(self, grace_s: float = 5.0) -> None:
        self.stopped = True
        self.socket.close()

    def last_log_lines(self, count: int = 25) -> str:
        return "(recorded port-forward)"


@dataclass
class RecordingRunner:
    answers: list[tuple[str, Answer]] = field(default_factory=list)   # (substring of the command, answer)
    commands: list[list[str]] = field(default_factory=list)
    forwards: list[FakeForward] = field(default_factory=list)

    def on(self, fragment: str, returncode: int = 0, stdout: str = "", stderr: str = "",
           raises: type[BaseException] | None = None) -> "RecordingRunner":
        def answer(argv: list[str]) -> CompletedCommand:
            if raises:
                raise raises()
            return CompletedCommand(tuple(argv), returncode, stdout, stderr)

        self.answers.append((fragment, answer))
        return self

    def run(self, argv: list[str], timeout: float) -> CompletedCommand:
        self.commands.append(list(argv))
        line = " ".join(argv)
        for fragment, answer in self.answers:
            if fragment in line:
                return answer(argv)
        return CompletedCommand(tuple(argv), 0, "", "")

    def start(self, argv: list[str], log_path: Path) -> FakeForward:
        self.commands.append(list(argv))
        forward = FakeForward(list(argv))
        self.forwards.append(forward)
        return forward

    def lines(self) -> list[str]:
        return [" ".join(argv) for argv in self.commands]
