"""A user's profile lives in the user's repository: its files resolve next to it, both runtimes use them, and
the ini file's tracestack_scenarios is relative to the ini file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import load_profile, load_profile_file

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
STAND_INS = Path(__file__).resolve().parent / "kube_data" / "charts"  # see its README: not the real charts


def _repository(root: Path, values_change=None) -> Path:
    """deploy/tempo/values.yaml (the seed's values, changed) and tracing/my-tempo.yaml extending distributed."""
    values = yaml.safe_load((MANIFESTS / "distributed" / "values.yaml").read_text())
    if values_change:
        values_change(values)
    (root / "deploy" / "tempo").mkdir(parents=True)
    (root / "deploy" / "tempo" / "values.yaml").write_text(yaml.safe_dump(values))
    (root / "tracing").mkdir()
    profile = root / "tracing" / "my-tempo.yaml"
    profile.write_text(
        "name: my-tempo\nextends: distributed\nfiles:\n  distributed/values.yaml: ../deploy/tempo/values.yaml\n"
    )
    return profile


def test_files_of_a_user_profile_resolve_next_to_it_and_reach_every_component_and_the_chart(tmp_path: Path) -> None:
    profile = load_profile_file(_repository(tmp_path))
    values = str(tmp_path / "deploy" / "tempo" / "values.yaml")
    assert {c.config.manifest for c in profile.components.values()} == {values}
    assert profile.kubernetes["charts"][0]["values"] == [values]


def test_a_path_in_a_user_profile_is_relative_to_the_profile_not_to_manifests(tmp_path: Path) -> None:
    profile_file = _repository(tmp_path)
    profile_file.write_text(
        "name: my-tempo\nextends: distributed\ncomponents:\n  distributor:\n    config:\n"
        "      manifest: ../deploy/tempo/values.yaml\n      kind: HelmValues\n"
    )
    profile = load_profile_file(profile_file)
    assert profile.components["distributor"].config.manifest == str(tmp_path / "deploy" / "tempo" / "values.yaml")
    assert profile.components["ingester"].config.manifest == "distributed/values.yaml"  # inherited, built-in


def test_a_missing_user_file_is_named_with_its_resolved_path(tmp_path: Path) -> None:
    profile_file = _repository(tmp_path)
    profile_file.write_text("name: my-tempo\nextends: distributed\nfiles:\n  distributed/values.yaml: values.yaml\n")
    with pytest.raises(ProfileError, match=rf"config.manifest: file {tmp_path}/tracing/values.yaml does not exist"):
        load_profile_file(profile_file)


def test_replacing_a_file_the_base_does_not_use_lists_the_files_it_uses(tmp_path: Path) -> None:
    profile_file = _repository(tmp_path)
    profile_file.write_text("name: my-tempo\nextends: distributed\nfiles:\n  distributed/value.yaml: x.yaml\n")
    with pytest.raises(
        ProfileError,
        match=r"files.distributed/value.yaml: the profile does not use this file; "
        r"the files it uses: distributed/values.yaml",
    ):
        load_profile_file(profile_file)


def test_replicas_come_from_the_values_as_the_chart_makes_them(tmp_path: Path) -> None:
    def change(values):
        values["ingester"]["replicas"] = 5
        values["querier"].pop("replicas")  # the chart's default: 1
        del values["queryFrontend"]

    profile = load_profile_file(_repository(tmp_path, change))
    replicas = {name: component.replicas for name, component in profile.components.items()}
    assert replicas == {"distributor": 1, "ingester": 5, "querier": 1, "query-frontend": 1, "compactor": 1}


def test_replicas_in_the_profile_of_a_helm_values_component_are_refused(tmp_path: Path) -> None:
    profile_file = _repository(tmp_path)
    profile_file.write_text(profile_file.read_text() + "components:\n  ingester:\n    replicas: 2\n")
    with pytest.raises(
        ProfileError,
        match=r"components.ingester.replicas: the replicas of a component configured by "
        r"Helm values come from the values .*; set them there",
    ):
        load_profile_file(profile_file)


def test_a_builtin_file_can_be_named_from_a_user_profile(tmp_path: Path) -> None:
    profile_file = tmp_path / "mine.yaml"
    profile_file.write_text(
        "name: mine\nextends: collector\ncomponents:\n  otelcol:\n    config:\n"
        "      manifest: builtin:operator/collector.yaml\n      kind: OpenTelemetryCollector\n"
    )
    assert load_profile_file(profile_file).components["otelcol"].config.manifest == "operator/collector.yaml"


def test_a_profile_can_be_given_as_a_file_path(tmp_path: Path) -> None:
    assert load_profile(str(_repository(tmp_path))).name == "my-tempo"


def test_the_kind_plan_installs_the_users_values_file(pytester: pytest.Pytester, helm: Path) -> None:
    _repository(pytester.path, lambda v: v["storage"].update(trace={"backend": "gcs", "gcs": {"bucket_name": "t"}}))
    result = pytester.runpytest(
        "--tracestack-profile=tracing/my-tempo.yaml",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-namespace=tracestack-plan",
        f"--tracestack-charts={STAND_INS}",
    )
    out = result.stdout.str()
    assert result.ret == 0, out
    values = pytester.path / "deploy" / "tempo" / "values.yaml"
    assert f"-f {values} " in out
    assert str(MANIFESTS / "distributed" / "values.yaml") not in out
    assert f"validated: {values}: parsed; " in out and "storage.trace.backend=gcs" in out


def test_ini_scenarios_resolve_against_the_ini_file_from_any_directory(
    pytester: pytest.Pytester, helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _repository(pytester.path)
    pytester.makeini("[pytest]\ntracestack_scenarios = tracing\n")
    elsewhere = pytester.mkdir("deploy/sub")
    monkeypatch.chdir(elsewhere)
    result = pytester.runpytest(
        "--tracestack-profile=my-tempo",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-namespace=tracestack-plan",
        f"--tracestack-charts={STAND_INS}",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert f"-f {pytester.path / 'deploy' / 'tempo' / 'values.yaml'} " in result.stdout.str()


def _pinned(root: Path, pins: str, values_change=None):
    profile = _repository(root, values_change)
    profile.write_text(profile.read_text() + pins)
    return profile


def _image(values, tag="2.10.8"):
    values["tempo"] = {"image": {"repository": "grafana/tempo", "tag": tag}}


def test_pinned_chart_version_and_image_reach_the_chart_and_the_images_kind_loads(tmp_path: Path) -> None:
    profile = load_profile_file(
        _pinned(tmp_path, "chart_version: 2.26.1\ntempo_version: 2.10.8\ntempo_image: grafana/tempo:2.10.8\n", _image)
    )
    assert profile.kubernetes["charts"][0]["version"] == "2.26.1"
    assert profile.components["ingester"].chart["version"] == "2.26.1"
    assert profile.kubernetes["images"] == ["grafana/tempo:2.10.8"]  # replaces the built-in 2.10.7


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda values: values.pop("tempo"),
            r"pins grafana/tempo:2.10.8, but .*values.yaml leaves tempo.image.tag to the chart's default",
        ),
        (
            lambda values: _image(values, "2.10.7"),
            r"pins grafana/tempo:2.10.8, but .*values.yaml deploys "
            r"grafana/tempo:2.10.7 \(tempo.image.\*\); make them agree",
        ),
    ],
)
def test_a_pinned_image_the_values_do_not_deploy_is_refused(tmp_path: Path, change, problem: str) -> None:
    with pytest.raises(ProfileError, match=rf"tempo_image: {problem}"):
        load_profile_file(_pinned(tmp_path, "tempo_image: grafana/tempo:2.10.8\n", change))


