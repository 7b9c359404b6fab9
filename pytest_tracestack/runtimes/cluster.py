"""The cluster runtime: an existing cluster from the user's kubeconfig, in a namespace of its own."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnavailableError
from .kind import KubeRuntime


class ClusterRuntime(KubeRuntime):
    name = "cluster"

    def kube_args(self, workdir: Path) -> list[str]:
        args = []
        if self.settings.kubeconfig:
            args.append(f"--kubeconfig={self.settings.kubeconfig}")
        if self.settings.context:
            args.append(f"--context={self.settings.context}")
        return args

    def preflight(self) -> None:
        self._find_tools_for_preflight()
        probe = self._run(("kubectl", *self.kube_args(Path(".")), "get", "namespace", self.settings.namespace,
                           "--ignore-not-found", "-o", "name"), 30)
        if not probe.ok:
            raise UnavailableError(f"the cluster runtime cannot reach the cluster:\n{probe.describe()}")
        if probe.stdout.strip():
            raise UnavailableError(f"namespace {self.settings.namespace} already exists; tracestack only uses a "
                                   "namespace it creates (choose another with --tracestack-namespace)")

    def _find_tools_for_preflight(self) -> None:
        if self.tools is None:
            from ..kube.tools import find_tool

            self.tools = {"kubectl": str(find_tool("kubectl")), "helm": str(find_tool("helm"))}
