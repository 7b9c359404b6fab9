"""Load: the JSON report and the one-page HTML report with its plots."""

from __future__ import annotations

import base64
import json
import re
from itertools import pairwise
from pathlib import Path

import pytest

from pytest_tracestack.load.figures import replica_figures
from pytest_tracestack.load.locust_stats import read_stats
from pytest_tracestack.load.offered import GeneratorSide
from pytest_tracestack.load.rates import parse_rate
from pytest_tracestack.load.report import PLOTS, _limits, offered_rate, write_load_report
from pytest_tracestack.load.runner import GENERATOR, LoadResult
from pytest_tracestack.load.scrape import ReplicaSample, Series
from pytest_tracestack.load.verdicts import SinkFigures, judge
from pytest_tracestack.profiles.profile import Target

RUN = Path(__file__).with_name("load_data") / "locust-run"
NAMES = {"otelcol-0": "otlp-grpc 127.0.0.1:39057", "otelcol-1": "otlp-grpc 127.0.0.1:33133"}


def _result() -> LoadResult:
    """The recorded Locust run, with two replicas sampled each second over it (the second one refusing)."""
    stats = read_stats((RUN / "stdout.json").read_text(), RUN / "locust", 48043, 122)
    start, end = stats.window
    series = {}
    for n, (name, request_name) in enumerate(NAMES.items()):
        target = stats.targets[request_name]
        accepted = (target.requests - target.failed_requests) * 122
        ticks = [start - 0.5 + k for k in range(int(end - start) + 3)]
        series[name] = Series(
            name,
            "otelcol",
            [
                ReplicaSample(
                    t,
                    (50 + 5 * k + n) * 2**20,
                    1.0 + 0.05 * k,
                    {
                        "accepted_spans": accepted * min(1.0, k / (len(ticks) - 2)),
                        "refused_spans": 366.0 * n * (k > 0),
                        "exported_spans": accepted * min(1.0, k / (len(ticks) - 2)),
                    },
                    True,
                )
                for k, t in enumerate(ticks)
            ],
        )
    series[GENERATOR] = Series(
        GENERATOR, GENERATOR, [ReplicaSample(start + k, 80 * 2**20, 0.1 * k, {}) for k in range(5)]
    )
    targets = {"otelcol": Target("testbed Trace10kSPS", throughput_mb_s=(5, 5), memory_mib=(100, 100), cpu_cores=0.2)}
    figures = [replica_figures(series[name], stats, request_name, stats.window) for name, request_name in NAMES.items()]
    sink = SinkFigures(received_bytes=75 * 48043, received_spans=75 * 122)
    verdicts = judge(stats, 1e6, figures, targets, GeneratorSide(cores=0.1), sink)
    return LoadResult("otlp-grpc", parse_rate("1MB/s"), 1e6, 2, stats, series, figures, verdicts, [], sink, None, NAMES)


def test_the_json_report_has_per_replica_figures_over_time(tmp_path: Path) -> None:
    result = _result()
    write_load_report(result, tmp_path)
    report = json.loads((tmp_path / "load-report.json").read_text())
    assert report["passed"] is False and report["rate_asked"] == "1 MB/s"
    assert report["generator"]["failures"] == {"refused RESOURCE_EXHAUSTED": 3}
    assert report["sink_received_bytes"] == 75 * 48043
    healthy, refusing = report["replicas"]["otelcol-0"], report["replicas"]["otelcol-1"]
    assert healthy["accepted_bytes"] == 39 * 48043 and refusing["accepted_bytes"] == 36 * 48043
    assert len(healthy["over_time"]["rss_mib"]) == len(healthy["over_time"]["seconds"]) >= 5
    assert healthy["over_time"]["accepted_mb_s"] and refusing["over_time"]["counters"]["refused_spans"][-1][1] == 366
    failed = [v["text"] for v in report["verdicts"] if not v["passed"]]
    assert failed == [
        "otelcol-1 answered 3 of 39 requests with an error (refused RESOURCE_EXHAUSTED: 3), limit 0",
        "otelcol-1 refused spans: 366, limit 0",
    ]


def test_the_html_page_shows_verdicts_failed_first_and_five_plots(tmp_path: Path) -> None:
    page = write_load_report(_result(), tmp_path).read_text()
    assert page.index("FAIL") < page.index(">pass<")
    assert "otelcol-1 refused spans: 366, limit 0" in page
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in images] == list(PLOTS)
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for _, data in images)


def test_the_memory_and_cores_plots_draw_the_limits_the_verdicts_used() -> None:
    result = _result()
    assert _limits(result, "peak RSS MiB") == [("otelcol-0, otelcol-1", 100.0)]
    assert _limits(result, "CPU cores") == [("otelcol-0, otelcol-1", 0.2)]
    assert _limits(result, None) == []


def test_offered_rate_per_target_integrates_to_the_bytes_sent_and_ends_with_the_final_count() -> None:
    stats = _result().stats
    name = NAMES["otelcol-0"]
    points = offered_rate(stats, name)
    first = min((p for p in stats.history if p.name == name), key=lambda p: p.at)
    times = [first.at] + [t for t, _ in points]
    sent = sum(rate * (t2 - t1) for (t1, t2), (_, rate) in zip(pairwise(times), points, strict=True))
    assert points[-1][0] == stats.targets[name].last_request
    assert sent == pytest.approx((stats.targets[name].requests - first.requests) * 48043)
