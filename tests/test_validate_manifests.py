"""Offline confidence: every object the kube runtimes would apply is valid for Kubernetes 1.29+."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.file_paths import as_copy
from pytest_tracestack.profiles.profile import Profile, load_profile, load_profile_file
from pytest_tracestack.runtimes.kube.manifests import render_manifests
from pytest_tracestack.runtimes.kube.validate import ManifestInvalid, check_values, validate_file, validate_profile

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


@pytest.mark.parametrize("version", ["1.29.0", "1.35.0"])
@pytest.mark.parametrize(
    "profile",
    [
        "manifest",
        "distributed",
        "operator",
        "nginx-otel",
        "metrics-generator",
        "jaeger",
        "manifest-s3",
        "distributed-s3",
    ],
)
def test_every_profile_validates(profile: str, version: str) -> None:
    results = validate_profile(load_profile(profile), version)
    assert results and all("manifests/" in line or line.startswith("chart ") for line in results)


def _broken(tmp_path: Path, source: str, mutate) -> Path:
    documents = list(yaml.safe_load_all((MANIFESTS / source).read_text()))
    mutate(documents)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


def test_a_port_given_as_a_name_fails_naming_object_and_field(tmp_path: Path) -> None:
    def mutate(docs):
        docs[1]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"

    with pytest.raises(
        ManifestInvalid,
        match=r"broken.yaml: Deployment/tempo: spec.template.spec.containers.0."
        r"ports.0.containerPort: 'http' is not of type 'integer'",
    ):
        validate_file(_broken(tmp_path, "manifest/tempo.yaml", mutate), "1.29.0")


def test_an_unknown_field_fails_under_strict_validation(tmp_path: Path) -> None:
    def mutate(docs):
        docs[2]["spec"]["selectr"] = {"app": "tempo"}

    with pytest.raises(ManifestInvalid, match=r"Service/tempo-svc: .*selectr"):
        validate_file(_broken(tmp_path, "manifest/tempo.yaml", mutate), "1.29.0")


def test_a_collector_pipeline_without_exporters_fails_the_crd_check(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["config"]["service"]["pipelines"]["traces"]["exporters"] = []

    with pytest.raises(
        ManifestInvalid,
        match=r"OpenTelemetryCollector/global-optl: spec.config.service.pipelines."
        r"traces.exporters: \[\] should be non-empty",
    ):
        validate_file(_broken(tmp_path, "operator/collector.yaml", mutate), "1.29.0")


def test_an_unknown_propagator_fails_the_instrumentation_check(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["propagators"].append("w3c")

    with pytest.raises(
        ManifestInvalid, match=r"Instrumentation/global-optl-instrumentation: spec.propagators.3: 'w3c'"
    ):
        validate_file(_broken(tmp_path, "operator/instrumentation.yaml", mutate), "1.29.0")


def _values_with(tmp_path: Path, change) -> str:
    values = yaml.safe_load((MANIFESTS / "distributed" / "values.yaml").read_text())
    change(values)
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    return str(tmp_path / "values.yaml")


def test_values_that_would_open_a_receiver_the_profile_expects_refused_are_refused(tmp_path: Path) -> None:
    values = _values_with(tmp_path, lambda v: v["traces"]["zipkin"].update(enabled=True))
    with pytest.raises(
        ManifestInvalid,
        match=r"values.yaml: traces.zipkin.enabled is True, but profile distributed "
        r"expects zipkin to be refused",
    ):
        check_values(values, "tempo-distributed", load_profile("distributed"))


def test_values_that_turn_off_a_receiver_the_profile_ingests_name_the_key(tmp_path: Path) -> None:
    values = _values_with(tmp_path, lambda v: v["traces"]["otlp"]["http"].update(enabled=False))
    with pytest.raises(
        ManifestInvalid,
        match=r"values.yaml: traces.otlp.http.enabled is False, "
        r"but profile distributed ingests otlp-http",
    ):
        check_values(values, "tempo-distributed", load_profile("distributed"))


def test_the_users_own_storage_choice_passes_the_offline_check(tmp_path: Path) -> None:
    """Not the seed's choices: a GCS backend without MinIO is the user's to make."""

    def change(values):
        values["storage"] = {"trace": {"backend": "gcs", "gcs": {"bucket_name": "traces"}}}
        values["minio"] = {"enabled": False}

    checked = check_values(_values_with(tmp_path, change), "tempo-distributed", load_profile("distributed"))
    assert "storage.trace.backend=gcs" in checked


def test_an_s3_backend_without_a_bucket_is_refused(tmp_path: Path) -> None:
    values = _values_with(tmp_path, lambda v: v["storage"]["trace"]["s3"].pop("bucket"))
    with pytest.raises(ManifestInvalid, match=r"storage.trace.backend is s3 but storage.trace.s3 has no bucket"):
        check_values(values, "tempo-distributed", load_profile("distributed"))


def test_an_unsupported_kubernetes_version_says_which_to_use() -> None:
    with pytest.raises(
        ManifestInvalid,
        match=r"Kubernetes 1.2.0 cannot be checked: the seeds need 1.29 or later"
        r".*pick a version such as 1.35.0",
    ):
        validate_file(MANIFESTS / "manifest" / "tempo.yaml", "1.2.0")


# distributed and operator need helm and their charts: tests/test_kind_charts.py plans them with a real helm.
@pytest.mark.parametrize("profile", ["manifest", "nginx-otel", "jaeger", "manifest-s3"])
def test_plan_prints_the_complete_plan_under_quiet_and_validates(pytester: pytest.Pytester, profile: str) -> None:
    result = pytester.runpytest(
        f"--tracestack-profile={profile}",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "-q",
        "--tracestack-namespace=tracestack-plan",
    )
    assert result.ret == 0
    out = result.stdout.str()
    assert out.startswith(f"tracestack plan: profile {profile} on runtime kind")
    assert "kind create cluster --name tracestack --image kindest/node:v1.35.0" in out
    assert "create namespace tracestack-plan" in out and "port-forward svc/" in out
    assert "validated: manifests/" in out and "Kubernetes 1.35.0 (from the node image kindest/node:v1.35.0)" in out
    assert "grafana/tempo:2.10.8  <- Deployment/tempo (manifests/" in out
    assert "supersecret" not in out and "grafana-tempo" not in out


def test_plan_of_a_broken_user_manifest_fails_naming_the_object(pytester: pytest.Pytester, tmp_path: Path) -> None:
    broken = (MANIFESTS / "manifest" / "tempo.yaml").read_text().replace("containerPort: 3100", "containerPort: web")
    (tmp_path / "tempo.yaml").write_text(broken)
    scenarios = pytester.mkdir("scenarios")
    text = (MANIFESTS.parent / "scenarios" / "manifest.yaml").read_text()
    text = text.replace("name: manifest", "name: mine").replace(
        "manifest: manifest/tempo.yaml", "manifest: builtin:manifest/tempo.yaml"
    )
    text = text.replace(
        "[manifest/minio.yaml, manifest/tempo.yaml]", f"[builtin:manifest/minio.yaml, {tmp_path / 'tempo.yaml'}]"
    )
    (scenarios / "mine.yaml").write_text(text)
    result = pytester.runpytest(
        f"--tracestack-scenarios={scenarios}",
        "--tracestack-profile=mine",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*validation failed:*",
            "*Deployment/tempo: spec.template.spec.containers.0.ports.0.containerPort: 'web' is not of type 'integer'*",
        ]
    )


def test_a_misspelt_collector_field_fails_the_crd_check(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["modee"] = "deployment"

    with pytest.raises(
        ManifestInvalid,
        match=r"OpenTelemetryCollector/global-optl: spec: Additional properties are "
        r"not allowed \('modee' was unexpected\)",
    ):
        validate_file(_broken(tmp_path, "operator/collector.yaml", mutate), "1.29.0")


def test_a_pipeline_naming_an_undefined_processor_fails(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["config"]["service"]["pipelines"]["traces"]["processors"].append("tail_sampling")

    with pytest.raises(
        ManifestInvalid,
        match=r"OpenTelemetryCollector/global-optl: spec.config.service.pipelines."
        r"traces.processors.2: 'tail_sampling' is not defined under "
        r"spec.config.processors",
    ):
        validate_file(_broken(tmp_path, "operator/collector.yaml", mutate), "1.29.0")


def test_custom_resources_say_they_were_checked_against_their_crd() -> None:
    results = validate_profile(load_profile("operator"), "1.29.0")
    assert (
        "manifests/operator/collector.yaml: OpenTelemetryCollector/global-optl "
        "(opentelemetrycollectors.opentelemetry.io fields) (Kubernetes 1.29.0 schema)"
    ) in results


def test_values_that_are_not_a_mapping_are_refused(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("- traces\n")
    with pytest.raises(ManifestInvalid, match=r"Helm values must be a mapping, not list"):
        check_values(str(tmp_path / "values.yaml"), "tempo-distributed", load_profile("distributed"))


def test_the_values_keys_each_topology_relies_on_are_reported() -> None:
    results = validate_profile(load_profile("distributed"), "1.29.0")
    assert (
        "manifests/distributed/values.yaml: parsed; traces.otlp.grpc.enabled=True (ingest otlp-grpc); "
        "traces.otlp.http.enabled=True (ingest otlp-http); traces.zipkin.enabled not true (refused zipkin); "
        "traces.jaeger.thriftHttp.enabled not true (refused jaeger-thrift-http); "
        "storage.trace.backend=s3"
    ) in results


def test_the_plan_validates_against_the_version_given_or_the_node_images(pytester: pytest.Pytester) -> None:
    given = pytester.runpytest(
        "--tracestack-profile=manifest",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-k8s-version=1.31.0",
    )
    assert given.ret == 0
    given.stdout.fnmatch_lines(
        [
            "Kubernetes 1.31.0 (from --tracestack-k8s-version)*",
            "validated: manifests/manifest/tempo.yaml: *(Kubernetes 1.31.0 schema)",
        ]
    )
    node = pytester.runpytest(
        "--tracestack-profile=manifest",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-kind-image=kindest/node:v1.37.0",
    )
    assert node.ret == 0
    node.stdout.fnmatch_lines(["validated: manifests/manifest/tempo.yaml: *(Kubernetes 1.37.0 schema)"])


def test_a_cluster_plan_asks_the_server_for_its_version_and_says_when_it_cannot(
    pytester: pytest.Pytester, tmp_path: Path, kubectl: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("""apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: nobody, user: {token: not-a-secret}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
