"""The kind and cluster runtimes driven through a recording command layer: order, arguments, waits,
and the clean-up on failure and on Ctrl-C. (No cluster can run here; these are the exact commands.)"""

from __future__ import annotations

import re

import pytest

from pytest_tracestack.kube.settings import KubeSettings
from pytest_tracestack.profiles import load_profile
from pytest_tracestack.runtimes.kind import KubeStepFailed, make_kube_runtime
from recording_runner import RecordingRunner

TOOLS = {"kind": "kind", "kubectl": "kubectl", "helm": "helm"}


@pytest.fixture(autouse=True)
def engine_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pytest_tracestack.runtimes.kind.container_engine_answer", lambda: "docker")


def _runtime(runner: RecordingRunner, kind: str = "kind", **settings):
    settings.setdefault("namespace", "tracestack-t1")
    return make_kube_runtime(kind, KubeSettings(rollout_timeout_s=200, **settings), runner, dict(TOOLS))


def _strip(lines: list[str]) -> list[str]:
    """Commands with the run's temp dir and local ports replaced, so they can be compared."""
    return [re.sub(r"\d{4,5}:", "PORT:", re.sub(r"/tmp/tracestack-[\w-]+", "$WORKDIR", line)) for line in lines]


def test_manifest_on_a_new_kind_cluster_runs_these_commands_in_this_order() -> None:
    runner = RecordingRunner().on("kind get clusters", stdout="other\n")
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    started = _strip(runner.lines())
    assert started == [
        "kind get clusters",
        "kind create cluster --name tracestack --image kindest/node:v1.35.0 --wait 120s",
        "kind export kubeconfig --name tracestack --kubeconfig $WORKDIR/kubeconfig",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig get crd certificates.cert-manager.io",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig create namespace tracestack-t1",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig label namespace tracestack-t1 app.kubernetes.io/managed-by=pytest-tracestack",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig apply --namespace tracestack-t1 -f $WORKDIR/manifest__minio.yaml",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig apply --namespace tracestack-t1 -f $WORKDIR/manifest__tempo.yaml",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig rollout status --namespace tracestack-t1 deployment/tempo-minio --timeout=200s",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig rollout status --namespace tracestack-t1 deployment/tempo --timeout=200s",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig port-forward --namespace tracestack-t1 svc/tempo-svc PORT:4317",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig port-forward --namespace tracestack-t1 svc/tempo-svc PORT:4318",
        "kubectl --kubeconfig=$WORKDIR/kubeconfig port-forward --namespace tracestack-t1 svc/tempo-svc PORT:3100",
    ]
    tempo = stack.first("tempo")
    assert tempo.address == "127.0.0.1" and set(tempo.ports) == {"otlp-grpc", "otlp-http", "http"}
    assert stack.ingest_target("otlp-grpc") == f"127.0.0.1:{tempo.ports['otlp-grpc']}"
    assert stack.query_url() == f"http://127.0.0.1:{tempo.ports['http']}"
    runtime.stop(stack)
    assert _strip(runner.lines()[len(started):]) == [
        "kubectl --kubeconfig=$WORKDIR/kubeconfig delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found",
        "kind delete cluster --name tracestack",
    ]
    assert all(forward.stopped for forward in runner.forwards)


def test_an_existing_kind_cluster_is_reused_and_never_deleted() -> None:
    runner = RecordingRunner().on("kind get clusters", stdout="tracestack\n")
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    runtime.stop(stack)
    lines = runner.lines()
    assert not any("kind create cluster" in line for line in lines)
    assert not any("kind delete cluster" in line for line in lines)
    assert any("delete namespace tracestack-t1" in line for line in lines)


def test_distributed_installs_the_chart_with_the_values_then_waits_for_each_component() -> None:
    runner = RecordingRunner().on("kind get clusters", stdout="")
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("distributed"))
    lines = _strip(runner.lines())
    helm = [line for line in lines if line.startswith("helm")]
    assert helm == [
        "helm repo add grafana-community https://grafana-community.github.io/helm-charts --force-update",
        "helm repo update grafana-community",
        "helm --kubeconfig=$WORKDIR/kubeconfig upgrade --install tempo grafana-community/tempo-distributed "
        f"--version 2.26.2 --namespace tracestack-t1 -f {load_profile('distributed').source_file.parents[1]}"
        "/manifests/distributed/values.yaml --wait --timeout 200s",
    ]
    waits = [line.split()[-2] for line in lines if " rollout status " in line]
    assert waits == ["statefulset/tempo-ingester", "deployment/tempo-distributor", "deployment/tempo-querier",
                     "deployment/tempo-query-frontend", "deployment/tempo-compactor"]
    assert lines.index(helm[-1]) < min(i for i, l in enumerate(lines) if " rollout status " in l)
    runtime.stop(stack)
    assert "helm --kubeconfig=$WORKDIR/kubeconfig uninstall tempo --namespace tracestack-t1 --wait" in _strip(runner.lines())


