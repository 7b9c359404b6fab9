"""The local runtime: every replica of the profile as a real process on its own loopback address."""

from __future__ import annotations

import shlex
import shutil
import signal
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_tracestack.binaries.finder import SPECS, BinaryProvider, FoundBinary, check_major_version
from pytest_tracestack.configs.helm_render import HelmRendering
from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.configs.rendering import ReplicaContext, base_config, localhost_port_names, replica_config
from pytest_tracestack.configs.run_credentials import RunCredentials, generate_credentials
from pytest_tracestack.configs.tempo_config import helm_for
from pytest_tracestack.deadlines import Deadline, poll_until
from pytest_tracestack.errors import ProfileError, TracestackError, add_note
from pytest_tracestack.profiles.file_paths import describe
from pytest_tracestack.profiles.profile import Component, Profile, start_phases
from pytest_tracestack.runtimes.base import Capability, FaultInjection, Offer, PlanStep, Replica, Stack
from pytest_tracestack.runtimes.local.addresses import LOCALHOST, Block, choose_block
from pytest_tracestack.runtimes.local.launchers import LAUNCHERS, Launch, ReplicaHandle, SinkHandle
from pytest_tracestack.runtimes.local.nginx_config import find_otel_module
from pytest_tracestack.runtimes.local.privileged_ports import refuse_privileged_ports
from pytest_tracestack.runtimes.local.process import (
    GroupStop,
    ManagedProcess,
    process_state,
    stop_processes,
    wait_ports_free,
)
from pytest_tracestack.runtimes.local.readiness import wait_all_ready, wait_ready
from pytest_tracestack.runtimes.local.state import STATE_FILE, write_state
from pytest_tracestack.runtimes.local.versitygw_launch import check_versitygw_components

if TYPE_CHECKING:
    from pytest_tracestack.clients.capture_sink import CaptureSink


@dataclass
class LocalSettings:
    binaries: BinaryProvider
    charts: str | None = None  # --tracestack-charts: where helm takes a chart rendering Tempo's config
    ready_timeout_s: float = 90.0
    keep: bool = False
    report_dir: Path | None = None
    nginx_otel_module: str | None = None
    stop_grace_s: float = 10.0


@dataclass
class StackTimings:
    """Where a stack's start and stop went, in seconds (benchmarks/stack_start_stop.py prints them)."""

    find_binaries_s: float = 0.0  # finding binaries, checking Tempo's version
    launch_s: float = 0.0  # rendering every config and spawning every replica
    ready_s: float = 0.0  # from the last spawn of each start phase until it answered ready
    replica_ready_s: dict[str, float] = field(default_factory=dict)  # each replica, from its own spawn
    stop_s: float | None = None


@dataclass
class StopReport:
    """How a teardown went; replicas that needed SIGKILL are named to the user (``SlowStopWarning``)."""

    profile: str
    seconds: float
    grace_s: float
    killed: list[str]

    def describe(self) -> str:
        return (
            f"tracestack: stopping profile {self.profile} took {self.seconds:.1f}s: "
            f"{', '.join(self.killed)} did not exit within {self.grace_s:.0f}s of SIGTERM and needed SIGKILL"
        )


class SlowStopWarning(UserWarning):
    """A replica did not exit on SIGTERM within the grace period."""


