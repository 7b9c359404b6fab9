"""The Tempo config the tempo-distributed chart (2.26.x) renders from a values file, translated by tracestack for
the local runtime when Helm and the chart are not at hand.

Every key of the user's values is accounted for, the way the chart's config template (``config`` in its
values.yaml, 2.26.2) uses it: translated into the Tempo config, listed as not applied locally (it shapes
Kubernetes objects or parts the local runtime does not run), or refused, naming the key, the file and how
to get the real rendering. A key is never ignored silently. Keys the user does not set keep Tempo's own
defaults, not the chart's, except the few in ``_CHART_BASE``: the header of the rendered config says so.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, TypeGuard

from pytest_tracestack.configs.dotted import dotted_get, set_dotted
from pytest_tracestack.configs.merging import deep_merge
from pytest_tracestack.errors import ProfileError

CHART = "tempo-distributed"
CHART_SERIES = "2.26.x"

# The values key that turns on each protocol a profile can ingest (all off by default in the chart).
RECEIVER_VALUES = {
    "otlp-grpc": "traces.otlp.grpc.enabled",
    "otlp-http": "traces.otlp.http.enabled",
    "zipkin": "traces.zipkin.enabled",
    "jaeger-thrift-http": "traces.jaeger.thriftHttp.enabled",
}

# traces.<group>.<protocol> -> (receiver, protocol in Tempo's config, the chart's endpoint)
_RECEIVERS = {
    ("otlp", "grpc"): ("otlp", "grpc", "0.0.0.0:4317"),
    ("otlp", "http"): ("otlp", "http", "0.0.0.0:4318"),
    ("jaeger", "grpc"): ("jaeger", "grpc", "0.0.0.0:14250"),
    ("jaeger", "thriftHttp"): ("jaeger", "thrift_http", "0.0.0.0:14268"),
    ("jaeger", "thriftBinary"): ("jaeger", "thrift_binary", "0.0.0.0:6832"),
    ("jaeger", "thriftCompact"): ("jaeger", "thrift_compact", "0.0.0.0:6831"),
}
_SINGLE_RECEIVERS = {"zipkin": "0.0.0.0:9411", "opencensus": "0.0.0.0:55678"}

# Values key (a pattern; * is one key) -> Tempo config key it is copied to; keys below the pattern keep
# their names below the target. In the chart's order.
_COPIED = [
    ("multitenancyEnabled", "multitenancy_enabled"),
    ("streamOverHTTPEnabled", "stream_over_http_enabled"),
    ("reportingEnabled", "usage_report.reporting_enabled"),
    ("compactor.config.compaction", "compactor.compaction"),
    ("distributor.config.log_received_spans", "distributor.log_received_spans"),
    ("distributor.config.log_discarded_spans", "distributor.log_discarded_spans"),
    ("distributor.config.extend_writes", "distributor.extend_writes"),
    ("distributor.config.max_attribute_bytes", "distributor.max_attribute_bytes"),
    ("distributor.config.cost_attribution", "distributor.usage.cost_attribution"),
    ("querier.config.frontend_worker.grpc_client_config", "querier.frontend_worker.grpc_client_config"),
    ("querier.config.trace_by_id", "querier.trace_by_id"),
    ("querier.config.search", "querier.search"),
    ("querier.config.max_concurrent_queries", "querier.max_concurrent_queries"),
    ("queryFrontend.mcp_server.enabled", "query_frontend.mcp_server.enabled"),
    ("queryFrontend.config", "query_frontend"),
    ("ingester.config.replication_factor", "ingester.lifecycler.ring.replication_factor"),
    *(
        (f"ingester.config.{key}", f"ingester.{key}")
        for key in (
            "trace_idle_period",
            "flush_check_period",
            "max_block_bytes",
            "max_block_duration",
            "complete_block_timeout",
            "flush_all_on_shutdown",
        )
    ),
    ("memberlist", "memberlist"),
    ("overrides", "overrides"),
    ("server.httpListenPort", "server.http_listen_port"),
    ("server.logLevel", "server.log_level"),
    ("server.logFormat", "server.log_format"),
    *(
        (f"server.{key}", f"server.{key}")
        for key in (
            "grpc_server_max_recv_msg_size",
            "grpc_server_max_send_msg_size",
            "http_server_read_timeout",
            "http_server_write_timeout",
        )
    ),
    ("storage.trace.backend", "storage.trace.backend"),
    ("storage.trace.block.version", "storage.trace.block.version"),
    ("storage.trace.block.dedicated_columns", "storage.trace.block.parquet_dedicated_columns"),
    *(
        (f"storage.trace.{key}", f"storage.trace.{key}")
        for key in (
            "pool",
            "search",
            "blocklist_poll",
            "blocklist_poll_concurrency",
            "blocklist_poll_fallback",
            "blocklist_poll_tenant_index_builders",
            "blocklist_poll_stale_tenant_index",
            "empty_tenant_deletion_age",
            "empty_tenant_deletion_enabled",
        )
    ),
]

# Component sections of the chart, and their keys that shape only the Kubernetes objects (pods, services, ...).
_COMPONENTS = (
    "ingester",
    "distributor",
    "querier",
    "queryFrontend",
    "compactor",
    "metricsGenerator",
    "backendScheduler",
    "backendWorker",
    "blockBuilder",
    "liveStore",
    "gateway",
)
_POD_KEYS = (
    "affinity",
    "annotations",
    "appProtocol",
    "autoscaling",
    "dnsConfig",
    "dnsConfigOverides",
    "extraContainers",
    "extraEnv",
    "extraEnvFrom",
    "extraPorts",
    "extraVolumeMounts",
    "extraVolumes",
    "hostAliases",
    "image",
    "initContainers",
    "labels",
    "lifecycle",
    "livenessProbe",
    "maxSurge",
    "maxUnavailable",
    "minReadySeconds",
    "nodeSelector",
    "persistence",
    "persistentVolumeClaimRetentionPolicy",
    "podAnnotations",
    "podDisruptionBudget",
    "podLabels",
    "priorityClassName",
    "readinessProbe",
    "resources",
    "rollingUpdate",
    "service",
    "serviceDiscovery",
    "shutdownDelay",
    "statefulStrategy",
    "strategy",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
    "ingress",
    "route",
    "securityContext",
    "podSecurityContext",
    "containerSecurityContext",
)

# Values key pattern -> why it does not reach the local processes' config.
_NOT_APPLIED = [
    *((f"{component}.{key}", "Kubernetes object settings") for component in _COMPONENTS for key in _POD_KEYS),
    *(
        (f"{part}", "not run by the local runtime")
        for part in (
            "minio",
            "memcached",
            "memcachedExporter",
            "memcachedBloom",
            "memcachedParquetFooter",
            "memcachedFrontendSearch",
            "cache",
            "gateway",
            "queryFrontend.query",
            "metaMonitoring",
            "prometheusRule",
            "rollout_operator",
            "kubectlImage",
        )
    ),
    *(
        (f"{part}", "Kubernetes object settings")
        for part in (
            "global",
            "defaults",
            "tempo",
            "fullnameOverride",
            "nameOverride",
            "serviceAccount",
            "rbac",
            "ingress",
            "route",
            "extraObjects",
            "tests",
            "configStorageType",
            "externalConfigSecretName",
            "externalRuntimeConfigName",
            "externalConfigVersion",
            "traces.*.port",
            "traces.*.*.port",
        )
    ),
    ("storage.admin", "used only with enterprise.enabled"),
    ("overrides.per_tenant_override_config", "the local runtime loads no runtime overrides file"),
]

# Parts the chart leaves out of Tempo's config unless enabled: their settings only matter when it is.
_ONLY_WHEN_ENABLED = (
    "metricsGenerator",
    "backendScheduler",
    "backendWorker",
    "blockBuilder",
    "liveStore",
    "enterprise",
    "enterpriseGateway",
    "enterpriseFederationFrontend",
    "adminApi",
    "license",
    "tokengenJob",
    "provisioner",
)

# What the chart's template writes whatever the values say, where Tempo's own default differs or is missing:
# the chart's ingester.config.replication_factor default (Tempo's is 1) and its storage paths.
_CHART_BASE = {
    "multitenancy_enabled": False,
    "ingester": {"lifecycler": {"ring": {"replication_factor": 3}}},
    "storage": {
        "trace": {"backend": "local", "local": {"path": "/var/tempo/traces"}, "wal": {"path": "/var/tempo/wal"}}
    },
}

# Switches that change which Tempo modules run: the local profile starts a fixed set of targets.
_TOPOLOGY = {
    "metricsGenerator.enabled": True,
    "backendScheduler.enabled": True,
    "liveStore.enabled": True,
    "blockBuilder.enabled": True,
    "enterprise.enabled": True,
    "ingester.enabled": False,
    "ingester.zoneAwareReplication.enabled": True,
    "useExternalConfig": True,
}

# The tempo-distributed chart's (2.26.x) default replica count of each component.
_CHART_REPLICAS = {"ingester": 3}


@dataclass(frozen=True)
class Translation:
    config: dict[str, Any]
    not_applied: tuple[str, ...]  # "key (why)", one per values subtree the local processes do not get


class UntranslatedValues(ProfileError):
    """Values keys that change Tempo's behaviour and that tracestack's translation does not handle."""


def replication_factor_of(values: dict[str, Any]) -> Any:
    """The ingesters' replication factor the chart renders from ``values`` (structuredConfig over
    ``ingester.config.replication_factor`` over the chart's 3), read without translating the rest, so a stack
    configured by helm's own rendering is not held to what the translation refuses."""
    key = "ingester.lifecycler.ring.replication_factor"
    for found in (
        dotted_get(values, f"tempo.structuredConfig.{key}"),
        dotted_get(values, "ingester.config.replication_factor"),
    ):
        if found is not None:
            return found
    return dotted_get(_CHART_BASE, key)


