"""A client for Tempo's query API that knows how Tempo really answers (see shared/notes/tempo-facts.md):
v2 by-id says "not found" with 200 and an empty trace, v1 with 404; ids are base64 in JSON; search
drops leading zeros of ids and sees a trace only after the ingester cuts it. Waiting is polling with a
deadline and a measured visibility time, never a fixed sleep."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import httpx

from .errors import TracestackError
from .model import Span, normalize_hex_id
from .otlp import OtlpDecodeError, from_tempo_json
from .prometheus import MetricFamilies, parse_metrics

T = TypeVar("T")


class TempoQueryError(TracestackError):
    """Tempo refused the query (HTTP 400): an invalid id or TraceQL. Carries Tempo's own message."""


class TempoResponseError(TracestackError):
    """Tempo answered something that is not what its API returns (garbage, wrong shape, 5xx)."""


class VisibilityTimeout(TracestackError):
    """What was waited for did not become visible before the deadline."""


@dataclass(frozen=True)
class SearchHit:
    trace_id: str                 # 32 hex chars, zero-padded (search drops leading zeros)
    root_service: str
    root_name: str
    start_ns: int
    duration_ms: int
    matched_span_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TraceWait:
    spans: list[Span]
    visible_after_s: float
    attempts: int


@dataclass
class TempoClient:
    base_url: str
    tenant: str | None = None
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        headers = {"X-Scope-OrgID": self.tenant} if self.tenant else {}
        self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout, headers=headers,
                                    transport=self.transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "TempoClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- status -------------------------------------------------------------------------------

    def ready(self) -> bool:
        try:
            response = self._client.get("/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == "ready"

    def echo(self) -> str:
        return self._get("/api/echo").text.strip()

    def build_info(self) -> dict[str, Any]:
        return self._json(self._get("/api/status/buildinfo"))

    def metrics(self) -> MetricFamilies:
        return parse_metrics(self._get("/metrics").text)

    # --- traces by id -------------------------------------------------------------------------

    def trace(self, trace_id: str, api: str = "v2") -> list[Span] | None:
        """The trace's spans, or None when Tempo does not have it (yet)."""
        path = f"/api/v2/traces/{trace_id}" if api == "v2" else f"/api/traces/{trace_id}"
        response = self._request(path, allow={404})
        if response.status_code == 404:
            return None
        if api == "v1" and response.status_code == 422:
            raise TempoResponseError(f"{response.url}: trace {trace_id} is larger than max_bytes_per_trace (422)")
        document = self._json(response)
        if api == "v2" and not (document.get("trace") or {}).get("resourceSpans"):
            return None
        try:
            return from_tempo_json(document)
        except OtlpDecodeError as error:
            raise TempoResponseError(f"{response.url}: {error}") from error

    def wait_for_trace(self, trace_id: str, expected_spans: int, deadline_s: float) -> TraceWait:
        """Poll until the trace has ``expected_spans`` spans; the visibility time is measured from the call."""
        last: list[Span] = []

        def attempt() -> list[Span] | None:
            nonlocal last
            last = self.trace(trace_id) or []
            return last if len(last) >= expected_spans else None

        spans, seconds, attempts = _poll(attempt, deadline_s, lambda: (
            f"trace {trace_id} with {expected_spans} spans at {self.base_url}/api/v2/traces/{trace_id}; "
            f"last answer had {len(last)} spans"))
        return TraceWait(spans, seconds, attempts)

    # --- search -------------------------------------------------------------------------------

    def search(self, tags: dict[str, str] | None = None, traceql: str | None = None, limit: int = 20,
               start: int | None = None, end: int | None = None) -> list[SearchHit]:
        if bool(tags) == bool(traceql):
            raise ValueError("search takes tags or a TraceQL query, exactly one of them (Tempo refuses both)")
        params: dict[str, Any] = {"limit": limit}
        if tags:
            params["tags"] = " ".join(f'{key}="{value}"' if " " in value else f"{key}={value}"
                                      for key, value in tags.items())
        else:
            params["q"] = traceql
        if start is not None and end is not None:
            params.update(start=start, end=end)
        document = self._json(self._request("/api/search", params=params))
        return [_hit(item, self.base_url) for item in document.get("traces") or []]

    def wait_for_search(self, tags: dict[str, str] | None = None, traceql: str | None = None,
                        deadline_s: float = 45.0, trace_id: str | None = None) -> list[SearchHit]:
        """Poll the search until it returns something (or ``trace_id``, when given)."""
        def attempt() -> list[SearchHit] | None:
            hits = self.search(tags=tags, traceql=traceql)
            if trace_id is not None:
                hits = [hit for hit in hits if hit.trace_id == normalize_hex_id(trace_id, 32)]
            return hits or None

        hits, _, _ = _poll(attempt, deadline_s, lambda: f"search {tags or traceql!r} at {self.base_url}/api/search "
                                                         f"to return {trace_id or 'a trace'}")
        return hits

    def search_tags(self, scope: str | None = None) -> list[str]:
        """Tag names: v2 (all scopes, or one) flattened as ``scope.tag``."""
        document = self._json(self._get("/api/v2/search/tags", params={"scope": scope} if scope else None))
        return [f"{item['name']}.{tag}" if item["name"] != "intrinsic" else tag
                for item in document.get("scopes", []) for tag in item.get("tags", [])]

    def tag_values(self, tag: str) -> list[str]:
        document = self._json(self._get(f"/api/v2/search/tag/{tag}/values"))
        return [item.get("value") for item in document.get("tagValues", [])]

    # --- plumbing -----------------------------------------------------------------------------

    def _get(self, path: str, params: dict | None = None) -> httpx.Response:
        return self._request(path, params=params)

    def _request(self, path: str, params: dict | None = None, allow: set[int] = frozenset()) -> httpx.Response:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as error:
            raise TempoResponseError(f"{self.base_url}{path}: no answer ({type(error).__name__}: {error})") from error
        if response.status_code == 400:
            raise TempoQueryError(f"{response.url}: Tempo refused the query: {response.text.strip()}")
        if response.status_code >= 300 and response.status_code not in allow | {422}:
            raise TempoResponseError(f"{response.url}: HTTP {response.status_code}: {response.text[:200]!r}")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            document = response.json()
        except (ValueError, json.JSONDecodeError):
            raise TempoResponseError(f"{response.url}: HTTP {response.status_code} is not JSON; it begins "
                                     f"{response.content[:200]!r}") from None
        if not isinstance(document, dict):
            raise TempoResponseError(f"{response.url}: expected a JSON object, got {type(document).__name__}")
        return document


def _hit(item: dict[str, Any], base_url: str) -> SearchHit:
    try:
        span_sets = item.get("spanSets") or ([item["spanSet"]] if item.get("spanSet") else [])
        return SearchHit(
            trace_id=normalize_hex_id(item["traceID"], 32),
            root_service=item.get("rootServiceName", ""),
            root_name=item.get("rootTraceName", ""),
            start_ns=int(item.get("startTimeUnixNano", 0)),
            duration_ms=int(item.get("durationMs", 0)),
            matched_span_ids=tuple(normalize_hex_id(span["spanID"], 16)
                                   for span_set in span_sets for span in span_set.get("spans", [])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TempoResponseError(f"{base_url}/api/search: a result lacks {error}: {str(item)[:200]}") from error


def _poll(attempt: Callable[[], T | None], deadline_s: float, describe: Callable[[], str]) -> tuple[T, float, int]:
    """Call ``attempt`` with growing pauses until it returns something or the deadline passes."""
    started = time.monotonic()
    deadline = started + deadline_s
    pause, attempts = 0.05, 0
    while True:
        attempts += 1
        result = attempt()
        if result is not None:
            return result, time.monotonic() - started, attempts
        if time.monotonic() + pause > deadline:
            raise VisibilityTimeout(f"waited {deadline_s:.0f}s ({attempts} attempts) for {describe()}")
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)
