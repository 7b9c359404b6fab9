"""A client for Tempo's query API that knows how Tempo really answers (see shared/notes/tempo-facts.md).

v2 by-id says "not found" with 200 and an empty trace, v1 with an empty 404 (any other 404 is not
Tempo); ids are base64 in the trace JSON and hex without leading zeros in search results; a refused
query is a 400 in plain text; a trace over ``max_bytes_per_trace`` is a 422 (v1) or ``"status":
"PARTIAL"`` (v2). Search sees a trace only after the ingester cuts it, so waiting is polling with a
``time.monotonic()`` deadline and a measured visibility time, never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from pytest_tracestack.clients.prometheus_text import MetricFamilies, parse_metrics
from pytest_tracestack.deadlines import poll_until
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.traces.model import Span, normalize_hex_id
from pytest_tracestack.traces.otlp import OtlpDecodeError, from_tempo_json

T = TypeVar("T")

# Go's mux answers an unknown path with this body; Tempo's own "trace not found" 404 is empty.
_NO_SUCH_ROUTE = b"404 page not found"
# The querier's own by-id route (Tempo's API docs: "for debugging"): ?mode=blocks reads the backend alone.
BLOCKS_ONLY_PATH = "/querier/api/v2/traces"


class TempoQueryError(TracestackError):
    """Tempo refused the query (HTTP 400): an invalid trace id or TraceQL. Carries Tempo's own message."""


class TempoResponseError(TracestackError):
    """Tempo answered something its API does not return: not JSON, the wrong shape, an unknown route."""


class TempoUnavailable(TempoResponseError):
    """No answer, or 429/5xx: Tempo (or a proxy in front of it) is not serving yet. Waits retry it."""


class TraceIncomplete(TracestackError):
    """Tempo returned only part of a trace (v1: 422; v2: ``status: PARTIAL``), usually because the trace
    is over ``max_bytes_per_trace``. ``spans`` holds what v2 did return (v1 returns none)."""

    def __init__(self, message: str, trace_id: str, spans: list[Span]) -> None:
        super().__init__(message)
        self.trace_id, self.spans = trace_id, spans


class VisibilityTimeout(TracestackError):
    """What was waited for did not become visible before the deadline; says what, how long, last answer.
    ``last_error`` is set when the last attempt was not answered (no answer, 429, 5xx), not merely empty."""

    last_error: TempoUnavailable | None = None


@dataclass(frozen=True)
class SearchHit:
    trace_id: str  # 32 hex chars, zero-padded (search drops leading zeros)
    root_service: str
    root_name: str
    start_ns: int
    duration_ms: int
    matched_span_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TraceWait:
    spans: list[Span]
    visible_after_s: float  # from the call until the expected spans were all returned
    attempts: int


@dataclass(frozen=True)
class SearchWait(Sequence):
    """The hits of a waited-for search; also a sequence of them, so it can be used as the plain list."""

    hits: list[SearchHit]
    visible_after_s: float
    attempts: int

    def __getitem__(self, index):
        return self.hits[index]

    def __len__(self) -> int:
        return len(self.hits)


