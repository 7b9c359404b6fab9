"""The kind runtime driven through a recording command layer (tests/recording_runner.py): the order and
arguments of every command, the waits and their deadlines, and the clean-up on failure and on Ctrl-C.
No cluster can run on this machine; these are the exact commands a real run issues."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import yaml

from pytest_tracestack.errors import ProfileError, UnavailableError
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.kube.images import ImagesUnknown
from pytest_tracestack.runtimes.kube.kind import KubeCleanupIncomplete, KubeStepFailed, make_kube_runtime
from pytest_tracestack.runtimes.kube.portforward import PortForwardFailed
from pytest_tracestack.runtimes.kube.preparation import ChartRenderFailed
from pytest_tracestack.runtimes.kube.replica_pods import WHEN as LOAD_TIME
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from recording_runner import RecordingRunner, runs_under_tmp_path, with_workdir_placeholder  # noqa: F401

TOOLS = {"kind": "kind", "kubectl": "kubectl", "helm": "helm"}
KUBECTL = "kubectl --kubeconfig=$WORKDIR/kubeconfig"
HELM = (
    "helm --kubeconfig=$WORKDIR/kubeconfig --repository-config=$WORKDIR/helm/repositories.yaml "
    "--repository-cache=$WORKDIR/helm/cache"
)
HELM_OFFLINE = "helm --repository-config=$WORKDIR/helm/repositories.yaml --repository-cache=$WORKDIR/helm/cache"
MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
RENDERED = Path(__file__).resolve().parent / "kube_data" / "rendered"


def _with_rendered_charts(runner: RecordingRunner) -> RecordingRunner:
    """`helm template` answers with hand-written documents in the shape of each chart's output."""
    return runner.on(" template tempo ", stdout=(RENDERED / "tempo-distributed.yaml").read_text()).on(
        " template opentelemetry-operator ", stdout=(RENDERED / "opentelemetry-operator.yaml").read_text()
    )


@pytest.fixture(autouse=True)
def engine_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The container-engine check runs docker/podman for real; here it is answered (see test_kind_tools)."""
    monkeypatch.setattr("pytest_tracestack.runtimes.kube.kind.require_container_engine", lambda: "docker")


def _runtime(runner: RecordingRunner, **settings):
    settings.setdefault("namespace", "tracestack-t1")
    settings.setdefault("rollout_timeout_s", 200)
    settings.setdefault("retry_interval_s", 0.0)
    return make_kube_runtime("kind", KubeSettings(**settings), runner, dict(TOOLS))


def _new_cluster() -> RecordingRunner:
    return RecordingRunner().on("kind get clusters", stdout="other\n")


def _existing_cluster() -> RecordingRunner:
    return RecordingRunner().on("kind get clusters", stdout="other\ntracestack\n")


def _strip(lines: list[str]) -> list[str]:
    """Commands with the run's temp dir and local ports replaced, so they can be compared."""
    lines = with_workdir_placeholder(lines)
    return [re.sub(r" \d{4,5}:(\d+)$", r" <local-port>:\1", line) for line in lines]


