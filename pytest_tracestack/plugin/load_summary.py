"""The session's load runs in the terminal summary, as Locust and pytest-benchmark print theirs: one row per
replica, one column per figure its verdicts judged (whatever figures the verdicts hold), then the generator's
and the delivery lines and where the report is. (A load run happens while pytest captures output.)"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pytest
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

if TYPE_CHECKING:
    from pytest_tracestack.load.runner import LoadResult

LOAD_SUMMARIES = pytest.StashKey[list]()  # the lines of each load run, rendered when it ended

FAILED_MARK = "✗"
_WIDE = Console(file=io.StringIO(), width=1000)


def remember_load(config: pytest.Config, result: LoadResult) -> None:
    """Keep a load run's summary for the terminal summary (plain lines: an xdist worker hands them on)."""
    add_load_summaries(config, [summary_lines(result)])


def load_summaries(config: pytest.Config) -> list[list[str]]:
    return config.stash.get(LOAD_SUMMARIES, [])


def add_load_summaries(config: pytest.Config, summaries: list[list[str]]) -> None:
    config.stash.setdefault(LOAD_SUMMARIES, []).extend(summaries)


def write_load_summary(terminalreporter: Any, config: pytest.Config) -> None:
    summaries = load_summaries(config)
    if summaries:
        terminalreporter.write_sep("-", "tracestack load")
    for lines in summaries:
        for line in lines:
            terminalreporter.write_line(line)


def summary_lines(result: LoadResult) -> list[str]:
    verdict = "passed" if result.passed else "FAILED"
    lines = [
        f"load {result.rate.describe()} over {result.protocol} for {result.stats.duration_s:.1f} s, "
        f"{result.users} users: {verdict}"
    ]
    lines += _render(replica_table(result))
    replicas = {figures.replica for figures in result.figures}
    lines += [f"{'' if v.passed else FAILED_MARK + ' '}{v.text}" for v in result.verdicts if v.subject not in replicas]
    if result.report_dir is not None:
        lines.append(f"load report: {(result.report_dir / 'load-report.html').resolve().as_uri()}")
    return lines


def replica_table(result: LoadResult) -> Table:
    """Offered MB/s (what the generator sent each replica), then each figure a verdict judged per replica,
    in the order the verdicts come; a failed figure is marked and shows its limit."""
    figures = list(dict.fromkeys(v.figure for v in result.verdicts if v.subject in _names(result)))
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    table.add_column("replica")
    for title in ["offered MB/s", *figures]:
        table.add_column(title.replace("_", " "), justify="right")
    for replica in result.figures:
        cells = {v.figure: _cell(v.value, v.limit, v.passed) for v in result.verdicts if v.subject == replica.replica}
        offered = replica.per_s(replica.offered_bytes, result.stats.duration_s)
        row = ["" if offered is None else f"{offered / 1e6:.2f}", *(cells.get(figure, "") for figure in figures)]
        if any(row):  # a replica nothing was measured of (the in-process sink) has no row
            table.add_row(replica.replica, *row)
    return table


def _names(result: LoadResult) -> set[str]:
    return {figures.replica for figures in result.figures}


def _cell(value: float | None, limit: float, passed: bool) -> str:
    shown = "not measured" if value is None else _number(value)
    return shown if passed else f"{shown} {FAILED_MARK} (limit {_number(limit)})"


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:,.1f}"


def _render(table: Table) -> list[str]:
    """Plain text at the table's natural width: a figure is never wrapped or cut."""
    out = io.StringIO()
    console = Console(
        file=out, width=Measurement.get(_WIDE, _WIDE.options, table).maximum, color_system=None, force_terminal=False
    )
    console.print(table)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
