"""``--tracestack-report=DIR``: the checks of the session as JSON and as one HTML page."""

from __future__ import annotations

import html
import json
import textwrap
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.configs.tempo_config import pin_lines


@dataclass
class CheckRecord:
    nodeid: str
    check: str | None
    outcome: str  # passed / failed / skipped / error
    duration_s: float
    properties: dict[str, Any] = field(default_factory=dict)  # inputs, visibility times, ...
    details: str = ""  # the diff or reason when not passed


def record_from_report(item_check: str | None, report: pytest.TestReport) -> CheckRecord:
    outcome = report.outcome if report.when == "call" or report.outcome != "failed" else "error"
    details = "" if report.passed else redact(_longrepr_text(report))
    return CheckRecord(
        report.nodeid, item_check, outcome, round(report.duration, 3), _properties(report.user_properties), details
    )


def _properties(recorded: list[tuple[str, Any]]) -> dict[str, Any]:
    """record_property pairs by name; a name recorded more than once (one line per component) keeps every
    value, as a list."""
    values: dict[str, list[Any]] = {}
    for key, value in recorded:
        values.setdefault(key, []).append(value)
    return {key: items[0] if len(items) == 1 else items for key, items in values.items()}


def _longrepr_text(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # skips: (file, line, reason)
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
        "components": [
            {**asdict(component), "description": component.describe()} for component in session.components_used
        ],
        "pins": pin_lines(session.profile),
        "local_rendering": session.local_rendering_lines(),
        "start_error": redact(str(session.start_error)) if session.start_error else None,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": [asdict(record) for record in session.records],
    }
    (directory / "tracestack-report.json").write_text(json.dumps(document, indent=2, default=str))
    (directory / "tracestack-report.html").write_text(render_html(document, directory))
    return directory


UNITS = {"_mb_s": "MB/s", "_ms": "ms", "_s": "s"}  # a property's name ends with its unit
OUTCOME_ORDER = {"failed": 0, "error": 1, "skipped": 2, "passed": 3}  # failing checks first


def render_html(document: dict[str, Any], directory: Path | None = None) -> str:
    """One page: a summary line, the components, then every check, failing ones first."""
    checks = sorted(document["checks"], key=lambda check: OUTCOME_ORDER.get(check["outcome"], 0))
    rows = "\n".join(_row(check, directory) for check in checks)
    components = "".join(f"<li>{html.escape(component['description'])}</li>" for component in document["components"])
    error = (
        f"<p class=failed>Stack did not start: <pre>{html.escape(document['start_error'])}</pre></p>"
        if document["start_error"]
        else ""
    )
    rendering = "".join(
        f"<li>{html.escape(line)}</li>" for line in (*document.get("pins", []), *document.get("local_rendering", []))
    )
    if rendering:
        rendering = f"<p>Pinned versions, and how the local runtime made Tempo's config:</p><ul>{rendering}</ul>"
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>tracestack {html.escape(document["profile"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}
.passed{{color:#17692d}}.failed,.error{{color:#b00020}}.skipped{{color:#8a6d00}}pre{{white-space:pre-wrap;margin:0}}
ul.lines{{margin:0;padding-left:1.2em}}.expected{{color:#b00020}}.actual{{color:#17692d}}.subject{{font-weight:bold}}</style></head><body>
<h1>tracestack: profile {html.escape(document["profile"])} on {html.escape(document["runtime"])}</h1>
{_summary(document)}
<p>{html.escape(document["runtime_reason"])}; written {document["written_at"]}</p>
<ul>{components}</ul>{rendering}{error}
<table><tr><th>check</th><th>verdict</th><th>seconds</th><th>inputs and timings</th><th>details</th></tr>
{rows}</table></body></html>"""


def _summary(document: dict[str, Any]) -> str:
    """ "2 of 9 checks failed: roundtrip[otlp-grpc], ...", or that all passed."""
    checks = document["checks"]
    counts = {outcome: sum(1 for c in checks if c["outcome"] == outcome) for outcome in OUTCOME_ORDER}
    failing = [c["nodeid"].split("::")[-1] for c in checks if c["outcome"] in ("failed", "error")]
    tally = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
    if failing:
        text = f"{len(failing)} of {len(checks)} checks did not pass ({tally}): {', '.join(failing)}"
    elif document["start_error"]:
        text = f"the stack did not start; {len(checks)} checks recorded ({tally or 'none'})"
    else:
        text = f"all {counts['passed']} checks that ran passed ({tally or 'no checks ran'})"
    outcome = "failed" if failing or document["start_error"] else "passed"
    return f"<p class={outcome} id=summary><b>{html.escape(text)}</b></p>"


def _row(check: dict[str, Any], directory: Path | None) -> str:
    lines = [line for key, value in check["properties"].items() for line in _property_lines(key, value, directory)]
    props = f"<ul class=lines>{''.join(f'<li>{line}</li>' for line in lines)}</ul>" if lines else ""
    return (
        f"<tr><td>{html.escape(check['nodeid'])}</td><td class={check['outcome']}>{check['outcome']}</td>"
        f"<td>{check['duration_s']}</td><td>{props}</td><td><pre>{_details(check['details'])}</pre></td></tr>"
    )


def _property_lines(key: str, value: Any, directory: Path | None) -> list[str]:
    """One sentence per value, in HTML: "visible after s: 0.42"; a list gives one line per item, a dict
    its own text (or its key: value pairs), a path to a page a link to it."""
    name, unit = _label(key)
    label = html.escape(name if unit and isinstance(value, (int, float)) else key.replace("_", " "))
    if isinstance(value, (int, float)) and unit:
        return [f"{label}: {value} {unit}"]
    if isinstance(value, list):
        return [line for item in value for line in _property_lines(key, item, directory)]
    if isinstance(value, dict):
        text = value.get("text") or "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items())
        return [f"{label}: {html.escape(str(text))}"]
    if isinstance(value, str) and value.endswith(".html"):
        return [f"{label}: {_link(Path(value), directory)}"]
    return [f"{label}: {html.escape(str(value))}"]


def _label(key: str) -> tuple[str, str]:
    """("visible after", "s") from "visible_after_s"."""
    for suffix, unit in UNITS.items():
        if key.endswith(suffix):
            return key.removesuffix(suffix).replace("_", " "), unit
    return key.replace("_", " "), ""


def _link(page: Path, directory: Path | None) -> str:
    """A relative link when the page is inside the report directory (the two move together)."""
    href = page.resolve().as_uri()
    if directory is not None and page.resolve().is_relative_to(directory.resolve()):
        href = page.resolve().relative_to(directory.resolve()).as_posix()
    return f'<a href="{html.escape(href)}">{html.escape(str(page))}</a>'


def _details(text: str) -> str:
    """The reason a check did not pass, without pytest's `assert ...` introspection; a trace diff's
    expected and actual lines marked."""
    text = text.removeprefix("AssertionError: ")
    if "\nassert " in text:
        text = text[: text.rindex("\nassert ")]
    first, _, rest = text.partition("\n")
    rest = textwrap.dedent(rest)  # pytest indents the message's lines after the first
    lines = []
    for line in [first, *rest.splitlines()]:
        escaped = html.escape(line)
        if line.lstrip().startswith("- expected"):
            escaped = f"<span class=expected>{escaped}</span>"
        elif line.lstrip().startswith("+ actual"):
            escaped = f"<span class=actual>{escaped}</span>"
        elif line.startswith("span "):
            escaped = f"<span class=subject>{escaped}</span>"
        lines.append(escaped)
    return "\n".join(lines)