current-context: nowhere
""")
    result = pytester.runpytest(
        "--tracestack-profile=manifest",
        "--tracestack-runtime=cluster",
        "--tracestack-plan",
        f"--tracestack-kubeconfig={kubeconfig}",
        "--tracestack-no-download",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*the cluster runtime cannot reach the cluster to learn its Kubernetes version: *",
            "*--tracestack-k8s-version*",
        ]
    )
    given = pytester.runpytest(
        "--tracestack-profile=manifest",
        "--tracestack-runtime=cluster",
        "--tracestack-plan",
        f"--tracestack-kubeconfig={kubeconfig}",
        "--tracestack-k8s-version=1.33.0",
    )
    assert given.ret == 0
    given.stdout.fnmatch_lines(
        ["validated: not checked by the API server (server-side dry run): it cannot be reached: *127.0.0.1:9*"]
    )


def _profile_with(tmp_path: Path, name: str, change) -> Profile:
    """A copy of a built-in profile in a user's directory (its files named as builtin:), changed."""
    data = as_copy(yaml.safe_load((MANIFESTS.parent / "scenarios" / f"{name}.yaml").read_text()))
    kubernetes = data["kubernetes"]
    change(kubernetes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_profile_file(path)


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (
            lambda k: k.update(manifest=["manifest/tempo.yaml"]),
            "kubernetes",
            r"Additional properties are not allowed \('manifest' was unexpected\)",
        ),
        (
            lambda k: k.update(images=["busybox:1.36", "grafana/tempo:latest"]),
            "kubernetes.images.1",
            r"'grafana/tempo:latest': pin a tag",
        ),
        (
            lambda k: k["port_forwards"][0].update(component="tempoo"),
            "kubernetes.port_forwards.0.component",
            r"'tempoo' is not a component of the profile \(components: tempo\)",
        ),
        (
            lambda k: k["port_forwards"][1].update({"as": "otlp"}),
            "kubernetes.port_forwards.1.as",
            r"'otlp' is not a port of component tempo",
        ),
        (lambda k: k["rollouts"].append("job/migrate"), "kubernetes.rollouts.2", r"'job/migrate' does not match"),
    ],
)
def test_a_wrong_kubernetes_section_names_the_file_and_key(tmp_path: Path, change, key: str, problem: str) -> None:
    profile = _profile_with(tmp_path, "manifest", change)
    with pytest.raises(ProfileError, match=rf"{tmp_path}/manifest.yaml: {re.escape(key)}: {problem}"):
        validate_profile(profile, "1.29.0")