def tempo_config_from_values(values: dict[str, Any], values_file: str = "the values file") -> dict[str, Any]:
    return translate_values(values, values_file).config


def translate_values(values: dict[str, Any], values_file: str) -> Translation:
    config = copy.deepcopy(_CHART_BASE)
    config["distributor"] = {"receivers": _receivers(values.get("traces") or {})}
    not_applied: dict[str, str] = {}
    refused: list[str] = []
    for key, value in _leaves(values):
        if value is None or _is_receiver_key(key) or key.startswith("tempo.structuredConfig"):
            continue
        _place(key, value, values, config, not_applied, refused)
    structured = dotted_get(values, "tempo.structuredConfig")
    if isinstance(structured, dict):
        config = deep_merge(config, structured)  # the chart merges it over its own rendering
    if refused:
        raise UntranslatedValues(values_file, ", ".join(refused), _refusal_advice())
    return Translation(config, tuple(f"{key} ({why})" for key, why in not_applied.items()))


def _place(
    key: str,
    value: Any,
    values: dict[str, Any],
    config: dict[str, Any],
    not_applied: dict[str, str],
    refused: list[str],
) -> None:
    """Translate one leaf, or say why not."""
    if isinstance(value, str) and "{{" in value:
        refused.append(f"{key} (a Helm template: only helm can render it)")
        return
    for switch, changing in _TOPOLOGY.items():
        if key == switch:
            if value == changing:
                refused.append(f"{key} (changes which Tempo modules run; the local profile starts a fixed set)")
            return
    for prefix, target in _COPIED:
        remainder = _under(key, prefix)
        if remainder is not None:
            set_dotted(config, target + remainder, copy.deepcopy(value))
            return
    for pattern, why in _NOT_APPLIED:
        matched = _matched_prefix(key, pattern)
        if matched:
            not_applied.setdefault(matched, why)
            return
    section = key.split(".")[0]
    if section in _ONLY_WHEN_ENABLED and (values.get(section) or {}).get("enabled") is not True:
        not_applied.setdefault(section, f"{section}.enabled is not true, so the chart does not use it")
        return
    if section in _COMPONENTS and key == f"{section}.replicas":
        return  # the replica count: the local runtime starts as many (profiles.py)
    storage = _storage_key(key, values)
    if storage is not None:
        if storage:
            set_dotted(config, storage, copy.deepcopy(value))
        else:
            not_applied.setdefault(".".join(key.split(".")[:3]), "another storage backend is selected")
        return
    if key == "per_tenant_overrides" or key.startswith("per_tenant_overrides."):
        refused.append(f"{key} (per-tenant runtime overrides: the local runtime loads no runtime overrides file)")
        return
    refused.append(key)


