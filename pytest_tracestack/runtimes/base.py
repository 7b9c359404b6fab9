"""What every runtime (local, kind, cluster) provides: a plan, a started stack, a teardown."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pytest_tracestack.profiles.profile import Profile

if TYPE_CHECKING:
    from pytest_tracestack.clients.capture_sink import CaptureSink

T = TypeVar("T")


@dataclass(frozen=True)
class PlanStep:
    """One step a runtime will take, printable before anything runs (``--tracestack-plan``)."""

    action: str  # e.g. "start", "kubectl", "helm", "wait"
    description: str  # what and why, one line
    command: tuple[str, ...] = ()

    def render(self) -> str:
        text = f"{self.action:<8} {self.description}"
        return text + (f"\n         $ {' '.join(self.command)}" if self.command else "")


class Capability(str, Enum):
    """What a stack may offer beyond its replicas' endpoints; the text starts the reason a skipped check prints."""

    FAULT_INJECTION = "fault injection (kill, pause or restart a replica)"
    CAPTURE_SINK = "the capture sink in the test process"
    UNLISTED_PORTS = "reaching a port the replica does not list (where a disabled receiver would listen)"
    PROCESS_ID = "a process id on this machine to sample in /proc"


@dataclass(frozen=True)
class Offer(Generic[T]):
    """A capability of a stack: provided (``value``), or declined by its runtime with a reason, which a check
    that needs it prints when it skips. Callers ask the stack (``stack.fault_injection()`` ...) and never
    probe its type, so a new runtime never needs a check edited."""

    what: Capability
    runtime: str
    value: T | None = None
    reason: str = ""  # why the runtime declines; empty when it provides

    def declined(self) -> str:
        return f"{self.what.value}: the {self.runtime} runtime declines: {self.reason}"


class FaultInjection(Protocol):
    """Faults a stack can inflict on one of its replicas, by name (``Replica.name``)."""

    def kill(self, replica_name: str) -> None:
        """End the replica at once, with no shutdown and no flush, as a crashed pod."""

    def pause(self, replica_name: str) -> None:
        """Freeze the replica: it keeps its sockets but answers nothing, as a hung pod."""

    def resume(self, replica_name: str) -> None:
        """Undo ``pause``."""

    def restart(self, replica_name: str, grace_s: float = 10.0) -> None:
        """Stop the replica (gracefully, then not), start it again and wait until it is ready."""


@dataclass
class Replica:
    """One running instance of a component, as the checks and load tests see it."""

    component: str
    index: int
    address: str  # host the ports are reached on
    ports: dict[str, int]
    pid: int | None = None
    log_path: Path | None = None
    port_hosts: dict[str, str] = field(default_factory=dict)  # ports served on another host than ``address``

    @property
    def name(self) -> str:
        return f"{self.component}-{self.index}"

    def host(self, port: str) -> str:
        return self.port_hosts.get(port, self.address)

    def url(self, port: str, path: str = "") -> str:
        return f"http://{self.hostport(port)}{path}"

    def hostport(self, port: str) -> str:
        return f"{self.host(port)}:{self.ports[port]}"

    def endpoints(self) -> list[tuple[str, int]]:
        """Every (host, port) this replica listens on."""
        return [(self.host(name), port) for name, port in self.ports.items()]


@dataclass
class Stack:
    """A started topology: where to send traces, where to query, and each replica."""

    profile: Profile
    runtime: str
    replicas: list[Replica] = field(default_factory=list)
    workdir: Path | None = None
    binaries: dict[str, str] = field(default_factory=dict)  # binary kind -> "path (version, source)"

    def reach_every_replica(self) -> None:
        """Make each replica's own ports reachable before a load run reads them one by one. Local replicas
        already are; on kind and cluster, each pod gets port-forwards of its own (kube/replica_pods.py)."""

    def running_config(self, replica: Replica) -> Any:
        """The config ``replica`` runs, as tracestack knows it: here the one its component's source (ConfigMap,
        Helm values, custom resource) gives, as tracestack reads it; the local runtime's stack returns its own
        rendering, local overrides included."""
        from pytest_tracestack.configs.rendering import base_config

        return base_config(self.profile.components[replica.component])

    # --- capabilities: each runtime's stack provides or declines them (these defaults decline) ---------

    def fault_injection(self) -> Offer[FaultInjection]:
        return self._decline(Capability.FAULT_INJECTION, "it has no way to kill or restart a replica")

    def capture_sink(self, replica: Replica) -> Offer[CaptureSink]:
        """The CaptureSink object serving ``replica``, when it runs in the test process."""
        return self._decline(Capability.CAPTURE_SINK, f"{replica.name} does not run in the test process")

    def unlisted_port_host(self, replica: Replica) -> Offer[str]:
        """The host on which the test process reaches any port of ``replica``, also one it does not list in
        ``ports`` (the ports it lists are reached through ``Replica.hostport`` on every runtime)."""
        return self._decline(Capability.UNLISTED_PORTS, "it makes only the ports a replica lists reachable")

    def process_id(self, replica: Replica) -> Offer[int]:
        """The id of ``replica``'s process on this machine, for /proc sampling under load. A stack made
        directly from replicas offers the pid it was given."""
        if replica.pid is None:
            return self._decline(Capability.PROCESS_ID, f"it gave {replica.name} no process id")
        return self._provide(Capability.PROCESS_ID, replica.pid)

    def _provide(self, what: Capability, value: T) -> Offer[T]:
        return Offer(what, self.runtime, value)

    def _decline(self, what: Capability, reason: str) -> Offer:
        return Offer(what, self.runtime, reason=reason)

    def replicas_of(self, component: str) -> list[Replica]:
        return [replica for replica in self.replicas if replica.component == component]

    def first(self, component: str) -> Replica:
        found = self.replicas_of(component)
        if not found:
            raise KeyError(f"profile {self.profile.name!r} has no running component {component!r}")
        return found[0]

    def ingest_target(self, protocol: str) -> str:
        """``host:port`` for gRPC, or a full URL for HTTP protocols."""
        endpoint = self.profile.ingest[protocol]
        self.first(endpoint.component)  # a clear error when the component has no replica
        return self.ingest_targets(protocol)[0]

    def ingest_targets(self, protocol: str) -> list[str]:
        """The ingest target of every replica of the component taking ``protocol``."""
        endpoint = self.profile.ingest[protocol]
        return [
            replica.hostport(endpoint.port) if protocol == "otlp-grpc" else replica.url(endpoint.port, endpoint.path)
            for replica in self.replicas_of(endpoint.component)
        ]

    def query_url(self) -> str | None:
        query = self.profile.query
        if query.kind != "tempo" or not query.component:
            return None
        return self.first(query.component).url(query.port or "http")


class Runtime(Protocol):
    """A way to run a profile. Implementations: local processes, a kind cluster, an existing cluster."""

    name: str

    def plan(self, profile: Profile) -> list[PlanStep]:
        """The ordered steps ``start`` would take, without taking them."""

    def start(self, profile: Profile) -> Stack:
        """Bring the topology up and wait until it is ready; clean up what it made if it fails."""

    def stop(self, stack: Stack) -> object:
        """Tear down everything ``start`` made (processes, ports, dirs, namespaces, clusters); what it returns
        (the local runtime's StopReport) is for its own callers."""

    def describe_keep(self, stack: Stack) -> str:
        """How to reach and stop a stack left up with ``--tracestack-keep``."""
