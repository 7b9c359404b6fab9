"""Turns a component's config source (a manifest the profile names) into the config a local process runs.

The same manifest feeds the kind runtime unchanged, so one edit changes both runtimes; the local
runtime only applies the profile's ``local_overrides`` (addresses, paths) and writes each of them, and
everything else it did not take from the user's file, as a comment in the rendered config's header.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.configs.dotted import dotted_get, has_dotted, set_dotted
from pytest_tracestack.configs.helm_render import HelmRendering
from pytest_tracestack.configs.redaction import redact_setting
from pytest_tracestack.configs.tempo_config import tempo_config_for
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.file_paths import describe, manifest_file
from pytest_tracestack.profiles.profile import Component, ConfigSource

# libyaml's loader and emitter when PyYAML has them: rendering a 10-replica stack spent ~0.4 s in pure-Python YAML
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([A-Za-z0-9_.\-]+))?\}")


@dataclass(frozen=True)
class ReplicaContext:
    """What placeholders in ``local_overrides`` resolve to for one replica."""

    address: str
    ports: dict[str, int]
    workdir: Path  # this replica's own directory
    stackdir: Path  # the directory every replica of the stack shares
    instance_id: str
    endpoint: Callable[[str, str], str]  # (component, port name) -> "host:port" of its first replica
    peers: Callable[[str, str], list[str]]  # (component, port name) -> every replica's "host:port"
    port_hosts: dict[str, str] = field(default_factory=dict)  # port name -> host, for ports not on ``address``
    credential: Callable[[str, str], str] | None = None  # (component, name) -> its credential for this run


def load_manifest_documents(relative: str) -> list[dict[str, Any]]:
    file = resolve_manifest(relative)
    try:
        return [doc for doc in yaml.load_all(file.read_text(), Loader=_LOADER) if doc]
    except yaml.YAMLError as error:
        raise ProfileError(str(file), "", f"is not valid YAML: {error}") from error


def resolve_manifest(relative: str) -> Path:
    file = manifest_file(relative)
    if not file.is_file():
        raise ProfileError(relative, "", f"manifest file {file} does not exist")
    return file


def extract_config(source: ConfigSource) -> Any:
    """The config a source names: a ConfigMap data key, a path in a custom resource, or a values file."""
    documents = load_manifest_documents(source.manifest)
    if source.kind == "HelmValues":
        return documents[0]
    obj = _find_object(documents, source)
    if source.kind == "ConfigMap":
        text = obj.get("data", {}).get(source.key or "")
        if text is None:
            raise ProfileError(
                source.manifest,
                f"ConfigMap {source.name}.data",
                f"has no key {source.key!r}; keys: {', '.join(obj.get('data', {}))}",
            )
        return _parse_config_text(text, source)
    return _dig(obj, source.key or "spec", source)


def _find_object(documents: list[dict[str, Any]], source: ConfigSource) -> dict[str, Any]:
    for doc in documents:
        named = source.name is None or doc.get("metadata", {}).get("name") == source.name
        if doc.get("kind") == source.kind and named:
            return doc
    found = ", ".join(f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in documents)
    raise ProfileError(source.manifest, "", f"has no {source.kind} named {source.name!r}; it has: {found}")


def _parse_config_text(text: str, source: ConfigSource) -> Any:
    if source.key and source.key.endswith((".yaml", ".yml")):
        try:
            return yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError as error:
            raise ProfileError(
                source.manifest, f"ConfigMap {source.name}.data.{source.key}", f"is not valid YAML: {error}"
            ) from error
    return text


def _dig(obj: dict[str, Any], dotted: str, source: ConfigSource) -> Any:
    if not has_dotted(obj, dotted):
        raise ProfileError(source.manifest, f"{source.kind} {source.name}", f"has no {dotted}")
    return copy.deepcopy(dotted_get(obj, dotted))


class RenderedConfig(dict):
    """A rendered config that carries the lines its header must say (how it was made, what was not applied);
    it travels through the launchers as the plain mapping it is, and ``render_yaml`` writes the lines."""

    def __init__(self, config: dict[str, Any], notes: list[str]) -> None:
        super().__init__(config)
        self.notes = list(notes)


def apply_overrides(
    config: dict[str, Any], overrides: dict[str, Any], context: ReplicaContext, notes: list[str] | None = None
) -> dict[str, Any]:
    """Set each dotted key to its value (``null`` deletes the key), placeholders filled in.

    A key part ending in ``?`` must already be in the config, or the override is skipped: an address for a
    receiver the user's file turns off must not turn it back on. Each override, applied or skipped, is
    appended to ``notes``."""
    result = copy.deepcopy(config)
    for dotted, value in overrides.items():
        missing = _missing_guard(result, dotted)
        key = dotted.replace("?", "")
        if missing:
            _note(notes, f"local override skipped: {key} ({missing} is not in the config)")
            continue
        filled = fill_placeholders(value, context)
        set_dotted(result, key, filled)
        _note(
            notes,
            f"local override: {key} "
            + ("removed" if filled is None else f"= {_inline(key, filled)}")
            + _reserved_port_note(value),
        )
    return result


def _reserved_port_note(value: Any) -> str:
    if not any("{localhost_port:" in text for text in _strings([value])):
        return ""
    return f" (from {value}: a port of 127.0.0.1 reserved for this stack, so stacks running at once never share it)"


def apply_defaults(
    config: dict[str, Any], defaults: dict[str, Any], context: ReplicaContext, notes: list[str] | None = None
) -> dict[str, Any]:
    """Set each dotted key the config does not set yet (the user's own value wins), placeholders filled in."""
    result = copy.deepcopy(config)
    for dotted, value in defaults.items():
        if has_dotted(result, dotted):
            _note(notes, f"local default not used: {dotted} is set by your file")
            continue
        filled = fill_placeholders(value, context)
        set_dotted(result, dotted, filled)
        _note(notes, f"local default: {dotted} = {_inline(dotted, filled)} (your file does not set it)")
    return result


def _missing_guard(config: dict[str, Any], dotted: str) -> str:
    """The first ``?``-marked part of the key that the config lacks ("" when all are there)."""
    node: Any = config
    walked = []
    for part in dotted.split("."):
        name = part.rstrip("?")
        walked.append(name)
        if part.endswith("?") and not (isinstance(node, dict) and name in node):
            return ".".join(walked)
        node = node.get(name) if isinstance(node, dict) else None
    return ""


def _note(notes: list[str] | None, line: str) -> None:
    if notes is not None:
        notes.append(line)


def _inline(dotted: str, value: Any) -> str:
    """The value a header note shows for a key, secrets masked (the rendered config itself keeps them)."""
    shown = redact_setting(dotted, value)
    return yaml.safe_dump(shown, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def fill_placeholders(value: Any, context: ReplicaContext) -> Any:
    if isinstance(value, dict):
        return {key: fill_placeholders(item, context) for key, item in value.items()}
    if isinstance(value, list):
        filled: list[Any] = []
        for item in value:
            result = fill_placeholders(item, context)
            filled.extend(result if _is_peers(item) else [result])
        return filled
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return _resolve(whole.group(1), whole.group(2), context, whole=True)
    return _PLACEHOLDER.sub(lambda m: str(_resolve(m.group(1), m.group(2), context, whole=False)), value)


def _is_peers(item: Any) -> bool:
    return isinstance(item, str) and item.startswith("{peers:")


def _resolve(name: str, argument: str | None, context: ReplicaContext, whole: bool) -> Any:
    if name == "address":
        return context.address
    if name == "workdir":
        return str(context.workdir)
    if name == "stackdir":
        return str(context.stackdir)
    if name == "instance_id":
        return context.instance_id
    if name == "port" and argument in context.ports:
        port = context.ports[argument]
        return port if whole else str(port)
    if name == "localhost_port" and argument in context.port_hosts:
        port = context.ports[argument]
        return port if whole else str(port)
    if name in ("endpoint", "peers") and argument and "." in argument:
        component, port_name = argument.rsplit(".", 1)
        return context.endpoint(component, port_name) if name == "endpoint" else context.peers(component, port_name)
    if name == "credential" and argument and "." in argument and context.credential is not None:
        return context.credential(*argument.rsplit(".", 1))
    raise ProfileError(
        "local_overrides",
        f"{{{name}:{argument}}}" if argument else f"{{{name}}}",
        "unknown placeholder; use {address}, {workdir}, {stackdir}, {instance_id}, {port:NAME}, "
        "{localhost_port:NAME}, {endpoint:COMPONENT.PORT} or {peers:COMPONENT.PORT} with a port "
        "the component declares, or {credential:COMPONENT.NAME} with a credential it declares",
    )


def localhost_port_names(overrides: dict[str, Any]) -> list[str]:
    """The port names ``overrides`` asks to have on 127.0.0.1 (``{localhost_port:NAME}``), in order."""
    names: list[str] = []
    for text in _strings(list(overrides.values())):
        for match in _PLACEHOLDER.finditer(text):
            if match.group(1) == "localhost_port" and match.group(2) not in names:
                names.append(match.group(2))
    return names


def _strings(values: list[Any]) -> list[str]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            found += _strings(list(value.values()))
        elif isinstance(value, list):
            found += _strings(value)
    return found


def render_yaml(config: Any, component: Component) -> str:
    source = component.config
    header = [
        f"# Rendered by pytest-tracestack for the local runtime from {describe(source.manifest)}"
        f" ({source.kind}{' ' + source.name if source and source.name else ''})."
        if source
        else "# Rendered by pytest-tracestack for the local runtime."
    ]
    carried = config.notes if isinstance(config, RenderedConfig) else []
    header += [f"# {line}" for line in carried]
    header += [f"# local runtime: {note}" for note in component.local_notes]
    body = dict(config) if isinstance(config, RenderedConfig) else config
    return "\n".join(header) + "\n" + yaml.dump(body, Dumper=_DUMPER, sort_keys=False)


def base_config(component: Component, helm: HelmRendering | None = None) -> Any:
    """The config a component's source gives, read once per stack: Tempo's from Helm values (the chart's rendering
    with ``helm``, else tracestack's translation), any other source as written; a mapping comes back as a
    RenderedConfig carrying what its header must say."""
    if component.config is None:
        return None
    if component.config.kind == "HelmValues":
        config, notes = tempo_config_for(component, helm)
        return RenderedConfig(config, notes)
    config = extract_config(component.config)
    return RenderedConfig(config, []) if isinstance(config, dict) else config


def replica_config(component: Component, base: Any, context: ReplicaContext) -> Any:
    """One replica's config: the base with the local defaults and overrides, each written in the header."""
    if not isinstance(base, dict):
        return base
    notes = list(base.notes) if isinstance(base, RenderedConfig) else []
    config = apply_defaults(dict(base), component.local_defaults, context, notes)
    return RenderedConfig(apply_overrides(config, component.local_overrides, context, notes), notes)


def render_component_config(component: Component, context: ReplicaContext, helm: HelmRendering | None = None) -> Any:
    """The config one replica runs, from its source (see base_config and replica_config)."""
    return replica_config(component, base_config(component, helm), context)
