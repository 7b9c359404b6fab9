"""The kind runtime: a kind cluster created (or reused by name), pre-pulled images loaded into it, the
profile installed into a namespace of its own; the cluster is deleted at the end only if this run created it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from pytest_tracestack.binaries.container_engine import require_container_engine
from pytest_tracestack.errors import UnavailableError
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.cluster import ClusterRuntime
from pytest_tracestack.runtimes.kube.commands import CommandRunner
from pytest_tracestack.runtimes.kube.engine import KubeCleanupIncomplete, KubeRuntime, KubeStack, KubeStepFailed
from pytest_tracestack.runtimes.kube.images import ImagesUnknown
from pytest_tracestack.runtimes.kube.install import ClusterAccess, KubeStep
from pytest_tracestack.runtimes.kube.preparation import Prepared
from pytest_tracestack.runtimes.kube.settings import KIND_VERSION, PROFILE_IMAGES, KubeSettings
from pytest_tracestack.versions import KUBERNETES

__all__ = ["KindRuntime", "KubeCleanupIncomplete", "KubeStepFailed", "make_kube_runtime"]


class KindRuntime(KubeRuntime):
    name = "kind"

    def connection(self, workdir: Path) -> list[str]:
        # The run's own kubeconfig: the user's ~/.kube/config is never changed.
        return [f"--kubeconfig={workdir / 'kubeconfig'}"]

    def tools_needed(self, profile: Profile) -> list[str]:
        return ["kind", *super().tools_needed(profile)]

    def preflight(self) -> None:
        require_container_engine()

    def cluster_k8s_version(self, access: ClusterAccess) -> tuple[str, str]:
        """The version in the node image's tag (kindest/node:vX.Y.Z[@sha256:...])."""
        image = self.settings.node_image
        match = re.search(r":v?(\d+\.\d+\.\d+)(?:@|$)", image)
        if match is None:
            raise UnavailableError(
                f"node image {image}: its tag names no Kubernetes version (like {KUBERNETES.tag}); "
                "pass the version it runs with --tracestack-k8s-version"
            )
        return match.group(1), f"the node image {image}"

    def setup_steps(self, profile: Profile, access: ClusterAccess, workdir: Path, prepared: Prepared) -> list[KubeStep]:
        name = self.settings.cluster_name
        kubeconfig = str(workdir / "kubeconfig")
        steps = [
            KubeStep(
                "check", "which kind clusters exist", ("kind", "get", "clusters"), timeout_s=60, role="kind-clusters"
            ),
            KubeStep(
                "run",
                f"kind cluster {name}, node image {self.settings.node_image} (kind {KIND_VERSION})",
                (
                    "kind",
                    "create",
                    "cluster",
                    "--name",
                    name,
                    "--image",
                    self.settings.node_image,
                    "--kubeconfig",
                    kubeconfig,
                    "--wait",
                    "120s",
                ),
                timeout_s=600,
                role="kind-create",
                when=f"skipped when cluster {name} exists: it is reused, and never deleted",
            ),
            KubeStep(
                "run",
                f"kubeconfig of cluster {name}, for this run only",
                ("kind", "export", "kubeconfig", "--name", name, "--kubeconfig", kubeconfig),
                timeout_s=60,
            ),
        ]
        steps += [
            KubeStep(
                "run",
                f"load pre-pulled image {image} into the nodes",
                ("kind", "load", "docker-image", image, "--name", name),
                timeout_s=600,
            )
            for image in self._images(prepared)
        ]
        return steps

    def _images(self, prepared: Prepared) -> list[str]:
        images: list[str] = []
        for image in self.settings.images_to_load:
            listed = self._profile_images(prepared) if image == PROFILE_IMAGES else [image]
            images += [item for item in listed if item not in images]
        return images

    @staticmethod
    def _profile_images(prepared: Prepared) -> list[str]:
        if prepared.images.unknown:
            raise ImagesUnknown(
                "--tracestack-load-images=profile cannot pre-load every image the install uses:\n"
                + "\n".join(f"  - {reason}" for reason in prepared.images.unknown)
            )
        return prepared.images.images

    def skip(self, step: KubeStep, stack: KubeStack) -> bool:
        if step.role != "kind-create":
            return False
        if self.settings.cluster_name in stack.existing_clusters:
            return True
        stack.created_cluster = True  # from here on, a failure deletes the (partial) cluster
        return False

    def removal_steps(self, access: ClusterAccess, releases: list[str]) -> list[KubeStep]:
        name = self.settings.cluster_name
        reused = [
            replace(step, when=f"when cluster {name} was reused") for step in super().removal_steps(access, releases)
        ]
        return [*reused, replace(self._cluster_removal(), when="when this run created it; what is in it goes with it")]

    def _cluster_removal(self) -> KubeStep:
        name = self.settings.cluster_name
        return KubeStep("remove", f"kind cluster {name}", ("kind", "delete", "cluster", "--name", name), timeout_s=300)

    def remove_cluster(self, stack: KubeStack) -> list[str]:
        step = self._cluster_removal()
        done = self._run(step.argv, step.timeout_s)
        return [] if done.ok else [f"{step.description}: {' '.join(step.argv)}\n{done.describe()}"]

    def keep_lines(self, stack: KubeStack) -> list[str]:
        name = self.settings.cluster_name
        lines = [f"  reach it: kind export kubeconfig --name {name}  (then kubectl --namespace {stack.namespace} ...)"]
        if stack.created_cluster:
            lines.append(
                f"  this run created kind cluster {name}; remove it (and everything in it): "
                f"kind delete cluster --name {name}"
            )
        return lines


def make_kube_runtime(
    kind: str, settings: KubeSettings, runner: CommandRunner | None = None, tools: dict[str, str] | None = None
) -> KubeRuntime:
    """The ``kind`` or ``cluster`` runtime. ``runner`` replaces the command layer (tests record with it);
    ``tools`` maps kind/kubectl/helm to paths (found on first start when omitted)."""
    runtimes: dict[str, type[KubeRuntime]] = {"kind": KindRuntime, "cluster": ClusterRuntime}
    if kind not in runtimes:
        raise ValueError(f"no Kubernetes runtime {kind!r}; choose kind or cluster")
    return runtimes[kind](settings, runner, tools)
