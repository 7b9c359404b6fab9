"""Turns a component's config source (a manifest the profile names) into the config a local process runs.

The same manifest feeds the kind runtime unchanged, so one edit changes both runtimes; the local
runtime only applies the profile's ``local_overrides`` (addresses, paths) and writes each of them, and
everything else it did not take from the user's file, as a comment in the rendered config's header.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ProfileError
from .profile_paths import describe, manifest_file
from .profiles import Component, ConfigSource
from .redaction import redact_data
from .helm_render import HelmRendering
from .tempo_config import tempo_config_for

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([A-Za-z0-9_.\-]+))?\}")


@dataclass(frozen=True)
class ReplicaContext:
    """What placeholders in ``local_overrides`` resolve to for one replica."""

    address: str
    ports: dict[str, int]
    workdir: Path                              # this replica's own directory
    stackdir: Path                             # the directory every replica of the stack shares
    instance_id: str
    endpoint: Callable[[str, str], str]        # (component, port name) -> "host:port" of its first replica
    peers: Callable[[str, str], list[str]]     # (component, port name) -> every replica's "host:port"


def load_manifest_documents(relative: str) -> list[dict[str, Any]]:
    file = resolve_manifest(relative)
    try:
        return [doc for doc in yaml.safe_load_all(file.read_text()) if doc]
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
            raise ProfileError(source.manifest, f"ConfigMap {source.name}.data",
                               f"has no key {source.key!r}; keys: {', '.join(obj.get('data', {}))}")
        return _parse_config_text(text, source)
    return _dig(obj, source.key or "spec", source)


def _find_object(documents: list[dict[str, Any]], source: ConfigSource) -> dict[str, Any]:
    for doc in documents:
        if doc.get("kind") == source.kind and (source.name is None or doc.get("metadata", {}).get("name") == source.name):
            return doc
    found = ", ".join(f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in documents)
    raise ProfileError(source.manifest, "", f"has no {source.kind} named {source.name!r}; it has: {found}")


def _parse_config_text(text: str, source: ConfigSource) -> Any:
    if source.key and source.key.endswith((".yaml", ".yml")):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ProfileError(source.manifest, f"ConfigMap {source.name}.data.{source.key}",
                               f"is not valid YAML: {error}") from error
    return text


def _dig(obj: dict[str, Any], dotted: str, source: ConfigSource) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ProfileError(source.manifest, f"{source.kind} {source.name}", f"has no {dotted}")
        node = node[part]
    return copy.deepcopy(node)


class RenderedConfig(dict):
    """A rendered config that carries the lines its header must say (how it was made, what was not applied);
    it travels through the launchers as the plain mapping it is, and ``render_yaml`` writes the lines."""

    def __init__(self, config: dict[str, Any], notes: list[str]) -> None:
        super().__init__(config)
        self.notes = list(notes)


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any], context: ReplicaContext,
                    notes: list[str] | None = None) -> dict[str, Any]:
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
        _note(notes, f"local override: {key} " + ("removed" if filled is None else f"= {_inline(filled)}"))
    return result


def apply_defaults(config: dict[str, Any], defaults: dict[str, Any], context: ReplicaContext,
                   notes: list[str] | None = None) -> dict[str, Any]:
    """Set each dotted key the config does not set yet (the user's own value wins), placeholders filled in."""
    result = copy.deepcopy(config)
    for dotted, value in defaults.items():
        if _has(result, dotted):
            _note(notes, f"local default not used: {dotted} is set by your file")
            continue
        filled = fill_placeholders(value, context)
        set_dotted(result, dotted, filled)
        _note(notes, f"local default: {dotted} = {_inline(filled)} (your file does not set it)")
    return result


def _has(config: dict[str, Any], dotted: str) -> bool:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


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


def _inline(value: Any) -> str:
    return yaml.safe_dump(redact_data(value), default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def set_dotted(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        if not isinstance(node.get(part), dict):
            if value is None:
                return   # deleting below a part that is not there: nothing to delete
            node[part] = {}
        node = node[part]
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value


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
    if name in ("endpoint", "peers") and argument and "." in argument:
        component, port = argument.rsplit(".", 1)
        return context.endpoint(component, port) if name == "endpoint" else context.peers(component, port)
    raise ProfileError("local_overrides", f"{{{name}:{argument}}}" if argument else f"{{{name}}}",
                       "unknown placeholder; use {address}, {workdir}, {stackdir}, {instance_id}, {port:NAME}, "
                       "{endpoint:COMPONENT.PORT} or {peers:COMPONENT.PORT} with a port the component declares")


def render_yaml(config: Any, component: Component, notes: list[str]) -> str:
    source = component.config
    header = [f"# Rendered by pytest-tracestack for the local runtime from {describe(source.manifest)}"
              f" ({source.kind}{' ' + source.name if source and source.name else ''})." if source else
              "# Rendered by pytest-tracestack for the local runtime."]
    carried = config.notes if isinstance(config, RenderedConfig) else []
    header += [f"# {line}" for line in carried]
    header += [f"# local runtime: {note}" for note in (*component.local_notes, *notes)]
    body = dict(config) if isinstance(config, RenderedConfig) else config
    return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False)


def render_component_config(component: Component, context: ReplicaContext,
                            helm: HelmRendering | None = None) -> Any:
    """The config one replica runs: its source's config (Tempo's from Helm values: the chart's rendering with
    ``helm``, else tracestack's translation), then the local defaults and overrides; a mapping comes back as
    a RenderedConfig whose header says all of it."""
    if component.config is None:
        return None
    notes: list[str] = []
    if component.config.kind == "HelmValues":
        config, notes = tempo_config_for(component, helm)
    else:
        config = extract_config(component.config)
    if not isinstance(config, dict):
        return config
    config = apply_defaults(config, component.local_defaults, context, notes)
    return RenderedConfig(apply_overrides(config, component.local_overrides, context, notes), notes)
