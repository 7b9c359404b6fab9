"""The ordered steps that install a profile's topology into a namespace, as data.

The runtime executes exactly these steps and ``--tracestack-plan`` prints them, so the plan a user
reads is the plan that runs. Decisions taken at run time (a cluster that already exists, cert-manager
being installed) are written on the step (``when``) and taken by the runtime from a check step's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_tracestack.configs.rendering import resolve_manifest
from pytest_tracestack.profiles.kubernetes_section import chart_names, kubernetes_section
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.charts import chart_source
from pytest_tracestack.runtimes.kube.crds import custom_resource
from pytest_tracestack.runtimes.kube.manifests import RenderedManifest
from pytest_tracestack.runtimes.kube.settings import MANAGED_BY, KubeSettings

OPERATOR_CHART = "opentelemetry-operator"
CERT_MANAGER_CRD = "certificates.cert-manager.io"
OPERATOR_CRD = "opentelemetrycollectors.opentelemetry.io"
CERTS_GENERATED = ("admissionWebhooks.certManager.enabled=false", "admissionWebhooks.autoGenerateCert.enabled=true")
CERTS_FROM_CERT_MANAGER = (
    "admissionWebhooks.certManager.enabled=true",
    "admissionWebhooks.autoGenerateCert.enabled=false",
)
LOCAL_PORT = "<local-port>"  # chosen free when the forward starts
CUSTOM_RESOURCE_APPLY_RETRY_S = 60.0  # the operator's webhook may need a moment after its pod is Ready


@dataclass(frozen=True)
class KubeStep:
    action: str  # check, run, helm, apply, wait, port-forward
    description: str
    argv: tuple[str, ...] = ()
    timeout_s: float = 120.0
    when: str = ""  # a condition decided at run time, shown in the plan
    role: str = ""  # how the runtime reads the answer of this step (see KubeRuntime)
    retry_s: float = 0.0  # retry a failed command for this long
    forward: tuple[str, ...] = ()  # port-forward: (component, port name) the local port stands for

    def render(self) -> str:
        condition = f" ({self.when})" if self.when else ""
        return f"{self.action:<12} {self.description}{condition}" + (
            f"\n             $ {' '.join(self.argv)}" if self.argv else ""
        )


@dataclass(frozen=True)
class ClusterAccess:
    """How the commands of one run reach the cluster, and the namespace they work in."""

    kubectl: tuple[str, ...]  # "kubectl" and its connection flags
    helm: tuple[str, ...]  # "helm" with the same connection and a repository config of the run's own
    namespace: str
    helm_offline: tuple[str, ...] = ("helm",)  # the repository config alone, for `helm template`


def cluster_access(connection: list[str], namespace: str, workdir: Path) -> ClusterAccess:
    """``connection`` holds kubectl's flags (--kubeconfig=, --context=); helm names the context --kube-context."""
    helm_connection = [arg.replace("--context=", "--kube-context=", 1) for arg in connection]
    # Helm's repository list lives in the run's directory, so the user's own helm setup is never changed.
    helm_home = [
        f"--repository-config={workdir / 'helm' / 'repositories.yaml'}",
        f"--repository-cache={workdir / 'helm' / 'cache'}",
    ]
    return ClusterAccess(
        ("kubectl", *connection), ("helm", *helm_connection, *helm_home), namespace, ("helm", *helm_home)
    )


def install_plan(
    profile: Profile, settings: KubeSettings, access: ClusterAccess, manifests: list[RenderedManifest]
) -> list[KubeStep]:
    """Checks, namespace, charts, manifests, rollouts: the part the kind and cluster runtimes share."""
    section = kubernetes_section(profile)
    operator = OPERATOR_CHART in chart_names(section)
    steps = [_namespace_check(access), *(_operator_checks(access) if operator else []), *_namespace_steps(access)]
    charts = [step for chart in section.get("charts", []) for step in _chart_steps(chart, access, settings)]
    applies = [*_crd_waits(access, manifests), *(_apply_step(access, manifest) for manifest in manifests)]
    applied = {name.lower() for manifest in manifests for name in manifest.objects}
    rollouts = section.get("rollouts", [])
    if section.get("manifests_first"):
        # A server the charts' workloads need when they start (the S3 server): ready before helm waits for them.
        ours = [rollout for rollout in rollouts if rollout in applied]
        steps += applies + _rollouts(access, ours, settings, applied) + charts
        return steps + _rollouts(access, [rollout for rollout in rollouts if rollout not in ours], settings, applied)
    return steps + charts + applies + _rollouts(access, rollouts, settings, applied)


def _rollouts(access: ClusterAccess, rollouts: list[str], settings: KubeSettings, applied: set[str]) -> list[KubeStep]:
    return [
        step
        for rollout in rollouts
        for step in _rollout_steps(access, rollout, settings, created_by_us=rollout in applied)
    ]


def port_forward_argv(access: ClusterAccess, service: str, remote_port: int, local_port: int | str) -> tuple[str, ...]:
    return (
        *access.kubectl,
        "port-forward",
        "--address=127.0.0.1",
        "--namespace",
        access.namespace,
        f"svc/{service}",
        f"{local_port}:{remote_port}",
    )


def port_forward_steps(profile: Profile, access: ClusterAccess) -> list[KubeStep]:
    """For the plan: the forwards ``start`` opens last, each on a free loopback port chosen then."""
    return [
        KubeStep(
            "port-forward",
            f"svc/{f['service']}:{f['port']} -> 127.0.0.1:<local-port> ({f['component']} port {f['as']})",
            port_forward_argv(access, f["service"], f["port"], LOCAL_PORT),
            role="port-forward",
            forward=(f["component"], f["as"]),
        )
        for f in kubernetes_section(profile).get("port_forwards", [])
    ]


