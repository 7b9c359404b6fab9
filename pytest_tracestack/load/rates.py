"""Rates (``10MB/s``, ``20000spans/s``) and durations (``30s``, ``2m``), parsed with errors that show the format."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>GB/s|MB/s|KB/s|B/s|spans/s)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h)?\s*$")
_BYTES = {"b/s": 1, "kb/s": 1e3, "mb/s": 1e6, "gb/s": 1e9}
RATE_FORMAT = "a positive number with GB/s, MB/s, KB/s, B/s or spans/s, e.g. 5MB/s or 20000spans/s (decimal units)"
DURATION_FORMAT = "a positive number with ms, s, m or h, e.g. 30s or 2m"


@dataclass(frozen=True)
class Rate:
    value: float
    unit: str  # "bytes" or "spans" per second

    def describe(self) -> str:
        return f"{self.value / 1e6:g} MB/s" if self.unit == "bytes" else f"{self.value:g} spans/s"

    def text(self) -> str:
        """The rate in the form parse_rate reads back exactly."""
        number = f"{self.value:.3f}".rstrip("0").rstrip(".")
        return f"{number}B/s" if self.unit == "bytes" else f"{number}spans/s"

    def bytes_per_s(self, bytes_per_span: float) -> float:
        return self.value if self.unit == "bytes" else self.value * bytes_per_span

    def scaled(self, factor: float) -> Rate:
        return Rate(self.value * factor, self.unit)


def parse_rate(text: str | Rate, what: str = "rate") -> Rate:
    if isinstance(text, Rate):
        return text
    match = _RATE.match(text or "")
    if not match or float(match["number"]) <= 0:
        raise ValueError(f"{what} {text!r} is not a rate: write {RATE_FORMAT}")
    unit = match["unit"].lower()
    if unit == "spans/s":
        return Rate(float(match["number"]), "spans")
    return Rate(float(match["number"]) * _BYTES[unit], "bytes")


def parse_duration(text: str | float, what: str = "duration") -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError(f"{what} {text!r} is not a duration: write {DURATION_FORMAT}")
        return float(text)
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or float(match["number"]) <= 0:
        raise ValueError(f"{what} {text!r} is not a duration: write {DURATION_FORMAT}")
    factor = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match["unit"]]
    return float(match["number"]) * factor


def parse_steps(text: str, what: str = "steps") -> list[Rate]:
    """``1MB/s,2MB/s,4MB/s`` -> rates, each checked."""
    steps = [parse_rate(step.strip(), f"{what} entry") for step in text.split(",") if step.strip()]
    if not steps:
        raise ValueError(f"{what} {text!r} has no rates: write comma-separated rates, e.g. 1MB/s,2MB/s,4MB/s")
    return steps