def _receivers(traces: dict[str, Any]) -> dict[str, Any]:
    """``traces.*`` the way the chart writes ``distributor.receivers``: each enabled protocol at the chart's
    endpoint, its ``receiverConfig`` merged over it."""
    receivers: dict[str, Any] = {}
    for (group, protocol), (name, tempo_protocol, endpoint) in _RECEIVERS.items():
        section = (traces.get(group) or {}).get(protocol)
        if _enabled(section):
            protocols = receivers.setdefault(name, {"protocols": {}})["protocols"]
            protocols[tempo_protocol] = {"endpoint": endpoint, **copy.deepcopy(section.get("receiverConfig") or {})}
    for name, endpoint in _SINGLE_RECEIVERS.items():
        if _enabled(traces.get(name)):
            receivers[name] = {"endpoint": endpoint, **copy.deepcopy(traces[name].get("receiverConfig") or {})}
    if traces.get("kafka"):
        receivers["kafka"] = copy.deepcopy(traces["kafka"])
    return receivers


def _is_receiver_key(key: str) -> bool:
    parts = key.split(".")
    if parts[0] != "traces" or len(parts) < 2:
        return False
    if parts[1] == "kafka":
        return True
    rest = parts[2:] if parts[1] in _SINGLE_RECEIVERS else parts[3:]
    return bool(rest) and rest[0] in ("enabled", "receiverConfig")


