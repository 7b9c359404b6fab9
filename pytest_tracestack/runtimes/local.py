"""The local runtime: every replica of the profile as a real process on its own loopback address."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..binaries import SPECS, BinaryProvider, FoundBinary, check_major_version
from ..errors import ComponentExited, ReadinessTimeout, TracestackError
from ..profiles import Component, Profile
from ..redaction import redact
from ..rendering import ReplicaContext, apply_overrides, extract_config
from ..tempo_values import tempo_config_from_values
from .addresses import choose_block, replica_address
from .base import PlanStep, Replica, Stack
from .launchers import LAUNCHERS, Launch
from .nginx_config import find_otel_module
from .process import wait_ports_free


class Handle(Protocol):
    """A started replica: a child process or an in-process server (the capture sink)."""

    pid: int | None

    def alive(self) -> bool: ...
    def stop(self, grace_s: float = 10.0) -> None: ...
    def last_log_lines(self, count: int = 25) -> str: ...


@dataclass
class LocalSettings:
    binaries: BinaryProvider
    ready_timeout_s: float = 90.0
    keep: bool = False
    report_dir: Path | None = None
    nginx_otel_module: str | None = None
    stop_grace_s: float = 10.0


@dataclass
class LocalStack(Stack):
    handles: dict[str, Handle] = field(default_factory=dict)      # replica name -> handle
    launches: dict[str, Launch] = field(default_factory=dict)     # replica name -> how it was started
    ready_timeout_s: float = 90.0

    # --- fault injection, by signals --------------------------------------------------------------

    def kill(self, replica_name: str) -> None:
        """SIGKILL a replica: no shutdown, no flush, as a crashed pod."""
        self._process(replica_name).signal(signal.SIGKILL)
        self._process(replica_name).popen.wait(timeout=10)

    def pause(self, replica_name: str) -> None:
        """SIGSTOP a replica: it keeps its sockets but answers nothing, as a hung pod."""
        process = self._process(replica_name)
        process.signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while process_state(process.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)

    def resume(self, replica_name: str) -> None:
        self._process(replica_name).signal(signal.SIGCONT)

    def restart(self, replica_name: str, grace_s: float = 10.0) -> None:
        """Stop a replica (SIGTERM, then SIGKILL), wait for its ports, start it again and wait until ready."""
        replica = next(r for r in self.replicas if r.name == replica_name)
        self.handles[replica_name].stop(grace_s)
        wait_ports_free([(replica.address, port) for port in replica.ports.values()])
        self.handles[replica_name] = self.launches[replica_name].start()
        replica.pid = self.handles[replica_name].pid
        readiness = self.profile.components[replica.component].readiness
        if readiness:
            wait_ready(replica, readiness, self.handles[replica_name], time.monotonic() + self.ready_timeout_s,
                       self.ready_timeout_s)

    def _process(self, replica_name: str):
        handle = self.handles.get(replica_name)
        if handle is None or not hasattr(handle, "signal"):
            names = ", ".join(name for name, h in self.handles.items() if hasattr(h, "signal"))
            raise TracestackError(f"no process replica named {replica_name!r}; process replicas: {names}")
        return handle


class LocalRuntime:
    name = "local"

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings

    # --- plan ---------------------------------------------------------------------------------

    def plan(self, profile: Profile) -> list[PlanStep]:
        steps = []
        for component in profile.components.values():
            source = f"config from manifests/{component.config.manifest}" if component.config else "built in"
            target = f" -target={component.target}" if component.target else ""
            steps.append(PlanStep("start", f"{component.replicas} x {component.name} ({component.binary}{target}), "
                                           f"{source}, ports {component.ports}"))
        steps.append(PlanStep("wait", f"readiness of every replica, {self.settings.ready_timeout_s:.0f}s deadline"))
        steps.append(PlanStep("stop", "at the end (also after a failure or Ctrl-C; not with --tracestack-keep): "
                                      "SIGTERM, then SIGKILL after a deadline, every process group; ports checked free"))
        return steps

    # --- start --------------------------------------------------------------------------------

    def start(self, profile: Profile) -> LocalStack:
        binaries = self._find_binaries(profile)
        stackdir = Path(tempfile.mkdtemp(prefix=f"tracestack-{profile.name}-"))
        stack = LocalStack(profile=profile, runtime=self.name, workdir=stackdir,
                           binaries={kind: found.describe() for kind, found in binaries.items()},
                           ready_timeout_s=self.settings.ready_timeout_s)
        if "capture-sink" in profile.binaries:
            stack.binaries["capture-sink"] = "in-process OTLP gRPC/HTTP server"
        try:
            self._assign_replicas(stack)
            for replica in stack.replicas:
                self._launch(stack, replica, binaries)
            self._wait_ready(stack)
            _write_state(stack)
        except BaseException:
            self.stop(stack, failed=True)
            raise
        return stack

    def _find_binaries(self, profile: Profile) -> dict[str, FoundBinary]:
        """Every real binary and module the profile needs, found before anything starts."""
        found = {kind: self.settings.binaries.find(kind) for kind in sorted(profile.binaries) if kind in SPECS}
        if "tempo" in found:
            check_major_version(found["tempo"], profile.tempo_version, profile.name)
        if "nginx" in found:
            find_otel_module(self.settings.nginx_otel_module)
        return found

    def _assign_replicas(self, stack: LocalStack) -> None:
        components = list(stack.profile.components.values())
        probe = sorted({port for component in components for port in component.ports.values()})
        block = choose_block(probe)
        for component_index, component in enumerate(components):
            for index in range(component.replicas):
                stack.replicas.append(Replica(component.name, index, replica_address(block, component_index, index),
                                              dict(component.ports)))

    def _launch(self, stack: LocalStack, replica: Replica, binaries: dict[str, FoundBinary]) -> None:
        component = stack.profile.components[replica.component]
        replica_dir = stack.workdir / replica.name
        replica_dir.mkdir(parents=True, exist_ok=True)
        context = _context(stack, replica, replica_dir)
        config = _render_config(component, context)
        launcher = LAUNCHERS[component.binary]
        binary = binaries.get(component.binary)
        launch = launcher(component, replica, config, context, binary.path if binary else None, self.settings)
        replica.log_path = launch.log_path
        stack.launches[replica.name] = launch
        stack.handles[replica.name] = launch.start()
        replica.pid = stack.handles[replica.name].pid

    def _wait_ready(self, stack: LocalStack) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        for replica in stack.replicas:
            component = stack.profile.components[replica.component]
            if component.readiness:
                wait_ready(replica, component.readiness, stack.handles[replica.name], deadline,
                           self.settings.ready_timeout_s)

    # --- stop ---------------------------------------------------------------------------------

    def stop(self, stack: Stack, failed: bool = False) -> None:
        assert isinstance(stack, LocalStack)
        for replica in reversed(stack.replicas):
            handle = stack.handles.pop(replica.name, None)
            if handle is not None:
                handle.stop(self.settings.stop_grace_s)
        leftovers = wait_ports_free([(r.address, p) for r in stack.replicas for p in r.ports.values()])
        self._save_logs(stack, failed)
        if stack.workdir and stack.workdir.exists():
            shutil.rmtree(stack.workdir, ignore_errors=True)
        if leftovers:
            raise TracestackError(f"after stopping {stack.profile.name}, still listening: "
                                  f"{', '.join(f'{a}:{p}' for a, p in leftovers)}")

    def _save_logs(self, stack: LocalStack, failed: bool) -> None:
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
            ports = ", ".join(f"{name} {replica.address}:{port}" for name, port in replica.ports.items())
            lines.append(f"  {replica.name} pid {replica.pid}: {ports}")
        if any(c.binary == "capture-sink" for c in stack.profile.components.values()):
            lines.append("  note: the capture sink ran inside pytest and stopped with it")
        lines.append(f"  its endpoints again: tracestack status {stack.workdir}")
        lines.append(f"  stop it with: tracestack stop {stack.workdir}")
        return "\n".join(lines)


def process_state(pid: int) -> str:
    """The one-letter state of a process from /proc (R running, S sleeping, T stopped, Z zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _context(stack: LocalStack, replica: Replica, replica_dir: Path) -> ReplicaContext:
    def endpoint(component: str, port: str) -> str:
        return _lookup(stack, component, port)[0]

    def peers(component: str, port: str) -> list[str]:
        return _lookup(stack, component, port)

    return ReplicaContext(address=replica.address, ports=replica.ports, workdir=replica_dir,
                          stackdir=stack.workdir, instance_id=replica.name, endpoint=endpoint, peers=peers)


def _lookup(stack: LocalStack, component: str, port: str) -> list[str]:
    replicas = stack.replicas_of(component)
    if not replicas or port not in replicas[0].ports:
        raise TracestackError(f"profile {stack.profile.name}: local_overrides refer to {component}.{port}, "
                              f"which no component declares")
    return [replica.hostport(port) for replica in replicas]


def _render_config(component: Component, context: ReplicaContext) -> Any:
    if component.config is None:
        return None
    config = extract_config(component.config)
    if component.config.kind == "HelmValues":
        config = tempo_config_from_values(config)
    if isinstance(config, dict):
        return apply_overrides(config, component.local_overrides, context)
    return config


def wait_ready(replica: Replica, readiness: str, handle: Handle, deadline: float, timeout_s: float) -> None:
    """Poll ``http:PORT/PATH`` until 200; tell an exited process from a slow one, with its last log lines."""
    port_name, _, path = readiness.removeprefix("http:").partition("/")
    url = replica.url(port_name, "/" + path)
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not handle.alive():
                raise ComponentExited(f"{replica.name} exited while waiting for {url} to answer 200; "
                                      f"last log lines:\n{handle.last_log_lines()}")
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200].strip()}"
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            time.sleep(0.2)
    raise ReadinessTimeout(f"{replica.name} not ready after {timeout_s:.0f}s: {url} last said {last}; "
                           f"last log lines:\n{handle.last_log_lines()}")


def _write_state(stack: LocalStack) -> None:
    """What ``tracestack stop DIR`` needs to end a kept stack."""
    state = {"profile": stack.profile.name,
             "replicas": [{"name": r.name, "pid": r.pid, "address": r.address, "ports": r.ports}
                          for r in stack.replicas],
             "ingest": {protocol: stack.ingest_targets(protocol) for protocol in stack.profile.ingest},
             "query": stack.query_url()}
    (stack.workdir / "stack.json").write_text(json.dumps(state, indent=2))
