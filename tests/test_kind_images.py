"""The image list of --tracestack-load-images=profile, read from rendered documents: every container and
init container of every kind of workload, plus the images the operator creates from custom resources.
The documents are hand-written in the shape of `helm template` output (tests/kube_data/rendered/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.kube.images import Rendered, check_tempo_version, images_used
from pytest_tracestack.runtimes.kube.manifests import render_manifests
from recording_runner import every_image_key

RENDERED = Path(__file__).resolve().parent / "kube_data" / "rendered"


def _documents(name: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all((RENDERED / name).read_text()) if document]


def test_every_container_and_init_container_of_every_workload_kind_is_listed() -> None:
    documents = _documents("tempo-distributed.yaml")
    found = images_used([Rendered("helm template tempo-distributed 2.26.2", documents)])
    assert set(found.images) == set(every_image_key(documents))
    assert found.images == [
        "docker.io/grafana/tempo:2.10.8",
        "docker.io/memcached:1.6.43-alpine",
        "pgsty/minio:RELEASE.2026-04-17T00-00-00Z",
        "quay.io/minio/mc:RELEASE.2022-10-20T23-26-33Z",
        "docker.io/library/busybox:1.36.1",
    ]
    assert found.unknown == ()
    users = [use.used_by for use in found.uses if use.image.startswith("quay.io/minio/mc")]
    assert users == ["Job/tempo-minio-make-bucket-job (helm template tempo-distributed 2.26.2)"] * 2  # init + main


def test_the_operator_profile_lists_rendered_images_and_those_the_operator_creates(tmp_path: Path) -> None:
    chart = _documents("opentelemetry-operator.yaml")
    manifests = render_manifests(load_profile("operator"), tmp_path)
    found = images_used([Rendered("chart", chart), *(Rendered(m.label, m.documents) for m in manifests)])
    rendered = set(every_image_key(chart)) | {image for m in manifests for image in every_image_key(list(m.documents))}
    # The operator runs the collector from --collector-image and injects the agent of --auto-instrumentation-java-image.
    operator_made = {
        "otel/opentelemetry-collector-contrib:0.129.1",
        "ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:1.33.6",
    }
    assert set(found.images) == rendered | operator_made and not operator_made & rendered
    by_image = {use.image: use.used_by for use in found.uses}
    assert by_image["otel/opentelemetry-collector-contrib:0.129.1"] == (
        "collector the operator runs for OpenTelemetryCollector/global-optl (the operator's --collector-image)"
    )
    assert by_image["ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-java:1.33.6"] == (
        "java auto-instrumentation the operator injects into Deployment/reviews "
        "(the operator's --auto-instrumentation-java-image)"
    )


def test_images_named_by_the_custom_resources_win_over_the_operators_defaults() -> None:
    chart = _documents("opentelemetry-operator.yaml")
    resources = [
        {
            "apiVersion": "opentelemetry.io/v1beta1",
            "kind": "OpenTelemetryCollector",
            "metadata": {"name": "edge"},
            "spec": {
                "image": "registry.local/otelcol:1.0",
                "config": {},
                "initContainers": [{"name": "setup", "image": "busybox:1.36"}],
            },
        },
        {
            "apiVersion": "opentelemetry.io/v1alpha1",
            "kind": "Instrumentation",
            "metadata": {"name": "py"},
            "spec": {"python": {"image": "registry.local/autoinstrumentation-python:0.54b1"}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "shop"},
            "spec": {
                "template": {
                    "metadata": {
                        "annotations": {
                            "instrumentation.opentelemetry.io/inject-python": "true",
                            "instrumentation.opentelemetry.io/inject-java": "false",
                            "instrumentation.opentelemetry.io/inject-sdk": "true",
                        }
                    },
                    "spec": {"containers": [{"name": "shop", "image": "shop:2"}]},
                }
            },
        },
    ]
    found = images_used([Rendered("chart", chart), Rendered("mine.yaml", resources)])
    assert found.images[-4:] == [
        "shop:2",
        "registry.local/otelcol:1.0",
        "busybox:1.36",
        "registry.local/autoinstrumentation-python:0.54b1",
    ]
    assert found.unknown == ()


def test_an_injected_language_whose_image_nothing_names_is_reported_unknown() -> None:
    resources = [
        {
            "apiVersion": "opentelemetry.io/v1beta1",
            "kind": "OpenTelemetryCollector",
            "metadata": {"name": "c"},
            "spec": {"config": {}},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "report"},
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "metadata": {
                                "annotations": {"instrumentation.opentelemetry.io/inject-nodejs": "tracing/nodejs"}
                            },
                            "spec": {"containers": [{"name": "r", "image": "report:1"}]},
                        }
                    }
                }
            },
        },
    ]
    found = images_used([Rendered("mine.yaml", resources)])
    assert found.images == ["report:1"]
    assert found.unknown == (
        "OpenTelemetryCollector/c: no spec.image, and the operator is given no --collector-image (set "
        "manager.collectorImage.repository and .tag in the operator chart's values)",
        "nodejs auto-instrumentation the operator injects into CronJob/report: neither the Instrumentation's "
        "spec.nodejs.image nor the operator's --auto-instrumentation-nodejs-image names it (set "
        "manager.autoInstrumentationImage.nodejs in the operator's values)",
    )


@pytest.mark.parametrize(
    "image",
    [
        "grafana/tempo:2.10.8",
        "docker.io/grafana/tempo:2.10.8",
        "registry.local:5000/grafana/tempo:2.10.8@sha256:" + "0" * 64,
        "grafana/tempo-query:1",
    ],
)
def test_the_profiles_tempo_version_matches_the_tempo_image(image: str) -> None:
    found = images_used(
        [
            Rendered(
                "x",
                [{"kind": "Pod", "metadata": {"name": "t"}, "spec": {"containers": [{"name": "t", "image": image}]}}],
            )
        ]
    )
    assert [use.image for use in found.uses] == [image]  # checked, not passed over
    check_tempo_version(load_profile("manifest"), found.uses)  # tempo_version 2.10.8; tempo-query is another image


def test_a_tempo_image_of_another_version_names_the_object_and_the_profile_key() -> None:
    found = images_used(
        [
            Rendered(
                "manifests/nginx-otel/tempo.yaml",
                [
                    {
                        "kind": "Deployment",
                        "metadata": {"name": "tempo"},
                        "spec": {
                            "template": {"spec": {"containers": [{"name": "tempo", "image": "grafana/tempo:2.7.2"}]}}
                        },
                    }
                ],
            )
        ]
    )
    with pytest.raises(
        ProfileError,
        match=r"scenarios/nginx-otel.yaml: tempo_version: is 2.10.8, but Deployment/tempo "
        r"\(manifests/nginx-otel/tempo.yaml\) runs grafana/tempo:2.7.2",
    ):
        check_tempo_version(load_profile("nginx-otel"), found.uses)


@pytest.mark.parametrize("profile", ["manifest", "operator", "nginx-otel"])
def test_the_shipped_manifests_run_the_profiles_tempo_version(profile: str, tmp_path: Path) -> None:
    manifests = render_manifests(load_profile(profile), tmp_path)
    found = images_used([Rendered(m.label, m.documents) for m in manifests])
    assert any("grafana/tempo:" in image for image in found.images)
    check_tempo_version(load_profile(profile), found.uses)


def test_one_image_spelled_with_and_without_its_registry_is_listed_and_loaded_once() -> None:
    """A chart writes docker.io/grafana/tempo:2.10.8 where a profile's tempo_image says grafana/tempo:2.10.8: one
    image for Docker and containerd, so one pull and one `kind load`, with every user named."""
    from pytest_tracestack.runtimes.kube.images import ImagePlan, ImageUse, iter_lines

    plan = ImagePlan(
        (
            ImageUse("docker.io/grafana/tempo:2.10.8", "Deployment/tempo-distributor (chart)"),
            ImageUse("grafana/tempo:2.10.8", "the profile's kubernetes.images"),
            ImageUse("memcached:1.6.43-alpine", "StatefulSet/a"),
            ImageUse("docker.io/library/memcached:1.6.43-alpine", "StatefulSet/b"),
            ImageUse("quay.io/grafana/tempo:2.10.8", "Deployment/mirror"),
        ),
        (),
    )
    assert plan.images == ["docker.io/grafana/tempo:2.10.8", "memcached:1.6.43-alpine", "quay.io/grafana/tempo:2.10.8"]
    assert list(iter_lines(plan))[0] == (
        "docker.io/grafana/tempo:2.10.8  <- Deployment/tempo-distributor (chart); the profile's kubernetes.images"
    )
    from pytest_tracestack.runtimes.kube.images import canonical

    assert canonical("docker.io/memcached:1.6.43-alpine") == "docker.io/library/memcached:1.6.43-alpine"
    assert canonical("localhost:5000/tempo:2.10.8") == "localhost:5000/tempo:2.10.8"


def test_the_cli_prints_the_list_one_image_a_line_to_pull_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_tracestack.cli import main

    assert main(["images", "manifest"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z",
        "grafana/tempo:2.10.8",
    ]
    assert main(["images", "manifest", "--k8s-version", "1.2.0"]) == 1
    assert "Kubernetes 1.2.0 cannot be checked" in capsys.readouterr().err


def test_the_cli_reads_the_charts_and_kubernetes_version_from_the_same_variables_as_pytest(
    helm: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_tracestack.cli import main

    monkeypatch.setenv("TRACESTACK_CHARTS", str(Path(__file__).parent / "kube_data" / "charts"))  # stand-ins
    monkeypatch.setenv("TRACESTACK_K8S_VERSION", "1.2.0")
    assert main(["images", "distributed"]) == 1
    assert "Kubernetes 1.2.0 cannot be checked" in capsys.readouterr().err
    monkeypatch.delenv("TRACESTACK_K8S_VERSION")
    assert main(["images", "distributed"]) == 0  # no chart repository reached: the stand-in rendered
    assert "docker.io/grafana/tempo:2.10.8" in capsys.readouterr().out.splitlines()
