"""The cluster runtime (an existing cluster from the user's kubeconfig) driven through the recording command
layer: the user's context on every command, a namespace of its own, and nothing touched it did not create."""

from __future__ import annotations



import pytest

from pytest_tracestack.errors import UnavailableError
from pytest_tracestack.kube.settings import KubeSettings
from pytest_tracestack.profiles import load_profile
from pytest_tracestack.runtimes.kind import KubeStepFailed, make_kube_runtime
from recording_runner import RecordingRunner, runs_under_tmp_path, with_workdir_placeholder  # noqa: F401

TOOLS = {"kubectl": "/opt/bin/kubectl", "helm": "/opt/bin/helm"}
KUBECTL = "/opt/bin/kubectl --kubeconfig=/home/me/.kube/config --context=staging"
HELM = ("/opt/bin/helm --kubeconfig=/home/me/.kube/config --kube-context=staging "
        "--repository-config=$WORKDIR/helm/repositories.yaml --repository-cache=$WORKDIR/helm/cache")


def _runtime(runner: RecordingRunner, **settings):
    settings.setdefault("namespace", "tracestack-t2")
    settings.setdefault("kubeconfig", "/home/me/.kube/config")
    settings.setdefault("context", "staging")
    settings.setdefault("retry_interval_s", 0.0)
    return make_kube_runtime("cluster", KubeSettings(rollout_timeout_s=120, **settings), runner, dict(TOOLS))


def test_every_command_uses_the_users_kubeconfig_and_context_and_no_cluster_is_made() -> None:
    runner = RecordingRunner()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("distributed"))
    runtime.stop(stack)
    lines = with_workdir_placeholder(runner.lines())
    assert lines[:4] == [
        "/opt/bin/kubectl version --client -o json",
        f"{KUBECTL} get namespace tracestack-t2 --ignore-not-found -o name",
        f"{KUBECTL} create namespace tracestack-t2",
        f"{KUBECTL} label namespace tracestack-t2 app.kubernetes.io/managed-by=pytest-tracestack",
    ]
    assert all(line.startswith(KUBECTL) for line in lines[1:] if line.startswith("/opt/bin/kubectl"))
    assert all(line.startswith(HELM) for line in lines if line.startswith("/opt/bin/helm"))
    assert not any("kind" in line.split()[0] for line in lines)
    assert lines[-2:] == [f"{HELM} uninstall tempo --namespace tracestack-t2 --wait --timeout 300s",
                          f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found"]


def test_without_kubeconfig_or_context_kubectl_uses_its_own_defaults() -> None:
    runner = RecordingRunner()
    runtime = _runtime(runner, kubeconfig=None, context=None)
    runtime.stop(runtime.start(load_profile("manifest")))
    assert "/opt/bin/kubectl create namespace tracestack-t2" in runner.lines()


def test_an_existing_namespace_is_refused_and_left_untouched() -> None:
    runner = RecordingRunner().on("get namespace tracestack-t2", stdout="namespace/tracestack-t2")
    with pytest.raises(UnavailableError, match="namespace tracestack-t2 already exists; tracestack works only in a "
                                               "namespace it creates"):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.lines()[-1] == f"{KUBECTL} get namespace tracestack-t2 --ignore-not-found -o name"


def test_an_unreachable_cluster_is_reported_as_unavailable_and_nothing_follows() -> None:
    refused = "The connection to the server staging.example:6443 was refused - did you specify the right host or port?"
    runner = RecordingRunner().on("get namespace", returncode=1, stderr=refused)
    with pytest.raises(UnavailableError, match=r"the cluster runtime cannot reach the cluster:(.|\n)*was refused"):
        _runtime(runner).start(load_profile("manifest"))
    assert len(runner.commands) == 2


def test_a_failure_half_way_removes_only_what_this_run_created() -> None:
    runner = RecordingRunner().on("upgrade --install tempo", returncode=1, stderr="Error: context deadline exceeded")
    with pytest.raises(KubeStepFailed, match="context deadline exceeded"):
        _runtime(runner).start(load_profile("distributed"))
    lines = with_workdir_placeholder(runner.lines())
    assert lines[-2:] == [f"{HELM} uninstall tempo --namespace tracestack-t2 --wait --timeout 300s",
                          f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found"]
    deletes = [line for line in lines if " delete " in line or " uninstall " in line]
    assert len(deletes) == 2


def test_ctrl_c_while_waiting_for_a_rollout_removes_the_namespace() -> None:
    runner = RecordingRunner().on("rollout status", raises=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        _runtime(runner).start(load_profile("nginx-otel"))
    assert runner.lines()[-1] == f"{KUBECTL} delete namespace tracestack-t2 --wait=true --timeout=300s --ignore-not-found"


def test_an_operator_installed_by_someone_else_is_not_touched() -> None:
    runner = RecordingRunner().on("get crd opentelemetrycollectors.opentelemetry.io",
                                  stdout="customresourcedefinition.apiextensions.k8s.io/opentelemetrycollectors.opentelemetry.io")
    with pytest.raises(UnavailableError, match="already has the OpenTelemetry Operator's CRDs"):
        _runtime(runner).start(load_profile("operator"))
    assert not any(" create " in line or " delete " in line or "helm" in line for line in runner.lines())


def test_keep_says_how_to_reach_and_remove_what_was_left() -> None:
    runner = RecordingRunner()
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
    result = pytester.runpytest("--tracestack-profile=distributed", "--tracestack-runtime=cluster", "--tracestack-plan",
                                "--tracestack-namespace=demo", "--tracestack-kube-context=staging")
    result.stdout.fnmatch_lines([
        "*. remove   helm release tempo (its cluster-wide objects too)",
        "*$ helm --kube-context=staging * uninstall tempo --namespace demo --wait --timeout 300s",
        "*. remove   namespace demo and everything in it",
        "*$ kubectl --context=staging delete namespace demo --wait=true --timeout=300s --ignore-not-found",
    ])
