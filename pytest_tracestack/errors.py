"""Errors tracestack raises for the user: each message says what, where, and what to do."""

from __future__ import annotations

import sys


class TracestackError(Exception):
    """Base class; the message is meant to be read by the person running pytest."""


class ProfileError(TracestackError):
    """A profile or scenario file is malformed or names something that does not exist."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class UnavailableError(TracestackError):
    """A real component the profile needs is not on this machine (binary, module, container engine).

    Runs fail on it by default; ``--tracestack-skip-unavailable`` turns it into skips.
    """


class BinaryNotFoundError(UnavailableError):
    """The first line names what is missing and the one-line remedy (summaries show only that line);
    what was tried and the longer ``how`` follow."""

    def __init__(self, binary: str, version: str, tried: list[str], how: str, remedy: str = "") -> None:
        self.binary, self.version, self.tried, self.how = binary, version, tried, how
        self.remedy = remedy or how
        lines = [f"{binary} {version} was not found: {self.remedy}", "Tried, in order:"]
        lines += [f"  - {attempt}" for attempt in tried]
        if remedy:
            lines.append(f"How to provide it: {how}")
        super().__init__("\n".join(lines))


class ReadinessTimeout(TracestackError):
    """A component did not become ready in time; the message carries its last log lines."""


class ComponentExited(ReadinessTimeout):
    """A component's process exited while we waited for it to become ready."""


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, also on Python 3.10, which has no ``add_note``: there the note goes where
    3.11 keeps it, ``__notes__``, which pytest shows through the exceptiongroup backport it depends on."""
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:
        error.__dict__.setdefault("__notes__", []).append(note)