@dataclass
class LocalStack(Stack):
    workdir: Path = field(kw_only=True)  # start() makes it before the stack exists
    handles: dict[str, ReplicaHandle] = field(default_factory=dict)  # replica name -> handle
    launches: dict[str, Launch] = field(default_factory=dict)  # replica name -> how it was started
    ready_timeout_s: float = 90.0
    block: Block | None = None  # the loopback block held for this stack
    credentials: RunCredentials = field(default_factory=RunCredentials, repr=False)  # generated for this run
    configs: dict[str, Any] = field(default_factory=dict, repr=False)  # replica name -> the config it runs
    timings: StackTimings = field(default_factory=StackTimings)

    def running_config(self, replica: Replica) -> Any:
        return self.configs[replica.name]

    # --- capabilities ------------------------------------------------------------------------------

    def fault_injection(self) -> Offer[FaultInjection]:
        return self._provide(Capability.FAULT_INJECTION, self)  # by signals to the replicas' process groups

    def capture_sink(self, replica: Replica) -> Offer[CaptureSink]:
        handle = self.handles.get(replica.name)
        if not isinstance(handle, SinkHandle):
            return self._decline(Capability.CAPTURE_SINK, f"{replica.name} is not a capture sink")
        return self._provide(Capability.CAPTURE_SINK, handle.sink)

    def unlisted_port_host(self, replica: Replica) -> Offer[str]:
        return self._provide(Capability.UNLISTED_PORTS, replica.address)  # loopback: every port is on this machine

    def process_id(self, replica: Replica) -> Offer[int]:
        handle = self.handles.get(replica.name)
        if isinstance(handle, SinkHandle):
            return self._decline(
                Capability.PROCESS_ID,
                f"{replica.name} runs inside the pytest process (its figures would be pytest's own)",
            )
        if handle is None or handle.pid is None:
            return self._decline(Capability.PROCESS_ID, f"{replica.name} is not running")
        return self._provide(Capability.PROCESS_ID, handle.pid)

    # --- fault injection, by signals --------------------------------------------------------------

    def kill(self, replica_name: str) -> None:
        """SIGKILL a replica: no shutdown, no flush, as a crashed pod."""
        process = self._process(replica_name)
        process.signal(signal.SIGKILL)
        if process.popen is not None:
            process.popen.wait(timeout=10)

    def pause(self, replica_name: str) -> None:
        """SIGSTOP a replica: it keeps its sockets but answers nothing, as a hung pod."""
        process = self._process(replica_name)
        process.signal(signal.SIGSTOP)
        pid = process.pid
        if pid is not None:
            poll_until(lambda: process_state(pid), 5.0, 0.01, done=lambda state: state == "T")

    def resume(self, replica_name: str) -> None:
        self._process(replica_name).signal(signal.SIGCONT)

    def restart(self, replica_name: str, grace_s: float = 10.0) -> None:
        """Stop a replica (SIGTERM, then SIGKILL), wait for its ports, start it again and wait until ready.
        The new pid goes into the stack state at once, so ``tracestack stop`` ends the new process."""
        replica = next(r for r in self.replicas if r.name == replica_name)
        self.handles[replica_name].stop(grace_s)
        wait_ports_free(replica.endpoints())
        self.handles[replica_name] = self.launches[replica_name].start()
        replica.pid = self.handles[replica_name].pid
        write_state(self)
        readiness = self.profile.components[replica.component].readiness
        if readiness:
            wait_ready(replica, readiness, self.handles[replica_name], Deadline(self.ready_timeout_s))

    def _process(self, replica_name: str) -> ManagedProcess:
        handle = self.handles.get(replica_name)
        if not isinstance(handle, ManagedProcess):
            names = ", ".join(name for name, h in self.handles.items() if isinstance(h, ManagedProcess))
            raise TracestackError(f"no process replica named {replica_name!r}; process replicas: {names}")
        return handle


