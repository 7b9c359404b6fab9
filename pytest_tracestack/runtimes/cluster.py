"""The cluster runtime: an existing cluster from the user's kubeconfig and context, in a namespace it
creates; it never creates or deletes clusters and never touches what it did not create."""

from __future__ import annotations

from pathlib import Path

from ..kube.runtime import KubeRuntime, KubeStack


class ClusterRuntime(KubeRuntime):
    name = "cluster"

    def connection(self, workdir: Path) -> list[str]:
        args = []
        if self.settings.kubeconfig:
            args.append(f"--kubeconfig={self.settings.kubeconfig}")
        if self.settings.context:
            args.append(f"--context={self.settings.context}")
        return args

    def keep_lines(self, stack: KubeStack) -> list[str]:
        flags = " ".join(self.connection(Path(".")))
        return [f"  reach it: kubectl {flags + ' ' if flags else ''}--namespace {stack.namespace} get all"]
