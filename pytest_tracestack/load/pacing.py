"""How fast the Locust users send: a rate for the whole process, shared by its users, changeable while
running (the stepped shape moves it). No Locust import here: the users and the shape read it."""

from __future__ import annotations

from dataclasses import dataclass

from .rates import Rate, parse_rate

UNTHROTTLED = ("max", "unthrottled")


def parse_load_rate(text: str) -> Rate | None:
    """A rate, or None for ``max``: as fast as the users can go."""
    if text.strip().lower() in UNTHROTTLED:
        return None
    return parse_rate(text, "TRACESTACK_LOAD_RATE")


@dataclass
class Pacing:
    rate: Rate | None           # None: no pacing
    bytes_per_request: int
    spans_per_request: int

    def requests_per_s(self) -> float | None:
        if self.rate is None:
            return None
        per_request = self.bytes_per_request if self.rate.unit == "bytes" else self.spans_per_request
        return self.rate.value / per_request

    def per_user(self, users: int) -> float | None:
        """Requests per second each of ``users`` users makes so that together they hold the rate."""
        total = self.requests_per_s()
        return None if total is None else total / max(1, users)


def split_targets(text: str | None) -> list[str]:
    """``a:4317,b:4317`` -> targets; users are spread over them round robin."""
    return [target.strip() for target in (text or "").split(",") if target.strip()]


def http_url(target: str) -> str:
    """An OTLP/HTTP traces URL from ``http://host:port`` or a full ``.../v1/traces`` URL."""
    target = target if "://" in target else f"http://{target}"
    return target if target.rstrip("/").endswith("/v1/traces") else target.rstrip("/") + "/v1/traces"


def grpc_target(target: str) -> str:
    """``host:port`` from ``host:port``, ``grpc://host:port`` or ``http://host:port``."""
    return target.split("://", 1)[-1].rstrip("/")
