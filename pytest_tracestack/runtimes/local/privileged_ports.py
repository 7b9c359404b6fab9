"""Ports below Linux's net.ipv4.ip_unprivileged_port_start (1024 unless changed) take root to listen on. A profile
that puts a local replica there, run by another user, is refused before anything starts, naming the key to change,
instead of the replica failing with `bind() ... (13: Permission denied)`."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_tracestack.binaries.finder import FoundBinary
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.base import Replica

SYSCTL = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
LINUX_DEFAULT = 1024


def unprivileged_port_start() -> int:
    try:
        return int(SYSCTL.read_text())
    except (OSError, ValueError):
        return LINUX_DEFAULT


def refuse_privileged_ports(profile: Profile, replicas: list[Replica], binaries: dict[str, FoundBinary]) -> None:
    if os.geteuid() == 0:
        return
    start = unprivileged_port_start()
    for replica in replicas:
        component = profile.components[replica.component]
        binary = binaries.get(component.binary)
        if binary is not None and _has_file_capabilities(binary.path):
            continue  # e.g. setcap cap_net_bind_service=+ep: let it try; its own error says if it cannot
        for name, port in replica.ports.items():
            if port < start:
                raise ProfileError(
                    str(profile.source_file),
                    f"components.{component.name}.ports.{name}",
                    f"{port} is below {start} (net.ipv4.ip_unprivileged_port_start), where only root "
                    f"may listen, and the tests run as uid {os.geteuid()}: give it a port of {start} "
                    f"or more (the local runtime renders the config with it; kind and cluster keep "
                    f"the manifest's), or run as root",
                )


def _has_file_capabilities(binary: Path) -> bool:
    try:
        return bool(os.getxattr(binary, "security.capability"))
    except OSError:
        return False