def test_operator_chart_generates_its_webhook_certificate_unless_cert_manager_is_there() -> None:
    without = RecordingRunner().on("get crd certificates.cert-manager.io", returncode=1, stderr="NotFound")
    runtime = _runtime(without)
    runtime.stop(runtime.start(load_profile("operator")))
    install = next(line for line in without.lines() if "upgrade --install opentelemetry-operator" in line)
    assert "--set admissionWebhooks.certManager.enabled=false --set admissionWebhooks.autoGenerateCert.enabled=true" in install

    with_cm = RecordingRunner()
    runtime = _runtime(with_cm)
    runtime.stop(runtime.start(load_profile("operator")))
    install = next(line for line in with_cm.lines() if "upgrade --install opentelemetry-operator" in line)
    assert "--set admissionWebhooks.certManager.enabled=true" in install


def test_a_failed_rollout_dumps_events_pods_and_logs_and_cleans_up(tmp_path) -> None:
    pods = ('{"items": [{"metadata": {"name": "tempo-7d9"}, "status": {"containerStatuses": [{"ready": false}]}},'
            ' {"metadata": {"name": "tempo-minio-1"}, "status": {"containerStatuses": [{"ready": true}]}}]}')
    runner = (RecordingRunner()
              .on("kind get clusters", stdout="")
              .on("rollout status --namespace tracestack-t1 deployment/tempo ", returncode=1,
                  stderr="error: timed out waiting for the condition")
              .on("get events", stdout="Warning  BackOff  pod/tempo-7d9  Back-off restarting failed container")
              .on("get pods --namespace tracestack-t1 -o json", stdout=pods)
              .on("get pods", stdout="tempo-7d9   0/1   CrashLoopBackOff")
              .on("logs --namespace tracestack-t1 tempo-7d9", stdout="level=error msg=\"secret_key: supersecret\""))
    runtime = _runtime(runner, report_dir=tmp_path)
    with pytest.raises(KubeStepFailed) as raised:
        runtime.start(load_profile("manifest"))
    message = str(raised.value)
    assert "wait rollout of deployment/tempo failed" in message
    assert "timed out waiting for the condition" in message
    assert "Back-off restarting failed container" in message and "CrashLoopBackOff" in message
    assert "--- logs of tempo-7d9 ---" in message and "tempo-minio-1" not in message.split("--- logs")[1]
    assert "supersecret" not in message and "secret_key: ***" in message
    assert (tmp_path / "kube-diagnostics.txt").read_text().count("logs of tempo-7d9") == 1
    lines = runner.lines()
    assert lines[-2].endswith("delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found")
    assert lines[-1] == "kind delete cluster --name tracestack"
    assert not any("port-forward" in line for line in lines)


def test_ctrl_c_during_install_still_deletes_what_was_created() -> None:
    runner = (RecordingRunner().on("kind get clusters", stdout="")
              .on("apply --namespace tracestack-t1 -f", raises=KeyboardInterrupt))
    runtime = _runtime(runner)
    with pytest.raises(KeyboardInterrupt):
        runtime.start(load_profile("manifest"))
    lines = runner.lines()
    assert "delete namespace tracestack-t1" in lines[-2] and lines[-1] == "kind delete cluster --name tracestack"


def test_keep_leaves_namespace_and_cluster_and_says_how_to_remove_them() -> None:
    runner = RecordingRunner().on("kind get clusters", stdout="")
    runtime = _runtime(runner, keep=True)
    stack = runtime.start(load_profile("manifest"))
    count = len(runner.commands)
    runtime.stop(stack)
    assert len(runner.commands) == count and all(f.stopped for f in runner.forwards)
    assert "kubectl delete namespace tracestack-t1" in runtime.describe_keep(stack)


def test_pre_pulled_images_are_loaded_into_the_cluster_by_name() -> None:
    runner = RecordingRunner().on("kind get clusters", stdout="tracestack")
    runtime = _runtime(runner, images_to_load=("profile",))
    runtime.stop(runtime.start(load_profile("nginx-otel")))
    loads = [line for line in runner.lines() if line.startswith("kind load")]
    assert loads == ["kind load docker-image grafana/tempo:2.7.2 --name tracestack",
                     "kind load docker-image otel/opentelemetry-collector:0.126.0 --name tracestack",
                     "kind load docker-image nginx:1.27.4-otel --name tracestack"]


def test_kind_without_a_container_engine_is_reported_before_anything_runs(monkeypatch) -> None:
    from pytest_tracestack.errors import UnavailableError

    monkeypatch.setattr("pytest_tracestack.runtimes.kind.container_engine_answer", lambda: None)
    runner = RecordingRunner()
    with pytest.raises(UnavailableError, match=r"needs a container engine.*docker info.*podman info"):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.commands == []


def test_cluster_runtime_uses_the_users_context_and_never_touches_an_existing_namespace() -> None:
    runner = RecordingRunner()
    runtime = _runtime(runner, kind="cluster", kubeconfig="/home/me/.kube/config", context="staging")
    stack = runtime.start(load_profile("manifest"))
    runtime.stop(stack)
    lines = runner.lines()
    assert lines[0] == ("kubectl --kubeconfig=/home/me/.kube/config --context=staging get namespace tracestack-t1 "
                        "--ignore-not-found -o name")
    assert all("--context=staging" in line for line in lines if line.startswith("kubectl"))
    assert not any(line.startswith("kind") for line in lines)

    taken = RecordingRunner().on("get namespace tracestack-t1", stdout="namespace/tracestack-t1")
    from pytest_tracestack.errors import UnavailableError

    with pytest.raises(UnavailableError, match="already exists; tracestack only uses a namespace it creates"):
        _runtime(taken, kind="cluster").start(load_profile("manifest"))
    assert not any("delete" in line for line in taken.lines())
