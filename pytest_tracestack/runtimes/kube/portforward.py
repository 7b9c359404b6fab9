"""``kubectl port-forward`` to a Service, on a free loopback port, up within a bounded time or stopped."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from pytest_tracestack.deadlines import poll_until
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.kube.commands import BackgroundHandle, CommandRunner
from pytest_tracestack.runtimes.local.process import port_open

START_DEADLINE_S = 30.0
_BIND_FAILURES = ("address already in use", "unable to listen", "unable to create listener")


class PortForwardFailed(TracestackError):
    """A port-forward exited or did not listen in time; the message carries kubectl's output."""


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def open_forward(
    runner: CommandRunner,
    argv_for: Callable[[int], list[str]],
    log_dir: Path,
    what: str,
    started: list[BackgroundHandle],
    deadline_s: float = START_DEADLINE_S,
) -> int:
    """Start a forward and wait until it listens; returns the local port.

    Every handle started is appended to ``started`` at once, so the caller stops it even when this raises.
    A port another process took since it was chosen is replaced by another free port, twice at most.
    """
    for attempt in range(3):
        port = free_loopback_port()
        handle = runner.start(argv_for(port), log_dir / f"port-forward-{what.replace('/', '_')}-{port}.log")
        started.append(handle)
        try:
            wait_listening(handle, port, what, deadline_s)
            return port
        except PortForwardFailed as error:
            handle.stop(5.0)
            if attempt == 2 or not any(text in str(error).lower() for text in _BIND_FAILURES):
                raise
    raise AssertionError("unreachable")


def wait_listening(handle: BackgroundHandle, port: int, what: str, deadline_s: float) -> None:
    def listening() -> bool:
        if not handle.alive():
            raise PortForwardFailed(
                f"kubectl port-forward {what} exited before it listened on 127.0.0.1:{port}:\n{handle.last_log_lines()}"
            )
        return port_open("127.0.0.1", port, timeout=0.2)

    if not poll_until(listening, deadline_s, 0.1).ok:
        raise PortForwardFailed(
            f"kubectl port-forward {what} did not listen on 127.0.0.1:{port} within "
            f"{deadline_s:.0f}s:\n{handle.last_log_lines()}"
        )