def with_cert_manager(step: KubeStep) -> KubeStep:
    """The operator install when cert-manager is in the cluster: its certificate instead of a generated one."""
    swap = dict(zip(CERTS_GENERATED, CERTS_FROM_CERT_MANAGER, strict=True))
    return replace(step, argv=tuple(swap.get(arg, arg) for arg in step.argv), when="")


def _namespace_check(access: ClusterAccess) -> KubeStep:
    ns = access.namespace
    return KubeStep(
        "check",
        f"namespace {ns} does not exist yet (tracestack works only in a namespace it creates)",
        (*access.kubectl, "get", "namespace", ns, "--ignore-not-found", "-o", "name"),
        timeout_s=30,
        role="namespace-absent",
    )


def _namespace_steps(access: ClusterAccess) -> list[KubeStep]:
    ns = access.namespace
    return [
        KubeStep(
            "run", f"create namespace {ns}", (*access.kubectl, "create", "namespace", ns), role="create-namespace"
        ),
        KubeStep("run", f"label namespace {ns} {MANAGED_BY}", (*access.kubectl, "label", "namespace", ns, MANAGED_BY)),
    ]


def _operator_checks(access: ClusterAccess) -> list[KubeStep]:
    return [
        KubeStep(
            "check",
            "no OpenTelemetry Operator installed by someone else (its CRDs are cluster-wide)",
            (*access.kubectl, "get", "crd", OPERATOR_CRD, "--ignore-not-found", "-o", "name"),
            timeout_s=30,
            role="operator-absent",
        ),
        KubeStep(
            "check",
            "is cert-manager installed? (decides where the operator's webhook certificate comes from)",
            (*access.kubectl, "get", "crd", CERT_MANAGER_CRD, "--ignore-not-found", "-o", "name"),
            timeout_s=30,
            role="cert-manager",
        ),
    ]


def chart_arguments(chart: dict[str, Any], settings: KubeSettings) -> list[str]:
    """The chart (from --tracestack-charts or its repository), its values files and --set flags: what
    `helm template` validates is what `helm upgrade --install` installs."""
    values = [arg for path in chart.get("values", []) for arg in ("-f", str(resolve_manifest(path)))]
    extra: list[str] = []
    if chart["chart"] == OPERATOR_CHART:
        extra = [arg for setting in CERTS_GENERATED for arg in ("--set", setting)]
    return [*chart_source(chart, settings.charts).reference, *values, *extra]


def _chart_steps(chart: dict[str, Any], access: ClusterAccess, settings: KubeSettings) -> list[KubeStep]:
    when = ""
    if chart["chart"] == OPERATOR_CHART:
        when = (
            "certManager.enabled=true and autoGenerateCert.enabled=false instead when the check above finds "
            "cert-manager"
        )
    timeout = int(settings.rollout_timeout_s)
    return [
        KubeStep(
            "helm",
            f"release {chart['release']}: {chart_source(chart, settings.charts).describe(chart)}, values "
            f"{', '.join(chart.get('values', [])) or '(chart defaults)'}; waits until its workloads are ready",
            (
                *access.helm,
                "upgrade",
                "--install",
                chart["release"],
                *chart_arguments(chart, settings),
                "--namespace",
                access.namespace,
                "--wait",
                "--timeout",
                f"{timeout}s",
            ),
            timeout_s=settings.rollout_timeout_s + 60,
            when=when,
            role="helm-install",
        )
    ]


def _crd_waits(access: ClusterAccess, manifests: list[RenderedManifest]) -> list[KubeStep]:
    crds = []
    for manifest in manifests:
        for document in manifest.documents:
            known = custom_resource(document)
            if known and known.crd not in crds:
                crds.append(known.crd)
    return [
        KubeStep(
            "wait",
            f"CustomResourceDefinition {crd} is established",
            (*access.kubectl, "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s"),
            timeout_s=90,
        )
        for crd in crds
    ]


def _apply_step(access: ClusterAccess, manifest: RenderedManifest) -> KubeStep:
    has_custom = any(custom_resource(document) for document in manifest.documents)
    return KubeStep(
        "apply",
        f"{manifest.label}: {', '.join(manifest.objects)}",
        (*access.kubectl, "apply", "--validate=strict", "--namespace", access.namespace, "-f", str(manifest.path)),
        retry_s=CUSTOM_RESOURCE_APPLY_RETRY_S if has_custom else 0.0,
        when="retried for up to 60s while the operator's webhook starts" if has_custom else "",
    )


def _rollout_steps(access: ClusterAccess, rollout: str, settings: KubeSettings, created_by_us: bool) -> list[KubeStep]:
    timeout = int(settings.rollout_timeout_s)
    ns = ("--namespace", access.namespace)
    steps = []
    if not created_by_us:
        # Made by a chart or by the operator from a custom resource: it may not exist yet.
        steps.append(
            KubeStep(
                "wait",
                f"{rollout} exists (made by a chart or the operator)",
                (*access.kubectl, "wait", *ns, "--for=create", rollout, f"--timeout={timeout}s"),
                timeout_s=settings.rollout_timeout_s + 30,
            )
        )
    steps.append(
        KubeStep(
            "wait",
            f"rollout of {rollout}",
            (*access.kubectl, "rollout", "status", *ns, rollout, f"--timeout={timeout}s"),
            timeout_s=settings.rollout_timeout_s + 30,
        )
    )
    return steps