class LocalRuntime:
    name = "local"

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings

    # --- plan ---------------------------------------------------------------------------------

    def plan(self, profile: Profile) -> list[PlanStep]:
        steps = []
        phases = start_phases(profile)
        for number, phase in enumerate(phases, 1):
            steps += [_start_step(profile.components[name]) for name in phase]
            which = (
                "every replica" if len(phases) == 1 else f"start phase {number} of {len(phases)} ({', '.join(phase)})"
            )
            later = "" if number == len(phases) else "; the next phase starts once it is ready (the profile's 'after')"
            steps.append(
                PlanStep("wait", f"readiness of {which} at once, {self.settings.ready_timeout_s:.0f}s deadline{later}")
            )
        steps.append(
            PlanStep(
                "stop",
                "at the end (also after a failure or Ctrl-C; not with --tracestack-keep): "
                "SIGTERM to every process group at once, SIGKILL for those still running after "
                f"one shared {self.settings.stop_grace_s:.0f}s deadline; ports checked free",
            )
        )
        return steps

    # --- start --------------------------------------------------------------------------------

    def start(self, profile: Profile) -> LocalStack:
        began = time.monotonic()
        binaries = self._find_binaries(profile)
        stackdir = Path(tempfile.mkdtemp(prefix=f"tracestack-{profile.name}-"))
        stack = LocalStack(
            profile=profile,
            runtime=self.name,
            workdir=stackdir,
            binaries={kind: found.describe() for kind, found in binaries.items()},
            ready_timeout_s=self.settings.ready_timeout_s,
        )
        stack.timings.find_binaries_s = time.monotonic() - began
        if "capture-sink" in profile.binaries:
            stack.binaries["capture-sink"] = "in-process OTLP gRPC/HTTP server"
        try:
            self._assign_replicas(stack)
            refuse_privileged_ports(profile, stack.replicas, binaries)
            stack.credentials = generate_credentials(profile)
            helm = helm_for(profile, self.settings.charts)
            for phase in start_phases(profile):  # one phase, all at once, unless a component says 'after'
                launched_at = self._launch_all(stack, binaries, helm, set(phase))
                self._wait_ready(stack, launched_at)
            write_state(stack)
        except BaseException as error:
            self._stop_after_failure(stack, error)
            raise
        return stack

    def _stop_after_failure(self, stack: LocalStack, error: BaseException) -> None:
        """Stop what started; what could not be stopped is a note on the start's own error (a Ctrl-C stays one)."""
        try:
            self.stop(stack)
        except TracestackError as cleanup:
            add_note(error, f"tracestack: {cleanup}")

    def _find_binaries(self, profile: Profile) -> dict[str, FoundBinary]:
        """Every real binary and module the profile needs, found before anything starts."""
        found = {kind: self.settings.binaries.find(kind) for kind in sorted(profile.binaries) if kind in SPECS}
        if "tempo" in found:
            check_major_version(found["tempo"], profile.tempo_version, profile.name)
        if "nginx" in found:
            find_otel_module(self.settings.nginx_otel_module)
        if "versitygw" in found:
            check_versitygw_components(profile)
        return found

    def _assign_replicas(self, stack: LocalStack) -> None:
        """An address per replica in a block held for this stack; ports named by ``{localhost_port:NAME}``
        get a port of the block's own on 127.0.0.1 instead."""
        components = list(stack.profile.components.values())
        localhost = {component.name: _localhost_ports(stack.profile, component) for component in components}
        probe = sorted({port for component in components for port in component.ports.values()})
        slots = sum(component.replicas * len(localhost[component.name]) for component in components)
        stack.block = block = choose_block(probe, localhost_slots=slots)
        slot = 0
        for component_index, component in enumerate(components):
            for index in range(component.replicas):
                replica = Replica(component.name, index, block.address(component_index, index), dict(component.ports))
                for name in localhost[component.name]:
                    replica.ports[name], replica.port_hosts[name] = block.localhost_port(slot), LOCALHOST
                    slot += 1
                stack.replicas.append(replica)

    def _launch_all(
        self, stack: LocalStack, binaries: dict[str, FoundBinary], helm: HelmRendering | None, components: set[str]
    ) -> dict[str, float]:
        """Render and spawn every replica of ``components`` without waiting for any; returns when each was spawned."""
        began = time.monotonic()
        bases: dict[Any, Any] = {}  # each config source is read once, however many replicas use it
        launched_at = {}
        for replica in stack.replicas:
            if replica.component not in components:
                continue
            component = stack.profile.components[replica.component]
            if component.config not in bases:
                bases[component.config] = base_config(component, helm)
            self._launch(stack, replica, binaries, bases[component.config])
            launched_at[replica.name] = time.monotonic()
        stack.timings.launch_s += time.monotonic() - began
        return launched_at

    def _launch(self, stack: LocalStack, replica: Replica, binaries: dict[str, FoundBinary], base: Any) -> None:
        component = stack.profile.components[replica.component]
        replica_dir = stack.workdir / replica.name
        replica_dir.mkdir(parents=True, exist_ok=True)
        context = _context(stack, replica, replica_dir)
        config = stack.configs[replica.name] = replica_config(component, base, context)
        launcher = LAUNCHERS[component.binary]
        binary = binaries.get(component.binary)
        launch = launcher(component, replica, config, context, binary.path if binary else None, self.settings)
        replica.log_path = launch.log_path
        stack.launches[replica.name] = launch
        stack.handles[replica.name] = launch.start()
        replica.pid = stack.handles[replica.name].pid

    def _wait_ready(self, stack: LocalStack, launched_at: dict[str, float]) -> None:
        began = time.monotonic()
        waits = [
            (replica, readiness, stack.handles[replica.name])
            for replica in stack.replicas
            if replica.name in launched_at and (readiness := stack.profile.components[replica.component].readiness)
        ]
        ready_at = wait_all_ready(waits, Deadline(self.settings.ready_timeout_s))
        stack.timings.ready_s += time.monotonic() - began
        stack.timings.replica_ready_s.update({name: at - launched_at[name] for name, at in ready_at.items()})

    # --- stop ---------------------------------------------------------------------------------

    def stop(self, stack: Stack) -> StopReport:
        """Signal every replica at once with one shared deadline (no replica waits for another: a Tempo
        query-frontend that ignores SIGTERM costs the grace once, not once per replica); name those that
        needed SIGKILL; then check that no address of the stack is still listening."""
        assert isinstance(stack, LocalStack)
        began = time.monotonic()
        try:
            outcome = self._stop_replicas(stack)
            leftovers = wait_ports_free([endpoint for replica in stack.replicas for endpoint in replica.endpoints()])
            self._save_logs(stack)
        finally:  # the loopback block is free again, also when the stop itself is interrupted
            if stack.block is not None:
                stack.block.release()
        stack.timings.stop_s = time.monotonic() - began
        report = StopReport(stack.profile.name, stack.timings.stop_s, self.settings.stop_grace_s, outcome.killed)
        problems = [
            f"could not stop {name} (pids {', '.join(map(str, pids))} still running after SIGKILL)"
            for name, pids in outcome.remaining.items()
        ]
        if outcome.remaining and (stack.workdir / STATE_FILE).is_file():
            problems.append(f"work dir kept for them: tracestack stop {stack.workdir}")
        else:
            shutil.rmtree(stack.workdir, ignore_errors=True)
        if leftovers:
            problems.append(f"still listening: {', '.join(f'{a}:{p}' for a, p in leftovers)}")
        if problems:
            raise TracestackError(f"after stopping {stack.profile.name}: {'; '.join(problems)}")
        if report.killed:
            warnings.warn(SlowStopWarning(report.describe()), stacklevel=2)
        return report

    def _stop_replicas(self, stack: LocalStack) -> GroupStop:
        handles, stack.handles = stack.handles, {}
        processes = [handle for handle in handles.values() if isinstance(handle, ManagedProcess)]
        outcome = stop_processes(processes, self.settings.stop_grace_s)
        for handle in handles.values():
            if not isinstance(handle, ManagedProcess):
                handle.stop(self.settings.stop_grace_s)  # in-process servers (the capture sink)
        return outcome

    def _save_logs(self, stack: LocalStack) -> None:
        if not (self.settings.report_dir and stack.workdir):
            return
        target = self.settings.report_dir / "logs"
        for replica in stack.replicas:
            if replica.log_path and replica.log_path.exists():
                target.mkdir(parents=True, exist_ok=True)
                text = replica.log_path.read_text(errors="replace")
                (target / f"{replica.name}.log").write_text(redact(text))

    def describe_keep(self, stack: Stack) -> str:
        lines = [f"tracestack: profile {stack.profile.name} left running (--tracestack-keep); work dir {stack.workdir}"]
        for replica in stack.replicas:
            ports = ", ".join(f"{name} {replica.hostport(name)}" for name in replica.ports)
            process = f"pid {replica.pid}" if replica.pid else "(ran inside pytest and stopped with it)"
            lines.append(f"  {replica.name} {process}: {ports}")
        lines.append(f"  its endpoints again: tracestack status {stack.workdir}")
        lines.append(f"  stop it with: tracestack stop {stack.workdir}")
        return "\n".join(lines)


