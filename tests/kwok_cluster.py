"""A real Kubernetes control plane for the cluster runtime's tests: kube-apiserver, kube-controller-manager,
kube-scheduler and etcd run as local processes under kwokctl's binary runtime, and kwok simulates one node and
the pods on it (it marks them Running and Ready; no container runs). The binaries are the ones
`tracestack install kube-control-plane` builds into tracestack's cache (.ci/run does it).

Everything lives in a temp dir of its own (KWOK_WORKDIR, the kubeconfig), every port is chosen free by kwokctl,
and `delete` leaves no process whose command line points into that dir.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from pytest_tracestack.binaries.control_plane import KUBERNETES_VERSION, ControlPlaneBinaries, find_control_plane
from pytest_tracestack.errors import BinaryNotFoundError

CREATE_TIMEOUT_S = 180
# A pod that only shows when kwok serves a new ClusterPortForward (serving_pods)
PROBE_NAMESPACE, PROBE_POD = "kwok-probe", "probe"
# What a test hands to the pytest run it starts in-process (pytester.runpytest), e.g. a capture sink.
SHARED: dict[str, Any] = {}
# A node's lease, short (kwokctl multiplies it by its --heartbeat-factor, 5): a cluster started again otherwise
# leaves pods Pending for minutes until the old lease runs out.
NODE_LEASE_S = 10


@dataclass(frozen=True)
class KwokCluster:
    name: str
    workdir: Path  # KWOK_WORKDIR: every file of the cluster, and nothing else, is below it
    kubeconfig: Path
    binaries: ControlPlaneBinaries

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KWOK_WORKDIR": str(self.workdir),
            "KWOK_KUBE_VERSION": KUBERNETES_VERSION,
            "KWOK_KUBECTL_BINARY": str(self.binaries.kubectl),
        }

    def kwokctl(self, *args: str, timeout: float = CREATE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binaries.kwokctl), "--name", self.name, *args],
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            text=True,
            capture_output=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    @contextlib.contextmanager
    def serving_pods(self, namespace: str, targets: dict[int, str] | None = None) -> Iterator[None]:
        """kwok's ClusterPortForward: a port-forward to a pod of ``namespace`` reaches these local addresses (pod
        port -> host:port), or, without ``targets``, a local server that accepts every connection and closes it
        (kubectl port-forward exits after a connection the pod refuses, and tracestack's first connection checks
        that it listens). Returns once kwok serves it (it learns of it a moment after the API server has it)."""
        with contextlib.ExitStack() as stack:
            accepting = {"address": "127.0.0.1", "port": stack.enter_context(_accepting_server())}
            forwards = (
                [{"target": accepting}]
                if targets is None
                else [
                    {
                        "ports": [port],
                        "target": {"address": hostport.rsplit(":", 1)[0], "port": int(hostport.rsplit(":", 1)[1])},
                    }
                    for port, hostport in targets.items()
                ]
            )
            # kwok's watch delivers resources in the order they are made: once it serves the probe's, made after,
            # it has this one too. The probe's port is its own, so no other resource can answer for it.
            probe_port = secrets.randbelow(20000) + 20000
            probe = f"{namespace}-probe"
            try:
                self._serve(namespace, namespace, forwards)
                self._serve(probe, PROBE_NAMESPACE, [{"ports": [probe_port], "target": accepting}])
                self._wait_served(probe_port)
                yield
            finally:
                self.kubectl("delete", "clusterportforward", namespace, probe, "--ignore-not-found")

    def _serve(self, name: str, namespace: str, forwards: list[dict[str, Any]]) -> None:
        document = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterPortForward",
            "metadata": {"name": name},
            "spec": {"selector": {"matchNamespaces": [namespace]}, "forwards": forwards},
        }
        _check(self.kubectl("apply", "-f", "-", input=yaml.safe_dump(document)), "kubectl apply ClusterPortForward")

    def _wait_served(self, port: int, deadline_s: float = 30.0) -> None:
        """Until a port-forward to the probe pod's ``port`` survives a connection (kwok refusing it ends it)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                local = sock.getsockname()[1]
            forward = subprocess.Popen(
                [
                    str(self.binaries.kubectl),
                    f"--kubeconfig={self.kubeconfig}",
                    "port-forward",
                    "--namespace",
                    PROBE_NAMESPACE,
                    f"pod/{PROBE_POD}",
                    f"{local}:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                if _connected(local, forward) and _still_running(forward, 0.5):
                    return
            finally:
                forward.terminate()
                forward.wait(10)
        raise RuntimeError(
            f"kwok did not serve the port-forward to {PROBE_NAMESPACE}/{PROBE_POD}:{port} within {deadline_s:.0f}s"
        )

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
        "create",
        "cluster",
        "--runtime",
        "binary",
        f"--kubeconfig={cluster.kubeconfig}",
        f"--kube-apiserver-binary={binaries.kube_apiserver}",
        f"--kube-controller-manager-binary={binaries.kube_controller_manager}",
        f"--kube-scheduler-binary={binaries.kube_scheduler}",
        f"--kwok-controller-binary={binaries.kwok}",
        f"--etcd-binary={binaries.etcd}",
        f"--node-lease-duration-seconds={NODE_LEASE_S}",
        "--enable-crds=ClusterPortForward",
        "--wait=120s",
    )
    try:
        _check(done, "kwokctl create cluster")
        _check(cluster.kwokctl("scale", "node", "--replicas=1"), "kwokctl scale node")
        _check(
            cluster.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=60s", timeout=90),
            "kubectl wait for the node",
        )
        _check(cluster.kubectl("create", "namespace", PROBE_NAMESPACE), "kubectl create namespace")
        # A pod is refused until the controller manager has made the namespace's service account.
        _check(
            cluster.kubectl(
                "wait",
                "--for=create",
                "--namespace",
                PROBE_NAMESPACE,
                "serviceaccount/default",
                "--timeout=60s",
                timeout=90,
            ),
            "kubectl wait for the service account",
        )
        _check(
            cluster.kubectl("run", PROBE_POD, "--namespace", PROBE_NAMESPACE, "--image=kwok.invalid/probe:0"),
            "kubectl run the probe pod",
        )
        _check(
            cluster.kubectl(
                "wait",
                "--for=condition=Ready",
                "--namespace",
                PROBE_NAMESPACE,
                f"pod/{PROBE_POD}",
                "--timeout=60s",
                timeout=90,
            ),
            "kubectl wait for the probe pod",
        )
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


def _connected(port: int, forward: subprocess.Popen[bytes], deadline_s: float = 10.0) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and forward.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _still_running(process: subprocess.Popen[bytes], for_s: float) -> bool:
    try:
        process.wait(for_s)
    except subprocess.TimeoutExpired:
        return True
    return False


@contextlib.contextmanager
def _accepting_server() -> Iterator[int]:
    """A local TCP server that accepts every connection and closes it; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stopped.set()
        thread.join()
        server.close()


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{(done.stderr or done.stdout)[-3000:]}")
