"""One install of a binary into tracestack's cache at a time, across processes (xdist workers, sessions side by
side): the first holds a lock file beside the binary's place; any other says on the terminal whom it waits for
(pid, what it does, its log), waits, and then uses what the first installed. The lock is an flock, which ends with
its process, so an install that crashed or was killed never blocks the next."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_tracestack.binaries.progress import status
from pytest_tracestack.deadlines import poll_until
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.local.reservations import Reservation, holder_note, try_lock

WAIT_LIMIT_S = 3900.0  # past the longest install: OCB's own install and the build, 30 minutes each
POLL_S = 0.5


@dataclass
class Install:
    """The install of ``destination``, held by this process."""

    destination: Path
    done_elsewhere: bool  # another process installed it (perhaps while this one waited): use it as it is
    _reservation: Reservation

    def doing(self, what: str, log: Path | None = None) -> None:
        """Tell processes that find the install taken what this one is doing, and where its log is."""
        self._reservation.note(_note(what, log))


@contextlib.contextmanager
def installing(destination: Path, what: str, log: Path | None = None) -> Iterator[Install]:
    """Hold the install of ``destination``; ``what`` (and ``log``) tell the processes that wait for it what this
    one does (``Install.doing`` changes it)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    lock = destination.with_name(destination.name + ".install-lock")
    note = _note(what, log)
    reservation = try_lock(lock, note) or _wait(lock, note, destination)
    try:
        yield Install(destination, _installed(destination), reservation)
    finally:
        reservation.release()


def _wait(lock: Path, note: str, destination: Path) -> Reservation:
    holder = _holder(lock, destination)
    with status(f"waiting for another tracestack process ({holder.who}) {holder.what}", holder.log):
        reservation = poll_until(
            lambda: try_lock(lock, note), WAIT_LIMIT_S, POLL_S, done=lambda taken: taken is not None
        ).last
        if reservation is None:  # inside the status, so it says "failed"
            raise TracestackError(
                f"waited {WAIT_LIMIT_S:.0f}s for {holder.who}, which is still {holder.what} "
                f"(lock {lock}); end that process and run again"
            )
    return reservation


def _holder(lock: Path, destination: Path) -> Holder:
    """The holder's note, which it writes a moment after it takes the lock."""
    return poll_until(
        lambda: Holder.from_note(holder_note(lock), destination), 0.5, 0.05, done=lambda holder: holder.known
    ).last


def _note(what: str, log: Path | None = None) -> str:
    return json.dumps({"pid": os.getpid(), "what": what, "log": str(log) if log else None})


@dataclass(frozen=True)
class Holder:
    who: str
    what: str
    log: Path | None
    known: bool = True

    @classmethod
    def from_note(cls, note: str, destination: Path) -> Holder:
        try:
            found = json.loads(note)
            return cls(f"pid {found['pid']}", found["what"], Path(found["log"]) if found["log"] else None)
        except (ValueError, TypeError, KeyError):
            return cls("pid unknown", f"installing {destination}", None, known=False)


def _installed(destination: Path) -> bool:
    return destination.is_file() and os.access(destination, os.X_OK)
