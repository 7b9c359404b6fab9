"""Which runtime to use: the user's choice, or for ``auto`` kind when a container engine answers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pytest_tracestack.binaries.container_engine import check_container_engines
from pytest_tracestack.plugin.options import Setting
from pytest_tracestack.profiles.profile import Profile


@dataclass(frozen=True)
class RuntimeChoice:
    name: str
    reason: str


def choose_runtime(setting: Setting, profile: Profile) -> RuntimeChoice:
    if setting.value != "auto":
        choice = RuntimeChoice(setting.value, f"from {setting.source}")
    else:
        choice = _auto(profile)
    if choice.name not in profile.runtimes:
        raise pytest.UsageError(
            f"profile {profile.name!r} ({profile.source_file}) runs on "
            f"{', '.join(profile.runtimes)}, not on runtime {choice.name!r} ({choice.reason}); "
            f"pass --tracestack-runtime={profile.runtimes[0]}"
        )
    return choice


def _auto(profile: Profile) -> RuntimeChoice:
    if "kind" not in profile.runtimes:
        return RuntimeChoice("local", f"auto: profile {profile.name} runs only on {', '.join(profile.runtimes)}")
    engine = check_container_engines(timeout_s=8.0).engine
    if engine:
        return RuntimeChoice("kind", f"auto: container engine '{engine} info' answered")
    return RuntimeChoice("local", "auto: no container engine answered (docker info / podman info)")
