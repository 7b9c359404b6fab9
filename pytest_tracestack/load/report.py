"""The load report: ``load-report.json``, and ``load-report.html``, one page with the verdicts and plots
over time (offered vs accepted MB/s per replica, RSS per replica, CPU, refusals, push latency)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path

from pytest_tracestack.load.figures import byte_counters
from pytest_tracestack.load.locust_stats import GeneratorStats, HistoryPoint
from pytest_tracestack.load.runner import GENERATOR, LoadResult
from pytest_tracestack.load.scrape import LOSS_COUNTERS, MACHINE, Series
from pytest_tracestack.load.verdicts import MIB

PLOTS = (
    "offered vs accepted MB/s per replica",
    "resident memory per replica",
    "CPU cores per process",
    "refusals and losses per second",
    "push latency per replica",
)


def write_load_report(result: LoadResult, directory: Path) -> Path:
    """Write both files; returns the HTML page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "load-report.json").write_text(json.dumps(report_document(result), indent=2))
    page = directory / "load-report.html"
    page.write_text(_html(result))
    return page


def report_document(result: LoadResult) -> dict:
    stats, duration = result.stats, result.stats.duration_s
    start = stats.window[0]
    return {
        "protocol": result.protocol,
        "rate_asked": result.rate.describe(),
        "users": result.users,
        "asked_mb_s": result.asked_bytes_per_s / 1e6,
        "duration_s": duration,
        "passed": result.passed,
        "generator": {
            "requests": stats.requests,
            "failed_requests": stats.failed_requests,
            "offered_bytes": stats.offered_bytes,
            "offered_mb_s": stats.offered_bytes / duration / 1e6,
            "offered_spans": stats.offered_spans,
            "spans_answered_ok": stats.delivered_spans,
            "bytes_per_request": stats.bytes_per_request,
            "spans_per_request": stats.spans_per_request,
            "failures": stats.failures(),
            "push_p50_ms": stats.percentile_ms(0.5),
            "push_p99_ms": stats.percentile_ms(0.99),
            "cores": result.generator.cores,
            "side": asdict(result.generator),
            "offered": None if result.offered is None else asdict(result.offered),
        },
        "sink": None if result.sink is None else asdict(result.sink),
        "sink_received_bytes": None if result.sink is None else result.sink.received_bytes,
        "verdicts": [asdict(verdict) for verdict in result.verdicts],
        "implied_replicas": [asdict(implied) for implied in result.implied],
        "replicas": {
            f.replica: {
                **asdict(f),
                "accepted_mb_s": None if f.accepted_bytes is None else f.accepted_bytes / duration / 1e6,
                "offered_mb_s": None if f.offered_bytes is None else f.offered_bytes / duration / 1e6,
                "peak_rss_mib": None if f.peak_rss_bytes is None else f.peak_rss_bytes / MIB,
                "over_time": _over_time(result.series[f.replica], result, start),
            }
            for f in result.figures
        },
    }


def _over_time(series: Series, result: LoadResult, start: float) -> dict:
    return {
        "seconds": [round(s.at - start, 3) for s in series.samples],
        "rss_mib": [None if s.rss_bytes is None else round(s.rss_bytes / MIB, 2) for s in series.samples],
        "accepted_mb_s": [[round(t - start, 3), round(v / 1e6, 4)] for t, v in accepted_rate(series, result)],
        "cores": [[round(t - start, 3), round(v, 3)] for t, v in series.cores()],
        "counters": {
            key: [[round(t - start, 3), v] for t, v in series.values(key)]
            for key in sorted({k for s in series.samples for k in s.counters})
        },
    }


def accepted_rate(series: Series, result: LoadResult) -> list[tuple[float, float]]:
    """Accepted bytes per second over time, measured where the replica counts bytes, else estimated."""
    keys, _ = byte_counters(series.has)
    if keys:
        rates = [series.rate(key) for key in keys]
        return [(points[0][0], sum(p[1] for p in points)) for points in zip(*rates, strict=True)]
    per_span = result.stats.bytes_per_request / result.stats.spans_per_request
    return [(t, v * per_span) for t, v in series.rate("accepted_spans")]