def test_cluster_scoped_objects_and_foreign_namespaces_are_refused_in_raw_manifests(tmp_path: Path) -> None:
    role = tmp_path / "role.yaml"
    role.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
    )
    profile = _profile_with(tmp_path, "manifest", lambda k: k["manifests"].append(str(role)))
    with pytest.raises(ProfileError, match=rf"{role}: ClusterRole/reader: is cluster-scoped"):
        validate_profile(profile, "1.29.0")
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: tempo}\ndata: {}\n")
    profile = _profile_with(tmp_path, "manifest", lambda k: k["manifests"].append(str(elsewhere)))
    with pytest.raises(ProfileError, match=rf"{elsewhere}: ConfigMap/c: metadata.namespace: is 'tempo'; remove it"):
        validate_profile(profile, "1.29.0")


def test_a_patch_of_a_missing_object_names_the_patch(tmp_path: Path) -> None:
    def change(k):
        k["patches"] = [
            {
                "manifest": "builtin:manifest/tempo.yaml",
                "kind": "Deployment",
                "name": "tempoo",
                "set": {"spec.replicas": 2},
            }
        ]

    with pytest.raises(
        ProfileError,
        match=r"kubernetes.patches.0: manifest manifest/tempo.yaml has no Deployment "
        r"named tempoo",
    ):
        validate_profile(_profile_with(tmp_path, "manifest", change), "1.29.0")