@dataclass
class TempoClient:
    base_url: str
    tenant: str | None = None
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None  # tests pass an httpx.MockTransport
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        headers = {"X-Scope-OrgID": self.tenant} if self.tenant else {}
        self._client = httpx.Client(
            base_url=self.base_url, timeout=self.timeout, headers=headers, transport=self.transport
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TempoClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- status -------------------------------------------------------------------------------

    def ready(self) -> bool:
        """True once every module is up (``/ready`` answers 200 ``ready``); False on anything else."""
        try:
            response = self._client.get("/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == "ready"

    def echo(self) -> str:
        return self._request("/api/echo").text.strip()

    def build_info(self) -> dict[str, Any]:
        """``/api/status/buildinfo``: version, revision, branch, buildUser, buildDate, goVersion."""
        return _json_object(self._request("/api/status/buildinfo"))

    def metrics(self) -> MetricFamilies:
        response = self._request("/metrics")
        return parse_metrics(response.text, str(response.url))

    # --- traces by id -------------------------------------------------------------------------

    def trace(self, trace_id: str, api: str = "v2") -> list[Span] | None:
        """The trace's spans, or None when Tempo does not have it (yet)."""
        if api not in ("v1", "v2"):
            raise ValueError(f"api must be 'v1' or 'v2', got {api!r}")
        path = f"/api/v2/traces/{trace_id}" if api == "v2" else f"/api/traces/{trace_id}"
        response = self._request(path, allow={404, 422}, refused=f"trace id {trace_id!r}")
        if response.status_code == 404:
            if api == "v1" and not response.content.strip():
                return None
            raise self._not_tempo(
                response, 'an unknown trace id is 200 {"trace":{}} on /api/v2/traces/ and an empty 404 on /api/traces/'
            )
        if response.status_code == 422:
            raise TraceIncomplete(
                f"{response.url}: Tempo refused trace {trace_id} as too large (HTTP 422: "
                f"{response.text.strip()[:200]}); raise max_bytes_per_trace or send a smaller trace",
                trace_id,
                [],
            )
        document = _json_object(response)
        return _decode_v2(response, document, trace_id) if api == "v2" else _decode_v1(response, document)

    def trace_in_blocks(self, trace_id: str) -> list[Span] | None:
        """The trace as a querier reads it from the backend's blocks alone, no ingester asked: the querier's
        debugging API ``/querier/api/v2/traces/<id>?mode=blocks``, on a querier's (or a single binary's) HTTP port.
        None while no block it has polled holds the trace (a 404, or an empty trace)."""
        response = self._request(
            f"{BLOCKS_ONLY_PATH}/{trace_id}", params={"mode": "blocks"}, allow={404}, refused=f"trace id {trace_id!r}"
        )
        if response.status_code == 404:
            return None
        return _decode_v2(response, _json_object(response), trace_id)

    def wait_for_trace(
        self, trace_id: str, expected_spans: int, deadline_s: float, api: str = "v2", blocks_only: bool = False
    ) -> TraceWait:
        """Poll by id until the trace has ``expected_spans`` spans (``blocks_only``: in the backend's blocks, see
        ``trace_in_blocks``); the visibility time is measured from the call."""

        def attempt() -> tuple[bool, list[Span]]:
            spans = (self.trace_in_blocks(trace_id) if blocks_only else self.trace(trace_id, api=api)) or []
            return len(spans) >= expected_spans, spans

        path = (
            f"{BLOCKS_ONLY_PATH}/{trace_id}?mode=blocks"
            if blocks_only
            else f"/api/{'v2/' if api == 'v2' else ''}traces/{trace_id}"
        )
        what = f"trace {trace_id} with {expected_spans} span(s) at {self.base_url}{path}"
        spans, seconds, attempts = _poll(attempt, deadline_s, what, _describe_spans)
        return TraceWait(spans, seconds, attempts)

    # --- ingesters ----------------------------------------------------------------------------

    def flush(self) -> None:
        """An ingester's ``/flush``: cut every trace and block it holds and flush them to the backend now (an
        ingester's, or a single binary's, HTTP port). Tempo answers 204."""
        try:
            response = self._client.post("/flush")
        except httpx.HTTPError as error:
            raise TempoUnavailable(f"{self.base_url}/flush: no answer ({type(error).__name__}: {error})") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise TempoUnavailable(f"{response.url}: HTTP {response.status_code}: {response.content[:200]!r}")
        if response.status_code >= 300:
            raise TempoResponseError(
                f"{response.url}: HTTP {response.status_code}: {response.content[:200]!r}; an "
                f"ingester answers /flush with 204 ({self._is_it_tempo()})"
            )

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        tags: dict[str, str] | None = None,
        traceql: str | None = None,
        limit: int = 20,
        start: int | None = None,
        end: int | None = None,
    ) -> list[SearchHit]:
        """``/api/search`` by tags (logfmt) or TraceQL, exactly one. ``start``/``end`` are unix seconds; with
        them Tempo 2.x also searches the backend blocks, without them only the ingesters."""
        params: dict[str, Any] = {"limit": limit, **_search_params(tags, traceql, start, end)}
        response = self._request("/api/search", params=params, refused=f"search {params}")
        traces = _json_object(response).get("traces") or []
        if not isinstance(traces, list):
            raise _wrong_shape(response, "'traces' is not a list")
        return [_hit(item, response) for item in traces]

    def wait_for_search(
        self,
        tags: dict[str, str] | None = None,
        traceql: str | None = None,
        deadline_s: float = 45.0,
        trace_id: str | None = None,
        limit: int = 20,
        start: int | None = None,
        end: int | None = None,
    ) -> SearchWait:
        """Poll the search until it returns something (or ``trace_id``, when given). An empty answer right
        after a push is normal: the ingester has not cut the trace yet."""
        wanted = normalize_hex_id(trace_id, 32) if trace_id else None

        def attempt() -> tuple[bool, list[SearchHit]]:
            hits = self.search(tags=tags, traceql=traceql, limit=limit, start=start, end=end)
            found = [hit for hit in hits if wanted is None or hit.trace_id == wanted]
            return bool(found), found if found else hits

        what = f"search {tags or traceql!r} at {self.base_url}/api/search to return {wanted or 'a trace'}"
        hits, seconds, attempts = _poll(attempt, deadline_s, what, _describe_hits)
        return SearchWait(hits, seconds, attempts)

    def search_tags(self, scope: str | None = None) -> list[str]:
        """Tag names from ``/api/v2/search/tags``, as TraceQL names them: ``resource.service.name``,
        ``span.http.method``; intrinsics (``duration``, ``name``, ...) bare."""
        response = self._request("/api/v2/search/tags", params={"scope": scope} if scope else None)
        scopes = _json_object(response).get("scopes") or []
        try:
            return [
                tag if item["name"] == "intrinsic" else f"{item['name']}.{tag}"
                for item in scopes
                for tag in item.get("tags") or []
            ]
        except (KeyError, TypeError, AttributeError) as error:
            raise _wrong_shape(response, f"a scope lacks {error}") from None

    def tag_values(self, tag: str) -> list[str]:
        """Values of a scoped tag (``resource.service.name``) from ``/api/v2/search/tag/<tag>/values``."""
        response = self._request(f"/api/v2/search/tag/{tag}/values", refused=f"tag {tag!r}")
        values = _json_object(response).get("tagValues") or []
        try:
            return [str(item["value"]) for item in values]
        except (KeyError, TypeError) as error:
            raise _wrong_shape(response, f"a tag value lacks {error}") from None

    # --- plumbing -----------------------------------------------------------------------------

    def _request(
        self, path: str, params: dict | None = None, allow: AbstractSet[int] = frozenset(), refused: str = "the query"
    ) -> httpx.Response:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as error:
            raise TempoUnavailable(f"{self.base_url}{path}: no answer ({type(error).__name__}: {error})") from error
        status = response.status_code
        if status == 400:
            raise TempoQueryError(f"Tempo refused {refused}: {response.text.strip()} ({response.url})")
        if status == 404 and response.content.strip() == _NO_SUCH_ROUTE:
            raise TempoResponseError(
                f"{response.url}: HTTP 404 {_NO_SUCH_ROUTE.decode()!r}: nothing serves this path; {self._is_it_tempo()}"
            )
        if status == 429 or status >= 500:
            raise TempoUnavailable(f"{response.url}: HTTP {status}: {response.content[:200]!r}")
        if status >= 300 and status not in allow:
            raise TempoResponseError(f"{response.url}: HTTP {status}: {response.content[:200]!r}")
        return response

    def _not_tempo(self, response: httpx.Response, tempo_answers: str) -> TempoResponseError:
        kind = response.headers.get("content-type", "no content type")
        return TempoResponseError(
            f"{response.url}: HTTP {response.status_code} ({kind}) answering "
            f"{response.content[:120]!r}: this endpoint is not a Tempo query API (Tempo's "
            f"answer to {tempo_answers}); {self._is_it_tempo()}"
        )

    def _is_it_tempo(self) -> str:
        return f"is {self.base_url} Tempo's HTTP port (3200 from 2.8, 3100 in the seeds)?"


# --- decoding ----------------------------------------------------------------------------------


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        raise _wrong_shape(response, "not JSON") from None
    if not isinstance(document, dict):
        raise _wrong_shape(response, f"expected a JSON object, got {type(document).__name__}")
    return document


def _wrong_shape(response: httpx.Response, problem: str) -> TempoResponseError:
    return TempoResponseError(
        f"{response.url}: HTTP {response.status_code}: {problem}; the answer begins {response.content[:200]!r}"
    )


def _decode_spans(response: httpx.Response, document: dict[str, Any]) -> list[Span]:
    try:
        return from_tempo_json(document)
    except OtlpDecodeError as error:
        raise _wrong_shape(response, str(error)) from error


def _decode_v2(response: httpx.Response, document: dict[str, Any], trace_id: str) -> list[Span] | None:
    if not isinstance(document.get("trace"), dict):
        raise _wrong_shape(response, 'no \'trace\' object (a v2 answer is {"trace": {...}, "metrics": {...}})')
    if not document["trace"].get("resourceSpans"):
        return None
    spans = _decode_spans(response, document)
    if document.get("status") == "PARTIAL":
        raise TraceIncomplete(
            f"{response.url}: Tempo returned trace {trace_id} partially ({len(spans)} span(s)): "
            f"{document.get('message') or 'no message'}",
            trace_id,
            spans,
        )
    return spans


def _decode_v1(response: httpx.Response, document: dict[str, Any]) -> list[Span] | None:
    if not isinstance(document.get("batches"), list):
        raise _wrong_shape(response, "no 'batches' list (a v1 answer is {\"batches\": [...]})")
    return _decode_spans(response, document) or None


def _hit(item: Any, response: httpx.Response) -> SearchHit:
    try:
        span_sets = item.get("spanSets") or ([item["spanSet"]] if item.get("spanSet") else [])
        span_ids = (
            normalize_hex_id(span["spanID"], 16) for span_set in span_sets for span in span_set.get("spans", [])
        )
        return SearchHit(
            trace_id=normalize_hex_id(item["traceID"], 32),
            root_service=item.get("rootServiceName", ""),
            root_name=item.get("rootTraceName", ""),
            start_ns=int(item.get("startTimeUnixNano", 0)),
            duration_ms=int(item.get("durationMs", 0)),
            matched_span_ids=tuple(dict.fromkeys(span_ids)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _wrong_shape(response, f"a search result lacks or garbles {error}: {str(item)[:200]}") from None


def _search_params(
    tags: dict[str, str] | None, traceql: str | None, start: int | None, end: int | None
) -> dict[str, Any]:
    if bool(tags) == bool(traceql):
        raise ValueError("search takes tags or a TraceQL query, exactly one of them (Tempo refuses both)")
    if (start is None) != (end is None):
        raise ValueError("search takes start and end together (unix seconds), or neither")
    params: dict[str, Any] = {"tags": logfmt(tags)} if tags else {"q": traceql}
    if start is not None:
        params.update(start=start, end=end)
    return params


def logfmt(tags: dict[str, str]) -> str:
    """Tags as Tempo's ``tags=`` parameter reads them: ``k=v k2="a b"``."""

    def value(text: str) -> str:
        text = str(text)
        if text and not any(c in text for c in ' ="\\'):
            return text
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return " ".join(f"{key}={value(text)}" for key, text in tags.items())


# --- waiting -----------------------------------------------------------------------------------


def _describe_spans(last: list[Span] | None) -> str:
    if not last:
        return "not found"
    return f"{len(last)} span(s): {', '.join(sorted(span.span_id for span in last))}"


def _describe_hits(last: list[SearchHit] | None) -> str:
    return "no traces" if not last else f"{len(last)} trace(s): {', '.join(hit.trace_id for hit in last[:5])}"


def _poll(
    attempt: Callable[[], tuple[bool, T]],
    deadline_s: float,
    what: str,
    describe_last: Callable[[T | None], str],
    first_pause_s: float = 0.05,
    max_pause_s: float = 1.0,
) -> tuple[T, float, int]:
    """Call ``attempt`` (-> done, what it saw) with growing pauses until done or the deadline passes.

    ``TempoUnavailable`` (no answer, 429, 5xx) is retried: a starting or restarting Tempo says so. Any
    other error (a refused query, garbage) will not get better by waiting and is raised at once.
    """

    def observe() -> tuple[bool, T | TempoUnavailable]:
        try:
            return attempt()
        except TempoUnavailable as error:
            return False, error

    polled = poll_until(
        observe, deadline_s, first_pause_s, done=lambda answer: answer[0], backoff=1.5, max_interval_s=max_pause_s
    )
    seen = polled.last[1]
    if isinstance(seen, TempoUnavailable):
        answer, last_error = f"last error: {seen}", seen
    elif polled.ok:
        return seen, polled.elapsed_s, polled.attempts
    else:
        answer, last_error = f"last answer: {describe_last(seen)}", None
    timeout = VisibilityTimeout(
        f"waited {deadline_s:g}s ({polled.attempts} attempts over {polled.elapsed_s:.1f}s) for {what}; {answer}"
    )
    timeout.last_error = last_error
    raise timeout
