"""Profiles: the topologies tracestack brings up, read from YAML files in ``scenarios/`` or the user's repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack import paths
from pytest_tracestack.configs.merging import deep_merge
from pytest_tracestack.configs.tempo_values import chart_replicas
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.file_format import PROFILE_FORMAT
from pytest_tracestack.profiles.file_paths import manifest_file, replace_files, resolve_own_paths
from pytest_tracestack.profiles.pins import apply_pins
from pytest_tracestack.profiles.yaml_validation import validate_document

Range = tuple[float, float]


@dataclass(frozen=True)
class ConfigSource:
    manifest: str
    kind: str
    name: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    replicas: int = 1
    target: str | None = None
    config: ConfigSource | None = None
    ports: dict[str, int] = field(default_factory=dict)
    readiness: str | None = None
    metrics: str | None = None  # 'http:PORT/PATH' serving Prometheus text (see metrics_endpoint)
    local_overrides: dict[str, Any] = field(default_factory=dict)
    local_defaults: dict[str, Any] = field(default_factory=dict)
    local_notes: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    chart: dict[str, Any] = field(default_factory=dict)  # HelmValues: the kubernetes.charts entry installing them
    after: tuple[str, ...] = ()  # components started, and ready, before this one
    credentials: dict[str, str] = field(default_factory=dict)  # generated per run: name -> environment variable

    @property
    def metrics_endpoint(self) -> tuple[str, str] | None:
        """(port name, path) of the component's /metrics: what ``metrics`` says, else a port named
        ``metrics`` (the collectors' Prometheus reader), else None (nothing to scrape)."""
        if self.metrics:
            return http_endpoint(self.metrics)
        return ("metrics", "/metrics") if "metrics" in self.ports else None


def http_endpoint(spec: str) -> tuple[str, str]:
    """(port name, path) of an ``http:PORT/PATH`` spec (a component's ``readiness`` or ``metrics``)."""
    port, _, path = spec.removeprefix("http:").partition("/")
    return port, "/" + path


@dataclass(frozen=True)
class Endpoint:
    component: str
    port: str
    path: str = ""


@dataclass(frozen=True)
class QuerySpec:
    kind: str  # "tempo" or "sink"
    component: str | None = None
    port: str | None = None


@dataclass(frozen=True)
class Target:
    source: str
    throughput_mb_s: Range | None = None
    memory_mib: Range | None = None
    cpu_cores: float | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    source_file: Path
    components: dict[str, Component]
    ingest: dict[str, Endpoint]
    query: QuerySpec
    checks: tuple[str, ...]
    refused: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ("local", "kind", "cluster")
    seed: str = ""
    tempo_version: str | None = None
    chart_version: str | None = None
    tempo_image: str | None = None
    schemas: tuple[str, ...] = ()
    targets: dict[str, Target] = field(default_factory=dict)
    kubernetes: dict[str, Any] = field(default_factory=dict)

    @property
    def binaries(self) -> set[str]:
        return {component.binary for component in self.components.values()}


def profile_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Directories searched for profiles, the user's first so they can override built-ins."""
    return [*(extra or []), paths.scenarios_dir()]


def available_profiles(extra: list[Path] | None = None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in reversed(profile_dirs(extra)):
        for file in sorted(directory.glob("*.yaml")):
            found[file.stem] = file
    return dict(sorted(found.items()))


def load_profile(name: str, extra: list[Path] | None = None) -> Profile:
    """A profile by name (searched in ``extra`` first, then the built-ins), or the profile file at a path."""
    if name.endswith((".yaml", ".yml")):
        file = Path(name)
        if not file.is_file():
            raise ProfileError("--tracestack-profile", name, f"no such profile file ({file.resolve()})")
        return load_profile_file(file, extra)
    profiles = available_profiles(extra)
    if name not in profiles:
        valid = ", ".join(profiles) or "(none found)"
        raise ProfileError("--tracestack-profile", name, f"no such profile; valid profiles: {valid}")
    return load_profile_file(profiles[name], extra)


def load_profile_file(file: Path, extra: list[Path] | None = None) -> Profile:
    file = file.resolve()
    data = _read_document(file, extra)
    validate_document(file, data, PROFILE_FORMAT)
    profile = _build(file, apply_pins(file, data))
    _check_references(profile)
    return profile


def _read_document(file: Path, extra: list[Path] | None, seen: tuple[Path, ...] = ()) -> Any:
    """The profile document with its paths resolved and its ``extends`` chain merged in."""
    data = resolve_own_paths(_read_yaml(file), file)
    if not (isinstance(data, dict) and "extends" in data):
        for key in ("files", "drop"):
            if isinstance(data, dict) and key in data:
                raise ProfileError(str(file), key, "changes the profile named by 'extends', which is missing")
        return data
    base_name = data.pop("extends")
    if not isinstance(base_name, str):
        raise ProfileError(str(file), "extends", f"must be the name of a profile, got {base_name!r}")
    base_file = available_profiles(extra).get(base_name)
    if base_file is None or base_file.resolve() in (file, *seen):
        raise ProfileError(str(file), "extends", f"names no other profile: {base_name!r}")
    base = _read_document(base_file.resolve(), extra, (*seen, file))
    replacements = data.pop("files", None)
    if replacements is not None:
        base = replace_files(base, replacements, file)
    return deep_merge(drop_keys(base, data.pop("drop", None) or {}, file), data)


def drop_keys(base: dict[str, Any], drops: Any, file: Path) -> dict[str, Any]:
    """The extended profile without the keys ``drop:`` names ({dotted path of a mapping, * = any key: [keys]});
    a path or key that matches nothing is an error, so a renamed key in the base is noticed."""
    if not isinstance(drops, dict):
        raise ProfileError(
            str(file),
            "drop",
            "must map the dotted path of a mapping to the keys to leave out, e.g. "
            "'components.*.local_overrides: [storage.trace.backend]'",
        )
    result = _unshared(base)
    for path, keys in drops.items():
        mappings = _mappings_at(result, str(path).split("."))
        for key in keys if isinstance(keys, list) else [keys]:
            holders = [mapping for mapping in mappings if key in mapping]
            if not holders:
                raise ProfileError(str(file), f"drop.{path}", f"the extended profile has no key {key!r} there")
            for mapping in holders:
                del mapping[key]
    return result


def _unshared(data: Any) -> Any:
    """A copy in which no two places share a mapping (a YAML alias does, and deepcopy keeps it shared): a key
    dropped from one component is not dropped from the others written with the same anchor."""
    if isinstance(data, dict):
        return {key: _unshared(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_unshared(item) for item in data]
    return data


def _mappings_at(data: Any, parts: list[str]) -> list[dict[str, Any]]:
    if not parts:
        return [data] if isinstance(data, dict) else []
    if not isinstance(data, dict):
        return []
    head, rest = parts[0], parts[1:]
    children = list(data.values()) if head == "*" else [data[head]] if head in data else []
    return [found for child in children for found in _mappings_at(child, rest)]


def _read_yaml(file: Path) -> Any:
    try:
        return yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ProfileError(str(file), "", f"is not valid YAML: {error}") from error
    except OSError as error:
        raise ProfileError(str(file), "", f"cannot be read: {error.strerror}") from error


def _range(value: Any) -> Range | None:
    if value is None:
        return None
    if isinstance(value, list):
        return (float(min(value)), float(max(value)))
    return (float(value), float(value))


def _build(file: Path, data: dict[str, Any]) -> Profile:
    charts = (data.get("kubernetes") or {}).get("charts") or []
    components = {name: _component(file, name, spec, charts) for name, spec in data["components"].items()}
    return Profile(
        name=data["name"],
        description=data["description"],
        source_file=file,
        components=components,
        ingest={proto: Endpoint(**spec) for proto, spec in data["ingest"].items()},
        query=QuerySpec(**data["query"]),
        checks=tuple(data["checks"]),
        refused=tuple(data.get("refused", ())),
        runtimes=tuple(data.get("runtimes", ("local", "kind", "cluster"))),
        seed=data.get("seed", ""),
        tempo_version=data.get("tempo_version"),
        chart_version=data.get("chart_version"),
        tempo_image=data.get("tempo_image"),
        schemas=tuple(data.get("schemas", ())),
        targets={
            name: Target(
                spec["source"],
                _range(spec.get("throughput_mb_s")),
                _range(spec.get("memory_mib")),
                spec.get("cpu_cores"),
            )
            for name, spec in data.get("targets", {}).items()
        },
        kubernetes=data.get("kubernetes", {}),
    )


def _component(file: Path, name: str, spec: dict[str, Any], charts: list[Any]) -> Component:
    if spec.get("args") and spec["binary"] == "capture-sink":
        raise ProfileError(
            str(file),
            f"components.{name}.args",
            "the capture sink runs inside pytest and has no command line to add arguments to; remove args",
        )
    config = ConfigSource(**spec["config"]) if "config" in spec else None
    chart = next(
        (
            dict(chart)
            for chart in charts
            if isinstance(chart, dict)
            and config
            and config.kind == "HelmValues"
            and config.manifest in (chart.get("values") or [])
        ),
        {},
    )
    return Component(
        name=name,
        binary=spec["binary"],
        replicas=_replicas(file, name, spec, config),
        target=spec.get("target"),
        config=config,
        ports=dict(spec.get("ports", {})),
        readiness=spec.get("readiness"),
        metrics=spec.get("metrics"),
        local_overrides=dict(spec.get("local_overrides", {})),
        local_defaults=dict(spec.get("local_defaults", {})),
        local_notes=tuple(spec.get("local_notes", ())),
        args=tuple(spec.get("args", ())),
        chart=chart,
        after=tuple(spec.get("after", ())),
        credentials=dict(spec.get("credentials", {})),
    )


def _replicas(file: Path, name: str, spec: dict[str, Any], config: ConfigSource | None) -> int:
    """A component configured by Helm values runs as many replicas as the chart would make from them; one
    configured by an OpenTelemetryCollector resource as many as its ``spec.replicas`` says, when it says."""
    if config is not None and config.kind == "OpenTelemetryCollector":
        return _collector_replicas(config) or spec.get("replicas", 1)
    if config is None or config.kind != "HelmValues":
        return spec.get("replicas", 1)
    if "replicas" in spec:
        raise ProfileError(
            str(file),
            f"components.{name}.replicas",
            f"the replicas of a component configured by Helm values come from the values "
            f"({config.manifest}); set them there, not in the profile",
        )
    values_file = manifest_file(config.manifest)
    values = _read_yaml(values_file) if values_file.is_file() else {}
    return chart_replicas(values if isinstance(values, dict) else {}, name, str(values_file))


def _collector_replicas(config: ConfigSource) -> int | None:
    """``spec.replicas`` of the named OpenTelemetryCollector, which the operator deploys (None when unset)."""
    manifest = manifest_file(config.manifest)
    if not manifest.is_file():
        return None
    for document in yaml.safe_load_all(manifest.read_text()):
        if (
            isinstance(document, dict)
            and document.get("kind") == "OpenTelemetryCollector"
            and document.get("metadata", {}).get("name") == config.name
        ):
            replicas = document.get("spec", {}).get("replicas")
            if replicas is not None and (not isinstance(replicas, int) or replicas < 1):
                raise ProfileError(
                    str(manifest),
                    f"OpenTelemetryCollector {config.name}.spec.replicas",
                    f"must be a whole number of at least 1, not {replicas!r}",
                )
            return replicas
    return None


def start_phases(profile: Profile) -> list[list[str]]:
    """The components in the order ``after`` gives: each phase starts once every earlier one is ready (one phase
    when no component says ``after``)."""
    phases: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(profile.components):
        ready = [
            name
            for name, component in profile.components.items()
            if name not in placed and set(component.after) <= placed
        ]
        if not ready:
            stuck = [name for name in profile.components if name not in placed]
            raise ProfileError(
                str(profile.source_file),
                "components.*.after",
                f"the start order has a cycle among {', '.join(stuck)}: each waits for another",
            )
        phases.append(ready)
        placed.update(ready)
    return phases


def _check_start_order(profile: Profile) -> None:
    for name, component in profile.components.items():
        for index, other in enumerate(component.after):
            if other not in profile.components or other == name:
                raise ProfileError(
                    str(profile.source_file),
                    f"components.{name}.after.{index}",
                    f"names {other!r}, which is not another component; components: {', '.join(profile.components)}",
                )
    start_phases(profile)


def _check_references(profile: Profile) -> None:
    """Every endpoint names a component and a port that component declares."""
    source = str(profile.source_file)
    named = [(f"ingest.{proto}", ep.component, ep.port) for proto, ep in profile.ingest.items()]
    if profile.query.component:
        named.append(("query", profile.query.component, profile.query.port or ""))
    for key, component_name, port in named:
        component = profile.components.get(component_name)
        if component is None:
            raise ProfileError(
                source,
                f"{key}.component",
                f"names unknown component {component_name!r}; components: {', '.join(profile.components)}",
            )
        if port and port not in component.ports:
            raise ProfileError(
                source,
                f"{key}.port",
                f"component {component_name!r} has no port {port!r}; its ports: {', '.join(component.ports) or 'none'}",
            )
    for name, component in profile.components.items():
        endpoint = component.metrics_endpoint
        if component.metrics and endpoint and endpoint[0] not in component.ports:
            raise ProfileError(
                source,
                f"components.{name}.metrics",
                f"names port {endpoint[0]!r}, which the component does not declare; its ports: "
                f"{', '.join(component.ports) or 'none'} "
                "(write 'http:PORT/PATH', e.g. 'http:http/metrics')",
            )
    _check_start_order(profile)
    for name in profile.targets:
        if name not in profile.components:
            raise ProfileError(
                source, f"targets.{name}", f"names unknown component; components: {', '.join(profile.components)}"
            )
    schemas = paths.scenarios_dir() / "schemas"
    for index, schema in enumerate(profile.schemas):
        schema_file = Path(schema) if Path(schema).is_absolute() else schemas / f"{schema}.yaml"
        if not schema_file.is_file():
            raise ProfileError(source, f"schemas.{index}", f"no schema {schema!r} ({schema_file} does not exist)")
    for name, component in profile.components.items():
        if component.config and not manifest_file(component.config.manifest).is_file():
            raise ProfileError(
                source,
                f"components.{name}.config.manifest",
                f"file {manifest_file(component.config.manifest)} does not exist",
            )
