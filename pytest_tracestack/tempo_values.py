"""The Tempo config the tempo-distributed chart (2.x) renders from a values file, for the local runtime.

Only the keys the seeds' values use are translated: receivers (``traces.*``), storage
(``storage.trace.*``) and the ingesters' replication factor. Everything else keeps Tempo's defaults.
"""

from __future__ import annotations

from typing import Any

# values key path -> (receiver name in Tempo's config, protocol, container port)
_RECEIVERS = {
    ("otlp", "grpc"): ("otlp", "grpc", 4317),
    ("otlp", "http"): ("otlp", "http", 4318),
    ("jaeger", "grpc"): ("jaeger", "grpc", 14250),
    ("jaeger", "thriftHttp"): ("jaeger", "thrift_http", 14268),
    ("jaeger", "thriftBinary"): ("jaeger", "thrift_binary", 6832),
    ("jaeger", "thriftCompact"): ("jaeger", "thrift_compact", 6831),
}


# The values key that turns on each protocol a profile can ingest (all off by default in the chart).
RECEIVER_VALUES = {"otlp-grpc": "traces.otlp.grpc.enabled", "otlp-http": "traces.otlp.http.enabled",
                   "zipkin": "traces.zipkin.enabled", "jaeger-thrift-http": "traces.jaeger.thriftHttp.enabled"}


def dotted_get(values: Any, dotted: str) -> Any:
    node = values
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def tempo_config_from_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "multitenancy_enabled": False,
        "server": {"http_listen_port": 3200, "grpc_listen_port": 9095},
        "distributor": {"receivers": _receivers(values.get("traces") or {})},
        "ingester": {"lifecycler": {"ring": {"replication_factor": _replication_factor(values)}}},
        "storage": {"trace": _storage(values.get("storage") or {})},
    }


def _receivers(traces: dict[str, Any]) -> dict[str, Any]:
    receivers: dict[str, Any] = {}
    for (group, protocol), (name, tempo_protocol, port) in _RECEIVERS.items():
        if _enabled(traces.get(group, {}).get(protocol)):
            protocols = receivers.setdefault(name, {"protocols": {}})["protocols"]
            protocols[tempo_protocol] = {"endpoint": f"0.0.0.0:{port}"}
    if _enabled(traces.get("zipkin")):
        receivers["zipkin"] = {"endpoint": "0.0.0.0:9411"}
    if _enabled(traces.get("opencensus")):
        receivers["opencensus"] = {"endpoint": "0.0.0.0:55678"}
    return receivers


def _enabled(section: Any) -> bool:
    return isinstance(section, dict) and section.get("enabled") is True


def _replication_factor(values: dict[str, Any]) -> int:
    ingester = values.get("ingester") or {}
    return int((ingester.get("config") or {}).get("replication_factor", 3))


def _storage(storage: dict[str, Any]) -> dict[str, Any]:
    trace = dict(storage.get("trace") or {})
    result: dict[str, Any] = {"backend": trace.get("backend", "local"), "wal": {"path": "/var/tempo/wal"}}
    if result["backend"] == "s3":
        result["s3"] = dict(trace.get("s3") or {})
    if result["backend"] == "local":
        result["local"] = {"path": "/var/tempo/traces"}
    return result


# The tempo-distributed chart's (2.26.x) default replica count of each component.
_CHART_REPLICAS = {"ingester": 3}


def chart_replicas(values: dict[str, Any], component: str, values_file: str) -> int:
    """``<component>.replicas`` of the values (the chart's section name: query-frontend -> queryFrontend)."""
    section = values_section(component)
    replicas = (values.get(section) or {}).get("replicas", _CHART_REPLICAS.get(component, 1))
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        from .errors import ProfileError

        raise ProfileError(values_file, f"{section}.replicas", f"must be a whole number of at least 1, got {replicas!r}")
    return replicas


def values_section(component: str) -> str:
    first, *rest = component.split("-")
    return first + "".join(part.title() for part in rest)
