"""Progress of long steps (downloads, builds) on lines the user sees, never mixed with results.

Outside pytest the lines go to stderr. Under pytest a step runs while pytest captures output, so the
session passes its terminal (``shown_on``): the lines then reach the terminal even on a passing run.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

TICK_S = 30.0  # how often a running step says how long it has taken


class LineOutput(Protocol):
    def write_line(self, line: str) -> None: ...
    def uncaptured(self) -> contextlib.AbstractContextManager[None]: ...


class _Stderr:
    def write_line(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def uncaptured(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


_STDERR = _Stderr()
_output: LineOutput = _STDERR


@contextlib.contextmanager
def shown_on(output: LineOutput) -> Iterator[None]:
    """Send the progress of steps taken inside this block to ``output``."""
    global _output
    previous, _output = _output, output
    try:
        yield
    finally:
        _output = previous


@contextlib.contextmanager
def status(what: str, log: Path | None = None) -> Iterator[None]:
    """Say that ``what`` started (and where its log is), how long it has run every TICK_S, and how it ended."""
    output, where = _output, f" (log: {log})" if log else ""
    started, stopped = time.monotonic(), threading.Event()

    def tick() -> None:
        while not stopped.wait(TICK_S):
            output.write_line(f"tracestack: still {what}: {time.monotonic() - started:.0f}s so far{where}")

    with output.uncaptured():
        output.write_line(f"tracestack: {what}{where}")
        ticker = threading.Thread(target=tick, name="tracestack-progress", daemon=True)
        ticker.start()
        outcome = "failed"
        try:
            yield
            outcome = "done"
        finally:
            stopped.set()
            ticker.join()
            output.write_line(f"tracestack: {what}: {outcome} after {time.monotonic() - started:.0f}s")


def progress_download(client: httpx.Client, url: str) -> bytes:
    with client.stream("GET", url) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length") or 0) or None
        what = f"downloading {url}" + (f" ({total / 1e6:.0f} MB)" if total else "")
        if _output is _STDERR and sys.stderr.isatty():
            return _download_with_bar(response, total, url)
        with status(what):
            return b"".join(response.iter_bytes())


def _download_with_bar(response: httpx.Response, total: int | None, url: str) -> bytes:
    chunks: list[bytes] = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"downloading {url.rsplit('/', 1)[-1]}", total=total)
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            progress.advance(task, len(chunk))
    return b"".join(chunks)
