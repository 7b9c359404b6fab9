"""Loopback addresses for replicas: 127.B.C.R, one block B per session so sessions and xdist
workers never collide, C per component, R per replica. Every replica keeps its default ports."""

from __future__ import annotations

import os
import random

from ..errors import TracestackError
from .process import port_open

FIRST_BLOCK, LAST_BLOCK = 20, 250


def replica_address(block: int, component_index: int, replica_index: int) -> str:
    return f"127.{block}.{component_index + 1}.{replica_index + 1}"


def choose_block(probe_ports: list[int], worker: str | None = None, attempts: int = 40) -> int:
    """A block whose first addresses answer on none of ``probe_ports`` (nobody else is using it)."""
    seed = f"{os.getpid()}-{worker or os.environ.get('PYTEST_XDIST_WORKER', '')}"
    candidates = list(range(FIRST_BLOCK, LAST_BLOCK + 1))
    random.Random(seed).shuffle(candidates)
    for block in candidates[:attempts]:
        address = replica_address(block, 0, 0)
        if not any(port_open(address, port, timeout=0.05) for port in probe_ports):
            return block
    taken = [port for port in probe_ports if port_open("127.0.0.1", port, timeout=0.05)]
    if taken:
        raise PortTakenError(
            f"port(s) {', '.join(map(str, taken))} are taken on every loopback address: a process listens on "
            f"0.0.0.0 or 127.0.0.1 there (see `ss -ltnp`); stop it, or it will receive the traffic meant for "
            f"tracestack's replicas")
    raise PortTakenError(f"no free loopback block among {attempts} tried for ports {probe_ports}; "
                         f"other tracestack sessions or servers hold them (see `ss -ltnp`)")


class PortTakenError(TracestackError):
    """The ports a profile's replicas need are in use by someone else."""