def test_manifest_on_a_new_cluster_runs_exactly_these_commands_and_deletes_the_cluster_it_made() -> None:
    runner = _new_cluster()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    started = _strip(runner.lines())
    assert started == [
        "kind get clusters",
        "kind create cluster --name tracestack --image kindest/node:v1.35.0 --kubeconfig $WORKDIR/kubeconfig "
        "--wait 120s",
        "kind export kubeconfig --name tracestack --kubeconfig $WORKDIR/kubeconfig",
        f"{KUBECTL} get namespace tracestack-t1 --ignore-not-found -o name",
        f"{KUBECTL} create namespace tracestack-t1",
        f"{KUBECTL} label namespace tracestack-t1 app.kubernetes.io/managed-by=pytest-tracestack",
        f"{KUBECTL} apply --validate=strict --namespace tracestack-t1 -f $WORKDIR/manifests/manifest__minio.yaml",
        f"{KUBECTL} apply --validate=strict --namespace tracestack-t1 -f $WORKDIR/manifests/manifest__tempo.yaml",
        f"{KUBECTL} rollout status --namespace tracestack-t1 deployment/tempo-minio --timeout=200s",
        f"{KUBECTL} rollout status --namespace tracestack-t1 deployment/tempo --timeout=200s",
        f"{KUBECTL} port-forward --address=127.0.0.1 --namespace tracestack-t1 svc/tempo-svc <local-port>:4317",
        f"{KUBECTL} port-forward --address=127.0.0.1 --namespace tracestack-t1 svc/tempo-svc <local-port>:4318",
        f"{KUBECTL} port-forward --address=127.0.0.1 --namespace tracestack-t1 svc/tempo-svc <local-port>:3100",
    ]
    # The rollout waits get the deadline on the command line, and a little more for the process itself.
    assert [t for line, t in zip(started, runner.timeouts, strict=True) if "rollout status" in line] == [230, 230]
    tempo = stack.first("tempo")
    assert tempo.address == "127.0.0.1" and set(tempo.ports) == {"otlp-grpc", "otlp-http", "http"}
    assert len(set(tempo.ports.values())) == 3
    assert stack.ingest_target("otlp-grpc") == f"127.0.0.1:{tempo.ports['otlp-grpc']}"
    assert stack.query_url() == f"http://127.0.0.1:{tempo.ports['http']}"
    workdir = stack.workdir
    assert (workdir / "manifests" / "manifest__tempo.yaml").is_file()
    runtime.stop(stack)
    # The cluster was made by this run: deleting it takes the namespace with it.
    assert runner.lines()[len(started) :] == ["kind delete cluster --name tracestack"]
    assert all(forward.stopped for forward in runner.forwards) and not workdir.exists()


def _planned(runtime, profile: str) -> tuple[list[str], list[str]]:
    """The plan's commands: those that start the stack (not those a load run takes), and those that remove it."""
    steps = runtime.plan(load_profile(profile))
    start = [
        " ".join(step.command)
        for step in steps
        if step.command and step.action != "remove" and LOAD_TIME not in step.description
    ]
    return start, [" ".join(step.command) for step in steps if step.action == "remove"]


def test_the_plan_is_the_commands_start_runs(tmp_path: Path) -> None:
    for profile in ("manifest", "distributed", "operator", "nginx-otel"):
        runner = _with_rendered_charts(_new_cluster())
        runtime = _runtime(runner, images_to_load=("profile",))
        planned, removal = _planned(runtime, profile)
        rendered_for_the_plan = len(runner.commands)
        runtime.stop(runtime.start(load_profile(profile)))
        # Before its steps, start renders the charts as the plan did; then it takes exactly the planned steps.
        ran = _strip(runner.lines()[rendered_for_the_plan:])
        renders = [line for line in ran if line.startswith(f"{HELM_OFFLINE} template ")]
        assert ran[: len(renders)] == renders and len(renders) == len(
            load_profile(profile).kubernetes.get("charts", [])
        )
        ran = ran[len(renders) :]
        assert ran[: len(planned)] == planned, profile
        assert ran[len(planned) :] == ["kind delete cluster --name tracestack"] == removal[-1:]


