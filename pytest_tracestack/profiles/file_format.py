"""The JSON Schema a profile file (in ``scenarios/`` or the user's repository) must satisfy."""

from __future__ import annotations

from pytest_tracestack.versions import TEMPO

PROTOCOLS = ("otlp-grpc", "otlp-http", "zipkin", "jaeger-thrift-http")
RUNTIMES = ("local", "kind", "cluster")
BINARIES = ("tempo", "otelcol", "nginx", "capture-sink", "sample-app", "versitygw", "prometheus")
CONFIG_KINDS = ("ConfigMap", "OpenTelemetryCollector", "Instrumentation", "HelmValues")

_RANGE = {
    "oneOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 2, "maxItems": 2},
    ],
    "description": "a positive number, or [low, high]",
}

_CONFIG_SOURCE = {
    "type": "object",
    "required": ["manifest", "kind"],
    "additionalProperties": False,
    "properties": {
        "manifest": {
            "type": "string",
            "description": "a file relative to the profile (built-in profiles: under "
            "manifests/), or builtin:NAME for one under manifests/",
        },
        "kind": {"enum": list(CONFIG_KINDS)},
        "name": {"type": "string"},
        "key": {"type": "string", "description": "ConfigMap data key, or dotted path in the object"},
    },
}

_COMPONENT = {
    "type": "object",
    "required": ["binary"],
    "additionalProperties": False,
    "properties": {
        "binary": {"enum": list(BINARIES)},
        "replicas": {"type": "integer", "minimum": 1},
        "target": {"type": "string", "description": "Tempo -target for microservices mode"},
        "config": _CONFIG_SOURCE,
        "ports": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 65535}},
        "readiness": {"type": "string", "description": "'http:PORT/PATH' polled until 200"},
        "metrics": {
            "type": "string",
            "pattern": "^http:[A-Za-z0-9_.-]+/",
            "description": "'http:PORT/PATH' serving Prometheus text, scraped under load "
            "(default: a port named 'metrics')",
        },
        "local_overrides": {
            "type": "object",
            "description": "dotted config keys the local runtime sets (a part "
            "ending in ? must already exist, or the key is skipped)",
        },
        "local_defaults": {
            "type": "object",
            "description": "dotted config keys the local runtime sets where the config does not",
        },
        "local_notes": {"type": "array", "items": {"type": "string"}},
        "args": {
            "type": "array",
            "items": {"type": "string"},
            "description": "command-line arguments the local runtime adds to each replica's command (the kind "
            "and cluster runtimes refuse them: put them in the manifest or the Helm values)",
        },
        "after": {
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": True,
            "description": "components started, and ready, before this one starts (the local runtime starts "
            "the others all at once)",
        },
        "credentials": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
            "description": "credentials the local runtime generates per run: name -> the environment "
            "variable the component's process gets it in; other components' overrides "
            "name it {credential:COMPONENT.NAME}; masked in every output",
        },
    },
}

_ENDPOINT = {
    "type": "object",
    "required": ["component", "port"],
    "additionalProperties": False,
    "properties": {"component": {"type": "string"}, "port": {"type": "string"}, "path": {"type": "string"}},
}

_TARGET = {
    "type": "object",
    "required": ["source"],
    "additionalProperties": False,
    "properties": {
        "throughput_mb_s": _RANGE,
        "memory_mib": _RANGE,
        "cpu_cores": {"type": "number", "exclusiveMinimum": 0},
        "source": {"type": "string", "description": "where the numbers come from"},
    },
}

PROFILE_FORMAT = {
    "type": "object",
    "required": ["name", "description", "components", "ingest", "query", "checks"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
        "description": {"type": "string"},
        "seed": {"type": "string"},
        "extends": {"type": "string"},
        "files": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "files of the extended profile replaced by yours (relative to this file)",
        },
        "drop": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "description": "keys of the extended profile left out: the dotted path of a mapping in it (* = "
            "any key) -> the keys to leave out of it, e.g. 'components.*.local_overrides: "
            "[storage.trace.backend]'",
        },
        "runtimes": {"type": "array", "items": {"enum": list(RUNTIMES)}, "minItems": 1},
        "tempo_version": {"type": "string", "description": "the Tempo version the profile is written for"},
        "chart_version": {
            "type": "string",
            "pattern": r"^\d+\.\d+\.\d+",
            "description": "the version of the chart installing the Helm values",
        },
        "tempo_image": {
            "type": "string",
            "pattern": r"^\S+:[\w.\-]+$",
            "description": f"the Tempo image the values deploy, e.g. grafana/tempo:{TEMPO.version}",
        },
        "components": {"type": "object", "minProperties": 1, "additionalProperties": _COMPONENT},
        "ingest": {
            "type": "object",
            "propertyNames": {"enum": list(PROTOCOLS)},
            "additionalProperties": _ENDPOINT,
        },
        "refused": {"type": "array", "items": {"enum": list(PROTOCOLS)}},
        "query": {
            "type": "object",
            "required": ["kind"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": ["tempo", "sink"]},
                "component": {"type": "string"},
                "port": {"type": "string"},
            },
        },
        "checks": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "schemas": {"type": "array", "items": {"type": "string"}},
        "targets": {"type": "object", "additionalProperties": _TARGET},
        "kubernetes": {"type": "object"},
    },
}
