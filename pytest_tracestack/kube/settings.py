"""Settings of the kind and cluster runtimes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

KIND_VERSION = "v0.31.0"
KIND_NODE_IMAGE = "kindest/node:v1.35.0"
MANAGED_BY = "app.kubernetes.io/managed-by=pytest-tracestack"


@dataclass(frozen=True)
class KubeSettings:
    cluster_name: str = "tracestack"
    node_image: str = KIND_NODE_IMAGE
    keep: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = field(default_factory=lambda: f"tracestack-{secrets.token_hex(3)}")
    images_to_load: tuple[str, ...] = ()
    k8s_version: str = "1.29.0"
    rollout_timeout_s: float = 300.0
    report_dir: Path | None = None

    @classmethod
    def from_options(cls, *, cluster_name: str | None, node_image: str | None, keep: bool, kubeconfig: str | None,
                     context: str | None, namespace: str | None, images_to_load: list[str], k8s_version: str,
                     rollout_timeout_s: float, report_dir: Path | None) -> "KubeSettings":
        defaults = cls()
        return cls(cluster_name=cluster_name or defaults.cluster_name, node_image=node_image or defaults.node_image,
                   keep=keep, kubeconfig=kubeconfig, context=context, namespace=namespace or defaults.namespace,
                   images_to_load=tuple(images_to_load), k8s_version=k8s_version or "1.29.0",
                   rollout_timeout_s=rollout_timeout_s, report_dir=report_dir)
