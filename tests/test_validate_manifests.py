"""Offline confidence: every object the kube runtimes would apply is valid for Kubernetes 1.29+."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_tracestack.kube.validate import ManifestInvalid, check_values, validate_file, validate_profile
from pytest_tracestack.profiles import load_profile

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


@pytest.mark.parametrize("version", ["1.29.0", "1.35.0"])
@pytest.mark.parametrize("profile", ["manifest", "distributed", "operator", "nginx-otel"])
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

    with pytest.raises(ManifestInvalid, match=r"broken.yaml: Deployment/tempo: spec.template.spec.containers.0."
                                              r"ports.0.containerPort: 'http' is not of type 'integer'"):
        validate_file(_broken(tmp_path, "manifest/tempo.yaml", mutate), "1.29.0")


def test_an_unknown_field_fails_under_strict_validation(tmp_path: Path) -> None:
    def mutate(docs):
        docs[2]["spec"]["selectr"] = {"app": "tempo"}

    with pytest.raises(ManifestInvalid, match=r"Service/tempo-svc: .*selectr"):
        validate_file(_broken(tmp_path, "manifest/tempo.yaml", mutate), "1.29.0")


def test_a_collector_pipeline_without_exporters_fails_the_crd_check(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["config"]["service"]["pipelines"]["traces"]["exporters"] = []

    with pytest.raises(ManifestInvalid, match=r"OpenTelemetryCollector/global-optl: spec.config.service.pipelines."
                                              r"traces.exporters: \[\] should be non-empty"):
        validate_file(_broken(tmp_path, "operator/collector.yaml", mutate), "1.29.0")


def test_an_unknown_propagator_fails_the_instrumentation_check(tmp_path: Path) -> None:
    def mutate(docs):
        docs[0]["spec"]["propagators"].append("w3c")

    with pytest.raises(ManifestInvalid, match=r"Instrumentation/global-optl-instrumentation: spec.propagators.3: 'w3c'"):
        validate_file(_broken(tmp_path, "operator/instrumentation.yaml", mutate), "1.29.0")


def test_values_that_would_open_zipkin_are_refused(tmp_path: Path, monkeypatch) -> None:
    values = yaml.safe_load((MANIFESTS / "distributed" / "values.yaml").read_text())
    values["traces"]["zipkin"]["enabled"] = True
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    with pytest.raises(ManifestInvalid, match=r"traces.zipkin.enabled is True, but the tempo-distributed topology needs False"):
        check_values(str(tmp_path / "values.yaml"), "tempo-distributed")


def test_an_unsupported_kubernetes_version_says_which_to_use() -> None:
    with pytest.raises(ManifestInvalid, match=r"Kubernetes 1.2.0 cannot be checked: the seeds need 1.29 or later.*pick a version such as 1.29.0"):
        validate_file(MANIFESTS / "manifest" / "tempo.yaml", "1.2.0")


@pytest.mark.parametrize("profile", ["manifest", "distributed", "operator", "nginx-otel"])
def test_plan_prints_the_complete_plan_under_quiet_and_validates(pytester: pytest.Pytester, profile: str) -> None:
    result = pytester.runpytest(f"--tracestack-profile={profile}", "--tracestack-runtime=kind", "--tracestack-plan",
                                "-q", "--tracestack-namespace=tracestack-plan")
    assert result.ret == 0
    out = result.stdout.str()
    assert out.startswith(f"tracestack plan: profile {profile} on runtime kind")
    assert "kind create cluster --name tracestack --image kindest/node:v1.35.0" in out
    assert "create namespace tracestack-plan" in out and "port-forward svc/" in out
    assert "validated: manifests/" in out
    assert "supersecret" not in out and "grafana-tempo" not in out


def test_plan_of_a_broken_user_manifest_fails_naming_the_object(pytester: pytest.Pytester, tmp_path: Path) -> None:
    broken = (MANIFESTS / "manifest" / "tempo.yaml").read_text().replace("containerPort: 3100", "containerPort: web")
    (tmp_path / "tempo.yaml").write_text(broken)
    scenarios = pytester.mkdir("scenarios")
    text = (MANIFESTS.parent / "scenarios" / "manifest.yaml").read_text()
    text = text.replace("name: manifest", "name: mine").replace("[manifest/minio.yaml, manifest/tempo.yaml]",
                                                                f"[manifest/minio.yaml, {tmp_path / 'tempo.yaml'}]")
    (scenarios / "mine.yaml").write_text(text)
    result = pytester.runpytest(f"--tracestack-scenarios={scenarios}", "--tracestack-profile=mine",
                                "--tracestack-runtime=kind", "--tracestack-plan")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*validation failed:*", "*Deployment/tempo: spec.template.spec.containers.0.ports.0.containerPort: 'web' is not of type 'integer'*"])
