"""The kind and cluster runtimes: the profile's manifests and charts installed into a namespace of
their own, reached through ``kubectl port-forward``, removed at the end unless kept."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TracestackError, UnavailableError
from ..kube.commands import BackgroundHandle, CommandRunner, CompletedCommand, SubprocessRunner
from ..kube.install import KubeStep, install_steps, kubernetes_section, rendered_manifests
from ..kube.settings import KIND_VERSION, KubeSettings
from ..profiles import Profile
from ..redaction import redact
from ..runtime_choice import container_engine_answer
from .base import PlanStep, Replica, Stack
from .process import port_open


class KubeStepFailed(TracestackError):
    """A step of the install failed; the message carries the command's output and the cluster's state."""


@dataclass
class KubeStack(Stack):
    namespace: str = ""
    created_cluster: bool = False
    forwards: list[BackgroundHandle] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)


class KubeRuntime:
    """What the kind and cluster runtimes share; subclasses add how the cluster is reached."""

    name = "kube"

    def __init__(self, settings: KubeSettings, runner: CommandRunner | None = None,
                 tools: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.runner = runner or SubprocessRunner()
        self.tools = tools            # tool name -> path; found on first start when None

    # --- subclass hooks -----------------------------------------------------------------------

    def kube_args(self, workdir: Path) -> list[str]:
        raise NotImplementedError

    def setup_steps(self, profile: Profile, workdir: Path) -> list[KubeStep]:
        return []

    def preflight(self) -> None:
        """Fail early, before anything is created, when the runtime cannot work here."""

    def cluster_teardown_steps(self, stack: KubeStack) -> list[KubeStep]:
        return []

    # --- plan ---------------------------------------------------------------------------------

    def plan(self, profile: Profile) -> list[PlanStep]:
        workdir = Path(tempfile.mkdtemp(prefix="tracestack-plan-"))
        try:
            steps = self._all_steps(profile, workdir, cert_manager=None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        # The plan's scratch dir is not the run's work dir: show it as a placeholder.
        steps = [KubeStep(step.action, step.description, tuple(a.replace(str(workdir), "$WORKDIR") for a in step.argv),
                          step.timeout_s, step.when) for step in steps]
        forwards = [KubeStep("port-forward", f"svc/{f['service']}:{f['port']} -> 127.0.0.1:<free port> "
                                             f"({f['component']} {f['as']})")
                    for f in kubernetes_section(profile).get("port_forwards", [])]
        return [PlanStep(step.action, redact(step.description) + (f" ({step.when})" if step.when else ""),
                         tuple(redact(arg) for arg in step.argv)) for step in [*steps, *forwards]]

    def _all_steps(self, profile: Profile, workdir: Path, cert_manager: bool | None) -> list[KubeStep]:
        kube_args = self.kube_args(workdir)
        manifests = rendered_manifests(profile, workdir)
        return [*self.setup_steps(profile, workdir),
                *install_steps(profile, self.settings, kube_args, manifests, cert_manager)]

    # --- start --------------------------------------------------------------------------------

    def start(self, profile: Profile) -> KubeStack:
        kubernetes_section(profile)
        self.preflight()
        self._find_tools(profile)
        workdir = Path(tempfile.mkdtemp(prefix=f"tracestack-{profile.name}-"))
        stack = KubeStack(profile=profile, runtime=self.name, workdir=workdir, namespace=self.settings.namespace,
                          binaries={tool: path for tool, path in (self.tools or {}).items()})
        try:
            for step in self.setup_steps(profile, workdir):
                self._run_setup_step(step, stack)
            cert_manager = self._has_cert_manager(workdir)
            manifests = rendered_manifests(profile, workdir)
            for step in install_steps(profile, self.settings, self.kube_args(workdir), manifests, cert_manager):
                self._execute(step, stack)
                if step.action == "helm" and "--install" in step.argv:
                    stack.releases.append(step.argv[step.argv.index("--install") + 1])
            self._port_forward(profile, stack)
        except BaseException:
            self.stop(stack, failed=True)
            raise
        return stack

    def _find_tools(self, profile: Profile) -> None:
        if self.tools is not None:
            return
        from ..kube.tools import find_tool

        needed = ["kubectl", *(["helm"] if kubernetes_section(profile).get("charts") else []),
                  *(["kind"] if self.name == "kind" else [])]
        self.tools = {tool: str(find_tool(tool)) for tool in needed}

    def _run_setup_step(self, step: KubeStep, stack: KubeStack) -> None:
        self._execute(step, stack)

    def _has_cert_manager(self, workdir: Path) -> bool:
        probe = self._run(("kubectl", *self.kube_args(workdir), "get", "crd", "certificates.cert-manager.io"), 30)
        return probe.ok

    def _execute(self, step: KubeStep, stack: KubeStack) -> CompletedCommand:
        done = self._run(step.argv, step.timeout_s)
        if not done.ok:
            raise KubeStepFailed(f"{step.action} {step.description} failed:\n{done.describe()}\n\n"
                                 f"{self._diagnose(stack)}")
        return done

    def _run(self, argv: tuple[str, ...], timeout: float) -> CompletedCommand:
        resolved = [(self.tools or {}).get(argv[0], argv[0]), *argv[1:]]
        return self.runner.run(resolved, timeout)

    # --- port-forwards ------------------------------------------------------------------------

    def _port_forward(self, profile: Profile, stack: KubeStack) -> None:
        by_component: dict[str, Replica] = {}
        for forward in kubernetes_section(profile).get("port_forwards", []):
            local = _free_port()
            argv = ("kubectl", *self.kube_args(stack.workdir), "port-forward", "--namespace", stack.namespace,
                    f"svc/{forward['service']}", f"{local}:{forward['port']}")
            resolved = [(self.tools or {}).get(argv[0], argv[0]), *argv[1:]]
            handle = self.runner.start(resolved, stack.workdir / f"port-forward-{forward['service']}-{local}.log")
            stack.forwards.append(handle)
            _wait_forward(handle, local, f"svc/{forward['service']}:{forward['port']}")
            replica = by_component.setdefault(forward["component"], Replica(forward["component"], 0, "127.0.0.1", {}))
            replica.ports[forward["as"]] = local
        stack.replicas.extend(by_component.values())

    # --- diagnostics --------------------------------------------------------------------------

    def _diagnose(self, stack: KubeStack) -> str:
        kube = ("kubectl", *self.kube_args(stack.workdir))
        ns = stack.namespace
        sections = []
        for title, argv in (("events", (*kube, "get", "events", "--namespace", ns, "--sort-by=.lastTimestamp")),
                            ("pods", (*kube, "get", "pods", "--namespace", ns, "-o", "wide"))):
            done = self._run(argv, 30)
            sections.append(f"--- {title} ---\n{(done.stdout or done.stderr).strip()[-3000:]}")
        sections += self._failing_pod_logs(kube, ns)
        text = redact("\n".join(sections))
        if self.settings.report_dir:
            self.settings.report_dir.mkdir(parents=True, exist_ok=True)
            (self.settings.report_dir / "kube-diagnostics.txt").write_text(text)
        return text

    def _failing_pod_logs(self, kube: tuple[str, ...], ns: str) -> list[str]:
        done = self._run((*kube, "get", "pods", "--namespace", ns, "-o", "json"), 30)
        try:
            pods = json.loads(done.stdout).get("items", []) if done.ok else []
        except ValueError:
            pods = []
        logs = []
        for pod in pods:
            statuses = pod.get("status", {}).get("containerStatuses", [])
            if statuses and all(status.get("ready") for status in statuses):
                continue
            name = pod["metadata"]["name"]
            out = self._run((*kube, "logs", "--namespace", ns, name, "--all-containers", "--tail=40"), 30)
            logs.append(f"--- logs of {name} ---\n{(out.stdout or out.stderr).strip()}")
        return logs

    # --- stop ---------------------------------------------------------------------------------

    def stop(self, stack: Stack, failed: bool = False) -> None:
        assert isinstance(stack, KubeStack)
        for handle in stack.forwards:
            handle.stop(5.0)
        stack.forwards.clear()
        if self.settings.keep:
            return
        kube_args = self.kube_args(stack.workdir)
        helm_args = [a.replace("--context=", "--kube-context=") for a in kube_args]
        for release in reversed(stack.releases):
            self._run(("helm", *helm_args, "uninstall", release, "--namespace", stack.namespace, "--wait"), 300)
        self._run(("kubectl", *kube_args, "delete", "namespace", stack.namespace, "--wait=true", "--timeout=300s",
                   "--ignore-not-found"), 330)
        for step in self.cluster_teardown_steps(stack):
            self._run(step.argv, step.timeout_s)
        if stack.workdir:
            shutil.rmtree(stack.workdir, ignore_errors=True)

    def describe_keep(self, stack: Stack) -> str:
        assert isinstance(stack, KubeStack)
        return (f"tracestack: profile {stack.profile.name} left in namespace {stack.namespace} (--tracestack-keep); "
                f"remove it with: kubectl delete namespace {stack.namespace}")


class KindRuntime(KubeRuntime):
    """A kind cluster: created (or reused by name), images loaded, deleted at the end if we created it."""

    name = "kind"

    def kube_args(self, workdir: Path) -> list[str]:
        return [f"--kubeconfig={workdir / 'kubeconfig'}"]

    def preflight(self) -> None:
        if container_engine_answer() is None:
            raise UnavailableError("the kind runtime needs a container engine, and neither `docker info` nor "
                                   "`podman info` answered; start Docker (or Podman), or use "
                                   "--tracestack-runtime=local or --tracestack-runtime=cluster")

    def setup_steps(self, profile: Profile, workdir: Path) -> list[KubeStep]:
        name = self.settings.cluster_name
        steps = [
            KubeStep("run", f"kind cluster {name} with {self.settings.node_image} (kind {KIND_VERSION})",
                     ("kind", "create", "cluster", "--name", name, "--image", self.settings.node_image,
                      "--wait", "120s"), timeout_s=600, when=f"skipped when cluster {name} exists"),
            KubeStep("run", f"kubeconfig of cluster {name}",
                     ("kind", "export", "kubeconfig", "--name", name, "--kubeconfig", str(workdir / "kubeconfig"))),
        ]
        images = self.settings.images_to_load
        if images == ("profile",):
            images = tuple(kubernetes_section(profile).get("images", []))
        steps += [KubeStep("run", f"load pre-pulled image {image}",
                           ("kind", "load", "docker-image", image, "--name", name), timeout_s=600)
                  for image in images]
        return steps

    def _run_setup_step(self, step: KubeStep, stack: KubeStack) -> None:
        if step.argv[:3] == ("kind", "create", "cluster"):
            existing = self._run(("kind", "get", "clusters"), 60)
            if self.settings.cluster_name in existing.stdout.split():
                return
            stack.created_cluster = True
        self._execute(step, stack)

    def cluster_teardown_steps(self, stack: KubeStack) -> list[KubeStep]:
        if not stack.created_cluster:
            return []
        return [KubeStep("run", f"delete kind cluster {self.settings.cluster_name}",
                         ("kind", "delete", "cluster", "--name", self.settings.cluster_name), timeout_s=300)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_forward(handle: BackgroundHandle, port: int, what: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not handle.alive():
            raise KubeStepFailed(f"kubectl port-forward {what} exited:\n{handle.last_log_lines()}")
        if port_open("127.0.0.1", port, timeout=0.2):
            return
        time.sleep(0.1)
    raise KubeStepFailed(f"kubectl port-forward {what} did not listen on 127.0.0.1:{port} in {deadline_s:.0f}s")


def make_kube_runtime(kind: str, settings: KubeSettings, runner: CommandRunner | None = None,
                      tools: dict[str, str] | None = None) -> KubeRuntime:
    from .cluster import ClusterRuntime

    runtimes = {"kind": KindRuntime, "cluster": ClusterRuntime}
    return runtimes[kind](settings, runner, tools)
