"""tracestack's translation of tempo-distributed values (chart 2.26.x) never ignores a key: it translates it the
way the chart's config template does, lists it as not applied locally, or refuses it naming key and file.
The chart's mapping was read from grafana-community/helm-charts tag tempo-distributed-2.26.2 (values.yaml
``config:`` template); that Tempo accepts the result is only proven by running a real Tempo."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_tracestack.configs.rendering import ReplicaContext, render_component_config, render_yaml
from pytest_tracestack.configs.tempo_values import UntranslatedValues, translate_values
from pytest_tracestack.profiles.profile import load_profile_file

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


def _seed_values() -> dict:
    return yaml.safe_load((MANIFESTS / "distributed" / "values.yaml").read_text())


def test_the_ingestion_rate_limit_and_ingester_timings_reach_the_tempo_config() -> None:
    values = _seed_values()
    values["overrides"] = {"defaults": {"ingestion": {"rate_limit_bytes": 30000000, "burst_size_bytes": 40000000}}}
    values["ingester"]["config"].update(trace_idle_period="20s", max_block_duration="15m", replication_factor=2)
    values["distributor"]["config"] = {"log_received_spans": {"enabled": True}, "max_attribute_bytes": 2048}
    values["server"] = {"logLevel": "debug", "grpc_server_max_recv_msg_size": 8388608}
    config = translate_values(values, "values.yaml").config
    assert config["overrides"] == {
        "defaults": {"ingestion": {"rate_limit_bytes": 30000000, "burst_size_bytes": 40000000}}
    }
    assert config["ingester"]["trace_idle_period"] == "20s" and config["ingester"]["max_block_duration"] == "15m"
    assert config["ingester"]["lifecycler"]["ring"]["replication_factor"] == 2
    assert config["distributor"]["log_received_spans"] == {"enabled": True}
    assert config["distributor"]["max_attribute_bytes"] == 2048
    assert config["server"] == {"log_level": "debug", "grpc_server_max_recv_msg_size": 8388608}


def test_receivers_follow_traces_with_their_receiver_config_merged_as_the_chart_does() -> None:
    values = _seed_values()
    values["traces"]["otlp"]["grpc"]["receiverConfig"] = {"max_recv_msg_size_mib": 16}
    values["traces"]["zipkin"] = {"enabled": True}
    receivers = translate_values(values, "values.yaml").config["distributor"]["receivers"]
    assert receivers["otlp"]["protocols"]["grpc"] == {"endpoint": "0.0.0.0:4317", "max_recv_msg_size_mib": 16}
    assert receivers["zipkin"] == {"endpoint": "0.0.0.0:9411"}


def test_structured_config_is_merged_over_everything_like_the_chart() -> None:
    values = _seed_values()
    values["tempo"] = {
        "structuredConfig": {
            "ingester": {"trace_idle_period": "7s"},
            "query_frontend": {"search": {"max_duration": "12h"}},
        }
    }
    config = translate_values(values, "values.yaml").config
    assert config["ingester"]["trace_idle_period"] == "7s"
    assert config["query_frontend"]["search"]["max_duration"] == "12h"
    assert config["ingester"]["lifecycler"]["ring"]["replication_factor"] == 3


def test_kubernetes_only_keys_are_listed_as_not_applied_not_refused() -> None:
    values = _seed_values()
    values["ingester"]["resources"] = {"limits": {"memory": "8Gi"}}
    values["distributor"]["affinity"] = {"podAntiAffinity": {}}
    values["tempo"] = {"image": {"tag": "2.10.8"}, "podAnnotations": {"a": "b"}}
    translation = translate_values(values, "values.yaml")
    assert "minio (not run by the local runtime)" in translation.not_applied
    assert "ingester.resources (Kubernetes object settings)" in translation.not_applied
    assert "distributor.affinity (Kubernetes object settings)" in translation.not_applied
    assert "tempo (Kubernetes object settings)" in translation.not_applied
    assert "resources" not in yaml.safe_dump(translation.config)


def test_a_backend_section_that_is_not_selected_is_not_applied() -> None:
    values = _seed_values()
    values["storage"]["trace"]["backend"] = "gcs"
    values["storage"]["trace"]["gcs"] = {"bucket_name": "traces"}
    translation = translate_values(values, "values.yaml")
    assert translation.config["storage"]["trace"]["gcs"] == {"bucket_name": "traces"}
    assert "s3" not in translation.config["storage"]["trace"]
    assert "storage.trace.s3 (another storage backend is selected)" in translation.not_applied


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda v: v["ingester"]["config"].update(max_traces_per_user=5), "ingester.config.max_traces_per_user"),
        (lambda v: v.update(metricsGenerator={"enabled": True}), "metricsGenerator.enabled"),
        (lambda v: v["ingester"].update(extraArgs=["-ingester.foo=1"]), "ingester.extraArgs"),
        (
            lambda v: v.update(per_tenant_overrides={"team-a": {"ingestion": {"rate_limit_bytes": 1}}}),
            "per_tenant_overrides.team-a.ingestion.rate_limit_bytes",
        ),
        (lambda v: v.update(memberlist={"cluster_label": "{{ .Release.Name }}"}), "memberlist.cluster_label"),
    ],
)
def test_a_key_the_translation_does_not_handle_is_refused_naming_key_file_and_helm(change, key: str) -> None:
    values = _seed_values()
    change(values)
    with pytest.raises(UntranslatedValues) as raised:
        translate_values(values, "/repo/deploy/tempo/values.yaml")
    message = str(raised.value)
    assert message.startswith(f"/repo/deploy/tempo/values.yaml: {key}")
    assert "put helm on PATH" in message and "helm template" in message


def _context(tmp_path: Path, ports: dict[str, int]) -> ReplicaContext:
    peers = {
        ("query-frontend", "grpc"): ["127.33.4.1:9095"],
        ("ingester", "memberlist"): ["127.33.2.1:7946"],
        ("distributor", "memberlist"): ["127.33.1.1:7946"],
    }
    return ReplicaContext(
        address="127.33.1.1",
        ports=ports,
        workdir=tmp_path / "replica",
        stackdir=tmp_path,
        instance_id="distributor-0",
        endpoint=lambda c, p: peers[(c, p)][0],
        peers=lambda c, p: peers[(c, p)],
    )


def _user_profile(tmp_path: Path, values: dict):
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nextends: distributed\nfiles:\n  distributed/values.yaml: values.yaml\n"
    )
    return load_profile_file(tmp_path / "mine.yaml")


def test_the_rendered_header_lists_every_override_default_and_key_not_applied(tmp_path: Path) -> None:
    values = _seed_values()
    values["ingester"]["config"]["trace_idle_period"] = "20s"
    component = _user_profile(tmp_path, values).components["distributor"]
    config = render_component_config(component, _context(tmp_path, component.ports))
    text = render_yaml(config, component)
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[0] == (
        f"# Rendered by pytest-tracestack for the local runtime from {tmp_path}/values.yaml (HelmValues)."
    )
    assert header[1] == f"# values: {tmp_path}/values.yaml"
    assert (
        "# Tempo config: translated by tracestack from the values as the tempo-distributed chart (2.26.x)"
        " maps them; keys the values do not set keep Tempo's defaults (except the chart's replication factor 3"
        " and storage paths)" in header
    )
    assert "# local override: server.http_listen_address = 127.33.1.1" in header
    assert "# local override: storage.trace.s3 removed" in header
    assert "# local default not used: ingester.trace_idle_period is set by your file" in header
    assert "# local default: ingester.max_block_duration = 2s (your file does not set it)" in header
    assert "# not applied locally: minio (not run by the local runtime)" in header
    overrides = [line for line in header if line.startswith("# local override")]
    assert len(overrides) == len(component.local_overrides)
    rendered = yaml.safe_load(text)
    assert rendered["ingester"]["trace_idle_period"] == "20s"
    assert "supersecret" not in text


def test_a_receiver_the_values_turn_off_is_not_turned_back_on_by_the_local_addresses(tmp_path: Path) -> None:
    values = _seed_values()
    values["traces"]["otlp"]["http"]["enabled"] = False
    component = _user_profile(tmp_path, values).components["distributor"]
    config = render_component_config(component, _context(tmp_path, component.ports))
    assert config["distributor"]["receivers"]["otlp"]["protocols"] == {"grpc": {"endpoint": "127.33.1.1:4317"}}
    assert (
        "local override skipped: distributor.receivers.otlp.protocols.http.endpoint "
        "(distributor.receivers.otlp.protocols.http is not in the config)"
    ) in config.notes


def test_the_pytest_header_and_the_report_say_how_tempos_config_was_made(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    import json

    values = _seed_values()
    values["ingester"]["resources"] = {"limits": {"memory": "8Gi"}}
    _user_profile(pytester.path, values)
    double = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=mine.yaml",
        "--tracestack-runtime=local",
        f"--tracestack-tempo={double}",
        f"--tracestack-report={tmp_path}",
        "-k",
        "service_name",
    )
    values_file = pytester.path / "values.yaml"
    result.stdout.fnmatch_lines(
        [
            f"tracestack: values: {values_file}",
            "tracestack: Tempo config: translated by *",
            "tracestack: not applied locally: ingester.resources (Kubernetes object settings)",
        ]
    )
    report = json.loads((tmp_path / "tracestack-report.json").read_text())
    assert "not applied locally: minio (not run by the local runtime)" in report["local_rendering"]


def test_the_header_says_why_the_values_were_translated_when_helm_is_missing(tmp_path: Path) -> None:
    """Without helm (rendering None, as helm_rendering answers then), the user learns how to get the chart's
    own rendering instead of only that a translation was used."""
    from pytest_tracestack.configs.tempo_config import rendering_lines

    lines = rendering_lines(_user_profile(tmp_path, _seed_values()), None)
    assert (
        "helm was not found (TRACESTACK_HELM, PATH, tracestack's cache), so tracestack translated the values; "
        "with helm 3.18.5+ and the chart reachable (its repository, or --tracestack-charts=DIR) Tempo's config is "
        "the chart's own rendering"
    ) in lines
    assert lines.index(next(line for line in lines if line.startswith("helm was not found"))) < lines.index(
        next(line for line in lines if line.startswith("Tempo config: translated"))
    )
