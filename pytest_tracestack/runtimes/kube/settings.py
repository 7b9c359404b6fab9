"""Settings of the kind and cluster runtimes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tracestack.versions import KIND, KIND_NODE_IMAGE

KIND_VERSION = KIND.tag
MANAGED_BY = "app.kubernetes.io/managed-by=pytest-tracestack"
PROFILE_IMAGES = "profile"  # --tracestack-load-images=profile: every image the install uses


def random_namespace() -> str:
    return f"tracestack-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class KubeSettings:
    cluster_name: str = "tracestack"  # kind: created, or reused when it exists (then never deleted)
    node_image: str = KIND_NODE_IMAGE
    keep: bool = False  # leave namespace and cluster up, say how to remove them
    kubeconfig: str | None = None  # cluster runtime: the user's kubeconfig (default: kubectl's own)
    context: str | None = None  # cluster runtime: the context in it
    namespace: str = field(default_factory=random_namespace)
    images_to_load: tuple[str, ...] = ()  # kind: `kind load docker-image`; ("profile",) = every image it uses
    k8s_version: str | None = None  # schema version; None = the node image's (kind) or server's (cluster)
    charts: str | None = None  # the pinned charts from this directory or mirror URL, not their repos
    rollout_timeout_s: float = 300.0  # each helm --wait and each rollout wait
    report_dir: Path | None = None  # kube-diagnostics.txt goes here when an install fails
    tools_mirror: str | None = None  # base URL mirroring the official kind/kubectl/helm release paths
    allow_download: bool = True
    retry_interval_s: float = 2.0  # between attempts of a step that is retried

    @classmethod
    def from_options(
        cls,
        *,
        cluster_name: str | None,
        node_image: str | None,
        keep: bool,
        kubeconfig: str | None,
        context: str | None,
        namespace: str | None,
        images_to_load: list[str],
        k8s_version: str | None,
        rollout_timeout_s: float,
        report_dir: Path | None,
        tools_mirror: str | None = None,
        allow_download: bool = True,
        charts: str | None = None,
    ) -> KubeSettings:
        return cls(
            cluster_name=cluster_name or "tracestack",
            node_image=node_image or KIND_NODE_IMAGE,
            keep=keep,
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace or random_namespace(),
            images_to_load=tuple(images_to_load),
            k8s_version=k8s_version or None,
            rollout_timeout_s=rollout_timeout_s,
            report_dir=report_dir,
            tools_mirror=tools_mirror,
            allow_download=allow_download,
            charts=charts or None,
        )