DIGEST = "sha256:" + "4" * 64


@pytest.mark.parametrize(
    ("pinned", "registry", "tag"),
    [
        (f"grafana/tempo:2.10.8@{DIGEST}", None, f"2.10.8@{DIGEST}"),  # pinned by digest as well as by tag
        ("grafana/tempo:2.10.8", "index.docker.io", "2.10.8"),  # Docker Hub under its other name
    ],
)
def test_a_pinned_image_is_the_deployed_one_however_either_spells_it(
    tmp_path: Path, pinned: str, registry: str | None, tag: str
) -> None:
    """The values' registry/repository:tag and the pin name one image: the pin is accepted and replaces the
    built-in Tempo image in the list kind loads (read as the image list and the version check read images)."""

    def deploy(values):
        _image(values, tag)
        if registry:
            values["tempo"]["image"]["registry"] = registry

    profile = load_profile_file(_pinned(tmp_path, f"tempo_image: {pinned}\n", deploy))
    assert profile.kubernetes["images"] == [pinned]


def test_the_plan_and_header_say_which_versions_are_pinned(pytester: pytest.Pytester, helm: Path) -> None:
    import shutil

    _pinned(pytester.path, "chart_version: 2.26.1\ntempo_image: grafana/tempo:2.10.8\n", _image)
    charts = pytester.path / "charts"
    shutil.copytree(STAND_INS / "tempo-distributed", charts / "tempo-distributed")
    chart_yaml = charts / "tempo-distributed" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("version: 2.26.2", "version: 2.26.1"))
    plan = pytester.runpytest(
        "--tracestack-profile=tracing/my-tempo.yaml",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-namespace=tracestack-plan",
        f"--tracestack-charts={charts}",
    )
    assert plan.ret == 0, plan.stdout.str()
    assert "chart tempo-distributed 2.26.1 from" in plan.stdout.str()
    header = pytester.runpytest(
        "--tracestack-profile=tracing/my-tempo.yaml", "--tracestack-runtime=local", "--collect-only"
    )
    header.stdout.fnmatch_lines(
        [
            "tracestack: pinned: chart tempo-distributed 2.26.1 (profile chart_version)",
            "tracestack: pinned: Tempo 2.10.8 (profile tempo_version*",
            "tracestack: pinned: image grafana/tempo:2.10.8 (profile tempo_image*",
            "tracestack: chart tempo-distributed 2.26.1 (the version the kind and cluster*",
        ]
    )


