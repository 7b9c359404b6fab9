"""With helm and the chart, the local runtime takes Tempo's config from `helm template` of the user's values,
then applies only its local overrides; without them, tracestack's translation refuses what it cannot translate.

The chart here is the stand-in tests/kube_data/charts/tempo-distributed (see its README): it
writes Tempo's config where the real chart 2.26.2 does (ConfigMap <release>-config, key tempo.yaml; a Secret
with configStorageType: Secret). That the real chart maps a given key the same way is NOT shown by these tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_tracestack.configs.helm_render import HelmRenderError, HelmRendering, tempo_config_from_manifests
from pytest_tracestack.configs.rendering import ReplicaContext, render_component_config, render_yaml
from pytest_tracestack.configs.tempo_config import tempo_config_for
from pytest_tracestack.configs.tempo_values import UntranslatedValues
from pytest_tracestack.profiles.profile import load_profile_file
from recording_runner import RecordingRunner

TEST_CHART = Path(__file__).parent / "kube_data" / "charts" / "tempo-distributed"


def _with_test_chart(helm: Path) -> HelmRendering:
    return HelmRendering(str(helm), lambda chart: (str(TEST_CHART),))


VALUES = {
    "traces": {"otlp": {"grpc": {"enabled": True}, "http": {"enabled": True}}},
    "overrides": {"defaults": {"ingestion": {"rate_limit_bytes": 30000000, "burst_size_bytes": 40000000}}},
    "ingester": {"replicas": 3, "config": {"trace_idle_period": "20s", "concurrent_flushes": 8}},
}


def _component(tmp_path: Path, values: dict, name: str = "ingester"):
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nextends: distributed\nfiles:\n  distributed/values.yaml: values.yaml\n"
    )
    return load_profile_file(tmp_path / "mine.yaml").components[name]


def _context(tmp_path: Path, ports: dict[str, int]) -> ReplicaContext:
    peers = {
        ("query-frontend", "grpc"): ["127.33.4.1:9095"],
        ("ingester", "memberlist"): ["127.33.2.1:7946"],
        ("distributor", "memberlist"): ["127.33.1.1:7946"],
    }
    return ReplicaContext(
        address="127.33.2.1",
        ports=ports,
        workdir=tmp_path / "replica",
        stackdir=tmp_path,
        instance_id="ingester-0",
        endpoint=lambda c, p: peers[(c, p)][0],
        peers=lambda c, p: peers[(c, p)],
    )


def test_the_charts_rendering_of_the_users_values_is_what_the_local_tempo_runs(
    installed_helm: Path, tmp_path: Path
) -> None:
    component = _component(tmp_path, VALUES)
    config = render_component_config(component, _context(tmp_path, component.ports), _with_test_chart(installed_helm))
    assert config["overrides"]["defaults"]["ingestion"] == {"rate_limit_bytes": 30000000, "burst_size_bytes": 40000000}
    assert config["ingester"]["trace_idle_period"] == "20s"
    assert config["ingester"]["concurrent_flushes"] == 8  # a key the built-in translation refuses
    # Only the local overrides differ: cluster addresses and paths replaced, the runtime file dropped.
    assert config["memberlist"]["join_members"] == ["127.33.2.1:7946", "127.33.1.1:7946"]
    assert "per_tenant_override_config" not in config["overrides"]
    assert config["storage"]["trace"]["wal"]["path"] == str(tmp_path / "replica" / "wal")
    text = render_yaml(config, component)
    assert (
        f"# Tempo config: helm template of chart tempo-distributed 2.26.2 ({TEST_CHART}), the chart's own "
        "rendering; only the local overrides and defaults below differ" in text
    )
    assert "# local override: overrides.per_tenant_override_config removed" in text
    assert "# local default not used: ingester.trace_idle_period is set by your file" in text


def test_a_config_the_chart_writes_into_a_secret_is_decoded(installed_helm: Path, tmp_path: Path) -> None:
    component = _component(tmp_path, {**VALUES, "configStorageType": "Secret"})
    config = render_component_config(component, _context(tmp_path, component.ports), _with_test_chart(installed_helm))
    assert config["ingester"]["concurrent_flushes"] == 8


def test_without_helm_the_same_values_are_refused_naming_the_untranslated_key(tmp_path: Path) -> None:
    component = _component(tmp_path, VALUES)
    with pytest.raises(UntranslatedValues) as raised:
        render_component_config(component, _context(tmp_path, component.ports), None)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path}/values.yaml: ingester.config.concurrent_flushes: ")
    assert "put helm on PATH" in message


def test_a_chart_out_of_reach_falls_back_to_the_translation_and_says_why(installed_helm: Path, tmp_path: Path) -> None:
    values = {key: value for key, value in VALUES.items() if key != "ingester"}
    component = _component(tmp_path, values)
    missing = HelmRendering(str(installed_helm), lambda chart: (str(tmp_path / "no-such-chart"),))
    config = render_component_config(component, _context(tmp_path, component.ports), missing)
    assert config["overrides"]["defaults"]["ingestion"]["rate_limit_bytes"] == 30000000
    assert any(
        note.startswith("helm template of chart tempo-distributed 2.26.2")
        and "failed, so tracestack translated the values instead" in note
        for note in config.notes
    )


RENDERED_CONFIG = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tempo-config}\ndata:\n"
    "  tempo.yaml: 'ingester: {concurrent_flushes: 8}'\n"
)


def test_helm_template_goes_through_the_command_layer_once_per_chart_and_values(tmp_path: Path) -> None:
    """The local runtime's `helm template` is a command of the command layer, as the kube runtimes' is: recorded
    here, with the helm it was given; the components sharing a values file share one rendering."""
    runner = RecordingRunner().on(" template tempo ", stdout=RENDERED_CONFIG)
    rendering = HelmRendering(
        "/opt/helm-3.19.0/helm", lambda chart: (chart["chart"], "--version", chart["version"]), runner
    )
    chart = _component(tmp_path, VALUES).chart
    components = [_component_named(tmp_path, name) for name in ("ingester", "distributor")]
    configs = [tempo_config_for(component, rendering)[0] for component in components]
    assert configs == [{"ingester": {"concurrent_flushes": 8}}] * 2
    assert runner.lines() == [
        f"/opt/helm-3.19.0/helm template tempo tempo-distributed --version {chart['version']} "
        f"-f {tmp_path / 'values.yaml'}"
    ]
    assert runner.timeouts == [300.0]


def test_a_refusal_through_the_command_layer_falls_back_with_helms_words(tmp_path: Path) -> None:
    runner = RecordingRunner().on(" template ", returncode=1, stderr='Error: chart "tempo-distributed" not found')
    rendering = HelmRendering("helm", lambda chart: (chart["chart"],), runner)
    _config, notes = tempo_config_for(_component(tmp_path, {}), rendering)
    assert any(
        note.endswith(
            "failed, so tracestack translated the values instead: `helm template tempo "
            f"tempo-distributed -f {tmp_path / 'values.yaml'}` failed: Error: chart "
            '"tempo-distributed" not found'
        )
        for note in notes
    ), notes


def _component_named(tmp_path: Path, name: str):
    return load_profile_file(tmp_path / "mine.yaml").components[name]


def test_a_rendering_without_tempos_config_says_so() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tempo-runtime}\ndata:\n  overrides.yaml: '{}'\n"
    with pytest.raises(
        HelmRenderError,
        match=r"no ConfigMap or Secret with a tempo.yaml key was rendered \(with "
        r"useExternalConfig: true",
    ):
        tempo_config_from_manifests(text, "helm template tempo ...")


def test_the_charts_option_is_where_the_local_runtime_takes_the_chart(helm: Path, tmp_path: Path) -> None:
    from pytest_tracestack.configs.tempo_config import helm_rendering

    component = _component(tmp_path, VALUES)
    config = render_component_config(
        component, _context(tmp_path, component.ports), helm_rendering(str(TEST_CHART.parent))
    )
    assert config["ingester"]["concurrent_flushes"] == 8
    assert any(
        note.startswith(f"Tempo config: helm template of chart tempo-distributed 2.26.2 ({TEST_CHART}")
        for note in config.notes
    )


def test_a_local_run_with_the_charts_option_says_so_in_its_header(helm: Path, pytester: pytest.Pytester) -> None:
    _component(pytester.path, VALUES)
    double = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=mine.yaml",
        "--tracestack-runtime=local",
        f"--tracestack-tempo={double}",
        f"--tracestack-charts={TEST_CHART.parent}",
        "-k",
        "service_name",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"tracestack: Tempo config: helm template of chart tempo-distributed 2.26.2 "
            f"({TEST_CHART}), the chart's own rendering*"
        ]
    )


def _counting_helm(tmp_path: Path) -> tuple[Path, Path]:
    """A helm stand-in that logs each command it is given, says it is 3.19.0 and renders nothing (tests only)."""
    log, helm = tmp_path / "helm-commands.log", tmp_path / "helm-for-tests"
    helm.write_text(
        f'#!/bin/sh\necho "$1" >> {log}\n'
        'if [ "$1" = version ]; then echo v3.19.0+gtests; exit 0; fi\necho "no chart here" >&2; exit 1\n'
    )
    helm.chmod(0o755)
    return helm, log


def test_helm_is_looked_up_once_per_session_and_only_for_helm_values(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helm, log = _counting_helm(tmp_path)
    monkeypatch.setenv("TRACESTACK_HELM", str(helm))
    report = tmp_path / "report"
    collector = pytester.runpytest(
        "--tracestack-profile=collector", "--tracestack-runtime=local", "--co", f"--tracestack-report={report}"
    )
    assert collector.ret == 0 and not log.exists()  # no Helm values: helm is not asked anything
    distributed = pytester.runpytest(
        "--tracestack-profile=distributed", "--tracestack-runtime=local", "--co", f"--tracestack-report={report}"
    )
    assert distributed.ret == 0
    distributed.stdout.fnmatch_lines(
        [
            "tracestack: helm template of chart tempo-distributed 2.26.2 * failed, so "
            "tracestack translated the values instead*"
        ]
    )
    assert (report / "tracestack-report.json").is_file()
    # the header and the report say how Tempo's config was made; helm was found (and failed to render) once
    assert log.read_text().splitlines() == ["version", "template"]
