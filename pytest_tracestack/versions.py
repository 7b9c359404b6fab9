"""Every version tracestack pins, in one table: the code reads it (downloads, the OCB build, the kind node image,
the Kubernetes schema), the plan shows what the code made of it, and the README's table of pinned versions is
generated from it (``python -m pytest_tracestack.plugin.docs``). Nothing else in the package spells these versions.

Profiles name their own chart versions and ``tempo_version`` (a user's profile may pin others); the built-in
profiles agree with this table, which tests/test_versions.py checks. A profile's chart version is the one installed.

Which version of a program found on the machine will do is one rule, ``Accepted``: from a minimum up to, not
including, the first version tracestack is not written for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def version_numbers(text: str) -> tuple[int, ...]:
    """(2, 10, 8) from 'tempo, version 2.10.8 (branch: HEAD)' or 'v2.10.8'; (1, 31, 0) from '1.31'; () for none."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part or 0) for part in match.groups()) if match else ()


@dataclass(frozen=True)
class Accepted:
    """The versions of a program tracestack works with: ``minimum`` or later, and below ``below`` if given."""

    minimum: str
    below: str = ""
    why: str = ""  # said when a version is refused

    @classmethod
    def same_major(cls, version: str, why: str = "") -> Accepted:
        """Any version of ``version``'s major (2.x for 2.10.8)."""
        major = version_numbers(version)[0]
        return cls(f"{major}.0.0", f"{major + 1}.0.0", why)

    def admits(self, version: str) -> bool:
        found = version_numbers(version)
        if not found or found < version_numbers(self.minimum):
            return False
        return not self.below or found < version_numbers(self.below)

    def describe(self, name: str) -> str:
        """``helm 3.18.5 or later and below 4.0.0``."""
        return f"{name} {self.minimum} or later" + (f" and below {self.below}" if self.below else "")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str  # x.y.z as the project numbers it, without the "v" of its release tags
    what: str  # what tracestack does with this version (the README's table)
    accepted: Accepted | None = None  # other versions found on the machine that will do (None: none are checked)

    @property
    def tag(self) -> str:
        """``v3.19.0``: how the release is tagged, in its download URL and in tracestack's cache."""
        return f"v{self.version}"


KIND = Pin(
    "kind", "0.31.0", "creates the kind cluster; a kind found is used whatever its version, else this one is downloaded"
)
KUBERNETES_SEEDS = Accepted("1.29")  # the seeds ask for 1.29 or later; the newest is kubernetes-validate's newest
KUBERNETES = Pin(
    "Kubernetes",
    "1.35.0",
    "the kind node image's (kindest/node tagged with this version, the one the "
    "pinned kind is released with), so the schema the manifests are validated against on kind unless "
    "--tracestack-k8s-version names another, up to the newest kubernetes-validate has",
    KUBERNETES_SEEDS,
)
KIND_NODE_IMAGE = f"kindest/node:{KUBERNETES.tag}"
KUBE_CONTROL_PLANE = Pin(
    "Kubernetes control plane",
    "1.35.4",
    "kube-apiserver, kube-controller-manager, kube-scheduler and kubectl built from the "
    "k8s.io/kubernetes module by `tracestack install kube-control-plane`: the API server the "
    "cluster runtime's tests run against (a kwok cluster)",
)
ETCD = Pin(
    "etcd",
    "3.6.16",
    "the kwok cluster's etcd, built from go.etcd.io/etcd/server/v3 by `tracestack install "
    "kube-control-plane` (Debian's etcd 3.4 is too old for Kubernetes 1.35)",
)
KWOK = Pin(
    "kwok",
    "0.8.0",
    "kwok and kwokctl, built from sigs.k8s.io/kwok by `tracestack install kube-control-plane`: "
    "the kwok cluster of the cluster runtime's tests (simulated node and pods)",
)
KUBECTL = Pin(
    "kubectl",
    KUBE_CONTROL_PLANE.version,
    "runs the install on kind and cluster: the one `tracestack "
    "install kube-control-plane` builds (used before one on PATH), else an accepted one, else downloaded",
    Accepted(
        "1.34.0",
        "1.37.0",
        why="kubectl is supported within one minor version of the API server, and "
        "tracestack pins and is tested with Kubernetes 1.35",
    ),
)
HELM = Pin(
    "helm",
    "3.19.0",
    "renders and installs the charts; downloaded when no accepted one is found",
    Accepted(
        "3.18.5",
        "4.0.0",
        why="from 3.18.5 on, helm checks a chart's values schema against its metaschema as the pinned one "
        "does, so an older one would accept a chart the pinned one refuses; tracestack's helm commands "
        "are written for helm 3",
    ),
)
TEMPO = Pin(
    "tempo",
    "2.10.8",
    "the Tempo the built-in profiles are written for (their tempo_version), downloaded for "
    "the local runtime; a Tempo found is used when its major version is the profile's tempo_version's",
)
OTELCOL = Pin(
    "otelcol",
    "0.129.0",
    "the OpenTelemetry Collector, built with OCB of this version from the modules in "
    "pytest_tracestack/binaries/otelcol-builder.yaml, or otelcol-contrib downloaded; a collector found is used "
    "whatever its version",
)
OTELCOL_STABLE = Pin(
    "otelcol stable modules",
    "1.35.0",
    "the collector's stable core modules (the confmap providers) released with it, in the OCB build",
)
NGINX = Pin(
    "nginx",
    "1.27",
    "the nginx the nginx-otel profile is written for (on kind and cluster, an nginx:...-otel "
    "image of this version, which carries the otel module); an nginx found is used whatever its version",
)
VERSITYGW = Pin(
    "versitygw",
    "1.8.0",
    "the S3 server of the S3 profiles: built from its Go module (go install) for the "
    "local runtime, its image on kind and cluster; a versitygw found is used whatever its version",
)
PROMETHEUS = Pin(
    "prometheus",
    "2.42.0",
    "the Prometheus the metrics-generator profile remote-writes to on the local runtime (Debian bookworm's package); "
    "a Prometheus found is used whatever its version, 2.33 or later has the remote-write receiver",
)
CHARTS = {
    "tempo-distributed": Pin("tempo-distributed chart", "2.26.2", "the chart the distributed profile installs"),
    "opentelemetry-operator": Pin(
        "opentelemetry-operator chart",
        "0.92.5",
        "the chart the operator profile installs (operator 0.129.1): the first whose values "
        "schema the pinned helm accepts",
    ),
    "tempo": Pin("tempo chart", "2.2.4", "the monolithic chart the metrics-generator profile installs (Tempo 2.10.8)"),
    "kube-prometheus-stack": Pin(
        "kube-prometheus-stack chart",
        "88.5.3",
        "the Prometheus the metrics-generator profile remote-writes to on Kubernetes",
    ),
}

PINS: tuple[Pin, ...] = (
    KIND,
    KUBERNETES,
    KUBECTL,
    HELM,
    TEMPO,
    OTELCOL,
    OTELCOL_STABLE,
    NGINX,
    VERSITYGW,
    PROMETHEUS,
    KUBE_CONTROL_PLANE,
    ETCD,
    KWOK,
    *CHARTS.values(),
)