def test_a_schema_file_of_the_users_resolves_next_to_the_profile_and_loads(tmp_path: Path) -> None:
    from pytest_tracestack.traces.attribute_schemas import load_schema

    profile_file = _repository(tmp_path)
    (tmp_path / "tracing" / "our-http.yaml").write_text(
        (MANIFESTS.parent / "scenarios" / "schemas" / "otel-http-stable.yaml")
        .read_text()
        .replace("name: otel-http-stable", "name: our-http")
    )
    profile_file.write_text(profile_file.read_text() + "schemas: [our-http.yaml, otel-http-old]\n")
    profile = load_profile_file(profile_file)
    assert profile.schemas == (str(tmp_path / "tracing" / "our-http.yaml"), "otel-http-old")
    assert load_schema(profile.schemas[0]).name == "our-http"


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "infra-repo"


def test_a_collector_resource_runs_as_many_replicas_as_its_spec_says(tmp_path: Path) -> None:
    # The example team's OpenTelemetryCollector says spec.replicas: 2; the gate runs both, as the operator would.
    profile = load_profile_file(EXAMPLE / "tracing" / "my-collector.yaml")
    assert profile.components["otelcol"].replicas == 2
    collector = yaml.safe_load((EXAMPLE / "deploy" / "collector" / "collector.yaml").read_text())
    collector["spec"]["replicas"] = "two"
    (tmp_path / "deploy" / "collector").mkdir(parents=True)
    (tmp_path / "deploy" / "collector" / "collector.yaml").write_text(yaml.safe_dump(collector))
    (tmp_path / "tracing").mkdir()
    (tmp_path / "tracing" / "my-collector.yaml").write_text((EXAMPLE / "tracing" / "my-collector.yaml").read_text())
    with pytest.raises(ProfileError, match=r"OpenTelemetryCollector gateway.spec.replicas.*not 'two'"):
        load_profile_file(tmp_path / "tracing" / "my-collector.yaml")
