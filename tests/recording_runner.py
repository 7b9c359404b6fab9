"""TEST DOUBLE (tests only): a command runner that records every command in order and answers from a
script, so the kind and cluster runtimes can be driven without a cluster."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_tracestack.runtimes.kube.commands import CompletedCommand

Answer = Callable[[list[str]], CompletedCommand]
WORKDIR_RE = re.compile(r"/(?:[^\s/=]+/)*tracestack-(?:manifest|distributed|operator|nginx-otel)-\w+")


def with_workdir_placeholder(lines: list[str]) -> list[str]:
    """Commands with the run's temp dir replaced by $WORKDIR, so they can be compared."""
    return [WORKDIR_RE.sub("$WORKDIR", line) for line in lines]


@pytest.fixture(autouse=True)
def runs_under_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime's work dirs (kept ones too) go under the test's tmp_path, which pytest removes.
    Autouse in every test module that imports it."""
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(runs))


@dataclass
class FakePortForward:
    """Stands for a `kubectl port-forward`: listens on the local port it was given, as the real one does,
    or, when told to fail, has exited with kubectl's message. With ``page``, it answers every HTTP GET with
    what ``page()`` returns at that moment (the /metrics of the pod it stands for)."""

    argv: list[str]
    exit_message: str = ""
    stopped: bool = False
    page: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        self.socket: socket.socket | None = None
        self.server: ThreadingHTTPServer | None = None
        if self.exit_message:
            return
        port = int(self.argv[-1].split(":")[0])
        if self.page is not None:
            self.server = _page_server(port, self.page)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
            return
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen()

    def alive(self) -> bool:
        return not self.stopped and not self.exit_message

    def stop(self, grace_s: float = 5.0) -> None:
        self.stopped = True
        if self.socket is not None:
            self.socket.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def last_log_lines(self, count: int = 25) -> str:
        return self.exit_message or "Forwarding from 127.0.0.1 (fake)"


def _page_server(port: int, page: Callable[[], str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


@dataclass
class Rule:
    fragment: str  # a substring of the command line
    answer: Answer
    times: int | None  # answer this many matching commands, then let later rules answer


@dataclass
class RecordingRunner:
    rules: list[Rule] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    forwards: list[FakePortForward] = field(default_factory=list)
    forward_failures: list[str] = field(default_factory=list)  # exit messages for the next forwards started
    pages: dict[str, Callable[[], str]] = field(default_factory=dict)  # forward argv fragment -> what it serves

    def on(
        self,
        fragment: str,
        returncode: int = 0,
        stdout: str = "",
        stderr: str = "",
        raises: type[BaseException] | None = None,
        times: int | None = None,
    ) -> RecordingRunner:
        def answer(argv: list[str]) -> CompletedCommand:
            if raises:
                raise raises()
            return CompletedCommand(tuple(argv), returncode, stdout, stderr)

        self.rules.append(Rule(fragment, answer, times))
        return self

    def run(self, argv: list[str], timeout: float, input: str | None = None) -> CompletedCommand:
        self.commands.append(list(argv))
        self.timeouts.append(timeout)
        line = " ".join(argv)
        for rule in self.rules:
            if rule.fragment in line and rule.times != 0:
                if rule.times is not None:
                    rule.times -= 1
                return rule.answer(argv)
        return CompletedCommand(tuple(argv), 0, "", "")

    def start(self, argv: list[str], log_path: Path) -> FakePortForward:
        self.commands.append(list(argv))
        self.timeouts.append(0.0)
        line = " ".join(argv)
        page = next((page for fragment, page in self.pages.items() if fragment in line), None)
        forward = FakePortForward(list(argv), self.forward_failures.pop(0) if self.forward_failures else "", page=page)
        self.forwards.append(forward)
        return forward

    def lines(self) -> list[str]:
        return [" ".join(argv) for argv in self.commands]


def every_image_key(node: Any) -> Iterator[str]:
    """Every string under a key named "image", anywhere: a way of finding images that knows nothing of pods
    (the tests compare tracestack's image list with it)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from every_image_key(value)
    elif isinstance(node, list):
        for item in node:
            yield from every_image_key(item)
