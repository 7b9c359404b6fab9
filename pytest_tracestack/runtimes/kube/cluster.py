"""The cluster runtime: an existing cluster from the user's kubeconfig and context, in a namespace it
creates; it never creates or deletes clusters and never touches what it did not create."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_tracestack.errors import UnavailableError, first_line
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.engine import KubeRuntime, KubeStack
from pytest_tracestack.runtimes.kube.install import ClusterAccess
from pytest_tracestack.runtimes.kube.preparation import Prepared
from pytest_tracestack.runtimes.kube.server_dry_run import server_dry_run, server_reachable


class ClusterRuntime(KubeRuntime):
    name = "cluster"

    def connection(self, workdir: Path) -> list[str]:
        args = []
        if self.settings.kubeconfig:
            args.append(f"--kubeconfig={self.settings.kubeconfig}")
        if self.settings.context:
            args.append(f"--context={self.settings.context}")
        return args

    def plan_tools(self, profile: Profile) -> list[str]:
        # Without --tracestack-k8s-version the plan asks the server for its version.
        return [*super().plan_tools(profile), *([] if self.settings.k8s_version else ["kubectl"])]

    def cluster_k8s_version(self, access: ClusterAccess) -> tuple[str, str]:
        """The server's version, as `kubectl version` reports it (v1.30.4-gke.1 -> 1.30.4)."""
        done = self._run((*access.kubectl, "version", "-o", "json"), 30)
        try:
            server = json.loads(done.stdout)["serverVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            raise UnavailableError(
                f"the cluster runtime cannot reach the cluster to learn its Kubernetes version: "
                f"{done.last_line() or 'kubectl printed no serverVersion'}\n{done.describe()}\n"
                "(reach the cluster, or pass its version with --tracestack-k8s-version)"
            ) from None
        return server.removeprefix("v").split("-")[0].split("+")[0], "the server (kubectl version)"

    def server_checks(self, access: ClusterAccess, prepared: Prepared, workdir: Path) -> list[str]:
        """Every raw object dry-run by the API server, when it can be reached (with --tracestack-k8s-version the
        plan may be printed away from the cluster: then it says it was not)."""
        if self.settings.k8s_version:
            try:
                self._find_tools(["kubectl"], allow_download=False)
            except UnavailableError as error:
                return [f"not checked by the API server (server-side dry run): {first_line(error)}"]
            reachable, said = server_reachable(self._run, access.kubectl)
            if not reachable:
                return [f"not checked by the API server (server-side dry run): it cannot be reached: {said}"]
        return server_dry_run(self._run, access.kubectl, access.namespace, prepared.manifests, workdir)

    def keep_lines(self, stack: KubeStack) -> list[str]:
        flags = " ".join(self.connection(Path(".")))
        return [f"  reach it: kubectl {flags + ' ' if flags else ''}--namespace {stack.namespace} get all"]