def _storage_key(key: str, values: dict[str, Any]) -> str | None:
    """``storage.trace.<backend>.*`` goes to Tempo's config only for the selected backend ("" = not used)."""
    parts = key.split(".")
    if parts[:2] != ["storage", "trace"] or len(parts) < 3 or parts[2] not in ("s3", "gcs", "azure"):
        return None
    backend = dotted_get(values, "storage.trace.backend") or "local"
    return key if parts[2] == backend else ""


def _refusal_advice() -> str:
    return (
        f"tracestack's built-in translation of the {CHART} chart ({CHART_SERIES}) does not handle these values "
        "keys (they change Tempo's behaviour, or the chart does not read them), so the local runtime would run "
        "a config you never wrote. "
        "Render them for real: put helm on PATH and make the profile's pinned chart reachable (its repository, or "
        "--tracestack-charts=DIR with `helm pull` of it), and the local runtime takes Tempo's config from "
        "`helm template`; or remove the keys"
    )


def _leaves(values: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix, values


def _under(key: str, prefix: str) -> str | None:
    """The rest of ``key`` below ``prefix`` ("" when equal), or None when it is not below it."""
    if key == prefix:
        return ""
    return key[len(prefix) :] if key.startswith(prefix + ".") else None


def _matched_prefix(key: str, pattern: str) -> str:
    """The part of ``key`` a pattern (``*`` = one key) matches at its start, or ""."""
    parts, wanted = key.split("."), pattern.split(".")
    if len(parts) < len(wanted) or not all(fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=False)):
        return ""
    return ".".join(parts[: len(wanted)])


def _enabled(section: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(section, dict) and section.get("enabled") is True


def merge_values(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Values files merged as helm merges ``-f`` files: later mappings over earlier ones, lists replaced."""
    merged: dict[str, Any] = {}
    for document in documents:
        merged = deep_merge(merged, document)
    return merged


def chart_replicas(values: dict[str, Any], component: str, values_file: str) -> int:
    """``<component>.replicas`` of the values (the chart's section name: query-frontend -> queryFrontend)."""
    section = values_section(component)
    replicas = (values.get(section) or {}).get("replicas", _CHART_REPLICAS.get(component, 1))
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ProfileError(
            values_file, f"{section}.replicas", f"must be a whole number of at least 1, got {replicas!r}"
        )
    return replicas


def values_section(component: str) -> str:
    first, *rest = component.split("-")
    return first + "".join(part.title() for part in rest)
