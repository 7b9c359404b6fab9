"""The load report: JSON, and one HTML page with plots over time that a person reads at a glance."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from dataclasses import asdict
from pathlib import Path

from .runner import LoadResult
from .sampling import Series
from .verdicts import MIB, accepted_bytes


def write_load_report(result: LoadResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "protocol": result.protocol, "rate": result.rate.describe(), "passed": result.passed,
        "totals": asdict(result.totals), "sink_received_bytes": result.sink_bytes,
        "verdicts": [asdict(v) for v in result.verdicts], "implied_replicas": result.implied,
        "replicas": {name: {"component": s.component, "peak_rss_bytes": s.peak_rss(),
                            "accepted_bytes": accepted_bytes(s, result.totals),
                            "samples": [asdict(sample) for sample in s.samples]}
                     for name, s in result.series.items()},
    }
    (directory / "load-report.json").write_text(json.dumps(document, indent=2))
    (directory / "load-report.html").write_text(_html(result, directory))
    return directory / "load-report.html"


def _html(result: LoadResult, directory: Path) -> str:
    rows = "".join(f"<tr><td>{html.escape(v.subject)}</td><td class={'pass' if v.passed else 'fail'}>"
                   f"{'pass' if v.passed else 'FAIL'}</td><td>{html.escape(v.text)}</td></tr>" for v in result.verdicts)
    implied = "".join(f"<li>{html.escape(line)}</li>" for line in result.implied)
    plots = "".join(f'<img alt="{title}" src="data:image/png;base64,{png}">' for title, png in _plots(result, directory))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>tracestack load</title><style>
body{{font-family:sans-serif;margin:2em}}td{{border:1px solid #ccc;padding:4px 8px}}table{{border-collapse:collapse}}
.pass{{color:#17692d}}.fail{{color:#b00020;font-weight:bold}}img{{max-width:48%;margin:4px}}</style></head><body>
<h1>Load {html.escape(result.rate.describe())} over {html.escape(result.protocol)}: {'passed' if result.passed else 'FAILED'}</h1>
<p>offered {result.totals.offered_bytes / 1e6:.1f} MB in {result.totals.duration_s:.0f} s;
sink received {'' if result.sink_bytes is None else f'{result.sink_bytes / 1e6:.1f} MB'}</p>
<table><tr><th>subject</th><th>verdict</th><th>figure</th></tr>{rows}</table><ul>{implied}</ul>{plots}</body></html>"""


def _plots(result: LoadResult, directory: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figures = []
    offered = _locust_history(directory / "locust_stats_history.csv")

    def figure(title: str, ylabel: str, draw) -> None:
        fig, axis = pyplot.subplots(figsize=(6.4, 3.2))
        draw(axis)
        axis.set_title(title)
        axis.set_xlabel("seconds")
        axis.set_ylabel(ylabel)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=90)
        pyplot.close(fig)
        figures.append((title, base64.b64encode(buffer.getvalue()).decode()))

    def throughput(axis) -> None:
        if offered:
            axis.plot([p[0] for p in offered], [p[1] / 1e6 for p in offered], label="offered (generator)", color="black")
        for name, series in result.series.items():
            points = _accepted_rate(series, result)
            if points:
                axis.plot([t for t, _ in points], [v / 1e6 for _, v in points], label=f"accepted {name}")

    figure("offered vs accepted MB/s", "MB/s", throughput)
    figure("resident memory per replica", "MiB", lambda axis: [
        axis.plot([s.at_s for s in series.samples if s.rss_bytes], [s.rss_bytes / MIB for s in series.samples if s.rss_bytes],
                  label=name) for name, series in result.series.items()])
    figure("refused / failed spans per second", "spans/s", lambda axis: [
        axis.plot([t for t, _ in series.rate(counter)], [v for _, v in series.rate(counter)], label=f"{name} {counter}")
        for name, series in result.series.items() for counter in ("refused_spans", "failed_exports", "discarded_spans")
        if series.rate(counter)])
    figure("push latency", "ms", lambda axis: [
        axis.plot([p[0] for p in offered], [p[index] for p in offered], label=label)
        for index, label in ((2, "p50"), (3, "p99"))] if offered else None)
    return figures


def _accepted_rate(series: Series, result: LoadResult) -> list[tuple[float, float]]:
    if series.rate("received_bytes"):
        return series.rate("received_bytes")
    return [(t, v * result.totals.bytes_per_span) for t, v in series.rate("accepted_spans")]


def _locust_history(path: Path) -> list[tuple[float, float, float, float]]:
    """(seconds, offered bytes/s, p50 ms, p99 ms) from Locust's aggregated stats history."""
    if not path.is_file():
        return []
    rows = [row for row in csv.DictReader(path.open()) if row["Name"] == "Aggregated"]
    if not rows:
        return []
    start = int(rows[0]["Timestamp"])
    points, previous = [], None
    for row in rows:
        total = float(row["Total Request Count"]) * float(row["Total Average Content Size"] or 0)
        at = int(row["Timestamp"]) - start
        if previous is not None and at > previous[0]:
            points.append((float(at), (total - previous[1]) / (at - previous[0]),
                           float(row["50%"] if row["50%"] != "N/A" else 0), float(row["99%"] if row["99%"] != "N/A" else 0)))
        previous = (at, total)
    return points
