"""Load: rates, durations, steps and the users' pacing and targets."""

from __future__ import annotations

import pytest

from pytest_tracestack.load.locust_env import in_flight_per_user, split_targets
from pytest_tracestack.load.pacing import (
    Pacing,
    apply_message,
    grpc_target,
    http_url,
    pacing_message,
    parse_load_rate,
)
from pytest_tracestack.load.rates import Rate, parse_duration, parse_rate, parse_steps


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("5MB/s", 5e6, "bytes"),
        ("250 KB/s", 250e3, "bytes"),
        ("20000spans/s", 20000, "spans"),
        ("1.5mb/s", 1.5e6, "bytes"),
        ("2GB/s", 2e9, "bytes"),
        ("300B/s", 300, "bytes"),
    ],
)
def test_rates_parse(text: str, value: float, unit: str) -> None:
    assert parse_rate(text) == Rate(pytest.approx(value), unit)


@pytest.mark.parametrize("text", ["fast", "5", "0MB/s", "-1MB/s", "5 MiB/s", "", "5MB"])
def test_a_bad_rate_says_the_format(text: str) -> None:
    with pytest.raises(
        ValueError,
        match=r"is not a rate: write a positive number with GB/s, MB/s, KB/s, B/s or "
        r"spans/s, e.g. 5MB/s or 20000spans/s",
    ):
        parse_rate(text)


def test_a_bad_rate_names_what_it_was_for() -> None:
    with pytest.raises(ValueError, match=r"^TRACESTACK_LOAD_RATE 'lots' is not a rate"):
        parse_rate("lots", "TRACESTACK_LOAD_RATE")


@pytest.mark.parametrize("rate", [Rate(2e6, "bytes"), Rate(1234.5, "spans"), Rate(0.25, "bytes"), Rate(7e9, "bytes")])
def test_a_rate_written_as_text_reads_back_the_same(rate: Rate) -> None:
    assert parse_rate(rate.text()) == rate


def test_rates_describe_and_convert() -> None:
    assert parse_rate("2MB/s").describe() == "2 MB/s"
    assert parse_rate("5000spans/s").describe() == "5000 spans/s"
    assert parse_rate("5000spans/s").bytes_per_s(400) == 2_000_000
    assert parse_rate("3MB/s").bytes_per_s(400) == 3e6


def test_durations_parse_and_refuse_nonsense() -> None:
    assert [parse_duration(t) for t in ("30s", "2m", "1.5h", "500ms", "10", 12)] == [30, 120, 5400, 0.5, 10, 12]
    for bad in ("soon", "0s", "-3s", 0, True):  # True: what YAML makes of `duration: yes`
        with pytest.raises(
            ValueError, match=r"is not a duration: write a positive number with ms, s, m or h, e.g. 30s"
        ):
            parse_duration(bad)


def test_steps_parse_each_rate_and_name_a_bad_one() -> None:
    assert [r.describe() for r in parse_steps("1MB/s, 2MB/s,4MB/s")] == ["1 MB/s", "2 MB/s", "4 MB/s"]
    with pytest.raises(ValueError, match=r"steps entry '2 MB' is not a rate"):
        parse_steps("1MB/s,2 MB")
    with pytest.raises(ValueError, match=r"has no rates: write comma-separated rates"):
        parse_steps(" , ")


def test_pacing_divides_the_rate_among_users() -> None:
    pacing = Pacing(parse_rate("4.8MB/s"), bytes_per_request=48_000, spans_per_request=120)
    assert pacing.requests_per_s() == pytest.approx(100)
    assert pacing.per_user(4) == pytest.approx(25)
    assert Pacing(parse_rate("1200spans/s"), 48_000, 120).per_user(2) == pytest.approx(5)
    assert Pacing(parse_load_rate("max"), 48_000, 120).per_user(4) is None


def test_a_worker_paces_to_its_share_of_the_whole_run_once_the_master_told_it() -> None:
    master = Pacing(parse_rate("4.8MB/s"), 48_000, 120)
    worker = Pacing(parse_rate("1MB/s"), 48_000, 120, heard_from_master=False)
    apply_message(worker, pacing_message(master, total_users=8))
    assert worker.heard_from_master and worker.rate == master.rate
    assert worker.per_user(4) == pytest.approx(100 / 8), "4 of the run's 8 users are here: each makes 1/8 of 100/s"
    master.rate = parse_rate("9.6MB/s")  # a step of the shape, on the master
    apply_message(worker, pacing_message(master, total_users=8))
    assert worker.per_user(4) == pytest.approx(200 / 8)
    apply_message(worker, pacing_message(Pacing(None, 48_000, 120), total_users=8))
    assert worker.per_user(4) is None, "max travels too"


def test_targets_are_split_and_normalised() -> None:
    assert split_targets(" 127.0.0.2:4317,127.0.0.3:4317 ,") == ["127.0.0.2:4317", "127.0.0.3:4317"]
    assert split_targets(None) == []
    assert grpc_target("grpc://127.0.0.1:4317") == grpc_target("127.0.0.1:4317") == "127.0.0.1:4317"
    assert http_url("127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert http_url("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert http_url("http://127.0.0.1:4318/v1/traces") == "http://127.0.0.1:4318/v1/traces"


def test_requests_in_flight_per_user_default_to_32_and_refuse_nonsense() -> None:
    assert in_flight_per_user(None) == in_flight_per_user(" ") == 32 and in_flight_per_user("4") == 4
    for bad in ("0", "-3", "many"):
        with pytest.raises(ValueError, match=rf"TRACESTACK_LOAD_IN_FLIGHT='{bad}': write a whole number of requests"):
            in_flight_per_user(bad)
