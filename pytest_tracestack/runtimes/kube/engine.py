"""What the kind and cluster runtimes share: take the install steps in order through the command layer,
reach the endpoints by port-forward, and remove what the run created, also when it fails or is interrupted."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tracestack.binaries.kube_tools import find_tool
from pytest_tracestack.deadlines import poll_until
from pytest_tracestack.errors import TracestackError, UnavailableError, add_note
from pytest_tracestack.profiles.kubernetes_section import kubernetes_section
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.base import Capability, FaultInjection, Offer, PlanStep, Replica, Stack
from pytest_tracestack.runtimes.kube import diagnostics
from pytest_tracestack.runtimes.kube.commands import BackgroundHandle, CommandRunner, CompletedCommand, SubprocessRunner
from pytest_tracestack.runtimes.kube.images import ImagePlan
from pytest_tracestack.runtimes.kube.install import (
    LOCAL_PORT,
    ClusterAccess,
    KubeStep,
    cluster_access,
    install_plan,
    port_forward_steps,
    with_cert_manager,
)
from pytest_tracestack.runtimes.kube.planning import clean_text, to_plan_steps
from pytest_tracestack.runtimes.kube.portforward import open_forward
from pytest_tracestack.runtimes.kube.preparation import Prepared, prepare
from pytest_tracestack.runtimes.kube.replica_pods import (
    PodForwards,
    list_pods_step,
    pod_forward_argv,
    pod_forwards,
    running_pods,
)
from pytest_tracestack.runtimes.kube.replica_pods import plan_steps as pod_plan_steps
from pytest_tracestack.runtimes.kube.settings import KubeSettings

if TYPE_CHECKING:
    from pytest_tracestack.clients.capture_sink import CaptureSink


class KubeStepFailed(TracestackError):
    """A step of the install failed; the message carries the command's output and the cluster's state."""


class KubeCleanupIncomplete(TracestackError):
    """Something the run created could not be removed; the message says what and how to remove it."""


@dataclass
class KubeStack(Stack):
    workdir: Path = field(kw_only=True)  # start() makes both before the stack exists
    access: ClusterAccess = field(kw_only=True)
    namespace: str = ""
    created_cluster: bool = False
    created_namespace: bool = False
    cert_manager: bool = False
    existing_clusters: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)
    forwards: list[BackgroundHandle] = field(default_factory=list)
    pod_forwards: list[BackgroundHandle] = field(default_factory=list)  # opened for a load run
    service_replicas: list[Replica] = field(default_factory=list)  # the replicas before those forwards
    reach: Callable[[], None] | None = field(default=None, repr=False)  # set by the runtime that started it

    def reach_every_replica(self) -> None:
        if self.reach is not None:
            self.reach()

    # --- capabilities: every replica is a pod, reached only through kubectl port-forward ------------

    def fault_injection(self) -> Offer[FaultInjection]:
        return self._decline(
            Capability.FAULT_INJECTION,
            "its replicas are pods the cluster runs, and tracestack "
            "kills or restarts none of them (the local runtime does, by signals)",
        )

    def capture_sink(self, replica: Replica) -> Offer[CaptureSink]:
        return self._decline(
            Capability.CAPTURE_SINK, f"{replica.name} is a pod in the cluster, not an object in the test process"
        )

    def unlisted_port_host(self, replica: Replica) -> Offer[str]:
        return self._decline(
            Capability.UNLISTED_PORTS,
            "only the ports a replica lists are forwarded to this "
            "machine, so probing another one here would prove nothing; the values and manifests "
            "that keep a receiver off are checked by --tracestack-plan",
        )

    def process_id(self, replica: Replica) -> Offer[int]:
        return self._decline(
            Capability.PROCESS_ID,
            f"{replica.name} is a pod, not a process tracestack started; "
            "its CPU and memory come from its /metrics, where it reports them",
        )


@dataclass(frozen=True)
class KubePlan:
    """What ``--tracestack-plan`` prints for a kube runtime: the tools, the version validated against, the
    ordered steps, what was validated and every image the install uses."""

    steps: list[PlanStep]
    notes: list[str]  # tools and Kubernetes version, printed before the steps
    checked: list[str]
    images: ImagePlan


class KubeRuntime:
    """Subclasses say how the cluster is reached, what comes before the install, and what ends it."""

    name = "kube"

    def __init__(
        self, settings: KubeSettings, runner: CommandRunner | None = None, tools: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.runner = runner or SubprocessRunner()
        self.tools = dict(tools or {})  # tool name -> path; the missing ones are found when needed
        self.found: dict[str, str] = {}  # tool name -> how it was found (version, where, why), for plan and report

    # --- what subclasses provide ---------------------------------------------------------------

    def connection(self, workdir: Path) -> list[str]:
        raise NotImplementedError

    def setup_steps(self, profile: Profile, access: ClusterAccess, workdir: Path, prepared: Prepared) -> list[KubeStep]:
        return []

    def tools_needed(self, profile: Profile) -> list[str]:
        return ["kubectl", *(["helm"] if kubernetes_section(profile).get("charts") else [])]

    def cluster_k8s_version(self, access: ClusterAccess) -> tuple[str, str]:
        """The Kubernetes version the cluster runs, and where that comes from."""
        raise NotImplementedError

    def plan_tools(self, profile: Profile) -> list[str]:
        """The tools the plan itself runs: helm renders the charts."""
        return ["helm"] if kubernetes_section(profile).get("charts") else []

    def preflight(self) -> None:
        """Fail before anything is created when this runtime cannot work on this machine."""

    def server_checks(self, access: ClusterAccess, prepared: Prepared, workdir: Path) -> list[str]:
        """What the plan has the cluster itself check, one line each (the cluster runtime: a server dry run)."""
        return []

    def skip(self, step: KubeStep, stack: KubeStack) -> bool:
        return False

    def remove_cluster(self, stack: KubeStack) -> list[str]:
        """Remove the cluster if this run created it; returns what could not be removed."""
        return []

    def keep_lines(self, stack: KubeStack) -> list[str]:
        return []

    # --- plan ------------------------------------------------------------------------------------

    def access(self, workdir: Path) -> ClusterAccess:
        return cluster_access(self.connection(workdir), self.settings.namespace, workdir)

    def k8s_version(self, access: ClusterAccess) -> tuple[str, str]:
        if self.settings.k8s_version:
            return self.settings.k8s_version, "--tracestack-k8s-version"
        return self.cluster_k8s_version(access)

    def prepare(self, profile: Profile, workdir: Path) -> Prepared:
        """Render, validate and list the images of everything the install applies; creates nothing."""
        access = self.access(workdir)
        return prepare(profile, self.settings, access, workdir, self.k8s_version(access), self._run)

    def steps(self, profile: Profile, workdir: Path, prepared: Prepared) -> list[KubeStep]:
        """Every step ``start`` takes, in order."""
        access = self.access(workdir)
        return [
            *self.setup_steps(profile, access, workdir, prepared),
            *install_plan(profile, self.settings, access, prepared.manifests),
            *port_forward_steps(profile, access),
        ]

    def plan_report(self, profile: Profile) -> KubePlan:
        kubernetes_section(profile)
        self._find_tools(self.plan_tools(profile))
        workdir = Path(tempfile.mkdtemp(prefix="tracestack-plan-"))
        try:
            prepared = self.prepare(profile, workdir)
            steps = self.steps(profile, workdir, prepared)
            releases = [_release(step) for step in steps if step.role == "helm-install"]
            access = self.access(workdir)
            checked = [*prepared.checked, *self.server_checks(access, prepared, workdir)]
            plan_steps = to_plan_steps(
                [
                    *steps,
                    *pod_plan_steps(kubernetes_section(profile), access),
                    FORWARDS_STOP,
                    *self.removal_steps(access, releases),
                ],
                workdir,
            )
            notes = [
                *(f"tool: {line}" for line in self.found.values()),
                f"Kubernetes {prepared.k8s_version} (from {prepared.k8s_version_origin}): the schema every "
                "object is validated against, and helm's --kube-version",
            ]
            return KubePlan(
                plan_steps,
                [clean_text(line, workdir) for line in notes],
                [clean_text(line, workdir) for line in checked],
                prepared.images,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def plan(self, profile: Profile) -> list[PlanStep]:
        return self.plan_report(profile).steps

    def removal_steps(self, access: ClusterAccess, releases: list[str]) -> list[KubeStep]:
        """What the end of the run removes (also after a failure or Ctrl-C; not with --tracestack-keep)."""
        return [*(release_removal(access, release) for release in reversed(releases)), namespace_removal(access)]

    # --- start -----------------------------------------------------------------------------------

    def start(self, profile: Profile) -> KubeStack:
        kubernetes_section(profile)
        self.preflight()
        self._find_tools(self.tools_needed(profile))
        workdir = Path(tempfile.mkdtemp(prefix=f"tracestack-{profile.name}-"))
        stack = KubeStack(
            profile=profile,
            runtime=self.name,
            workdir=workdir,
            namespace=self.settings.namespace,
            access=self.access(workdir),
            binaries=self._binaries(),
        )
        stack.reach = lambda: self.reach_pods(stack)
        try:
            # Everything is rendered and validated before the first step creates anything.
            prepared = self.prepare(profile, workdir)
            for step in self.steps(profile, workdir, prepared):
                self._take(step, stack)
        except BaseException as error:
            self._clean_up_after_failure(stack, error)
            raise
        return stack

    def _binaries(self) -> dict[str, str]:
        """Each tool's path, with its version and where it was found when the finder found it."""
        return {**self.tools, **{name: line.removeprefix(f"{name} ") for name, line in self.found.items()}}

    def _find_tools(self, names: list[str], allow_download: bool = True) -> None:
        for name in names:
            if name not in self.tools:
                found = find_tool(
                    name,
                    allow_download=allow_download and self.settings.allow_download,
                    mirror=self.settings.tools_mirror,
                )
                self.tools[name] = str(found.path)
                self.found[name] = found.describe()

    def _take(self, step: KubeStep, stack: KubeStack) -> None:
        if self.skip(step, stack):
            return
        if step.role == "port-forward":
            self._forward(step, stack)
            return
        if step.role == "helm-install":
            stack.releases.append(_release(step))  # uninstalled even if it fails
            if stack.cert_manager:
                step = with_cert_manager(step)
        if step.role == "create-namespace":
            stack.created_namespace = True  # the check before it found no such namespace
        done = self._attempt(step)
        if not done.ok and step.role == "create-namespace":
            stack.created_namespace = False
        if not done.ok:
            raise self._failure(step, done, stack)
        self._read_answer(step, done, stack)

    def _attempt(self, step: KubeStep) -> CompletedCommand:
        return poll_until(
            lambda: self._run(step.argv, step.timeout_s),
            step.retry_s,
            self.settings.retry_interval_s,
            done=lambda answer: answer.ok,
        ).last

    def _read_answer(self, step: KubeStep, done: CompletedCommand, stack: KubeStack) -> None:
        found = done.stdout.strip()
        if step.role == "kind-clusters":
            stack.existing_clusters = found.split()
        elif step.role == "cert-manager":
            stack.cert_manager = bool(found)
        elif step.role == "namespace-absent" and found:
            raise UnavailableError(
                f"namespace {stack.namespace} already exists; tracestack works only in a namespace "
                "it creates and never touches one it did not (choose another name with "
                "--tracestack-namespace, or leave it out for a random one)"
            )
        elif step.role == "operator-absent" and found:
            raise UnavailableError(
                "the cluster already has the OpenTelemetry Operator's CRDs "
                f"({found}), installed by someone else or by a run kept with --tracestack-keep; "
                "the operator profile installs its own operator and would change them. Use a "
                "cluster without the operator (e.g. a fresh kind cluster), or remove the kept "
                "release with `helm uninstall opentelemetry-operator --namespace <its namespace>`"
            )

    def _failure(self, step: KubeStep, done: CompletedCommand, stack: KubeStack) -> TracestackError:
        message = f"{step.action} {step.description} failed:\n{done.describe()}"
        if step.role == "namespace-absent":  # the first command that talks to the cluster
            return UnavailableError(
                f"the {self.name} runtime cannot reach the cluster: {done.last_line()}\n{done.describe()}"
            )
        if stack.created_namespace and step.action in ("helm", "apply", "wait"):
            message += "\n\n" + diagnostics.collect(
                self._run, stack.access.kubectl, stack.namespace, self.settings.report_dir
            )
            if self.settings.report_dir is not None:
                message += f"\n(also in {self.settings.report_dir / diagnostics.REPORT_FILE})"
        return KubeStepFailed(message)

    def _forward(self, step: KubeStep, stack: KubeStack) -> None:
        component, port_name = step.forward

        def argv_for(port: int) -> list[str]:
            return self._resolve(tuple(arg.replace(LOCAL_PORT, str(port)) for arg in step.argv))

        what = next(arg for arg in step.argv if arg.startswith("svc/")) + ":" + step.argv[-1].split(":")[-1]
        local = open_forward(self.runner, argv_for, stack.workdir, what, stack.forwards)
        replica = next((r for r in stack.replicas if r.component == component), None)
        if replica is None:
            replica = Replica(component, 0, "127.0.0.1", {})
            stack.replicas.append(replica)
        replica.ports[port_name] = local

    # --- each pod on its own, when a load run starts (kube/replica_pods.py) ---------------------------

    def reach_pods(self, stack: KubeStack) -> None:
        """Replace the replicas of each component in ``pod_forwards`` by one replica per running pod, each on
        forwards of its own. Opened once; listed and opened again when one of them has exited (a pod replaced)."""
        if stack.pod_forwards and all(handle.alive() for handle in stack.pod_forwards):
            return
        self._stop_pod_forwards(stack)
        stack.service_replicas = stack.service_replicas or list(stack.replicas)
        replicas = list(stack.service_replicas)
        try:
            for entry in pod_forwards(kubernetes_section(stack.profile)):
                pods = self._list_pods(stack, entry)
                replicas = _with_pods(
                    replicas,
                    entry.component,
                    [self._forward_pod(stack, entry, index, pod) for index, pod in enumerate(pods)],
                )
        except BaseException:
            self._stop_pod_forwards(stack)
            stack.replicas = list(stack.service_replicas)  # as before: no replica left on a stopped forward
            raise
        stack.replicas = replicas

    def _list_pods(self, stack: KubeStack, entry: PodForwards) -> list[str]:
        step = list_pods_step(stack.access, entry)
        done = self._run(step.argv, step.timeout_s)
        if not done.ok:
            raise KubeStepFailed(f"{step.action} {step.description} failed:\n{done.describe()}")
        expected = stack.profile.components[entry.component].replicas
        return running_pods(done.stdout, entry, expected, str(stack.profile.source_file))

    def _forward_pod(self, stack: KubeStack, entry: PodForwards, index: int, pod: str) -> Replica:
        ports = {}
        for name, remote in entry.ports.items():

            def argv_for(port: int, remote: int = remote) -> list[str]:
                return self._resolve(pod_forward_argv(stack.access, pod, remote, port))

            ports[name] = open_forward(self.runner, argv_for, stack.workdir, f"pod/{pod}:{remote}", stack.pod_forwards)
        return Replica(entry.component, index, "127.0.0.1", ports)

    @staticmethod
    def _stop_pod_forwards(stack: KubeStack) -> None:
        for handle in stack.pod_forwards:
            handle.stop(5.0)
        stack.pod_forwards.clear()

    def _run(self, argv: tuple[str, ...], timeout: float) -> CompletedCommand:
        return self.runner.run(self._resolve(argv), timeout)

    def _resolve(self, argv: tuple[str, ...]) -> list[str]:
        return [self.tools.get(argv[0], argv[0]), *argv[1:]]

    # --- stop ------------------------------------------------------------------------------------

    def stop(self, stack: Stack) -> None:
        assert isinstance(stack, KubeStack)
        leftovers = self._tear_down(stack)
        if leftovers:
            raise KubeCleanupIncomplete(
                "tracestack could not remove everything it created:\n" + "\n".join(f"  - {line}" for line in leftovers)
            )

    def _clean_up_after_failure(self, stack: KubeStack, error: BaseException) -> None:
        if self.settings.keep:
            for handle in stack.forwards:
                handle.stop(5.0)
            add_note(error, self.describe_keep(stack))
            return
        leftovers = self._tear_down(stack)
        if leftovers:
            add_note(
                error,
                "tracestack could not remove everything it created:\n" + "\n".join(f"  - {line}" for line in leftovers),
            )

    def _tear_down(self, stack: KubeStack) -> list[str]:
        self._stop_pod_forwards(stack)
        for handle in stack.forwards:
            handle.stop(5.0)
        stack.forwards.clear()
        if self.settings.keep:
            return []
        if stack.created_cluster:
            leftovers = self.remove_cluster(stack)  # takes the namespace and the releases with it
        else:
            leftovers = self._remove_releases(stack) + self._remove_namespace(stack)
        if stack.workdir:
            shutil.rmtree(stack.workdir, ignore_errors=True)
        return leftovers

    def _remove_releases(self, stack: KubeStack) -> list[str]:
        leftovers = []
        for release in reversed(stack.releases):
            step = release_removal(stack.access, release)
            done = self._run(step.argv, step.timeout_s)
            if not done.ok and "not found" not in done.stderr.lower():
                leftovers.append(
                    f"helm release {release} in namespace {stack.namespace} (its cluster-wide objects "
                    f"too): helm uninstall {release} --namespace {stack.namespace}\n{done.describe()}"
                )
        return leftovers

    def _remove_namespace(self, stack: KubeStack) -> list[str]:
        if not stack.created_namespace:
            return []
        step = namespace_removal(stack.access)
        done = self._run(step.argv, step.timeout_s)
        if done.ok:
            return []
        return [f"namespace {stack.namespace}: kubectl delete namespace {stack.namespace}\n{done.describe()}"]

    def describe_keep(self, stack: Stack) -> str:
        assert isinstance(stack, KubeStack)
        lines = [
            f"tracestack: profile {stack.profile.name} left running in namespace {stack.namespace} "
            "(--tracestack-keep).",
            *self.keep_lines(stack),
        ]
        for release in reversed(stack.releases):
            lines.append(f"  remove helm release {release}: helm uninstall {release} --namespace {stack.namespace}")
        if stack.created_namespace:
            lines.append(f"  remove the namespace: kubectl delete namespace {stack.namespace}")
        return "\n".join(lines)


