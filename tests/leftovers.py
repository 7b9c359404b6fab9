"""What a tracestack run may have left behind: processes started from its work dirs, listening sockets.

Every test gets a TMPDIR of its own (tests/conftest.py), so the work dirs of the stacks its pytest
subprocesses start, and the processes started from them, are told apart from any other run's."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path


def tracestack_processes() -> list[tuple[int, str]]:
    """Live processes whose command line points into a tracestack work dir below this test's TMPDIR."""
    under = os.environ.get("TMPDIR", "").rstrip("/")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"{under}/tracestack-" in cmdline and state != "Z":
            found.append((int(entry.name), cmdline.strip()))
    return found


def listening_sockets() -> set[tuple[str, int]]:
    """Every TCP socket in LISTEN state on this machine (from /proc/net/tcp)."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state != "0A":
            continue
        address_hex, port_hex = local.split(":")
        address = socket.inet_ntoa(struct.pack("<I", int(address_hex, 16)))
        listening.add((address, int(port_hex, 16)))
    return listening


def tracestack_sockets(before: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """Sockets listening now on a 127.x replica address that were not listening ``before``."""
    return {(a, p) for a, p in listening_sockets() - before if a.startswith("127.") and a != "127.0.0.1"}

