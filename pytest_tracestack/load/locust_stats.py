"""What the generator did, read from a headless Locust run's output: ``--json`` on stdout (per request
name: counts, bytes, latency histogram, first and last request), ``--csv`` failures (by error), and
``--csv-full-history`` (per second). The users name each row ``<protocol> <target>``."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tracestack.load.outcomes import parse_failure

_WHITESPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class TargetStats:
    """One request name, i.e. one target the users pushed to."""

    name: str
    requests: int
    failed_requests: int
    offered_bytes: int
    response_times: dict[int, int]  # rounded milliseconds -> count (Locust's histogram)
    first_request: float  # epoch seconds
    last_request: float
    failures: dict[str, int] = field(default_factory=dict)  # "refused RESOURCE_EXHAUSTED" -> requests

    @property
    def target(self) -> str:
        return self.name.split(" ", 1)[-1]

    def percentile_ms(self, fraction: float) -> float:
        return percentile(self.response_times, fraction)


@dataclass(frozen=True)
class HistoryPoint:
    at: float  # epoch seconds
    name: str  # a request name, or "Aggregated"
    requests: int  # totals so far
    failures: int
    p50_ms: float | None  # over the last seconds (Locust's current response time percentiles)
    p99_ms: float | None


@dataclass(frozen=True)
class GeneratorStats:
    targets: dict[str, TargetStats]  # by request name
    history: list[HistoryPoint]
    bytes_per_request: int
    spans_per_request: int

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.targets.values())

    @property
    def failed_requests(self) -> int:
        return sum(t.failed_requests for t in self.targets.values())

    @property
    def offered_bytes(self) -> int:
        return sum(t.offered_bytes for t in self.targets.values())

    @property
    def offered_spans(self) -> int:
        return self.requests * self.spans_per_request

    @property
    def delivered_spans(self) -> int:
        """Spans of requests answered OK (partial rejections included: the receiver counts them)."""
        rejected_outright = sum(
            count
            for t in self.targets.values()
            for error, count in t.failures.items()
            if not error.startswith("partially rejected")
        )
        return (self.requests - rejected_outright) * self.spans_per_request

    @property
    def delivered_bytes(self) -> float:
        """Bytes of requests answered OK (partial rejections included), per target's mean request size."""
        total = 0.0
        for target in self.targets.values():
            outright = sum(count for error, count in target.failures.items() if not error.startswith("partially"))
            if target.requests:
                total += target.offered_bytes * (target.requests - outright) / target.requests
        return total

    @property
    def window(self) -> tuple[float, float]:
        """From the first request to the last (epoch seconds)."""
        if not self.targets:
            return 0.0, 0.0
        return (min(t.first_request for t in self.targets.values()), max(t.last_request for t in self.targets.values()))

    @property
    def duration_s(self) -> float:
        start, end = self.window
        return max(end - start, 1e-9)

    def failures(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for target in self.targets.values():
            for error, count in target.failures.items():
                merged[error] = merged.get(error, 0) + count
        return merged

    def percentile_ms(self, fraction: float) -> float:
        return percentile(self._histogram(), fraction)

    def mean_ms(self) -> float:
        histogram = self._histogram()
        total = sum(histogram.values())
        return sum(value * count for value, count in histogram.items()) / total if total else 0.0

    def _histogram(self) -> dict[int, int]:
        merged: dict[int, int] = {}
        for target in self.targets.values():
            for value, count in target.response_times.items():
                merged[value] = merged.get(value, 0) + count
        return merged


def read_stats(stdout: str, csv_prefix: Path, bytes_per_request: int, spans_per_request: int) -> GeneratorStats:
    """Parse Locust's ``--json`` output and the ``--csv`` files written next to ``csv_prefix``; the failures
    from ``<csv_prefix>_failures.json`` (users.py writes it at the very end) when there is one."""
    entries = _json_statistics(stdout)
    final = Path(f"{csv_prefix}_failures.json")
    failures = _final_failures(final) if final.is_file() else _failures(Path(f"{csv_prefix}_failures.csv"))
    targets = {}
    for entry in entries:
        name = entry["name"]
        targets[name] = TargetStats(
            name=name,
            requests=entry["num_requests"],
            failed_requests=entry["num_failures"],
            offered_bytes=entry["total_content_length"],
            response_times={int(float(k)): v for k, v in entry.get("response_times", {}).items()},
            first_request=entry["start_time"],
            last_request=entry.get("last_request_timestamp") or entry["start_time"],
            failures=failures.get(name, {}),
        )
    return GeneratorStats(
        targets, read_history(Path(f"{csv_prefix}_stats_history.csv")), bytes_per_request, spans_per_request
    )


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _json_statistics(stdout: str) -> list[dict]:
    """The run's statistics: with --processes every worker prints its own (empty) list before or after the
    master's, so the last non-empty list printed is the master's."""
    decoder, documents = json.JSONDecoder(), []
    position = _skip_whitespace(stdout, 0)
    try:
        while position < len(stdout):
            document, end = decoder.raw_decode(stdout, position)
            documents.append(document)
            position = _skip_whitespace(stdout, end)
    except ValueError:
        documents = []
    if not documents:
        raise ValueError("locust printed no JSON statistics (was it run with --json?)")
    return next((document for document in reversed(documents) if document), documents[-1])


def _failures(path: Path) -> dict[str, dict[str, int]]:
    """request name -> {"refused RESOURCE_EXHAUSTED": count, ...}, from Locust's failures CSV."""
    if not path.is_file():
        return {}
    with path.open() as handle:
        return _by_name((row["Name"], row["Error"], int(row["Occurrences"])) for row in csv.DictReader(handle))


def _final_failures(path: Path) -> dict[str, dict[str, int]]:
    return _by_name((row["name"], row["error"], int(row["occurrences"])) for row in json.loads(path.read_text()))


def _by_name(rows) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for name, error, occurrences in rows:
        kind, status = parse_failure(error)
        by_name = found.setdefault(name, {})
        by_name[f"{kind} {status}"] = by_name.get(f"{kind} {status}", 0) + occurrences
    return found


def read_history(path: Path) -> list[HistoryPoint]:
    if not path.is_file():
        return []
    with path.open() as handle:
        return [
            HistoryPoint(
                float(row["Timestamp"]),
                row["Name"],
                int(row["Total Request Count"]),
                int(row["Total Failure Count"]),
                _number(row["50%"]),
                _number(row["99%"]),
            )
            for row in csv.DictReader(handle)
        ]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first request
        return None


def percentile(histogram: dict[int, int], fraction: float) -> float:
    total = sum(histogram.values())
    if not total:
        return 0.0
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= fraction * total:
            return float(value)
    return float(max(histogram))
