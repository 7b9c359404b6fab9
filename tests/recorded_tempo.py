"""Serves the responses recorded from a real Tempo 2.10.8 (tests/recorded/, README there) through
httpx.MockTransport."""

from __future__ import annotations

from pathlib import Path

import httpx

RECORDED = Path(__file__).parent / "recorded"  # copies kept in the repository (README there)
FIXTURES = RECORDED / "tempo-2.10.8"
UNDER_LOAD = FIXTURES / "distributed-under-load"  # /metrics of each process of a 7-process stack under load
RATE_LIMITED = FIXTURES / "rate-limited.txt"  # the distributor's answers past its ingestion limit
TRACE_ID = "d60b52c687babdee40d00b5c87c98c30"


def recorded(name: str, directory: Path = FIXTURES) -> httpx.Response:
    """A recorded response: status line and headers from ``name.headers``, body from ``name.body``."""
    header_lines = (directory / f"{name}.headers").read_text().splitlines()
    status = int(header_lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in header_lines[1:] if ": " in line)
    headers.pop("Date", None)
    return httpx.Response(status, headers=headers, content=(directory / f"{name}.body").read_bytes())


def route(request: httpx.Request) -> httpx.Response:
    path, params = request.url.path, request.url.params
    if path == f"/api/v2/traces/{TRACE_ID}":
        return recorded("trace-v2")
    if path == f"/api/traces/{TRACE_ID}":
        return recorded("trace-v1")
    if path.startswith("/api/v2/traces/"):
        return recorded("trace-v2-notfound")
    if path.startswith("/api/traces/z") or path.startswith("/api/v2/traces/z"):
        return recorded("trace-badid")
    if path.startswith("/api/traces/"):
        return recorded("trace-v1-notfound")
    if path == "/api/search" and "tags" in params:
        return recorded("search-tags-param")
    if path == "/api/search" and params.get("q", "").startswith("{ bad"):
        return recorded("search-traceql-invalid")
    if path == "/api/search" and "select" in params.get("q", ""):
        return recorded("search-traceql-select")
    if path == "/api/search":
        return recorded("search-traceql")
    if path == "/api/search/tags":
        return recorded("search-tags-v1")
    if path == "/api/v2/search/tags":
        return recorded("search-tags-v2")
    if path.startswith("/api/v2/search/tag/"):
        return recorded("tag-values-v2")
    if path == "/api/echo":
        return recorded("echo")
    if path == "/ready":
        return recorded("ready")
    if path == "/metrics":
        return httpx.Response(200, text=(FIXTURES / "metrics-full.txt").read_text())
    return httpx.Response(404, text=f"no recording for {path}")


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(route)
