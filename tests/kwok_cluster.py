"""A real Kubernetes control plane for the cluster runtime's tests: kube-apiserver, kube-controller-manager,
kube-scheduler and etcd run as local processes under kwokctl's binary runtime, and kwok simulates one node and
the pods on it (it marks them Running and Ready; no container runs). The binaries are the ones
`tracestack install kube-control-plane` builds into tracestack's cache (.ci/run does it).

Everything lives in a temp dir of its own (KWOK_WORKDIR, the kubeconfig), every port is chosen free by kwokctl,
and `delete` leaves no process whose command line points into that dir.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from pytest_tracestack.errors import BinaryNotFoundError
from pytest_tracestack.kube.control_plane import KUBERNETES_VERSION, ControlPlaneBinaries, find_control_plane

CREATE_TIMEOUT_S = 180
# What a test hands to the pytest run it starts in-process (pytester.runpytest), e.g. a capture sink.
SHARED: dict[str, Any] = {}
# A node's lease: short, so a node kwok just took over is Ready at once (the default leaves pods Pending for minutes).
NODE_LEASE_S = 10


@dataclass(frozen=True)
class KwokCluster:
    name: str
    workdir: Path            # KWOK_WORKDIR: every file of the cluster, and nothing else, is below it
    kubeconfig: Path
    binaries: ControlPlaneBinaries

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KWOK_WORKDIR": str(self.workdir), "KWOK_KUBE_VERSION": KUBERNETES_VERSION,
                "KWOK_KUBECTL_BINARY": str(self.binaries.kubectl)}

    def kwokctl(self, *args: str, timeout: float = CREATE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binaries.kwokctl), "--name", self.name, *args], env=self.env, text=True,
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args], text=True,
                              capture_output=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def processes(self) -> list[psutil.Process]:
        """Live processes of this cluster: their command line points into its work dir."""
        marker = str(self.workdir)
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            if process.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(process.info["cmdline"] or []):
                found.append(process)
        return found


@pytest.fixture(scope="session")
def kwok_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KwokCluster]:
    """A real API server for the session, deleted at its end (also after a failure or Ctrl-C); the session
    fails if the cluster leaves a process behind."""
    cluster = create_cluster(control_plane_or_skip(), tmp_path_factory.mktemp("kwok"))
    yield cluster
    left = delete_cluster(cluster)
    assert not left, "the kwok cluster left processes behind (killed now):\n" + "\n".join(left)


def control_plane_or_skip() -> ControlPlaneBinaries:
    """The built binaries; a skip naming the install command when they are missing, a failure under CI."""
    try:
        return find_control_plane()
    except BinaryNotFoundError as error:
        message = f"needs a Kubernetes control plane: {error.remedy}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: .ci/run builds it, so its absence is a failure, not a skip)")
        pytest.skip(message)


def create_cluster(binaries: ControlPlaneBinaries, workdir: Path) -> KwokCluster:
    cluster = KwokCluster(f"tracestack-{secrets.token_hex(3)}", workdir, workdir / "kubeconfig", binaries)
    done = cluster.kwokctl(
        "create", "cluster", "--runtime", "binary", f"--kubeconfig={cluster.kubeconfig}",
        f"--kube-apiserver-binary={binaries.kube_apiserver}",
        f"--kube-controller-manager-binary={binaries.kube_controller_manager}",
        f"--kube-scheduler-binary={binaries.kube_scheduler}", f"--kwok-controller-binary={binaries.kwok}",
        f"--etcd-binary={binaries.etcd}", f"--node-lease-duration-seconds={NODE_LEASE_S}",
        "--enable-crds=ClusterPortForward", "--wait=120s")
    try:
        _check(done, "kwokctl create cluster")
        _check(cluster.kwokctl("scale", "node", "--replicas=1"), "kwokctl scale node")
        _check(cluster.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s", timeout=90),
               "kubectl wait for the node")
    except BaseException:
        delete_cluster(cluster)
        raise
    return cluster


def delete_cluster(cluster: KwokCluster) -> list[str]:
    """Delete the cluster; returns the processes that outlived it (killed then, so nothing is left either way)."""
    done = cluster.kwokctl("delete", "cluster", f"--kubeconfig={cluster.kubeconfig}", timeout=120)
    deadline = time.monotonic() + 10
    while cluster.processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = cluster.processes()
    for process in survivors:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left = [f"pid {p.pid}: {' '.join(p.info['cmdline'] or [])[:200]}" for p in survivors]
    if done.returncode != 0:
        left.append(f"kwokctl delete cluster exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return left


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{(done.stderr or done.stdout)[-3000:]}")