def offered_rate(stats: GeneratorStats, name: str) -> list[tuple[float, float]]:
    """Offered bytes per second over time for one request name, from Locust's per-second history, closed
    by the run's final count (Locust stops writing its history before the last requests)."""
    points = sorted((p.at, p.requests) for p in stats.history if p.name == name)
    if name in stats.targets and (not points or stats.targets[name].last_request > points[-1][0]):
        points.append((stats.targets[name].last_request, stats.targets[name].requests))
    return [(t2, (r2 - r1) * stats.bytes_per_request / (t2 - t1)) for (t1, r1), (t2, r2) in pairwise(points) if t2 > t1]


def _failures_rate(history: list[HistoryPoint], name: str) -> list[tuple[float, float]]:
    points = sorted((p.at, p.failures) for p in history if p.name == name)
    return [(t2, (f2 - f1) / (t2 - t1)) for (t1, f1), (t2, f2) in pairwise(points) if t2 > t1]


def _html(result: LoadResult) -> str:
    failed_first = sorted(result.verdicts, key=lambda v: v.passed)
    rows = "".join(
        f"<tr><td>{html.escape(v.subject)}</td><td class={'pass' if v.passed else 'fail'}>"
        f"{'pass' if v.passed else 'FAIL'}</td><td>{html.escape(v.text)}</td></tr>"
        for v in failed_first
    )
    implied = "".join(f"<li>{html.escape(i.text)}</li>" for i in result.implied)
    plots = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}"></figure>'
        for title, png in _plots(result)
    )
    stats, duration = result.stats, result.stats.duration_s
    sink = (
        ""
        if result.sink is None
        else f"; the sink received {result.sink.received_bytes / 1e6:.2f} MB, {result.sink.received_spans:,} spans"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>tracestack load: {html.escape(result.rate.describe())}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
table{{border-collapse:collapse;margin:1em 0}}.pass{{color:#17692d}}.fail{{color:#b00020;font-weight:bold}}
figure{{display:inline-block;margin:4px;width:48%}}img{{width:100%}}</style></head><body>
<h1 class={"pass" if result.passed else "fail"}>
Load {html.escape(result.rate.describe())} over {html.escape(result.protocol)}:
{"passed" if result.passed else "FAILED"}</h1>
<p>{result.users} users offered {stats.offered_bytes / 1e6:.2f} MB
({stats.offered_spans:,} spans, {stats.requests:,} requests)
in {duration:.1f} s, {stats.offered_bytes / duration / 1e6:.2f} MB/s{html.escape(sink)}.</p>
<table><tr><th>subject</th><th>verdict</th><th>figure</th></tr>{rows}</table>
<h2>Replicas</h2>{_replica_table(result)}
<h2>Replicas the traffic needs</h2><ul>{implied}</ul>
{plots}</body></html>"""


def _replica_table(result: LoadResult) -> str:
    duration = result.stats.duration_s

    def cell(value, fmt: str) -> str:
        return "" if value is None else format(value, fmt)

    rows = "".join(
        f"<tr><td>{html.escape(f.replica)}</td>"
        f"<td>{cell(f.offered_bytes and f.offered_bytes / duration / 1e6, '.2f')}</td>"
        f"<td>{cell(f.accepted_bytes and f.accepted_bytes / duration / 1e6, '.2f')}</td>"
        f"<td>{html.escape(f.accepted_bytes_source)}</td>"
        f"<td>{cell(f.peak_rss_bytes and f.peak_rss_bytes / MIB, '.1f')}</td>"
        f"<td>{cell(f.mean_cores, '.2f')}</td><td>{cell(f.push_p50_ms, '.0f')} / {cell(f.push_p99_ms, '.0f')}</td>"
        f"<td>{html.escape(', '.join(f'{k} {v:.0f}' for k, v in f.counters.items() if k.endswith('spans')))}</td></tr>"
        for f in result.figures
    )
    return (
        "<table><tr><th>replica</th><th>offered MB/s</th><th>accepted MB/s</th><th>accepted bytes are</th>"
        "<th>peak RSS MiB</th><th>CPU cores</th><th>push p50 / p99 ms</th><th>span counters</th></tr>"
        f"{rows}</table>"
    )


def _limits(result: LoadResult, figure: str | None) -> list[tuple[str, float]]:
    """The distinct limits the verdicts judged ``figure`` against, one line per value (replicas of a
    component share theirs)."""
    by_value: dict[float, list[str]] = {}
    for verdict in result.verdicts:
        if figure and verdict.figure == figure:
            by_value.setdefault(verdict.limit, []).append(verdict.subject)
    return [(", ".join(subjects), limit) for limit, subjects in by_value.items()]


def _plots(result: LoadResult) -> list[tuple[str, str]]:
    # matplotlib comes with the load extra and takes ~170 ms of CPU to import: only a report with plots pays.
    import matplotlib

    matplotlib.use("Agg")  # before pyplot is imported: no display here
    from matplotlib import pyplot

    start = result.stats.window[0]
    history = result.stats.history
    names = result.request_names
    replicas = [s for name, s in result.series.items() if name not in (GENERATOR, MACHINE)]

    def draw(
        title: str,
        ylabel: str,
        lines: Callable[[], list[tuple[str, list[tuple[float, float]], dict]]],
        limit_figure: str | None = None,
    ):
        fig, axis = pyplot.subplots(figsize=(6.4, 3.4))
        for label, points, style in lines():
            if points:
                axis.plot([t - start for t, _ in points], [v for _, v in points], label=label, **style)
        for subject, limit in _limits(result, limit_figure):
            axis.axhline(limit, color="tab:red", linestyle=":", label=f"{subject} limit {limit:g} {ylabel}")
        axis.set_title(title)
        axis.set_xlabel("seconds since the first request")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=90)
        pyplot.close(fig)
        return title, base64.b64encode(buffer.getvalue()).decode()

    def throughput():
        lines = [
            (f"offered to {replica}", [(t, v / 1e6) for t, v in offered_rate(result.stats, name)], {"linestyle": "--"})
            for replica, name in names.items()
        ]
        return lines + [
            (f"accepted by {s.replica}", [(t, v / 1e6) for t, v in accepted_rate(s, result)], {}) for s in replicas
        ]

    def losses():
        lines = [
            (f"requests refused/failed by {replica}", _failures_rate(history, name), {"linestyle": "--"})
            for replica, name in names.items()
        ]
        return lines + [
            (f"{s.replica} {key.replace('_', ' ')}", s.rate(key), {})
            for s in replicas
            for key in LOSS_COUNTERS
            if s.has(key)
        ]

    def latency():
        return [
            (
                f"{replica} p{q}",
                [
                    (p.at, getattr(p, f"p{q}_ms"))
                    for p in history
                    if p.name == name and getattr(p, f"p{q}_ms") is not None
                ],
                {},
            )
            for replica, name in names.items()
            for q in (50, 99)
        ]

    return [
        draw(PLOTS[0], "MB/s", throughput),
        draw(
            PLOTS[1],
            "MiB",
            lambda: [(s.replica, [(t, v / MIB) for t, v in s.rss()], {}) for s in replicas],
            limit_figure="peak RSS MiB",
        ),
        draw(
            PLOTS[2],
            "cores",
            lambda: [(s.replica, s.cores(), {}) for s in result.series.values()],
            limit_figure="CPU cores",
        ),
        draw(PLOTS[3], "per second", losses),
        draw(PLOTS[4], "ms", latency),
    ]
