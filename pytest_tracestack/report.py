"""``--tracestack-report=DIR``: the checks of the session as JSON and as one HTML page."""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .redaction import redact


@dataclass
class CheckRecord:
    nodeid: str
    check: str | None
    outcome: str                    # passed / failed / skipped / error
    duration_s: float
    properties: dict[str, Any] = field(default_factory=dict)   # inputs, visibility times, ...
    details: str = ""               # the diff or reason when not passed


def record_from_report(item_check: str | None, report: pytest.TestReport) -> CheckRecord:
    outcome = report.outcome if report.when == "call" or report.outcome != "failed" else "error"
    details = "" if report.passed else redact(_longrepr_text(report))
    return CheckRecord(report.nodeid, item_check, outcome, round(report.duration, 3),
                       {key: value for key, value in report.user_properties}, details)


def _longrepr_text(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):     # skips: (file, line, reason)
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else str(report.longrepr or "")


def write_session_report(session, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "profile": session.profile.name,
        "profile_file": str(session.profile.source_file),
        "runtime": session.runtime_choice.name,
        "runtime_reason": session.runtime_choice.reason,
        "components": [{**asdict(component), "description": component.describe()}
                       for component in session.components_used],
        "start_error": redact(str(session.start_error)) if session.start_error else None,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": [asdict(record) for record in session.records],
    }
    (directory / "tracestack-report.json").write_text(json.dumps(document, indent=2, default=str))
    (directory / "tracestack-report.html").write_text(render_html(document))
    return directory


def render_html(document: dict[str, Any]) -> str:
    rows = "\n".join(_row(check) for check in document["checks"])
    components = "".join(f"<li>{html.escape(component['description'])}</li>" for component in document["components"])
    error = f"<p class=failed>Stack did not start: <pre>{html.escape(document['start_error'])}</pre></p>" \
        if document["start_error"] else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>tracestack {html.escape(document['profile'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}
.passed{{color:#17692d}}.failed,.error{{color:#b00020}}.skipped{{color:#8a6d00}}pre{{white-space:pre-wrap;margin:0}}</style></head><body>
<h1>tracestack: profile {html.escape(document['profile'])} on {html.escape(document['runtime'])}</h1>
<p>{html.escape(document['runtime_reason'])}; written {document['written_at']}</p><ul>{components}</ul>{error}
<table><tr><th>check</th><th>verdict</th><th>seconds</th><th>inputs and timings</th><th>details</th></tr>
{rows}</table></body></html>"""


def _row(check: dict[str, Any]) -> str:
    props = "<br>".join(f"{html.escape(str(k))} = {html.escape(str(v))}" for k, v in check["properties"].items())
    return (f"<tr><td>{html.escape(check['nodeid'])}</td><td class={check['outcome']}>{check['outcome']}</td>"
            f"<td>{check['duration_s']}</td><td>{props}</td><td><pre>{html.escape(check['details'])}</pre></td></tr>")
