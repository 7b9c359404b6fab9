"""Where a disabled receiver would listen, so a check can prove nothing does."""

from __future__ import annotations

import pytest

from ..runtimes.base import Stack

DEFAULT_PORTS = {"otlp-grpc": 4317, "otlp-http": 4318, "zipkin": 9411, "jaeger-thrift-http": 14268}
PATHS = {"otlp-http": "/v1/traces", "zipkin": "/api/v2/spans", "jaeger-thrift-http": "/api/traces"}


def closed_target(stack: Stack, protocol: str) -> str:
    """The protocol's default port on the ingest component's address (or the port the profile names)."""
    ingest = next(iter(stack.profile.ingest.values()))
    replica = stack.first(ingest.component)
    if protocol not in replica.ports and stack.runtime != "local":
        # On Kubernetes only forwarded ports are reachable; probing this machine would prove nothing.
        pytest.skip(f"on the {stack.runtime} runtime the port a disabled {protocol} receiver would use is not "
                    f"forwarded; the values and manifests that keep it off are checked by --tracestack-plan")
    port = replica.ports.get(protocol, DEFAULT_PORTS[protocol])
    if protocol == "otlp-grpc":
        return f"{replica.address}:{port}"
    return f"http://{replica.address}:{port}{PATHS[protocol]}"
