"""Which key of the user's files turns on each protocol a profile ingests, so a refused push names the change
that turned its receiver off (a values key, a receiver missing from a config, a pipeline without it)."""

from __future__ import annotations

from typing import Any

from pytest_tracestack.configs.dotted import dotted_get, has_dotted
from pytest_tracestack.configs.rendering import extract_config
from pytest_tracestack.configs.tempo_config import read_values, values_files
from pytest_tracestack.configs.tempo_values import CHART, RECEIVER_VALUES, merge_values
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.file_paths import describe
from pytest_tracestack.profiles.profile import Component, Profile

# protocol -> (receiver, its protocols.<name>, or None for a receiver with one endpoint)
_RECEIVERS = {
    "otlp-grpc": ("otlp", "grpc"),
    "otlp-http": ("otlp", "http"),
    "zipkin": ("zipkin", None),
    "jaeger-thrift-http": ("jaeger", "thrift_http"),
}


def explain_refusal(profile: Profile, protocol: str) -> str:
    """Why nothing listens for ``protocol``, in terms of the user's file and key; "" when the files enable it."""
    endpoint = profile.ingest.get(protocol)
    component = profile.components.get(endpoint.component) if endpoint else None
    if component is None or component.config is None or protocol not in _RECEIVERS:
        return ""
    try:
        return _explain(component, protocol)
    except TracestackError as error:
        return f"(its config could not be read: {error})"


def _explain(component: Component, protocol: str) -> str:
    source = component.config
    assert source is not None
    if source.kind == "HelmValues":
        if component.chart and component.chart["chart"] != CHART:
            return ""  # RECEIVER_VALUES are tempo-distributed's keys; another chart's are not known here
        files = values_files(component)
        values = merge_values([read_values(f) for f in files])
        key = RECEIVER_VALUES[protocol]
        value = dotted_get(values, key)
        return (
            ""
            if value is True
            else (
                f"{key} is {value!r} in {', '.join(describe(f) for f in files)}"
                f"{' (the chart default is false)' if value is None else ''}"
            )
        )
    config = extract_config(source)
    if not isinstance(config, dict):
        return ""
    prefix = "distributor.receivers" if component.binary == "tempo" else "receivers"
    where = (
        f"{describe(source.manifest)} ({source.kind}{' ' + source.name if source.name else ''}"
        f"{', ' + source.key if source.key else ''})"
    )
    return _missing_receiver(config, prefix, protocol, where) or _missing_from_pipelines(config, protocol, where)


def _missing_receiver(config: dict[str, Any], prefix: str, protocol: str, where: str) -> str:
    receiver, sub = _RECEIVERS[protocol]
    path = f"{prefix}.{receiver}" + (f".protocols.{sub}" if sub else "")
    return "" if has_dotted(config, path) else f"{path} is not in {where}"


def _missing_from_pipelines(config: dict[str, Any], protocol: str, where: str) -> str:
    """A collector receiver that no pipeline uses is never started."""
    pipelines = (config.get("service") or {}).get("pipelines")
    if not isinstance(pipelines, dict):
        return ""
    receiver = _RECEIVERS[protocol][0]
    used = [
        name
        for name, spec in pipelines.items()
        if any(r == receiver or str(r).startswith(receiver + "/") for r in (spec or {}).get("receivers") or [])
    ]
    return "" if used else f"no pipeline in service.pipelines of {where} lists the {receiver} receiver"
