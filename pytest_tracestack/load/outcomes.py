"""What an export answer means for load statistics: accepted, refused (back-pressure) or failed.

Locust groups failures by the exception's repr, so each status and message gets a row of its own, e.g.
``Refused('RESOURCE_EXHAUSTED: RATE_LIMITED: ingestion rate limit (local: ...) exceeded')`` or
``Failed('HTTP 400: ...')``: the receiver's message is kept (without its per-request part, see refusals.py)
because it says why. ``parse_failure`` reads such a row back.
"""

from __future__ import annotations

import ast
import json
import re

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from pytest_tracestack.load.refusals import short_message

REFUSING_GRPC = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE"})
REFUSING_HTTP = frozenset({429, 502, 503, 504})
_FAILURE = re.compile(
    r"""^(?P<kind>Refused|Failed|PartiallyRejected)\((?P<quote>['"])(?P<status>.*)(?P=quote)\)$""", re.DOTALL
)


class Refused(Exception):
    """The receiver pushed back (RESOURCE_EXHAUSTED, UNAVAILABLE, HTTP 429/502/503/504): a sender retries."""


class Failed(Exception):
    """The export failed otherwise (bad request, deadline, connection): not a capacity signal."""


class PartiallyRejected(Exception):
    """Answered OK with partial_success.rejected_spans > 0: some spans were dropped."""


def grpc_outcome(code_name: str, details: str | None = None) -> Exception:
    """A failed gRPC export: its status code and the message the server gave with it."""
    text = _with_message(code_name, details)
    return Refused(text) if code_name in REFUSING_GRPC else Failed(text)


def http_outcome(
    status: int, body: bytes | None, error: Exception | None = None, content_type: str | None = None
) -> Exception | None:
    """None when the request was accepted in full."""
    if status == 0:
        return Failed(f"connection: {type(error).__name__ if error else 'no answer'}")
    if status // 100 != 2:
        text = _with_message(f"HTTP {status}", error_message(body, content_type))
        return Refused(text) if status in REFUSING_HTTP else Failed(text)
    return partial_outcome(body)


def error_message(body: bytes | None, content_type: str | None) -> str:
    """The message of an OTLP/HTTP error answer: a google.rpc.Status in protobuf or JSON (what OTLP
    specifies and Tempo sends), else the body as text."""
    if not body:
        return ""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/x-protobuf", "application/protobuf"):
        from google.rpc.status_pb2 import Status  # googleapis-common-protos comes with the load extra only

        status = Status()
        try:
            status.ParseFromString(body)
            return status.message
        except Exception:  # protobuf's DecodeError: fall back to the bytes as text
            pass
    if kind == "application/json":
        try:
            return str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            pass
    return body.decode("utf-8", "replace")


def _with_message(status: str, message: str | None) -> str:
    short = short_message(message)
    return f"{status}: {short}" if short else status


def partial_outcome(body: bytes | ExportTraceServiceResponse | None) -> Exception | None:
    """PartiallyRejected when an OK answer says some spans were rejected."""
    if not body:
        return None
    response = body if isinstance(body, ExportTraceServiceResponse) else ExportTraceServiceResponse()
    if not isinstance(body, ExportTraceServiceResponse):
        try:
            response.ParseFromString(body)
        except Exception:  # an OK answer we cannot read is still an OK answer
            return None
    rejected = response.partial_success.rejected_spans
    return PartiallyRejected(f"{rejected} spans rejected") if rejected else None


def parse_failure(text: str) -> tuple[str, str]:
    """``Refused('RESOURCE_EXHAUSTED: ...')`` -> ("refused", "RESOURCE_EXHAUSTED: ..."); anything else is a failure."""
    match = _FAILURE.match(text.strip())
    if not match:
        return "failed", text.strip()
    kind = {"Refused": "refused", "Failed": "failed", "PartiallyRejected": "partially rejected"}[match["kind"]]
    try:  # the repr of the message: read the literal back (escapes included)
        return kind, str(ast.literal_eval(match["quote"] + match["status"] + match["quote"]))
    except (ValueError, SyntaxError):
        return kind, match["status"]
