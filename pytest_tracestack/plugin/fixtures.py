"""The fixtures users (and the built-in checks) use. One stack per session; a clean view per test."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import TypeVar

import pytest

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.load.capacity import capacity_search
from pytest_tracestack.load.rates import Rate, parse_rate
from pytest_tracestack.plugin.load_summary import remember_load
from pytest_tracestack.plugin.session import STASH_KEY, TracestackSession
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.base import Offer, Stack

__all__ = [
    "tracestack_session",
    "tracestack_profile",
    "tracestack_stack",
    "tracestack_sink",
    "tracestack_load",
    "tracestack_capacity",
    "tracestack_tempo",
    "tracestack_prometheus",
    "tracestack_service_name",
]

# Numbers for tracestack_service_name, one series per pytest run (runs in one process, as under pytester,
# each count from 1).
SERVICE_NUMBERS = pytest.StashKey[Iterator[int]]()
T = TypeVar("T")


def require(offer: Offer[T]) -> T:
    """What the stack provides; skips the test with the runtime's reason when the runtime declines it."""
    __tracebackhide__ = True  # the skip is reported at the caller's line, the check that needed it
    if offer.value is None:
        pytest.skip(offer.declined())
    return offer.value


@pytest.fixture(scope="session")
def tracestack_session(pytestconfig: pytest.Config) -> TracestackSession:
    """The session's tracestack state; skips when no profile was selected."""
    session = pytestconfig.stash.get(STASH_KEY, None)
    if session is None:
        pytest.skip("no tracestack profile selected (pass --tracestack-profile=NAME)")
    return session


@pytest.fixture(scope="session")
def tracestack_profile(tracestack_session: TracestackSession) -> Profile:
    """The selected profile, as loaded from its YAML file."""
    return tracestack_session.profile


@pytest.fixture(scope="session")
def tracestack_stack(tracestack_session: TracestackSession) -> Iterator[Stack]:
    """The running topology, started once for the session and stopped at its end (unless kept)."""
    failure: TracestackError | OSError | None
    try:
        stack = tracestack_session.start()
    except (TracestackError, OSError) as error:
        failure = error
    else:
        failure = None
    if failure is not None:  # failed outside the except block, so pytest does not print the error twice
        tracestack_session.fail_or_skip(failure)
    yield stack
    tracestack_session.close()


@pytest.fixture(scope="session")
def tracestack_sink(tracestack_stack: Stack):
    """The capture sink of profiles that have one (the ``collector`` profile)."""
    sinks = [c.name for c in tracestack_stack.profile.components.values() if c.binary == "capture-sink"]
    if not sinks:
        pytest.skip(f"profile {tracestack_stack.profile.name} has no capture sink")
    return require(tracestack_stack.capture_sink(tracestack_stack.first(sinks[0])))


@pytest.fixture(scope="session")
def tracestack_tempo(tracestack_stack: Stack):
    """A Tempo client for the stack's query endpoint (profiles whose query side is Tempo)."""
    from pytest_tracestack.clients.tempo import (
        TempoClient,  # its OTLP protobuf modules cost ~60 ms of CPU: not at every pytest start
    )

    url = tracestack_stack.query_url()
    if url is None:
        pytest.skip(f"profile {tracestack_stack.profile.name} queries no Tempo")
    with TempoClient(url) as client:
        yield client


@pytest.fixture(scope="session")
def tracestack_prometheus(tracestack_stack: Stack):
    """A PromQL client for the stack's Prometheus (profiles with a ``prometheus`` component)."""
    from pytest_tracestack.clients.promql import PromQLClient

    names = [c.name for c in tracestack_stack.profile.components.values() if c.binary == "prometheus"]
    if not names:
        pytest.skip(f"profile {tracestack_stack.profile.name} runs no Prometheus")
    with PromQLClient(tracestack_stack.first(names[0]).url("http")) as client:
        yield client


@pytest.fixture
def tracestack_service_name(request: pytest.FixtureRequest) -> str:
    """A ``service.name`` unique to this test, so its traces never mix with another test's."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    numbers = request.config.stash.setdefault(SERVICE_NUMBERS, itertools.count(1))
    return f"tracestack-{slug}-{next(numbers)}"


@pytest.fixture
def tracestack_load(tracestack_stack: Stack, tracestack_session: TracestackSession, tmp_path_factory):
    """Run load against the stack: ``tracestack_load(rate="5MB/s", duration="30s", protocol="otlp-grpc")``
    returns a LoadResult with per-replica verdicts (``rate`` may also be a parsed ``Rate``); defaults come from
    --tracestack-load* options."""
    # The load runner and its report (payload builders, Prometheus parsing) cost ~100 ms of CPU: only a test
    # running load pays for them, not every pytest start.
    from pytest_tracestack.load.report import write_load_report
    from pytest_tracestack.load.runner import run_load
    from pytest_tracestack.load.spec import LoadSpec

    def run(rate: str | Rate | None = None, duration: str | None = None, protocol: str | None = None, users: int = 4):
        rate = rate or tracestack_session.setting("load").value or "1MB/s"
        duration = duration or tracestack_session.setting("load-duration").value
        protocol = protocol or tracestack_session.setting("load-protocol").value
        report = (tracestack_session.report_dir or tmp_path_factory.mktemp("load")) / "load"
        result = run_load(tracestack_stack, LoadSpec.of(rate, duration, protocol, report, users=users))
        write_load_report(result, report)
        remember_load(tracestack_session.config, result)
        return result

    return run


@pytest.fixture
def tracestack_capacity(tracestack_load):
    """Step the rate until a verdict breaks: ``tracestack_capacity(["1MB/s", "2MB/s", "4MB/s"], duration="10s")``
    returns a CapacityResult whose ``knee`` is the highest rate that held."""

    def search(rates: list[str], duration: str = "10s", protocol: str | None = None):
        return capacity_search(
            lambda rate: tracestack_load(rate=rate, duration=duration, protocol=protocol),
            [parse_rate(rate) for rate in rates],
        )

    return search
