"""Lines for the person at the terminal that pytest's output capture must not swallow (build progress,
the components a started stack runs, how to reach a kept stack)."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

import pytest


@dataclass
class Terminal:
    config: pytest.Config
    stderr: bool = False  # lines go to stderr: an xdist worker's terminal reporter writes to /dev/null

    def uncaptured(self) -> contextlib.AbstractContextManager[None]:
        """Suspend pytest's capture (global and fixture) for the block, as ``pytest --pdb`` does."""
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()

    def write_line(self, line: str) -> None:
        """One line, as it is; inside ``uncaptured()`` while a test runs."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self.stderr:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def say(self, *lines: str) -> None:
        with self.uncaptured():
            for line in lines:
                self.write_line(line)
