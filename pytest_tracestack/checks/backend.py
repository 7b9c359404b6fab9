"""The backend-storage check's parts: which replicas flush and read the backend, where Tempo's bucket is, and
waiting for a trace's blocks to land in it.

Tempo 2.x keeps a trace in its ingesters until a block is cut (``max_block_duration``, 30 min by default), then
writes the block to the bucket and keeps a copy for ``complete_block_timeout``; a querier sees a new block after
its next ``blocklist_poll``. The check asks each ingester to ``/flush`` instead of waiting for the cut, watches
the bucket for a new complete block under the tenant's prefix, and reads the trace through the querier's
blocks-only API, which no ingester answers (shared/notes/tempo-facts.md).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from pytest_tracestack.clients.object_store import SINGLE_TENANT, S3Settings, StoredBlock, list_blocks
from pytest_tracestack.clients.tempo import TempoClient, TempoUnavailable
from pytest_tracestack.configs.dotted import dotted_get
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.base import Replica, Stack

BLOCK_DEADLINE_S = 60.0  # after /flush, an ingester writes its block within its flush_check_period
POLL_MARGIN_S = 30.0  # beyond the querier's blocklist_poll
DEFAULT_BLOCKLIST_POLL_S = 300.0  # Tempo 2.x's storage.trace.blocklist_poll
S3_SERVERS = ("versitygw",)  # binaries tracestack runs as a profile's S3 server
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")


@dataclass(frozen=True)
class BlocksSeen:
    blocks: list[StoredBlock]  # complete blocks that were not in the bucket before the push
    after_s: float


def ingesters(stack: Stack) -> list[Replica]:
    """The replicas holding recent traces: ingesters, or single binaries (every module in one process)."""
    return [replica for replica in stack.replicas if _tempo_target(stack, replica) in ("ingester", "all")]


def querier(stack: Stack) -> Replica:
    """A querier, or the single binary that holds one."""
    for target in ("querier", "all"):
        found = [replica for replica in stack.replicas if _tempo_target(stack, replica) == target]
        if found:
            return found[0]
    raise TracestackError(f"profile {stack.profile.name} runs no Tempo querier (or single binary) to read blocks with")


def _tempo_target(stack: Stack, replica: Replica) -> str | None:
    component = stack.profile.components[replica.component]
    return (component.target or "all") if component.binary == "tempo" else None


def tempo_config(stack: Stack, replica: Replica) -> dict[str, Any]:
    """The config the replica runs (the local runtime's rendering; on Kubernetes, the profile's ConfigMap or Helm
    values as tracestack reads them)."""
    config = stack.running_config(replica)
    return dict(config) if isinstance(config, dict) else {}


def bucket_of(stack: Stack, config: dict[str, Any]) -> S3Settings:
    """Tempo's S3 settings, reached through the profile's S3 server component when it has one (on Kubernetes,
    Tempo's endpoint is a Service name; tracestack reaches the server through a port-forward)."""
    settings = S3Settings.from_tempo_config(config)
    if settings is None:
        raise TracestackError(
            f"profile {stack.profile.name}: Tempo's storage.trace.backend is "
            f"{dotted_get(config, 'storage.trace.backend')!r}, not s3; the backend-storage check "
            "reads an S3 bucket (use an S3 profile such as manifest-s3 or distributed-s3)"
        )
    servers = [c.name for c in stack.profile.components.values() if c.binary in S3_SERVERS]
    return settings.reached_at(stack.first(servers[0]).hostport("s3")) if servers else settings


def blocklist_poll_s(config: dict[str, Any]) -> float:
    return go_duration_s(dotted_get(config, "storage.trace.blocklist_poll"), DEFAULT_BLOCKLIST_POLL_S)


def go_duration_s(value: Any, default: float) -> float:
    """A Go duration as Tempo's config writes it (``2s``, ``5m0s``, ``1h30m``) in seconds; ``default`` when unset."""
    if value in (None, ""):
        return default
    parts = _GO_DURATION.findall(str(value))
    if not parts or "".join(number + unit for number, unit in parts) != str(value):
        raise TracestackError(f"{value!r} is not a Go duration such as 2s or 5m0s")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    return sum(float(number) * scale[unit] for number, unit in parts)


def flush_ingesters(stack: Stack) -> list[str]:
    """Ask every ingester to flush now; returns what could not be asked (the block then comes with the cut)."""
    unreached = []
    for replica in ingesters(stack):
        with TempoClient(replica.url("http"), timeout=10.0) as client:
            try:
                client.flush()
            except TempoUnavailable as error:
                unreached.append(f"{replica.name}: {error}")
    return unreached


def wait_for_new_blocks(
    settings: S3Settings, before: set[str], deadline_s: float, tenant: str = SINGLE_TENANT
) -> BlocksSeen:
    """Poll the bucket until a complete block that was not there ``before`` is under the tenant's prefix."""
    started = time.monotonic()
    seen: dict[str, StoredBlock] = {}
    while True:
        seen = list_blocks(settings, tenant)
        new = [block for block_id, block in sorted(seen.items()) if block_id not in before and block.complete]
        if new:
            return BlocksSeen(new, time.monotonic() - started)
        if time.monotonic() - started >= deadline_s:
            raise AssertionError(
                f"no new complete block (with meta.json) under {settings.tenant_prefix(tenant)} of "
                f"{settings.describe()} within {deadline_s:.0f}s of the flush; the bucket holds "
                f"{_describe(seen, before)}"
            )
        time.sleep(1.0)


def _describe(seen: dict[str, StoredBlock], before: set[str]) -> str:
    if not seen:
        return "nothing under that prefix"
    new = {block_id: block for block_id, block in seen.items() if block_id not in before}
    incomplete = ", ".join(f"{block_id} ({', '.join(block.objects)})" for block_id, block in new.items())
    return f"{len(seen)} block(s), {len(new)} new" + (f", incomplete: {incomplete}" if incomplete else "")
