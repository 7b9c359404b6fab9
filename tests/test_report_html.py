"""The session's HTML report (--tracestack-report): a summary at the top, failing checks first, every recorded
line a sentence (a name recorded once per component keeps every line), the load report a link, and a failed
roundtrip's diff without pytest's introspection, its expected and actual lines marked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_tracestack.plugin.report import record_from_report, render_html

CHECKS = """
from dataclasses import replace

from pytest_tracestack.traces.diff import compare_traces
from pytest_tracestack.traffic.trace_shapes import WIDE, build_trace


def test_load(record_property):
    record_property("load_report", "{report}/load/load-report.html")
    record_property("implied_replicas",
                    "distributor: at most 1 replica(s) for 5 MB/s at the 6.00 MB/s one replica took")
    record_property("implied_replicas", "ingester: at most 2 replica(s) for 5 MB/s at the 3.00 MB/s one replica took")
    record_property("implied_replicas",
                    {{"component": "querier", "text": "querier: the sizing guide says 3 replica(s)"}})


def test_roundtrip(record_property):
    record_property("visible_after_s", 0.42)
    sent = build_trace(WIDE, service_name="svc")
    arrived = [*sent[:-1], replace(sent[-1], name="renamed")]
    diff = compare_traces(sent, arrived)
    assert diff.ok, f"trace sent over otlp-grpc, read from the sink:\\n{{diff.render()}}"
"""


@pytest.fixture
def page(pytester: pytest.Pytester, tmp_path: Path) -> str:
    pytester.makepyfile(test_checks=CHECKS.format(report=tmp_path))
    reports = [r for r in pytester.inline_run().getreports("pytest_runtest_logreport") if r.when == "call"]
    document = {
        "profile": "distributed",
        "profile_file": "scenarios/distributed.yaml",
        "runtime": "local",
        "runtime_reason": "asked for",
        "components": [{"description": "tempo 2.10.8 at /usr/bin/tempo (PATH)"}],
        "start_error": None,
        "written_at": "2026-12-01T00:00:00Z",
        "checks": [vars(record_from_report(r.nodeid.split("::")[-1], r)) for r in reports],
    }
    return render_html(document, tmp_path)


def test_the_summary_comes_first_and_names_the_failing_check(page: str) -> None:
    summary = re.search(r"<p class=failed id=summary><b>(.*?)</b></p>", page)
    assert summary and summary.group(1) == "1 of 2 checks did not pass (1 failed, 1 passed): test_roundtrip"
    assert page.index("id=summary") < page.index("<table>")
    assert page.index("test_checks.py::test_roundtrip") < page.index("test_checks.py::test_load")


def test_every_line_recorded_is_a_sentence_and_the_load_report_a_link(page: str) -> None:
    lines = re.findall(r"<li>(.*?)</li>", page)
    assert [line for line in lines if line.startswith("implied replicas")] == [
        "implied replicas: distributor: at most 1 replica(s) for 5 MB/s at the 6.00 MB/s one replica took",
        "implied replicas: ingester: at most 2 replica(s) for 5 MB/s at the 3.00 MB/s one replica took",
        "implied replicas: querier: the sizing guide says 3 replica(s)",
    ]
    assert "visible after: 0.42 s" in lines
    assert re.search(r'<li>load report: <a href="load/load-report.html">[^<]+/load/load-report.html</a></li>', page)
    assert "{'" not in page and "{&#x27;" not in page


def test_a_failed_roundtrip_shows_the_diff_with_expected_and_actual_marked(page: str) -> None:
    details = re.search(r"<pre>(trace sent over otlp-grpc.*?)</pre>", page, re.S).group(1)
    assert "1 difference(s)" in details
    assert re.search(
        r"<span class=subject>span &#x27;[^&]+&#x27; \([0-9a-f]{16}\):</span>\n  changed name name:", details
    )
    assert re.search(
        r"<span class=expected>    - expected &#x27;[^&]+&#x27;</span>\n"
        r"<span class=actual>    \+ actual   &#x27;renamed&#x27;</span>",
        details,
    )
    assert "assert" not in details and "AssertionError" not in details