FORWARDS_STOP = KubeStep(
    "stop", "every kubectl port-forward this run started (to Services and to pods): SIGTERM, SIGKILL after 5 s"
)


def _with_pods(replicas: list[Replica], component: str, pods: list[Replica]) -> list[Replica]:
    """The pods' replicas stand for the component; the first keeps the ports only a Service forward reaches."""
    old = [replica for replica in replicas if replica.component == component]
    if old and pods:
        pods[0].ports = {**old[0].ports, **pods[0].ports}
    return [replica for replica in replicas if replica.component != component] + pods


def _release(step: KubeStep) -> str:
    """The release a ``helm upgrade --install RELEASE`` step installs."""
    return step.argv[step.argv.index("--install") + 1]


def release_removal(access: ClusterAccess, release: str) -> KubeStep:
    return KubeStep(
        "remove",
        f"helm release {release} (its cluster-wide objects too)",
        (*access.helm, "uninstall", release, "--namespace", access.namespace, "--wait", "--timeout", "300s"),
        timeout_s=330,
    )


def namespace_removal(access: ClusterAccess) -> KubeStep:
    return KubeStep(
        "remove",
        f"namespace {access.namespace} and everything in it",
        (
            *access.kubectl,
            "delete",
            "namespace",
            access.namespace,
            "--wait=true",
            "--timeout=300s",
            "--ignore-not-found",
        ),
        timeout_s=330,
    )