@pytest.mark.parametrize(
    ("profile", "removed"),
    [
        ("manifest", [f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found"]),
        (
            "distributed",
            [
                f"{HELM} uninstall tempo --namespace tracestack-t1 --wait --timeout 300s",
                f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found",
            ],
        ),
    ],
)
def test_the_plan_lists_the_removal_a_reused_cluster_gets(profile: str, removed: list[str]) -> None:
    runner = _existing_cluster()
    runtime = _runtime(runner)
    planned, removal = _planned(runtime, profile)
    stack = runtime.start(load_profile(profile))
    count = len(runner.commands)
    runtime.stop(stack)
    assert _strip(runner.lines()[count:]) == removed == removal[:-1]
    assert removal[-1] == "kind delete cluster --name tracestack"


def test_an_existing_cluster_is_reused_and_only_the_namespace_is_deleted() -> None:
    runner = _existing_cluster()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    count = len(runner.commands)
    runtime.stop(stack)
    assert not any("kind create cluster" in line for line in runner.lines())
    assert "kind export kubeconfig --name tracestack --kubeconfig $WORKDIR/kubeconfig" in _strip(runner.lines())
    assert _strip(runner.lines()[count:]) == [
        f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found"
    ]


def test_distributed_installs_the_pinned_chart_with_the_values_then_waits_for_each_component() -> None:
    runner = _existing_cluster()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("distributed"))
    lines = _strip(runner.lines())
    helm = [line for line in lines if line.startswith("helm")]
    chart = (
        f"tempo-distributed --repo https://grafana-community.github.io/helm-charts --version 2.26.2 "
        f"-f {MANIFESTS}/distributed/values.yaml"
    )
    assert helm == [
        # Rendered (and validated) for the node image's Kubernetes before anything is created ...
        f"{HELM_OFFLINE} template tempo {chart} --namespace tracestack-t1 --kube-version 1.35.0 --skip-tests",
        # ... and installed with the same chart reference and values.
        f"{HELM} upgrade --install tempo {chart} --namespace tracestack-t1 --wait --timeout 200s",
    ]
    assert lines.index(helm[0]) == 0
    after_helm = lines[lines.index(helm[-1]) + 1 :]
    waits = [line.removeprefix(f"{KUBECTL} ") for line in after_helm if " wait " in line or "rollout status" in line]
    expected = []
    for workload in (
        "statefulset/tempo-ingester",
        "deployment/tempo-distributor",
        "deployment/tempo-querier",
        "deployment/tempo-query-frontend",
        "deployment/tempo-compactor",
    ):
        expected += [
            f"wait --namespace tracestack-t1 --for=create {workload} --timeout=200s",
            f"rollout status --namespace tracestack-t1 {workload} --timeout=200s",
        ]
    assert waits == expected
    assert set(stack.first("distributor").ports) == {"otlp-grpc", "otlp-http"}
    assert set(stack.first("query-frontend").ports) == {"http"}
    count = len(runner.commands)
    runtime.stop(stack)
    assert _strip(runner.lines()[count:]) == [
        f"{HELM} uninstall tempo --namespace tracestack-t1 --wait --timeout 300s",
        f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found",
    ]


def test_operator_chart_generates_its_webhook_certificate_unless_cert_manager_is_there() -> None:
    without = _existing_cluster()
    runtime = _runtime(without)
    runtime.stop(runtime.start(load_profile("operator")))
    install = next(line for line in without.lines() if "upgrade --install opentelemetry-operator" in line)
    assert (
        "--set admissionWebhooks.certManager.enabled=false --set admissionWebhooks.autoGenerateCert.enabled=true"
        in install
    )

    with_cm = _existing_cluster().on(
        "get crd certificates.cert-manager.io",
        stdout="customresourcedefinition.apiextensions.k8s.io/certificates.cert-manager.io",
    )
    runtime = _runtime(with_cm)
    runtime.stop(runtime.start(load_profile("operator")))
    install = next(line for line in with_cm.lines() if "upgrade --install opentelemetry-operator" in line)
    assert (
        "--set admissionWebhooks.certManager.enabled=true --set admissionWebhooks.autoGenerateCert.enabled=false"
        in install
    )


def test_operator_resources_wait_for_their_crds_and_the_collector_made_by_the_operator() -> None:
    runner = _existing_cluster()
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("operator"))
    # The collector exports to the Tempo Service of the run's namespace, not to the seed's tempo.tempo:4317.
    collector = yaml.safe_load((stack.workdir / "manifests" / "operator__collector.yaml").read_text())
    assert collector["spec"]["config"]["exporters"]["otlp"]["endpoint"] == "tempo-svc:4317"
    assert collector["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "pytest-tracestack"}
    runtime.stop(stack)
    lines = [line.removeprefix(f"{KUBECTL} ") for line in _strip(runner.lines())]

    def at(fragment: str) -> int:
        return next(index for index, line in enumerate(lines) if fragment in line)

    assert (
        at("upgrade --install opentelemetry-operator")
        < at("crd/opentelemetrycollectors.opentelemetry.io")
        < at("operator__collector.yaml")
        < at("operator__instrumentation.yaml")
        < at("operator__sample-app.yaml")
    )
    assert "wait --for=condition=Established crd/instrumentations.opentelemetry.io --timeout=60s" in lines
    # The collector's Deployment is made by the operator some time after the resource is applied.
    assert at("--for=create deployment/global-optl-collector") < at(
        "rollout status --namespace tracestack-t1 deployment/global-optl-collector"
    )
    assert not any("--for=create deployment/reviews" in line for line in lines)  # applied by tracestack itself
    assert set(stack.first("sample-app").ports) == {"http"} and set(stack.first("tempo").ports) == {"http"}


def test_custom_resources_are_retried_while_the_operators_webhook_starts() -> None:
    refused = (
        'Error from server (InternalError): error when creating "collector.yaml": Internal error occurred: '
        'failed calling webhook "mopentelemetrycollectorbeta.kb.io": connect: connection refused'
    )
    runner = _existing_cluster().on("operator__collector.yaml", returncode=1, stderr=refused, times=2)
    runtime = _runtime(runner)
    runtime.stop(runtime.start(load_profile("operator")))
    applies = [line for line in runner.lines() if "operator__collector.yaml" in line]
    assert len(applies) == 3
    plain = _existing_cluster().on("manifest__tempo.yaml", returncode=1, stderr="error: something else")
    with pytest.raises(KubeStepFailed, match="something else"):
        _runtime(plain).start(load_profile("operator"))
    assert sum("manifest__tempo.yaml" in line for line in plain.lines()) == 1  # plain manifests are not retried


def test_an_operator_already_in_the_cluster_is_left_alone() -> None:
    runner = _new_cluster().on(
        "get crd opentelemetrycollectors.opentelemetry.io",
        stdout="customresourcedefinition.apiextensions.k8s.io/opentelemetrycollectors.opentelemetry.io",
    )
    with pytest.raises(UnavailableError, match="already has the OpenTelemetry Operator's CRDs"):
        _runtime(runner).start(load_profile("operator"))
    lines = runner.lines()
    # Only the offline rendering of the chart ran through helm: nothing was installed.
    assert not any(
        " create namespace" in line or (line.startswith("helm") and " template " not in line) for line in lines
    )
    assert lines[-1] == "kind delete cluster --name tracestack"  # the cluster this run made, nothing else


def test_a_failed_rollout_reports_events_pods_and_logs_and_cleans_up(tmp_path: Path) -> None:
    pods = (
        '{"items": ['
        '{"metadata": {"name": "tempo-7d9"}, "status": {"phase": "Running", '
        '"containerStatuses": [{"ready": false, "restartCount": 4}]}},'
        '{"metadata": {"name": "tempo-minio-1"}, "status": {"phase": "Running", '
        '"containerStatuses": [{"ready": true, "restartCount": 0}]}}]}'
    )
    runner = (
        _existing_cluster()
        .on(
            "rollout status --namespace tracestack-t1 deployment/tempo ",
            returncode=1,
            stderr="error: timed out waiting for the condition",
        )
        .on("get events", stdout="Warning  BackOff  pod/tempo-7d9  Back-off restarting failed container")
        .on("get pods --namespace tracestack-t1 -o json", stdout=pods)
        .on("get pods --namespace tracestack-t1 -o wide", stdout="tempo-7d9   0/1   CrashLoopBackOff")
        .on("--previous", stdout='level=error msg="secret_key: supersecret" err="bucket not found"')
        .on("logs --namespace tracestack-t1 tempo-7d9", stdout="level=info msg=starting")
    )
    runtime = _runtime(runner, report_dir=tmp_path)
    with pytest.raises(KubeStepFailed) as raised:
        runtime.start(load_profile("manifest"))
    message = str(raised.value)
    assert message.startswith("wait rollout of deployment/tempo failed")
    assert "timed out waiting for the condition" in message
    assert "Back-off restarting failed container" in message and "CrashLoopBackOff" in message
    assert "--- last 40 log lines of tempo-7d9 ---\nlevel=info msg=starting" in message
    assert "before its last restart ---\nlevel=error" in message and "bucket not found" in message
    assert "tempo-minio-1" not in message.split("--- last 40")[1]  # ready pods' logs are not fetched
    assert "supersecret" not in message and "secret_key: ***" in message
    report = (tmp_path / "kube-diagnostics.txt").read_text()
    assert "CrashLoopBackOff" in report and "supersecret" not in report
    lines = _strip(runner.lines())
    assert lines[-1] == f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found"
    assert not any("port-forward" in line for line in lines)


def test_ctrl_c_during_install_deletes_the_cluster_it_created() -> None:
    runner = _new_cluster().on("apply --validate=strict --namespace tracestack-t1 -f", raises=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.lines()[-1] == "kind delete cluster --name tracestack"
    assert not any("rollout" in line for line in runner.lines())


def test_ctrl_c_during_a_helm_install_uninstalls_the_release_and_deletes_the_namespace() -> None:
    runner = _existing_cluster().on("upgrade --install tempo", raises=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        _runtime(runner).start(load_profile("distributed"))
    assert _strip(runner.lines())[-2:] == [
        f"{HELM} uninstall tempo --namespace tracestack-t1 --wait --timeout 300s",
        f"{KUBECTL} delete namespace tracestack-t1 --wait=true --timeout=300s --ignore-not-found",
    ]


def test_ctrl_c_while_creating_the_cluster_still_deletes_it() -> None:
    runner = _new_cluster().on("kind create cluster", raises=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.lines()[-1] == "kind delete cluster --name tracestack"


def test_a_port_forward_that_dies_stops_the_others_and_cleans_up() -> None:
    runner = _existing_cluster()
    runner.forward_failures += ["", "error: unable to forward port because pod is not running. Current status=Pending"]
    with pytest.raises(
        PortForwardFailed, match=r"svc/tempo-svc:4318 exited before it listened(.|\n)*pod is not running"
    ):
        _runtime(runner).start(load_profile("manifest"))
    assert len(runner.forwards) == 2 and all(forward.stopped for forward in runner.forwards)
    assert "delete namespace tracestack-t1" in runner.lines()[-1]


def test_a_port_forward_whose_port_was_taken_gets_another_port() -> None:
    runner = _existing_cluster()
    runner.forward_failures += ["Unable to listen on port 40001: bind: address already in use"]
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    assert len(runner.forwards) == 4 and runner.forwards[0].stopped
    assert set(stack.first("tempo").ports) == {"otlp-grpc", "otlp-http", "http"}
    runtime.stop(stack)


def test_keep_leaves_namespace_and_cluster_and_says_how_to_remove_them() -> None:
    runner = _new_cluster()
    runtime = _runtime(runner, keep=True)
    stack = runtime.start(load_profile("manifest"))
    count = len(runner.commands)
    runtime.stop(stack)
    assert len(runner.commands) == count and all(forward.stopped for forward in runner.forwards)
    text = runtime.describe_keep(stack)
    assert "left running in namespace tracestack-t1" in text
    assert "kind delete cluster --name tracestack" in text and "kind export kubeconfig --name tracestack" in text


def test_keep_on_failure_leaves_everything_and_the_error_says_how_to_remove_it() -> None:
    runner = _new_cluster().on("rollout status", returncode=1, stderr="timed out")
    with pytest.raises(KubeStepFailed) as raised:
        _runtime(runner, keep=True).start(load_profile("manifest"))
    assert not any("delete" in line for line in runner.lines())
    assert "kind delete cluster --name tracestack" in "\n".join(raised.value.__notes__)


def test_a_namespace_that_could_not_be_created_is_not_deleted() -> None:
    runner = _existing_cluster().on(
        "create namespace",
        returncode=1,
        stderr='Error from server (AlreadyExists): namespaces "tracestack-t1" already exists',
    )
    with pytest.raises(KubeStepFailed, match="AlreadyExists"):
        _runtime(runner).start(load_profile("manifest"))
    assert not any("delete" in line for line in runner.lines())


def test_what_could_not_be_removed_is_named_with_the_command_to_remove_it() -> None:
    runner = _existing_cluster().on("delete namespace", returncode=1, stderr="error: Unauthorized")
    runtime = _runtime(runner)
    stack = runtime.start(load_profile("manifest"))
    with pytest.raises(
        KubeCleanupIncomplete,
        match=r"namespace tracestack-t1: kubectl delete namespace tracestack-t1"
        r"(.|\n)*Unauthorized",
    ):
        runtime.stop(stack)


def test_pre_pulled_images_are_loaded_into_the_cluster_by_name() -> None:
    runner = _existing_cluster()
    runtime = _runtime(runner, images_to_load=("profile", "nginx:1.27.4-otel", "busybox:1.36"))
    runtime.stop(runtime.start(load_profile("nginx-otel")))
    loads = [line for line in runner.lines() if line.startswith("kind load")]
    # "profile": the images of the rendered manifests, in order, each once.
    assert loads == [
        "kind load docker-image grafana/tempo:2.10.8 --name tracestack",
        "kind load docker-image otel/opentelemetry-collector:0.126.0 --name tracestack",
        "kind load docker-image nginx:1.27.4-otel --name tracestack",
        "kind load docker-image busybox:1.36 --name tracestack",
    ]
    lines = runner.lines()
    assert lines.index(loads[-1]) < next(i for i, line in enumerate(lines) if " apply " in line)


def test_no_container_engine_is_reported_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_engine() -> str:
        raise UnavailableError("the kind runtime needs a running container engine, and none answered")

    monkeypatch.setattr("pytest_tracestack.runtimes.kube.kind.require_container_engine", no_engine)
    runner = RecordingRunner()
    with pytest.raises(UnavailableError, match="needs a running container engine"):
        _runtime(runner).start(load_profile("manifest"))
    assert runner.commands == []


def test_a_profile_without_a_kubernetes_section_is_refused_naming_the_file(tmp_path: Path) -> None:
    from pytest_tracestack.errors import ProfileError
    from pytest_tracestack.profiles.profile import load_profile_file

    document = yaml.safe_load((MANIFESTS.parent / "scenarios" / "collector.yaml").read_text())
    del document["kubernetes"]
    document["components"]["otelcol"]["config"]["manifest"] = "builtin:collector/collector.yaml"
    local_only = tmp_path / "local-only.yaml"
    local_only.write_text(yaml.safe_dump(document))
    runner = RecordingRunner()
    with pytest.raises(
        ProfileError,
        match=r"local-only.yaml: kubernetes: profile collector has no "
        r"kubernetes section",
    ):
        _runtime(runner).start(load_profile_file(local_only))
    assert runner.commands == []


def test_a_manifest_the_api_server_would_refuse_stops_the_run_before_anything_is_created(tmp_path: Path) -> None:
    from pytest_tracestack.profiles.profile import load_profile_file
    from pytest_tracestack.runtimes.kube.validate import ManifestInvalid

    broken = tmp_path / "tempo.yaml"
    broken.write_text(
        (MANIFESTS / "manifest" / "tempo.yaml").read_text().replace("containerPort: 3100", "containerPort: web")
    )
    data = yaml.safe_load((MANIFESTS.parent / "scenarios" / "manifest.yaml").read_text())
    data["components"]["tempo"]["config"]["manifest"] = "builtin:manifest/tempo.yaml"
    data["kubernetes"]["manifests"] = ["builtin:manifest/minio.yaml", str(broken)]
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(data))
    runner = _new_cluster()
    with pytest.raises(
        ManifestInvalid,
        match=rf"{broken}: Deployment/tempo: spec.template.spec.containers.0.ports.0."
        r"containerPort: 'web' is not of type 'integer'",
    ):
        _runtime(runner).start(load_profile_file(tmp_path / "mine.yaml"))
    assert runner.commands == []


def test_profile_images_are_read_from_the_rendered_charts_manifests_and_operator_resources() -> None:
    runner = _with_rendered_charts(_existing_cluster())
    runtime = _runtime(runner, images_to_load=("profile",))
    runtime.stop(runtime.start(load_profile("operator")))
    loads = [
        line.removeprefix("kind load docker-image ").removesuffix(" --name tracestack")
        for line in runner.lines()
        if line.startswith("kind load")
    ]
    assert loads == [
        "ghcr.io/open-telemetry/opentelemetry-operator/opentelemetry-operator:0.129.1",  # the chart
        "quay.io/brancz/kube-rbac-proxy:v0.19.1",
        "quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z",  # the raw manifests
        "grafana/tempo:2.10.8",
        "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
        "otel/opentelemetry-collector-contrib:0.129.1",  # the collector the operator runs
        "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:1.33.6",  # the agent it injects
    ]


def test_an_image_the_operator_needs_but_nothing_names_stops_the_run_before_anything_is_created() -> None:
    without_flags = (
        (RENDERED / "opentelemetry-operator.yaml")
        .read_text()
        .replace(
            "            - --auto-instrumentation-java-image=ghcr.io/open-telemetry/opentelemetry-operator/"
            "autoinstrumentation-java:1.33.6\n",
            "",
        )
    )
    runner = _new_cluster().on(" template opentelemetry-operator ", stdout=without_flags)
    with pytest.raises(
        ImagesUnknown,
        match=r"java auto-instrumentation the operator injects into Deployment/reviews: "
        r"neither the Instrumentation's spec.java.image nor the operator's "
        r"--auto-instrumentation-java-image names it",
    ):
        _runtime(runner, images_to_load=("profile",)).start(load_profile("operator"))
    assert all(" template " in line for line in runner.lines())


def test_a_chart_helm_refuses_stops_the_run_before_anything_is_created() -> None:
    refused = (
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):\n"
        "opentelemetry-operator:\nfile:///values.schema.json# is not valid against metaschema: jsonschema "
        "validation failed with 'https://json-schema.org/draft-07/schema#'\n- at '/properties/manager/"
        "properties/featureGates/examples': got string, want array"
    )
    runner = _new_cluster().on(" template opentelemetry-operator ", returncode=1, stderr=refused)
    with pytest.raises(ChartRenderFailed) as raised:
        _runtime(runner).start(load_profile("operator"))
    message = str(raised.value)
    assert message.startswith(
        "chart opentelemetry-operator 0.92.5 from https://open-telemetry.github.io/"
        "opentelemetry-helm-charts, its repository (the profile's kubernetes.charts) cannot be "
        "rendered, so it cannot be installed; helm said:"
    )
    assert "got string, want array" in message
    assert len(runner.lines()) == 1 and not list((Path(tempfile.gettempdir())).glob("tracestack-operator-*"))


def test_a_chart_repository_out_of_reach_is_answered_with_how_to_take_the_chart_from_a_directory() -> None:
    # helm v3.19.0's own words when the repository cannot be resolved (recorded on a machine without network)
    unreachable = (
        'Error: looks like "https://grafana-community.github.io/helm-charts" is not a valid chart '
        'repository or cannot be reached: Get "https://grafana-community.github.io/helm-charts/index.yaml": '
        "dial tcp: lookup grafana-community.github.io on 10.255.255.53:53: no such host"
    )
    runner = _new_cluster().on(" template tempo ", returncode=1, stderr=unreachable)
    with pytest.raises(ChartRenderFailed) as raised:
        _runtime(runner).start(load_profile("distributed"))
    assert str(raised.value).endswith(
        "Without access to https://grafana-community.github.io/helm-charts: fetch the chart once where it is reachable "
        "(`helm pull tempo-distributed --repo https://grafana-community.github.io/helm-charts --version 2.26.2 -d "
        "charts/`) and pass --tracestack-charts=charts/ (TRACESTACK_CHARTS; `tracestack images --charts`)"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "1.35.0"),
        ({"node_image": "kindest/node:v1.33.1@sha256:" + "a" * 64}, "1.33.1"),
        ({"k8s_version": "1.34.0"}, "1.34.0"),
    ],
)
def test_charts_are_rendered_and_validated_for_the_kubernetes_the_cluster_runs(settings: dict, expected: str) -> None:
    runner = _with_rendered_charts(_existing_cluster())
    runtime = _runtime(runner, **settings)
    runtime.stop(runtime.start(load_profile("distributed")))
    render = next(line for line in runner.lines() if " template " in line)
    assert render.endswith(f"--kube-version {expected} --skip-tests")


