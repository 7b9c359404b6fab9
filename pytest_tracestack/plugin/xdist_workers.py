"""Under pytest-xdist each worker starts its own stack: the controller's summary and report add up what
the workers ran, used and kept, and print their load runs (the controller runs no test itself)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.plugin.components_used import ComponentUsed
from pytest_tracestack.plugin.load_summary import add_load_summaries, load_summaries
from pytest_tracestack.plugin.report import CheckRecord

KEY = "tracestack"


def worker_output(session) -> dict[str, Any]:
    """What a worker hands the controller; plain data, as execnet carries it."""
    session._keep_told = True  # the controller tells it; a worker's terminal is not the user's
    document = {
        "counts": [session.checks_passed, session.checks_failed, session.checks_skipped, session.checks_not_run],
        "components": [asdict(component) for component in session.components_used],
        "records": [asdict(record) for record in session.records],
        "kept": session.kept,
        "start_error": str(session.start_error) if session.start_error is not None else None,
        "unimplemented": session.unimplemented_checks,
        "load": load_summaries(session.config),
    }
    return json.loads(json.dumps(document, default=str))


def merge_worker_output(session, output: dict[str, Any]) -> None:
    passed, failed, skipped, not_run = output["counts"]
    session.checks_passed += passed
    session.checks_failed += failed
    session.checks_skipped += skipped
    session.checks_not_run += not_run
    for fields in output["components"]:
        component = ComponentUsed(**fields)
        if component not in session.components_used:
            session.components_used.append(component)
    session.records.extend(CheckRecord(**fields) for fields in output["records"])
    if output["kept"]:
        session.kept = "\n".join(filter(None, [session.kept, output["kept"]]))
    if output["start_error"] and session.start_error is None:
        session.start_error = TracestackError(output["start_error"])
    add_load_summaries(session.config, output["load"])
    for check in output["unimplemented"]:
        if check not in session.unimplemented_checks:
            session.unimplemented_checks.append(check)
