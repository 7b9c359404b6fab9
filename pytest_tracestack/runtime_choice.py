"""Which runtime to use: the user's choice, or for ``auto`` kind when a container engine answers."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import pytest

from .profiles import Profile
from .settings import Setting


@dataclass(frozen=True)
class RuntimeChoice:
    name: str
    reason: str


def container_engine_answer(timeout_s: float = 8.0) -> str | None:
    """The first of docker/podman whose ``info`` succeeds, or None."""
    for engine in ("docker", "podman"):
        if shutil.which(engine) is None:
            continue
        try:
            done = subprocess.run([engine, "info"], capture_output=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return engine
    return None


def choose_runtime(setting: Setting, profile: Profile) -> RuntimeChoice:
    if setting.value != "auto":
        choice = RuntimeChoice(setting.value, f"from {setting.source}")
    else:
        choice = _auto(profile)
    if choice.name not in profile.runtimes:
        raise pytest.UsageError(f"profile {profile.name!r} ({profile.source_file}) runs on "
                                f"{', '.join(profile.runtimes)}, not on runtime {choice.name!r} ({choice.reason}); "
                                f"pass --tracestack-runtime={profile.runtimes[0]}")
    return choice


def _auto(profile: Profile) -> RuntimeChoice:
    if "kind" not in profile.runtimes:
        return RuntimeChoice("local", f"auto: profile {profile.name} runs only on {', '.join(profile.runtimes)}")
    engine = container_engine_answer()
    if engine:
        return RuntimeChoice("kind", f"auto: container engine '{engine} info' answered")
    return RuntimeChoice("local", "auto: no container engine answered (docker info / podman info)")
