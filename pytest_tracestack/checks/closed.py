"""Where a disabled receiver would listen, so a check can prove nothing does."""

from __future__ import annotations

from pytest_tracestack.plugin.fixtures import require
from pytest_tracestack.runtimes.base import Stack

DEFAULT_PORTS = {"otlp-grpc": 4317, "otlp-http": 4318, "zipkin": 9411, "jaeger-thrift-http": 14268}
PATHS = {"otlp-http": "/v1/traces", "zipkin": "/api/v2/spans", "jaeger-thrift-http": "/api/traces"}


def closed_target(stack: Stack, protocol: str) -> str:
    """The protocol's default port on the ingest component's address (or the port the profile names)."""
    ingest = next(iter(stack.profile.ingest.values()))
    replica = stack.first(ingest.component)
    if protocol in replica.ports:
        host, port = replica.host(protocol), replica.ports[protocol]
    else:
        host, port = require(stack.unlisted_port_host(replica)), DEFAULT_PORTS[protocol]
    if protocol == "otlp-grpc":
        return f"{host}:{port}"
    return f"http://{host}:{port}{PATHS[protocol]}"
