"""What a failed install looked like: events, pod status and the last log lines of pods that are not ready.

Goes into the error message and ``<report dir>/kube-diagnostics.txt``, with secrets masked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.runtimes.kube.commands import CompletedCommand, Run

LOG_LINES = 40
REPORT_FILE = "kube-diagnostics.txt"


def collect(run: Run, kubectl: tuple[str, ...], namespace: str, report_dir: Path | None) -> str:
    ns = ("--namespace", namespace)
    sections = [
        _section("events", run((*kubectl, "get", "events", *ns, "--sort-by=.lastTimestamp"), 30)),
        _section("pods", run((*kubectl, "get", "pods", *ns, "-o", "wide"), 30)),
    ]
    listing = run((*kubectl, "get", "pods", *ns, "-o", "json"), 30)
    for pod in not_ready_pods(listing):
        name = pod["metadata"]["name"]
        sections.append(
            _section(
                f"last {LOG_LINES} log lines of {name}",
                run((*kubectl, "logs", *ns, name, "--all-containers", "--prefix", f"--tail={LOG_LINES}"), 30),
            )
        )
        if _restarted(pod):
            sections.append(
                _section(
                    f"last {LOG_LINES} log lines of {name} before its last restart",
                    run(
                        (
                            *kubectl,
                            "logs",
                            *ns,
                            name,
                            "--all-containers",
                            "--prefix",
                            "--previous",
                            f"--tail={LOG_LINES}",
                        ),
                        30,
                    ),
                )
            )
    text = redact("\n".join(sections))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / REPORT_FILE).write_text(text + "\n")
    return text


def not_ready_pods(listing: CompletedCommand) -> list[dict[str, Any]]:
    """Pods that have not finished and have a container that is not ready (or none started yet)."""
    try:
        pods = json.loads(listing.stdout).get("items", []) if listing.ok else []
    except ValueError:
        return []
    failing = []
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") == "Succeeded":
            continue
        containers = status.get("containerStatuses") or []
        if not containers or not all(container.get("ready") for container in containers):
            failing.append(pod)
    return failing


def _restarted(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(status.get("restartCount", 0) > 0 for status in statuses)


def _section(title: str, done: CompletedCommand) -> str:
    body = (done.stdout if done.ok else f"({' '.join(done.argv[:3])}... failed: {done.stderr.strip()})").strip()
    return f"--- {title} ---\n{body[-4000:] or '(nothing)'}"
