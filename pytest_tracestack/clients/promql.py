"""A PromQL client for Prometheus' HTTP API (``GET /api/v1/query``), and a wait until a query's answer is the one
wanted, with a deadline. What Prometheus last answered is kept, so a timeout says what it saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pytest_tracestack.errors import TracestackError


class PromQLError(TracestackError):
    """Prometheus refused the query, or what answered is not Prometheus' API."""


class PromQLTimeout(TracestackError):
    """The query never gave the wanted answer before the deadline."""


@dataclass(frozen=True)
class Series:
    """One element of an instant vector: its labels (``__name__`` included when kept) and its value."""

    labels: dict[str, str]
    value: float

    def render(self) -> str:
        name = self.labels.get("__name__", "")
        labels = ",".join(f'{key}="{value}"' for key, value in sorted(self.labels.items()) if key != "__name__")
        return f"{name}{{{labels}}} {self.value:g}"


@dataclass(frozen=True)
class Answer:
    series: list[Series]
    waited_s: float  # from the first query until this answer
    queries: int  # how many times the query was sent


def describe(series: list[Series], limit: int = 5) -> str:
    """What an answer held, for a message: 'no series (empty vector)' or the series, one per line."""
    if not series:
        return "no series (empty vector)"
    shown = [f"  {item.render()}" for item in series[:limit]]
    more = [f"  ... and {len(series) - limit} more"] if len(series) > limit else []
    return f"{len(series)} series:\n" + "\n".join(shown + more)


class PromQLClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PromQLClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, expr: str) -> list[Series]:
        """The instant vector ``expr`` evaluates to now; raises PromQLError naming the query and the answer."""
        try:
            response = self._http.get("/api/v1/query", params={"query": expr})
        except httpx.HTTPError as error:
            raise PromQLError(
                f"Prometheus at {self.base_url} did not answer {expr!r}: {type(error).__name__}: {error}"
            ) from None
        body = _json(response, expr, self.base_url)
        if body.get("status") != "success":
            raise PromQLError(
                f"Prometheus at {self.base_url} refused {expr!r} (HTTP {response.status_code}): "
                f"{body.get('errorType', '?')}: {body.get('error', response.text[:300])}"
            )
        data = body.get("data") or {}
        if data.get("resultType") != "vector":
            raise PromQLError(
                f"{expr!r} is a {data.get('resultType')!r}, not an instant vector; write a query whose "
                "answer is series, e.g. sum by (service) (...)"
            )
        return [Series(dict(item.get("metric") or {}), float(item["value"][1])) for item in data.get("result", [])]

    def wait_for(
        self, expr: str, wanted: Callable[[list[Series]], bool], deadline_s: float, what: str, poll_s: float = 1.0
    ) -> Answer:
        """Query until ``wanted`` accepts the answer; past ``deadline_s`` raise PromQLTimeout saying ``what`` was
        awaited and what Prometheus last answered. A refused query fails at once; an unreachable Prometheus is
        asked again until the deadline."""
        started = time.monotonic()
        deadline = started + deadline_s
        queries, last = 0, "nothing yet"
        while True:
            queries += 1
            try:
                series = self.query(expr)
            except PromQLError as error:
                if "did not answer" not in str(error):
                    raise
                last = str(error)
            else:
                if wanted(series):
                    return Answer(series, time.monotonic() - started, queries)
                last = describe(series)
            if time.monotonic() >= deadline:
                raise PromQLTimeout(
                    f"{what}: Prometheus at {self.base_url} did not answer `{expr}` with it within "
                    f"{deadline_s:.0f}s ({queries} queries); it last answered: {last}"
                )
            time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def _json(response: httpx.Response, expr: str, base_url: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PromQLError(
            f"{base_url} answered {expr!r} with HTTP {response.status_code} that is not Prometheus' "
            f"API JSON: {response.text[:200]!r}"
        )
    return body


def quoted(value: str) -> str:
    """``value`` as a PromQL string literal (a label value from a service name, escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
