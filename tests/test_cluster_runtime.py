"""The cluster runtime (an existing cluster from the user's kubeconfig) driven through the recording command
layer: the user's context on every command, a namespace of its own, and nothing touched it did not create."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tracestack.errors import UnavailableError
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.kube.kind import KubeStepFailed, make_kube_runtime
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from recording_runner import RecordingRunner, runs_under_tmp_path, with_workdir_placeholder  # noqa: F401

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
TOOLS = {"kubectl": "/opt/bin/kubectl", "helm": "/opt/bin/helm"}
KUBECTL = "/opt/bin/kubectl --kubeconfig=/home/me/.kube/config --context=staging"
# What `kubectl version -o json` prints for a GKE cluster's server (fields kubectl reads).
SERVER = json.dumps(
    {
        "clientVersion": {"major": "1", "minor": "32", "gitVersion": "v1.32.4"},
        "serverVersion": {"major": "1", "minor": "33+", "gitVersion": "v1.33.5-gke.1201000"},
    }
)
HELM_OFFLINE = (
    "/opt/bin/helm --repository-config=$WORKDIR/helm/repositories.yaml --repository-cache=$WORKDIR/helm/cache"
)
HELM = (
    "/opt/bin/helm --kubeconfig=/home/me/.kube/config --kube-context=staging "
    "--repository-config=$WORKDIR/helm/repositories.yaml --repository-cache=$WORKDIR/helm/cache"
)


def _cluster() -> RecordingRunner:
    return RecordingRunner().on("version -o json", stdout=SERVER)


def _runtime(runner: RecordingRunner, **settings):
    settings.setdefault("namespace", "tracestack-t2")
    settings.setdefault("kubeconfig", "/home/me/.kube/config")
    settings.setdefault("context", "staging")
    settings.setdefault("retry_interval_s", 0.0)
    return make_kube_runtime("cluster", KubeSettings(rollout_timeout_s=120, **settings), runner, dict(TOOLS))


def test_every_command_uses_the_users_kubeconfig_and_context_and_no_cluster_is_made() -> None:
    runner = _cluster()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("distributed"))
    runtime.stop(stack)
    lines = with_workdir_placeholder(runner.lines())
    assert lines[:5] == [
        # The server's version decides the schema everything is validated against, and helm's --kube-version.
        f"{KUBECTL} version -o json",
        f"{HELM_OFFLINE} template tempo tempo-distributed --repo https://grafana-community.github.io/helm-charts "
        f"--version 2.26.2 -f {MANIFESTS}/distributed/values.yaml --namespace tracestack-t2 --kube-version 1.33.5 "
        "--skip-tests",
        f"{KUBECTL} get namespace tracestack-t2 --ignore-not-found -o name",
        f"{KUBECTL} create namespace tracestack-t2",
        f"{KUBECTL} label namespace tracestack-t2 app.kubernetes.io/managed-by=pytest-tracestack",
    ]
    assert all(line.startswith(KUBECTL) for line in lines if line.startswith("/opt/bin/kubectl"))
    # Every helm command but the offline rendering talks to the user's cluster.
    assert all(line.startswith(HELM) for line in lines if line.startswith("/opt/bin/helm") and " template " not in line)
    assert not any("kind" in line.split()[0] for line in lines)
    assert lines[-2:] == [
        f"{HELM} uninstall tempo --namespace tracestack-t2 --wait --timeout 300s",
        f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found",
    ]


def test_without_kubeconfig_or_context_kubectl_uses_its_own_defaults() -> None:
    runner = _cluster()
    runtime = _runtime(runner, kubeconfig=None, context=None)
    runtime.stop(runtime.start(load_profile("manifest")))
    assert "/opt/bin/kubectl create namespace tracestack-t2" in runner.lines()


def test_an_existing_namespace_is_refused_and_left_untouched() -> None:
    runner = _cluster().on("get namespace tracestack-t2", stdout="namespace/tracestack-t2")
    with pytest.raises(
        UnavailableError,
        match="namespace tracestack-t2 already exists; tracestack works only in a namespace it creates",
    ):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.lines()[-1] == f"{KUBECTL} get namespace tracestack-t2 --ignore-not-found -o name"


def test_an_unreachable_cluster_is_reported_as_unavailable_and_nothing_follows() -> None:
    refused = "The connection to the server staging.example:6443 was refused - did you specify the right host or port?"
    client_only = json.dumps({"clientVersion": json.loads(SERVER)["clientVersion"]})
    runner = RecordingRunner().on("version -o json", returncode=1, stdout=client_only, stderr=refused)
    with pytest.raises(
        UnavailableError,
        match=r"the cluster runtime cannot reach the cluster to learn its Kubernetes "
        r"version: The connection to the server (.|\n)*was refused",
    ):
        _runtime(runner).start(load_profile("manifest"))
    assert len(runner.commands) == 1
    # With the version given, the first command that needs the cluster says the same.
    runner = RecordingRunner().on("get namespace", returncode=1, stderr=refused)
    with pytest.raises(UnavailableError, match=r"the cluster runtime cannot reach the cluster:(.|\n)*was refused"):
        _runtime(runner, k8s_version="1.33.0").start(load_profile("manifest"))
    assert len(runner.commands) == 1


def test_a_failure_half_way_removes_only_what_this_run_created() -> None:
    runner = _cluster().on("upgrade --install tempo", returncode=1, stderr="Error: context deadline exceeded")
    with pytest.raises(KubeStepFailed, match="context deadline exceeded"):
        _runtime(runner).start(load_profile("distributed"))
    lines = with_workdir_placeholder(runner.lines())
    assert lines[-2:] == [
        f"{HELM} uninstall tempo --namespace tracestack-t2 --wait --timeout 300s",
        f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found",
    ]
    deletes = [line for line in lines if " delete " in line or " uninstall " in line]
    assert len(deletes) == 2


def test_ctrl_c_while_waiting_for_a_rollout_removes_the_namespace() -> None:
    runner = _cluster().on("rollout status", raises=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        _runtime(runner).start(load_profile("nginx-otel"))
    assert runner.lines()[-1] == (
        f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found"
    )


def test_an_operator_installed_by_someone_else_is_not_touched() -> None:
    crd = "customresourcedefinition.apiextensions.k8s.io/opentelemetrycollectors.opentelemetry.io"
    runner = _cluster().on("get crd opentelemetrycollectors.opentelemetry.io", stdout=crd)
    with pytest.raises(UnavailableError, match="already has the OpenTelemetry Operator's CRDs"):
        _runtime(runner).start(load_profile("operator"))
    assert not any(
        " create " in line or " delete " in line or ("helm" in line and " template " not in line)
        for line in runner.lines()
    )


def test_keep_says_how_to_reach_and_remove_what_was_left() -> None:
    runner = _cluster()
    runtime = _runtime(runner, keep=True)
    stack = runtime.start(load_profile("distributed"))
    count = len(runner.commands)
    runtime.stop(stack)
    assert len(runner.commands) == count
    text = runtime.describe_keep(stack)
    assert "kubectl --kubeconfig=/home/me/.kube/config --context=staging --namespace tracestack-t2 get all" in text
    assert "helm uninstall tempo --namespace tracestack-t2" in text
    assert "kubectl delete namespace tracestack-t2" in text


def test_the_printed_plan_ends_with_the_namespace_removal(pytester: pytest.Pytester) -> None:
    # manifest: no chart to render, so no helm is needed to print it (helm releases' removal: test_kind_runtime)
    result = pytester.runpytest(
        "--tracestack-profile=manifest",
        "--tracestack-runtime=cluster",
        "--tracestack-plan",
        "--tracestack-namespace=demo",
        "--tracestack-kube-context=staging",
        "--tracestack-k8s-version=1.35.0",
    )
    result.stdout.fnmatch_lines(
        [
            "*. remove   namespace demo and everything in it",
            "*$ kubectl --context=staging delete namespace demo --wait=true --timeout=300s --ignore-not-found",
        ]
    )