def test_applied_objects_and_their_pods_carry_the_managed_by_label(tmp_path: Path) -> None:
    for manifest in render_manifests(load_profile("nginx-otel"), tmp_path):
        for document in yaml.safe_load_all(manifest.path.read_text()):
            assert document["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pytest-tracestack"
            if document["kind"] == "Deployment":
                labels = document["spec"]["template"]["metadata"]["labels"]
                assert labels["app.kubernetes.io/managed-by"] == "pytest-tracestack"
                assert set(document["spec"]["selector"]["matchLabels"].items()) <= set(labels.items())


def _seed_003_values(tmp_path: Path, name: str, change) -> str:
    values = yaml.safe_load((MANIFESTS / "metrics-generator" / name).read_text())
    change(values)
    (tmp_path / name).write_text(yaml.safe_dump(values))
    return str(tmp_path / name)


def test_the_metrics_checks_keys_of_seed_003s_values_are_reported() -> None:
    results = validate_profile(load_profile("metrics-generator"), "1.35.0")
    assert (
        "manifests/metrics-generator/tempo-values.yaml: parsed; tempo.metricsGenerator.enabled=True, "
        "tempo.overrides.defaults.metrics_generator.processors has span-metrics, service-graphs"
    ) in results
    assert (
        "manifests/metrics-generator/prometheus-values.yaml: parsed; "
        "prometheus.prometheusSpec.enableRemoteWriteReceiver=True"
    ) in results


def test_seed_003s_own_keys_without_the_processors_are_refused_naming_the_key(tmp_path: Path) -> None:
    values = _seed_003_values(tmp_path, "tempo-values.yaml", lambda v: v["tempo"].pop("overrides"))
    with pytest.raises(
        ManifestInvalid,
        match=r"tempo-values.yaml: tempo.overrides.defaults.metrics_generator."
        r"processors lacks span-metrics, service-graphs: chart 2.x writes only",
    ):
        check_values(values, "tempo", load_profile("metrics-generator"))


def test_a_prometheus_without_the_remote_write_receiver_is_refused(tmp_path: Path) -> None:
    values = _seed_003_values(
        tmp_path,
        "prometheus-values.yaml",
        lambda v: v["prometheus"]["prometheusSpec"].update(enableRemoteWriteReceiver=False),
    )
    with pytest.raises(
        ManifestInvalid,
        match=r"prometheus-values.yaml: prometheus.prometheusSpec."
        r"enableRemoteWriteReceiver is False: Prometheus would refuse Tempo's "
        r"remote writes \(404\)",
    ):
        check_values(values, "kube-prometheus-stack", load_profile("metrics-generator"))
    # A profile without the metrics checks does not hold the values to them.
    assert check_values(values, "kube-prometheus-stack", load_profile("manifest")) == "no keys required"
