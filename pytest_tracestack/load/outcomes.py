"""What an export answer means for load statistics: accepted, refused (back-pressure) or failed.

Locust groups failures by the exception's repr, so each status gets a row of its own, e.g.
``Refused('RESOURCE_EXHAUSTED')`` or ``Failed('HTTP 400')``; ``parse_failure`` reads such a row back.
"""

from __future__ import annotations

import re

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

REFUSING_GRPC = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE"})
REFUSING_HTTP = frozenset({429, 502, 503, 504})
_FAILURE = re.compile(r"^(?P<kind>Refused|Failed|PartiallyRejected)\('(?P<status>[^']*)'\)$")


class Refused(Exception):
    """The receiver pushed back (RESOURCE_EXHAUSTED, UNAVAILABLE, HTTP 429/502/503/504): a sender retries."""


class Failed(Exception):
    """The export failed otherwise (bad request, deadline, connection): not a capacity signal."""


class PartiallyRejected(Exception):
    """Answered OK with partial_success.rejected_spans > 0: some spans were dropped."""


def grpc_outcome(code_name: str) -> Exception:
    return Refused(code_name) if code_name in REFUSING_GRPC else Failed(code_name)


def http_outcome(status: int, body: bytes | None, error: Exception | None = None) -> Exception | None:
    """None when the request was accepted in full."""
    if status == 0:
        return Failed(f"connection: {type(error).__name__ if error else 'no answer'}")
    if status in REFUSING_HTTP:
        return Refused(f"HTTP {status}")
    if status // 100 != 2:
        return Failed(f"HTTP {status}")
    return partial_outcome(body)


def partial_outcome(body: bytes | ExportTraceServiceResponse | None) -> Exception | None:
    """PartiallyRejected when an OK answer says some spans were rejected."""
    if not body:
        return None
    response = body if isinstance(body, ExportTraceServiceResponse) else ExportTraceServiceResponse()
    if not isinstance(body, ExportTraceServiceResponse):
        try:
            response.ParseFromString(body)
        except Exception:   # an OK answer we cannot read is still an OK answer
            return None
    rejected = response.partial_success.rejected_spans
    return PartiallyRejected(f"{rejected} spans rejected") if rejected else None


def parse_failure(text: str) -> tuple[str, str]:
    """``Refused('RESOURCE_EXHAUSTED')`` -> ("refused", "RESOURCE_EXHAUSTED"); anything else is a failure."""
    match = _FAILURE.match(text.strip())
    if not match:
        return "failed", text.strip()
    kind = {"Refused": "refused", "Failed": "failed", "PartiallyRejected": "partially rejected"}[match["kind"]]
    return kind, match["status"]
