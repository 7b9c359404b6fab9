"""How fast the Locust users send: a rate for the whole process, shared by its users, changeable while
running (the stepped shape moves it). No Locust import here: the users and the shape read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_tracestack.load.locust_env import RATE_VAR
from pytest_tracestack.load.rates import Rate, parse_rate

UNTHROTTLED = ("max", "unthrottled")


def parse_load_rate(text: str) -> Rate | None:
    """A rate, or None for ``max``: as fast as the users can go."""
    if text.strip().lower() in UNTHROTTLED:
        return None
    return parse_rate(text, RATE_VAR)


@dataclass
class Pacing:
    rate: Rate | None  # None: no pacing
    bytes_per_request: int
    spans_per_request: int
    total_users: int | None = None  # users of the whole run, when a Locust master said so (workers.py)
    heard_from_master: bool = True  # a worker's users wait until the master has told them the rate

    def requests_per_s(self) -> float | None:
        if self.rate is None:
            return None
        per_request = self.bytes_per_request if self.rate.unit == "bytes" else self.spans_per_request
        return self.rate.value / per_request

    def per_user(self, local_users: int) -> float | None:
        """Requests per second each user makes so that together they hold the rate: the users of the whole
        run when a master told us their number, else this process's ``local_users``."""
        total = self.requests_per_s()
        return None if total is None else total / max(1, self.total_users or local_users)


def pacing_message(pacing: Pacing, total_users: int) -> dict[str, Any]:
    """What a Locust master tells its workers (workers.py): the rate and the users of the whole run."""
    rate = pacing.rate
    return {"rate": None if rate is None else [rate.value, rate.unit], "users": total_users}


def apply_message(pacing: Pacing, data: dict[str, Any]) -> None:
    """A worker takes the master's rate and user count; its users may start sending."""
    pacing.rate = None if data["rate"] is None else Rate(float(data["rate"][0]), data["rate"][1])
    pacing.total_users = int(data["users"]) or None
    pacing.heard_from_master = True


def http_url(target: str) -> str:
    """An OTLP/HTTP traces URL from ``http://host:port`` or a full ``.../v1/traces`` URL."""
    target = target if "://" in target else f"http://{target}"
    return target if target.rstrip("/").endswith("/v1/traces") else target.rstrip("/") + "/v1/traces"


def grpc_target(target: str) -> str:
    """``host:port`` from ``host:port``, ``grpc://host:port`` or ``http://host:port``."""
    return target.split("://", 1)[-1].rstrip("/")
