"""The real command layer: subprocesses with deadlines, and a real `kubectl port-forward` that cannot reach
an API server is reported with kubectl's words and leaves no process behind."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from pytest_tracestack.binaries.kube_tools import TOOLS, find_tool
from pytest_tracestack.runtimes.kube.commands import SubprocessRunner
from pytest_tracestack.runtimes.kube.install import cluster_access, port_forward_argv
from pytest_tracestack.runtimes.kube.portforward import PortForwardFailed, open_forward


@pytest.fixture
def kubectl(installed_kubectl: Path) -> str:
    """A real kubectl the finder accepts (tests/conftest.py), not any on PATH: the one here may be too old."""
    return str(installed_kubectl)


def test_a_command_that_outlives_its_deadline_is_a_failed_command() -> None:
    done = SubprocessRunner().run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert done.returncode == 124 and "timed out after 0s" in done.stderr and not done.ok


def test_a_missing_program_is_a_failed_command_naming_it() -> None:
    done = SubprocessRunner().run(["/nonexistent/kind", "get", "clusters"], timeout=5)
    assert done.returncode == 127 and "/nonexistent/kind" in done.stderr


def test_a_program_that_cannot_be_executed_is_a_failed_command_naming_it(tmp_path: Path) -> None:
    """A helm that is not executable (a copy without its mode bits) fails the command; it raises nothing."""
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\necho never\n")
    done = SubprocessRunner().run([str(helm), "template", "tempo"], timeout=5)
    assert done.returncode == 126 and str(helm) in done.stderr and not done.ok


def test_input_goes_to_the_commands_stdin() -> None:
    done = SubprocessRunner().run(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], timeout=10, input="kind: Namespace"
    )
    assert done.ok and done.stdout.strip() == "KIND: NAMESPACE"


def test_the_installed_kubectl_passes_the_finders_version_check(
    kubectl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACESTACK_KUBECTL", raising=False)
    monkeypatch.setenv("PATH", str(Path(kubectl).parent))
    found = find_tool("kubectl", allow_download=False, cache_root=tmp_path / "cache")
    # Found on PATH only because its version (read from the real kubectl) is within one minor of the pinned one.
    assert found.source == "PATH" and found.path == Path(kubectl), found.describe()
    assert TOOLS["kubectl"].unsuitable(found.version) == "" and found.version.startswith("1.")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_port_forward_to_an_unreachable_cluster_fails_with_kubectls_words_and_stops(
    kubectl: str, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: nowhere, cluster: {{server: "https://127.0.0.1:{_closed_port()}"}}}}]
users: [{{name: nobody, user: {{token: not-a-secret}}}}]
contexts: [{{name: nowhere, context: {{cluster: nowhere, user: nobody}}}}]
current-context: nowhere
""")
    target = cluster_access([f"--kubeconfig={kubeconfig}"], "tracestack-x", tmp_path)
    started = []

    def argv_for(port: int) -> list[str]:
        return [kubectl, *port_forward_argv(target, "tempo-svc", 3100, port)[1:]]

    with pytest.raises(
        PortForwardFailed,
        match=r"kubectl port-forward svc/tempo-svc:3100 exited before it listened"
        r"(.|\n)*connection refused",
    ):
        open_forward(SubprocessRunner(), argv_for, tmp_path, "svc/tempo-svc:3100", started, deadline_s=20)
    assert len(started) == 1 and not started[0].alive()
