"""Why a stack refused or dropped spans, from what Tempo says: the message of a refused push and the reason
label of ``tempo_discarded_spans_total``. Each known cause names the override that sets its limit, because
hitting one is a configuration limit, not the stack's capacity (facts: Tempo 2.10.8, tests/recorded/tempo-2.10.8).

Tempo's distributor refuses a push past the per-tenant ingestion limit with gRPC ``RESOURCE_EXHAUSTED`` (HTTP
429) and a message in one of two forms::

    RATE_LIMITED: ingestion rate limit (local: 1000000 bytes/s, global: 0 bytes/s, burst: 1000000 bytes) exceeded
        while adding 311209 bytes for user single-tenant. consider increasing the limit or reducing ingestion rate.
    RATE_LIMITED: batch size (2074881 bytes) exceeds ingestion limit (local: ..., burst: 1000000 bytes) while ...

Live traces past ``max_traces_per_user`` and traces past ``max_bytes_per_trace`` are dropped silently: the push
is answered OK and only the discard counter shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MESSAGE = 200
_LIMITS = re.compile(r"\(local: (?P<local>\d+) bytes/s, global: (?P<global>\d+) bytes/s, burst: (?P<burst>\d+) bytes\)")
_BATCH = re.compile(r"batch size \((?P<batch>\d+) bytes\) exceeds ingestion limit")
# The part of Tempo's message that changes with every request: cut so that refusals group by cause.
_PER_REQUEST = re.compile(r"\s+while adding \d+ bytes for user .*$", re.DOTALL)


@dataclass(frozen=True)
class Cause:
    """A reason Tempo counts in ``tempo_discarded_spans_total{reason}``."""

    reason: str
    meaning: str
    overrides: tuple[str, ...]  # the per-tenant overrides that set the limit
    limit_metric: str | None  # the ``tempo_limits_defaults{limit_name}`` that shows it
    silent: bool  # answered OK to the sender: only the discard counter tells

    @property
    def configuration_limit(self) -> bool:
        return bool(self.overrides)


CAUSES: dict[str, Cause] = {
    cause.reason: cause
    for cause in (
        Cause(
            "rate_limited",
            "the per-tenant ingestion rate limit",
            ("overrides.defaults.ingestion.rate_limit_bytes", "overrides.defaults.ingestion.burst_size_bytes"),
            "ingestion_rate_limit_bytes",
            silent=False,
        ),
        Cause(
            "live_traces_exceeded",
            "more live traces per ingester than the per-tenant limit",
            ("overrides.defaults.ingestion.max_traces_per_user",),
            "max_local_traces_per_user",
            silent=True,
        ),
        Cause(
            "trace_too_large",
            "a trace larger than the per-tenant limit",
            ("overrides.defaults.global.max_bytes_per_trace",),
            "max_bytes_per_trace",
            silent=True,
        ),
        Cause(
            "unknown_error",
            "an error Tempo did not classify (see the distributor's and ingesters' logs)",
            (),
            None,
            silent=True,
        ),
    )
}


@dataclass(frozen=True)
class RateLimit:
    """The limit a RATE_LIMITED answer reported."""

    local_bytes_s: int
    global_bytes_s: int
    burst_bytes: int
    batch_bytes: int | None = None  # the "batch size exceeds" form: one request larger than the burst

    def describe(self) -> str:
        text = f"local {self.local_bytes_s:,} B/s, global {self.global_bytes_s:,} B/s, burst {self.burst_bytes:,} B"
        return text + (f"; one request of {self.batch_bytes:,} B is larger than the burst" if self.batch_bytes else "")


def short_message(details: str | None) -> str:
    """A refusal's message without its per-request part (so Locust counts refusals per cause), bounded."""
    text = _PER_REQUEST.sub("", (details or "").strip())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def rate_limit(message: str) -> RateLimit | None:
    """The limit a Tempo ``RATE_LIMITED`` message reports, or None for any other message."""
    if "RATE_LIMITED" not in message or not (limits := _LIMITS.search(message)):
        return None
    batch = _BATCH.search(message)
    return RateLimit(
        int(limits["local"]), int(limits["global"]), int(limits["burst"]), int(batch["batch"]) if batch else None
    )


def explain_refusal(message: str) -> str | None:
    """What a refusal message means and what sets its limit; None when it is not one of Tempo's limits."""
    limit = rate_limit(message)
    if limit is None:
        return None
    cause = CAUSES["rate_limited"]
    fix = (
        f"set {cause.overrides[1]} above the request size, or send smaller requests"
        if limit.batch_bytes
        else f"set {' / '.join(cause.overrides)} above the rate asked, or ask less"
    )
    return (
        f"refused by {cause.meaning} ({limit.describe()}, as Tempo reported): a configuration limit, "
        f"not the stack's capacity; {fix}"
    )


def explain_discards(by_reason: dict[str, float], limits: dict[str, float]) -> str:
    """``rate_limited 10,400: ...; trace_too_large 3: ...`` for the reasons that discarded spans; ``limits``
    are the replica's ``tempo_limits_defaults`` by limit name."""
    parts = []
    for reason, count in sorted(by_reason.items()):
        if count <= 0:
            continue
        cause = CAUSES.get(reason)
        if cause is None:
            parts.append(f"{reason} {count:,.0f}")
            continue
        text = f"{reason} {count:,.0f}: {cause.meaning}"
        if cause.limit_metric and cause.limit_metric in limits:
            text += f" ({cause.limit_metric} {limits[cause.limit_metric]:,.0f})"
        if cause.silent:
            text += ", dropped silently (the push was answered OK)"
        if cause.configuration_limit:
            text += f"; a configuration limit, not a capacity: {' / '.join(cause.overrides)}"
        parts.append(text)
    return "; ".join(parts)
