"""What the terminal summary shows besides the check counts: the endpoints of a stack kept with
--tracestack-keep, and the figures of each load run of the session (the stack's teardown and the load run
happen while pytest captures output, so they are shown here, where nothing swallows them)."""

from __future__ import annotations

from typing import Any

import pytest

from .session import STASH_KEY

LOAD_RESULTS = pytest.StashKey[list]()


def remember_load(config: pytest.Config, result: Any) -> None:
    """Keep a load run's result for the terminal summary."""
    config.stash.setdefault(LOAD_RESULTS, []).append(result)


def write_summary_extras(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(LOAD_RESULTS, [])
    if results:
        from .load.summary import summary_lines

        terminalreporter.write_sep("-", "tracestack load")
        for result in results:
            for line in summary_lines(result):
                terminalreporter.write_line(line)
    session = config.stash.get(STASH_KEY, None)
    if session is not None and session.kept_description:
        for line in session.kept_description.splitlines():
            terminalreporter.write_line(line)
