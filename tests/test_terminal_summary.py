"""The terminal summary shows a load run's figures (one row per replica, one column per judged figure) and
where its report is, as Locust and pytest-benchmark print theirs, on a passing run as on a failing one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pytest_tracestack.load.verdicts import Verdict
from pytest_tracestack.plugin.load_summary import summary_lines
from test_load_report import _result

REMEMBERS_THE_RECORDED_RUN = """
from dataclasses import replace
from pathlib import Path

from pytest_tracestack.plugin.load_summary import remember_load
from test_load_report import _result

def test_load(pytestconfig, tmp_path):
    remember_load(pytestconfig, replace(_result(), report_dir=Path("{report}")))
"""


def test_the_summary_prints_the_replica_table_and_the_report_link(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_run=REMEMBERS_THE_RECORDED_RUN.format(report=tmp_path / "load"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- tracestack load -*",
            "load 1 MB/s over otlp-grpc for 3.6 s, 2 users: FAILED",
            "replica *offered MB/s *accepted MB/s *failed requests *push latency p99 ms *peak RSS MiB *CPU cores",
            "otelcol-0 * 0.51 * 0.51 * 0 * 4 * 75 * 0.05",
            "otelcol-1 * 0.51 * 0.47 * 3 ✗ (limit 0) * 4 * 366 ✗ (limit 0) * 76 * 0.05",
            "generator offered 1.03 MB/s of the 1.00 MB/s asked (limit: at least 0.90 MB/s, 90%); measured: generator "
            "0.10 cores, *",
            f"load report: {(tmp_path / 'load' / 'load-report.html').as_uri()}",
        ]
    )


def test_a_figure_the_verdicts_add_gets_its_own_column() -> None:
    recorded = _result()
    ingester = Verdict("otelcol-0", "ingester received MB/s", 0.4, 0.3, True, "otelcol-0 ingester received 0.40 MB/s")
    lines = summary_lines(replace(recorded, verdicts=[*recorded.verdicts, ingester]))
    header = next(line for line in lines if line.startswith("replica"))
    assert header.rstrip().endswith("ingester received MB/s")
    assert next(line for line in lines if line.startswith("otelcol-0")).rstrip().endswith("0.40")


def test_a_figure_nobody_measured_shows_as_such_and_failed() -> None:
    recorded = _result()
    unmeasured = Verdict("otelcol-0", "accepted MB/s", None, 0.9, False, "otelcol-0 accepted MB/s not measured (...)")
    verdicts = [
        unmeasured if v.subject == "otelcol-0" and v.figure == "accepted MB/s" else v for v in recorded.verdicts
    ]
    row = next(line for line in summary_lines(replace(recorded, verdicts=verdicts)) if line.startswith("otelcol-0"))
    assert "not measured ✗ (limit 0.90)" in row


def test_under_xdist_the_controller_prints_the_load_run_of_the_worker_that_ran_it(
    pytester: pytest.Pytester, collector_env
) -> None:
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--tracestack-profile=collector",
        "--tracestack-load=1MB/s",
        "--tracestack-load-duration=5s",
        "-k",
        "test_load",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- tracestack load -*",
            "load 1 MB/s over otlp-grpc for * s, 4 users: passed",
            "replica *offered MB/s *accepted MB/s *peak RSS MiB *CPU cores",
            "otelcol-0 *",
            "generator offered * MB/s of the 1.00 MB/s asked*",
            "load report: file://*/load/load-report.html",
        ]
    )


def test_no_load_run_no_load_section(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*tracestack load*")
