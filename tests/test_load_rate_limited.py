"""Load past a Tempo distributor's per-tenant ingestion limit: the verdict names rate limiting, the limit Tempo
reported and the override that sets it. Tempo cannot run here: the distributor is the test double of Tempo's
rate-limit answers (tests/doubles/tempo_rate_limit_for_tests.py), which answers byte for byte what a real
Tempo 2.10.8 answered (tests/recorded/tempo-2.10.8/rate-limited.txt). That it passes is no evidence about a
real Tempo; the contract test below holds the double to the recording."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc.status_pb2 import Status

from doubles.tempo_rate_limit_for_tests import TempoRateLimitForTests
from pytest_tracestack.load.payloads import build_request
from pytest_tracestack.load.runner import run_load
from pytest_tracestack.load.spec import LoadSpec
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.base import Replica, Stack
from recorded_tempo import RATE_LIMITED

RECORDED = RATE_LIMITED.read_text()
OVERRIDES = "overrides.defaults.ingestion.rate_limit_bytes / overrides.defaults.ingestion.burst_size_bytes"


@pytest.fixture
def distributor():
    with TempoRateLimitForTests(rate_limit_bytes=1_000_000, burst_size_bytes=1_000_000) as double:
        yield double


@pytest.fixture
def low_limit_distributor():
    """A limit far below the rate asked, so that even a generator starved by a busy machine passes it."""
    with TempoRateLimitForTests(rate_limit_bytes=200_000, burst_size_bytes=100_000) as double:
        yield double


def _stack(double: TempoRateLimitForTests) -> Stack:
    """The distributed profile with its distributor replaced by the double (no other replica)."""
    ports = {name: double.ports[name] for name in ("otlp-grpc", "otlp-http", "http")}
    return Stack(load_profile("distributed"), "test", [Replica("distributor", 0, double.host, ports)])


def test_the_double_answers_what_the_recorded_tempo_answered(distributor: TempoRateLimitForTests) -> None:
    big = b"".join(build_request(10).data for _ in range(44))  # 2.1 MB: larger than the 1 MB burst
    channel = grpc.insecure_channel(f"{distributor.host}:{distributor.ports['otlp-grpc']}")
    with pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(big, timeout=5)
    channel.close()
    recorded = re.search(
        r"StatusCode\.RESOURCE_EXHAUSTED \| details: (RATE_LIMITED: batch size \()\d+( bytes\) .*)", RECORDED
    )
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.value.details() == f"{recorded[1]}{len(big)}{recorded[2]}".replace("2074881", str(len(big)))
    answer = httpx.post(f"http://{distributor.host}:{distributor.ports['otlp-http']}/v1/traces", content=big)
    body = ast.literal_eval(re.search(r"OTLP/HTTP answer .*\| body: (b'.*')", RECORDED)[1])
    assert (answer.status_code, answer.headers["content-type"]) == (429, "application/x-protobuf")
    assert Status.FromString(answer.content).code == Status.FromString(body).code == 8
    recorded_message = Status.FromString(body).message
    assert Status.FromString(answer.content).message == recorded_message.replace("2074881", str(len(big)))


@pytest.mark.parametrize("protocol", ["otlp-grpc", "otlp-http"])
def test_a_run_past_the_ingestion_limit_names_rate_limiting_and_the_override(
    low_limit_distributor, protocol: str, tmp_path: Path
) -> None:
    distributor = low_limit_distributor
    result = run_load(_stack(distributor), LoadSpec.of("3MB/s", "4s", protocol, tmp_path / "load", users=2))
    failures = result.failures()
    assert not result.passed
    refused = next(text for text in failures if "requests with an error" in text)
    status = "RESOURCE_EXHAUSTED" if protocol == "otlp-grpc" else "HTTP 429"
    assert (
        f"(refused {status}: RATE_LIMITED: ingestion rate limit (local: 200000 bytes/s, global: 0 bytes/s, "
        "burst: 100000 bytes) exceeded: " in refused
    )
    assert refused.endswith(
        "refused by the per-tenant ingestion rate limit (local 200,000 B/s, global 0 B/s, burst "
        "100,000 B, as Tempo reported): a configuration limit, not the stack's capacity; set "
        f"{OVERRIDES} above the rate asked, or ask less"
    )
    discarded = next(text for text in failures if "discarded spans" in text)
    assert re.fullmatch(
        r"distributor-0 discarded spans: \d+, limit 0 \(rate_limited [\d,]+: the per-tenant ingestion "
        r"rate limit \(ingestion_rate_limit_bytes 200,000\); a configuration limit, not a capacity: "
        + re.escape(OVERRIDES)
        + r"\)",
        discarded,
    ), discarded
    accepted = next(text for text in failures if text.startswith("distributor-0 accepted "))
    assert accepted.endswith(
        "the rate asked of it is above its per-tenant ingestion limit (200,000 B/s): the run "
        f"measures that limit, not the capacity ({OVERRIDES})"
    )
    assert all(v.passed for v in result.verdicts if v.subject == "delivery"), "refused requests are not delivered ones"
    distributor_figures = result.figures[0]
    assert distributor_figures.accepted_bytes == distributor.counters["bytes"]
    assert distributor_figures.accepted_bytes / result.stats.duration_s < 0.4e6, "the double held its limit"