def _start_step(component: Component) -> PlanStep:
    source = f"config from {describe(component.config.manifest)}" if component.config else "built in"
    target = f" -target={component.target}" if component.target else ""
    args = f" {shlex.join(component.args)}" if component.args else ""
    localhost = localhost_port_names(component.local_overrides)
    where = f" ({', '.join(localhost)} on {LOCALHOST}, a port reserved per stack)" if localhost else ""
    generated = (
        f", credentials generated for the run ({', '.join(component.credentials)})" if component.credentials else ""
    )
    return PlanStep(
        "start",
        f"{component.replicas} x {component.name} ({component.binary}{target}{args}), {source}, "
        f"ports {component.ports}{where}{generated}",
    )


def _localhost_ports(profile: Profile, component: Component) -> list[str]:
    names = localhost_port_names(component.local_overrides)
    unknown = [name for name in names if name not in component.ports]
    if unknown:
        raise ProfileError(
            str(profile.source_file),
            f"components.{component.name}.local_overrides",
            f"{{localhost_port:{unknown[0]}}} names no port of the component; its ports: {', '.join(component.ports)}",
        )
    return names


def _context(stack: LocalStack, replica: Replica, replica_dir: Path) -> ReplicaContext:
    def endpoint(component: str, port: str) -> str:
        return _lookup(stack, component, port)[0]

    def peers(component: str, port: str) -> list[str]:
        return _lookup(stack, component, port)

    return ReplicaContext(
        address=replica.address,
        ports=replica.ports,
        workdir=replica_dir,
        stackdir=stack.workdir,
        instance_id=replica.name,
        endpoint=endpoint,
        peers=peers,
        port_hosts=replica.port_hosts,
        credential=stack.credentials.get,
    )


def _lookup(stack: LocalStack, component: str, port: str) -> list[str]:
    replicas = stack.replicas_of(component)
    if not replicas or port not in replicas[0].ports:
        raise TracestackError(
            f"profile {stack.profile.name}: local_overrides refer to {component}.{port}, which no component declares"
        )
    return [replica.hostport(port) for replica in replicas]
