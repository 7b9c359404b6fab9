"""Rates (``10MB/s``, ``20000spans/s``) and durations (``30s``, ``2m``), parsed with errors that show the format."""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>MB/s|KB/s|B/s|spans/s)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h)?\s*$")
_BYTES = {"b/s": 1, "kb/s": 1e3, "mb/s": 1e6}


@dataclass(frozen=True)
class Rate:
    value: float
    unit: str          # "bytes" or "spans" per second

    def describe(self) -> str:
        return f"{self.value / 1e6:g} MB/s" if self.unit == "bytes" else f"{self.value:g} spans/s"


def parse_rate(text: str) -> Rate:
    match = _RATE.match(text or "")
    if not match or float(match["number"]) <= 0:
        raise ValueError(f"{text!r} is not a rate: write a positive number with MB/s, KB/s, B/s or spans/s, "
                         f"e.g. 5MB/s or 20000spans/s")
    unit = match["unit"].lower()
    if unit == "spans/s":
        return Rate(float(match["number"]), "spans")
    return Rate(float(match["number"]) * _BYTES[unit], "bytes")


def parse_duration(text: str) -> float:
    match = _DURATION.match(text or "")
    if not match or float(match["number"]) <= 0:
        raise ValueError(f"{text!r} is not a duration: write a positive number with ms, s, m or h, e.g. 30s or 2m")
    factor = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match["unit"]]
    return float(match["number"]) * factor
