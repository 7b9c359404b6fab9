"""The local runtime renders each component's config from the same manifest the kind runtime applies."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pytest_tracestack.configs.rendering import (
    RenderedConfig,
    ReplicaContext,
    apply_overrides,
    extract_config,
    localhost_port_names,
    render_yaml,
)
from pytest_tracestack.configs.tempo_values import tempo_config_from_values
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import ConfigSource, load_profile

RECORDED_SINGLE_BINARY = Path(__file__).parent / "recorded" / "tempo-2.10.8" / "single-binary"


def _context(
    tmp_path: Path, ports: dict[str, int], address: str = "127.33.1.1", port_hosts: dict[str, str] | None = None
) -> ReplicaContext:
    endpoints = {
        ("sink", "otlp-grpc"): ["127.33.2.1:4317"],
        ("query-frontend", "grpc"): ["127.33.4.1:9095"],
        ("ingester", "memberlist"): ["127.33.2.1:7946", "127.33.2.2:7946", "127.33.2.3:7946"],
        ("distributor", "memberlist"): ["127.33.1.1:7946"],
    }
    return ReplicaContext(
        address=address,
        ports=ports,
        workdir=tmp_path / "replica",
        stackdir=tmp_path,
        instance_id="ingester-1",
        endpoint=lambda c, p: endpoints[(c, p)][0],
        peers=lambda c, p: endpoints[(c, p)],
        port_hosts=port_hosts or {},
    )


def test_collector_config_comes_from_the_operator_resource_with_local_addresses(tmp_path: Path) -> None:
    component = load_profile("collector").components["otelcol"]
    seed_config = extract_config(component.config)
    assert seed_config["processors"]["memory_limiter"] == {
        "check_interval": "1s",
        "limit_percentage": 75,
        "spike_limit_percentage": 15,
    }
    assert seed_config["exporters"]["otlp"]["endpoint"] == "tempo.tempo:4317"
    rendered = apply_overrides(seed_config, component.local_overrides, _context(tmp_path, component.ports))
    assert rendered["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "127.33.1.1:4317"
    assert rendered["exporters"]["otlp"]["endpoint"] == "127.33.2.1:4317"
    assert rendered["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch"],
        "exporters": ["otlp"],
    }
    reader = rendered["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert reader == {"host": "127.33.1.1", "port": 8888}


def test_the_rendered_collector_config_is_accepted_by_the_real_collector(tmp_path: Path, otelcol_binary: Path) -> None:
    component = load_profile("collector").components["otelcol"]
    rendered = apply_overrides(
        extract_config(component.config), component.local_overrides, _context(tmp_path, component.ports)
    )
    file = tmp_path / "otelcol.yaml"
    file.write_text(render_yaml(rendered, component))
    done = subprocess.run(
        [str(otelcol_binary), "validate", f"--config={file}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_a_broken_override_is_refused_by_the_real_collector(tmp_path: Path, otelcol_binary: Path) -> None:
    component = load_profile("collector").components["otelcol"]
    broken = dict(component.local_overrides, **{"processors.batch.timeout": "ten seconds"})
    rendered = apply_overrides(extract_config(component.config), broken, _context(tmp_path, component.ports))
    file = tmp_path / "otelcol.yaml"
    file.write_text(yaml.safe_dump(rendered))
    done = subprocess.run(
        [str(otelcol_binary), "validate", f"--config={file}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "timeout" in done.stderr


def test_rendered_header_names_the_source_and_every_local_difference(tmp_path: Path) -> None:
    component = load_profile("collector").components["otelcol"]
    text = render_yaml({"a": 1}, component)
    assert text.startswith(
        "# Rendered by pytest-tracestack for the local runtime from manifests/collector/collector.yaml"
    )
    assert "# local runtime: processors.batch.timeout is 1s instead of the config's own" in text


def test_manifest_profile_keeps_the_seed_receivers_and_switches_storage_to_local(tmp_path: Path) -> None:
    component = load_profile("manifest").components["tempo"]
    seed_config = extract_config(component.config)
    assert seed_config["server"]["http_listen_port"] == 3100
    assert seed_config["storage"]["trace"]["backend"] == "s3"
    ports = dict(component.ports, grpc=10700)
    rendered = apply_overrides(
        seed_config, component.local_overrides, _context(tmp_path, ports, port_hosts={"grpc": "127.0.0.1"})
    )
    assert rendered["server"]["http_listen_port"] == 3100
    assert rendered["distributor"]["receivers"]["otlp"]["protocols"] == {
        "grpc": {"endpoint": "127.33.1.1:4317"},
        "http": {"endpoint": "127.33.1.1:4318"},
    }
    assert rendered["storage"]["trace"]["backend"] == "local"
    assert "s3" not in rendered["storage"]["trace"]
    assert rendered["storage"]["trace"]["wal"]["path"] == str(tmp_path / "replica" / "wal")


def _recorded_status_config() -> dict:
    """/status/config of a real single binary given 127.77.1.1 everywhere (tests/recorded/tempo-2.10.8/README.md)."""
    text = (RECORDED_SINGLE_BINARY / "status-config.yaml").read_text()
    return next(doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and "target" in doc)


@pytest.mark.parametrize("profile", ["manifest", "operator", "nginx-otel"])
def test_a_single_binary_listens_for_grpc_where_tempo_dials_itself(tmp_path: Path, profile: str) -> None:
    recorded = _recorded_status_config()
    given = yaml.safe_load((RECORDED_SINGLE_BINARY / "config-given.yaml").read_text())
    forced = recorded["ingester"]["lifecycler"]["address"]
    assert given["ingester"]["lifecycler"]["address"] != forced  # the recording shows Tempo overriding it
    grpc_port = given["server"]["grpc_listen_port"]
    assert recorded["querier"]["frontend_worker"]["frontend_address"] == f"{forced}:{grpc_port}"
    component = load_profile(profile).components["tempo"]
    ports = dict(component.ports, grpc=10700)
    notes: list[str] = []
    rendered = apply_overrides(
        extract_config(component.config),
        component.local_overrides,
        _context(tmp_path, ports, port_hosts={"grpc": forced}),
        notes,
    )
    server = rendered["server"]
    assert server.get("grpc_listen_address", "") in (forced, ""), "Tempo dials its own ingester on " + forced
    assert server["grpc_listen_port"] == 10700  # the port reserved for this stack, not 9095
    assert rendered["querier"]["frontend_worker"]["frontend_address"] in (f"{forced}:10700", None)
    header = render_yaml(RenderedConfig(rendered, notes), component)
    assert (
        "# local override: server.grpc_listen_port = 10700 (from {localhost_port:grpc}: a port of 127.0.0.1 "
        "reserved for this stack" in header
    )
    assert "a Tempo single binary forces its ingester address to 127.0.0.1" in header


def test_localhost_port_needs_a_port_the_runtime_reserved(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"\{localhost_port:grpc\}: unknown placeholder"):
        apply_overrides({}, {"server.grpc_listen_port": "{localhost_port:grpc}"}, _context(tmp_path, {"grpc": 9095}))
    assert localhost_port_names(
        {"a": "127.0.0.1:{localhost_port:grpc}", "b": ["{localhost_port:x}"], "c": "{port:http}"}
    ) == ["grpc", "x"]


def test_distributed_values_become_a_tempo_config_with_otlp_only_and_replication_3() -> None:
    values = extract_config(ConfigSource(manifest="distributed/values.yaml", kind="HelmValues"))
    config = tempo_config_from_values(values)
    assert config["distributor"]["receivers"] == {
        "otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}}
    }
    assert config["ingester"]["lifecycler"]["ring"]["replication_factor"] == 3
    assert config["storage"]["trace"]["backend"] == "s3"
    assert config["storage"]["trace"]["s3"]["endpoint"] == "tempo-minio:9000"


def test_distributed_replicas_get_unique_ring_ids_and_every_ingester_as_memberlist_peer(tmp_path: Path) -> None:
    component = load_profile("distributed").components["ingester"]
    base = tempo_config_from_values(extract_config(component.config))
    rendered = apply_overrides(base, component.local_overrides, _context(tmp_path, component.ports))
    assert rendered["ingester"]["lifecycler"]["id"] == "ingester-1"
    assert rendered["ingester"]["lifecycler"]["address"] == "127.33.1.1"
    assert rendered["memberlist"]["join_members"] == [
        "127.33.2.1:7946",
        "127.33.2.2:7946",
        "127.33.2.3:7946",
        "127.33.1.1:7946",
    ]
    assert rendered["querier"]["frontend_worker"]["frontend_address"] == "127.33.4.1:9095"
    assert rendered["storage"]["trace"]["local"]["path"] == str(tmp_path / "blocks")


def test_an_unknown_placeholder_names_itself(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"\{port:nope\}: unknown placeholder"):
        apply_overrides({}, {"a.b": "{address}:{port:nope}"}, _context(tmp_path, {"http": 1}))


def test_a_missing_configmap_key_lists_the_keys_there() -> None:
    source = ConfigSource(manifest="manifest/tempo.yaml", kind="ConfigMap", name="tempo-conf", key="tempo.yaml")
    with pytest.raises(ProfileError, match=r"has no key 'tempo.yaml'; keys: config.yml"):
        extract_config(source)
