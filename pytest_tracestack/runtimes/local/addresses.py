"""Loopback addresses for replicas: 127.B.C.R, one block B per stack so sessions and xdist workers never
collide, C per component, R per replica. Every replica keeps its default ports.

A few listeners cannot move off 127.0.0.1 (Tempo's single binary dials its own gRPC server there), so
block B also owns the ports ``LOCALHOST_PORT_BASE + B * PORTS_PER_BLOCK`` onward on 127.0.0.1, below Linux's
default ephemeral range (32768-60999), where outgoing connections take their ports. The block is held by a
lock (reservations.py) from the choice to the stop."""

from __future__ import annotations

import os
import random
import socket
from dataclasses import dataclass

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.local.process import port_open
from pytest_tracestack.runtimes.local.reservations import Reservation, try_reserve

FIRST_BLOCK, LAST_BLOCK = 20, 250
LOCALHOST = "127.0.0.1"
LOCALHOST_PORT_BASE, PORTS_PER_BLOCK = 10000, 64  # block 250 ends at 26063, below 32768


def replica_address(block: int, component_index: int, replica_index: int) -> str:
    return f"127.{block}.{component_index + 1}.{replica_index + 1}"


def localhost_port(block: int, slot: int) -> int:
    return LOCALHOST_PORT_BASE + block * PORTS_PER_BLOCK + slot


@dataclass
class Block:
    """A loopback block held by this process until ``release``."""

    number: int
    reservation: Reservation

    def address(self, component_index: int, replica_index: int) -> str:
        return replica_address(self.number, component_index, replica_index)

    def localhost_port(self, slot: int) -> int:
        return localhost_port(self.number, slot)

    def release(self) -> None:
        self.reservation.release()


def choose_block(
    probe_ports: list[int], localhost_slots: int = 0, worker: str | None = None, attempts: int = 40
) -> Block:
    """A block no other tracestack process holds, whose first address answers on none of ``probe_ports`` and
    whose first ``localhost_slots`` ports on 127.0.0.1 are free."""
    if localhost_slots > PORTS_PER_BLOCK:
        raise TracestackError(
            f"the profile needs {localhost_slots} ports on {LOCALHOST}; a stack has "
            f"{PORTS_PER_BLOCK}: use fewer replicas with {{localhost_port:...}} overrides"
        )
    seed = f"{os.getpid()}-{worker or os.environ.get('PYTEST_XDIST_WORKER', '')}"
    candidates = list(range(FIRST_BLOCK, LAST_BLOCK + 1))
    random.Random(seed).shuffle(candidates)
    for number in candidates[:attempts]:
        reservation = try_reserve(f"loopback-block-{number}")
        if reservation is None:
            continue
        if _unused(number, probe_ports, localhost_slots):
            return Block(number, reservation)
        reservation.release()
    taken = [port for port in probe_ports if port_open(LOCALHOST, port, timeout=0.05)]
    if taken:
        raise PortTakenError(
            f"port(s) {', '.join(map(str, taken))} are taken on every loopback address: a process listens on "
            f"0.0.0.0 or 127.0.0.1 there (see `ss -ltnp`); stop it, or it will receive the traffic meant for "
            f"tracestack's replicas"
        )
    raise PortTakenError(
        f"no free loopback block among {attempts} tried for ports {probe_ports}"
        f"{f' and {localhost_slots} ports on {LOCALHOST}' if localhost_slots else ''}; "
        f"other tracestack sessions or servers hold them (see `ss -ltnp`)"
    )


def _unused(number: int, probe_ports: list[int], localhost_slots: int) -> bool:
    address = replica_address(number, 0, 0)
    if any(port_open(address, port, timeout=0.05) for port in probe_ports):
        return False
    return all(port_bindable(LOCALHOST, localhost_port(number, slot)) for slot in range(localhost_slots))


def port_bindable(address: str, port: int) -> bool:
    """Whether a server could listen on ``address:port`` now (with SO_REUSEADDR, as Go's listeners set)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


class PortTakenError(TracestackError):
    """The ports a profile's replicas need are in use by someone else."""
