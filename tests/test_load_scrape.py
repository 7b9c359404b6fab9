"""Load: per-replica sampling of /metrics (recorded Tempo and collector answers) and of /proc."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pytest_tracestack.clients.prometheus_text import MetricsParseError, parse_metrics
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.load.scrape import (
    Probe,
    ReplicaSample,
    Sampler,
    Series,
    counters_from_text,
    counters_of,
    cpu_seconds,
    machine_cores,
    machine_cpu_seconds,
    metrics_url,
    rss_bytes,
)
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.base import Replica
from recorded_tempo import FIXTURES, UNDER_LOAD

DATA = Path(__file__).with_name("load_data")


def test_tempo_counters_keep_distributor_and_ingester_bytes_apart() -> None:
    counters = counters_from_text((FIXTURES / "metrics-full.txt").read_text())
    assert counters["distributor_bytes"] == 244 and counters["ingester_bytes"] == 250
    assert counters["accepted_spans"] == 2 and counters["refused_spans"] == 0 and counters["discarded_spans"] == 0
    assert counters["metrics_rss_bytes"] == 113856512 and counters["metrics_cpu_seconds"] == pytest.approx(0.61)


def test_a_distributed_tempo_under_load_gives_distributor_and_per_ingester_figures() -> None:
    """The recorded pages of a real 7-process Tempo 2.10.8 right after ~15 s of load."""
    distributor = counters_from_text((UNDER_LOAD / "distributor-0.metrics.txt").read_text())
    assert (distributor["distributor_bytes"], distributor["distributor_spans"]) == (73_157_204, 185_697)
    assert {key: value for key, value in distributor.items() if key.startswith("discarded_spans")} == {
        "discarded_spans": 0,
        "discarded_spans:live_traces_exceeded": 0,
        "discarded_spans:trace_too_large": 0,
        "discarded_spans:unknown_error": 0,
    }
    assert distributor["tempo_limit:ingestion_rate_limit_bytes"] == 15e6
    assert distributor["tempo_limit:ingestion_burst_size_bytes"] == 20e6
    ingesters = [counters_from_text((UNDER_LOAD / f"ingester-{n}.metrics.txt").read_text()) for n in range(3)]
    assert [counters["ingester_bytes"] for counters in ingesters] == [62_565_224, 59_629_721, 62_035_871]
    assert not any("distributor_bytes" in counters for counters in ingesters)
    frontend = counters_from_text((UNDER_LOAD / "query-frontend-0.metrics.txt").read_text())
    assert "ingester_bytes" not in frontend and frontend["metrics_rss_bytes"] == 77_922_304


def test_only_trace_bytes_count_as_an_ingesters_bytes() -> None:
    text = (
        "# TYPE tempo_ingester_bytes_received_total counter\n"
        'tempo_ingester_bytes_received_total{data_type="trace",tenant="a"} 100\n'
        'tempo_ingester_bytes_received_total{data_type="metrics",tenant="a"} 900\n'
    )
    assert counters_from_text(text)["ingester_bytes"] == 100


def test_every_tempo_replica_is_scraped_on_its_http_port_and_a_collector_on_its_metrics_port() -> None:
    """Tempo has no port named metrics: it serves /metrics on its HTTP port (3200 distributed, 3100 single binary)."""
    distributed = load_profile("distributed")
    for component in distributed.components.values():
        replica = Replica(component.name, 0, "127.0.5.1", dict(component.ports), None)
        assert Probe.of(replica, component).metrics_url == "http://127.0.5.1:3200/metrics"
    manifest = load_profile("manifest").components["tempo"]
    assert (
        metrics_url(Replica("tempo", 0, "127.0.6.1", dict(manifest.ports)), manifest) == "http://127.0.6.1:3100/metrics"
    )
    otelcol = load_profile("collector").components["otelcol"]
    assert (
        metrics_url(Replica("otelcol", 0, "127.0.7.1", dict(otelcol.ports)), otelcol) == "http://127.0.7.1:8888/metrics"
    )
    # a runtime that does not reach the port (kind forwards only some ports): nothing to scrape, said so later
    replica = Replica("distributor", 0, "127.0.0.1", {"otlp-grpc": 4317})
    assert metrics_url(replica, distributed.components["distributor"]) is None


def test_a_metrics_endpoint_naming_an_undeclared_port_is_a_profile_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "extends: collector\nname: bad\ncomponents:\n  otelcol:\n    metrics: 'http:prom/metrics'\n"
    )
    with pytest.raises(
        ProfileError,
        match=r"components\.otelcol\.metrics.*names port 'prom', which the component "
        r"does not declare",
    ):
        load_profile("bad", [tmp_path])


def test_the_machine_probe_reads_the_cpu_time_of_every_process() -> None:
    before = machine_cpu_seconds()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        sum(range(1000))
    assert before is not None and machine_cpu_seconds() - before >= 0.2
    assert machine_cores() >= 1


def test_collector_counters_at_detailed_telemetry_include_the_bytes_its_servers_received() -> None:
    counters = counters_from_text((DATA / "otelcol-0.129.0-metrics-detailed.txt").read_text())
    assert counters["accepted_spans"] == counters["exported_spans"] == 6222  # grpc + http transports summed
    assert counters["grpc_request_bytes"] + counters["http_request_bytes"] == 2_450_193
    assert counters["refused_spans"] == counters["failed_exports"] == 0
    assert counters["metrics_rss_bytes"] == 48361472


def test_collector_counters_at_normal_telemetry_have_spans_but_no_bytes() -> None:
    counters = counters_from_text((DATA / "otelcol-0.129.0-metrics-normal.txt").read_text())
    assert counters["accepted_spans"] == 6222 and counters["exported_spans"] == 6222
    assert "grpc_request_bytes" not in counters and "http_request_bytes" not in counters


@pytest.mark.parametrize("name", ["otelcol_receiver_accepted_spans", "otelcol_receiver_accepted_spans_total"])
def test_names_with_and_without_total_are_both_read(name: str) -> None:
    text = f'# TYPE {name} counter\n{name}{{receiver="otlp",transport="grpc"}} 42\n'
    assert counters_from_text(text)["accepted_spans"] == 42


def test_two_spellings_of_one_figure_are_not_added_up() -> None:
    text = (
        "# TYPE otelcol_process_memory_rss_bytes gauge\notelcol_process_memory_rss_bytes 100\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 300\n"
    )
    assert counters_from_text(text)["metrics_rss_bytes"] == 100


RECORDED_PAGES = [
    FIXTURES / "metrics-full.txt",
    *sorted(UNDER_LOAD.glob("*.metrics.txt")),
    *sorted(DATA.glob("otelcol-*.txt")),
    FIXTURES.parent / "tempo-3.0.3" / "metrics-after-one-trace.txt",
]


@pytest.mark.parametrize("page", RECORDED_PAGES, ids=lambda page: f"{page.parent.name}/{page.name}")
def test_reading_only_the_families_of_interest_gives_what_the_whole_page_gives(page: Path) -> None:
    text = page.read_text()
    assert counters_from_text(text) == counters_of(parse_metrics(text))


def test_an_answer_that_is_not_prometheus_text_is_an_error_naming_its_source() -> None:
    with pytest.raises(MetricsParseError, match=r"http://127.0.0.9:1/metrics is not Prometheus text"):
        counters_from_text("<html>\n{not metrics\n", "http://127.0.0.9:1/metrics")


def _series(*points: tuple[float, int | None, dict[str, float]]) -> Series:
    series = Series("otelcol-0", "otelcol")
    series.samples = [ReplicaSample(at, rss, None, counters, scraped=True) for at, rss, counters in points]
    return series


def test_counters_become_rates_and_a_counter_that_appears_late_starts_from_zero() -> None:
    series = _series(
        (100.0, None, {}), (101.0, None, {"accepted_spans": 500.0}), (103.0, None, {"accepted_spans": 1500.0})
    )
    assert series.rate("accepted_spans") == [(101.0, 500.0), (103.0, 500.0)]
    assert series.delta("accepted_spans") == 1500.0
    assert series.delta("refused_spans") is None and series.rate("refused_spans") == []


def test_memory_and_cpu_fall_back_to_what_the_replica_reports() -> None:
    series = _series(
        (0.0, None, {"metrics_rss_bytes": 50e6, "metrics_cpu_seconds": 1.0}),
        (2.0, None, {"metrics_rss_bytes": 70e6, "metrics_cpu_seconds": 2.0}),
        (4.0, None, {"metrics_rss_bytes": 60e6, "metrics_cpu_seconds": 2.5}),
    )
    assert series.peak_rss() == 70_000_000
    assert series.cores() == [(2.0, 0.5), (4.0, 0.25)]
    assert series.mean_cores() == pytest.approx(0.375) and series.mean_cores(2.0, 4.0) == pytest.approx(0.25)


def test_proc_gives_resident_memory_and_cpu_time_of_a_live_process_only() -> None:
    assert rss_bytes(os.getpid()) > 10 * 2**20
    before = cpu_seconds(os.getpid())
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        sum(range(1000))
    assert cpu_seconds(os.getpid()) > before
    assert rss_bytes(None) is None and rss_bytes(2**22 + 7) is None and cpu_seconds(2**22 + 7) is None


@pytest.fixture
def metrics_server():
    """A loopback HTTP server answering /metrics with a counter that grows by 100 per scrape."""
    state = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state["count"] += 100
            body = (
                f"# TYPE otelcol_receiver_accepted_spans_total counter\n"
                f'otelcol_receiver_accepted_spans_total{{receiver="otlp"}} {state["count"]}\n'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_sampler_samples_every_probe_until_stopped_and_once_more_at_the_end(metrics_server: str) -> None:
    probes = [
        Probe("otelcol-0", "otelcol", os.getpid(), metrics_server),
        Probe("gone-0", "gone", None, None),
        Probe.machine(),
    ]
    with Sampler(probes, interval_s=0.05) as sampler:
        deadline = time.monotonic() + 10
        while len(sampler.series["otelcol-0"].samples) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        sampler.add(Probe("generator", "generator", os.getpid()))
    replica = sampler.series["otelcol-0"]
    assert len(replica.samples) >= 5 and all(s.scraped and s.rss_bytes for s in replica.samples)
    values = [v for _, v in replica.values("accepted_spans")]
    assert values == sorted(values) and values[-1] - values[0] == 100 * (len(values) - 1)
    assert all(not s.scraped and s.rss_bytes is None for s in sampler.series["gone-0"].samples)
    assert sampler.series["generator"].samples, "a probe added while sampling is sampled at least at the end"
    assert sampler.series["otelcol-0"].source == metrics_server
    assert sampler.series["machine"].mean_cores() is not None, "the machine's busy cores over the run"
