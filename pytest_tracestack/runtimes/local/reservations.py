"""Names that one tracestack process at a time holds on this machine (a stack's loopback block, an install into
the cache), by an exclusive lock on a file in the user's cache. Probing a port says only that nobody listens
*yet*; the lock also keeps out a session whose processes are still starting. A lock ends with its process, so a
crashed session never leaves a name taken."""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pytest_tracestack import paths


def lock_dir() -> Path:
    return paths.cache_dir() / "locks"


@dataclass
class Reservation:
    name: str
    _file: IO[bytes] | None

    def note(self, text: str) -> None:
        """Replace what whoever finds the name taken reads (``holder_note``)."""
        if self._file is not None:
            self._file.truncate(0)
            self._file.write(text.encode())
            self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None


def try_reserve(name: str) -> Reservation | None:
    """Hold ``name`` for this process, or ``None`` when another process holds it."""
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return try_lock(directory / f"{name}.lock")


def try_lock(path: Path, note: str = "") -> Reservation | None:
    """Hold the lock file ``path`` for this process, or ``None`` when another process holds it. ``note`` (who
    holds it, doing what) is written into the file for whoever finds it taken (``holder_note``)."""
    handle = path.open("ab")  # Python files are not inherited by children
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    reservation = Reservation(path.stem, handle)
    if note:
        reservation.note(note)
    return reservation


def holder_note(path: Path) -> str:
    """The note the last holder of ``path`` wrote ("" when there is none)."""
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""