def test_a_node_image_whose_tag_names_no_version_asks_for_one() -> None:
    runner = _new_cluster()
    with pytest.raises(
        UnavailableError,
        match=r"node image registry.local/node:lab: its tag names no Kubernetes "
        r"version .* --tracestack-k8s-version",
    ):
        _runtime(runner, node_image="registry.local/node:lab").start(load_profile("manifest"))
    assert runner.commands == []


def test_a_chart_running_another_tempo_than_the_profile_says_is_refused() -> None:
    older = (RENDERED / "tempo-distributed.yaml").read_text().replace("grafana/tempo:2.10.8", "grafana/tempo:2.10.7")
    runner = _new_cluster().on(" template tempo ", stdout=older)
    with pytest.raises(
        ProfileError,
        match=r"scenarios/distributed.yaml: tempo_version: is 2.10.8, but "
        r"StatefulSet/tempo-ingester \(helm template tempo-distributed 2.26.2\) "
        r"runs docker.io/grafana/tempo:2.10.7; make them one version",
    ):
        _runtime(runner).start(load_profile("distributed"))
    assert len(runner.lines()) == 1


def test_images_the_profile_adds_are_loaded_after_those_read_from_the_rendered_objects(tmp_path: Path) -> None:
    from pytest_tracestack.profiles.profile import load_profile_file

    data = {
        "name": "mine",
        "extends": "manifest",
        "kubernetes": {"images": ["busybox:1.36", "grafana/tempo:2.10.8"]},
    }  # the second is rendered already
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(data))
    runner = _existing_cluster()
    runtime = _runtime(runner, images_to_load=("profile",))
    runtime.stop(runtime.start(load_profile_file(tmp_path / "mine.yaml")))
    assert [line for line in runner.lines() if line.startswith("kind load")] == [
        "kind load docker-image quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z --name tracestack",
        "kind load docker-image grafana/tempo:2.10.8 --name tracestack",
        "kind load docker-image busybox:1.36 --name tracestack",
    ]


@pytest.mark.parametrize("step", ["plan", "start"])
def test_a_profile_giving_a_component_args_is_refused_naming_file_component_and_key(tmp_path: Path, step: str) -> None:
    """A pod runs what its manifest says: args in the profile would be silently left out, so they are refused
    before any command runs."""
    from pytest_tracestack.profiles.profile import load_profile_file

    data = {"name": "mine", "extends": "manifest", "components": {"tempo": {"args": ["-log.level=debug"]}}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(data))
    runner = _new_cluster()
    with pytest.raises(ProfileError) as raised:
        getattr(_runtime(runner), step)(load_profile_file(tmp_path / "mine.yaml"))
    assert (raised.value.source, raised.value.key) == (str(tmp_path / "mine.yaml"), "components.tempo.args")
    assert "put the arguments in the manifest (the container's args) or the Helm values" in raised.value.problem
    assert runner.commands == []
