"""What a run used: each component with the version it reported itself, and whether the run can vouch for it.

A binary's word about its version proves nothing about what it is (the project's own Tempo test double
says 2.10.8 too), so "real" is kept for what tracestack obtained itself from the official source: a
release download checked against the release's SHA-256, a collector built with OCB, or versitygw built from its Go
module. Tempo's version is the one its HTTP API answers (``/api/status/buildinfo``): on Kubernetes, the image that
actually ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from pytest_tracestack.binaries.finder import SPECS, FoundBinary
from pytest_tracestack.runtimes.base import Stack

IN_PROCESS = "capture-sink"


@dataclass(frozen=True)
class ComponentUsed:
    kind: str  # tempo, otelcol, nginx, capture-sink, or a Kubernetes tool (kubectl, helm, kind)
    version: str  # as the component reported it; "" when it did not say
    reported_by: str  # how the version was read: "otelcol --version", "/api/status/buildinfo at URL"
    where: str  # the binary's path, or what else ran
    origin: str  # how tracestack found it
    real: bool  # tracestack obtained it from the official source itself
    said: str = ""  # the component's own words, when it printed more than the version
    note: str = ""  # e.g. a version other than the profile's

    def describe(self) -> str:
        version = self.version or "(version not reported)"
        said = f" said {self.said!r}" if self.said else ""
        if self.kind == IN_PROCESS:
            return f"{self.kind} {version} ({self.where}; {self.origin})"
        vouch = f"real: {self.origin}" if self.real else f"{self.origin}; not verified by tracestack"
        note = f"; {self.note}" if self.note else ""
        return f"{self.kind} {version} ({self.reported_by}{said}; {self.where}; {vouch}{note})"


def components_used(stack: Stack, found: dict[str, FoundBinary], tempo_build: dict | str | None) -> list[ComponentUsed]:
    """One entry per kind the stack ran. ``tempo_build`` is Tempo's buildinfo answer, or why there is none."""
    used = []
    for kind, where in sorted(stack.binaries.items()):
        if kind in found:
            used.append(_from_binary(found[kind]))
        elif kind == IN_PROCESS:
            used.append(
                ComponentUsed(
                    kind,
                    f"pytest-tracestack {_own_version()}",
                    "",
                    where,
                    "tracestack's own test sink, not a tracing backend",
                    False,
                )
            )
        else:
            used.append(
                ComponentUsed(kind, "", "tool, version not asked", where, f"{stack.runtime} runtime tool", False)
            )
    if tempo_build is not None:
        used = [entry for entry in used if entry.kind != "tempo"]
        used.append(_tempo(stack, found.get("tempo"), tempo_build))
    return sorted(used, key=lambda entry: entry.kind)


def _own_version() -> str:
    try:
        return version("pytest-tracestack")
    except PackageNotFoundError:
        return "(not installed)"


def _from_binary(binary: FoundBinary) -> ComponentUsed:
    asked = " ".join((binary.kind, *SPECS[binary.kind].version_args))
    return ComponentUsed(
        binary.kind,
        binary.version or binary.reported,
        asked,
        str(binary.path),
        binary.source,
        binary.obtained.by_tracestack,
        said=binary.reported if binary.reported != binary.version else "",
    )


def _tempo(stack: Stack, binary: FoundBinary | None, build: dict | str) -> ComponentUsed:
    url = stack.query_url()
    where = str(binary.path) if binary else f"{stack.profile.query.component} through {url}"
    origin = binary.source if binary else f"image deployed by the {stack.runtime} runtime"
    real = binary is not None and binary.obtained.by_tracestack
    if isinstance(build, str):
        version, said = (binary.version, binary.reported) if binary else ("", "")
        reported_by = f"tempo -version, as /api/status/buildinfo failed: {build}"
    else:
        version, said, reported_by = str(build.get("version") or ""), "", f"/api/status/buildinfo at {url}"
    return ComponentUsed(
        "tempo",
        version,
        reported_by,
        where,
        origin,
        real,
        said=said,
        note=_version_note(version, stack.profile.tempo_version),
    )


def _version_note(version: str, expected: str | None) -> str:
    ran = re.search(r"\d+\.\d+\.\d+", version)
    if expected and ran and ran.group(0) != expected:
        return f"the profile says tempo_version {expected}"
    return ""
