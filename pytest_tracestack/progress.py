"""Progress display for long steps (downloads, builds), on stderr so it never mixes with results."""

from __future__ import annotations

import contextlib
from typing import Iterator

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

_console = Console(stderr=True)


def progress_download(client: httpx.Client, url: str) -> bytes:
    chunks: list[bytes] = []
    with client.stream("GET", url) as response:
        response.raise_for_status()
        total = int(response.headers.get("content-length") or 0) or None
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=_console, transient=True) as progress:
            task = progress.add_task(f"downloading {url.rsplit('/', 1)[-1]}", total=total)
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                progress.advance(task, len(chunk))
    return b"".join(chunks)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner with a message while a long step runs."""
    with _console.status(message):
        yield
