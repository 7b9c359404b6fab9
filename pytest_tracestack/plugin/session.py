"""One topology per pytest session: chosen at configure time, started on first use, stopped once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_tracestack.binaries import progress
from pytest_tracestack.binaries.finder import SPECS, BinaryProvider, FoundBinary
from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.configs.tempo_config import helm_for, rendering_lines
from pytest_tracestack.errors import TracestackError, UnavailableError, first_line
from pytest_tracestack.plugin.components_used import ComponentUsed, components_used
from pytest_tracestack.plugin.options import Setting, read_setting
from pytest_tracestack.plugin.report import CheckRecord, record_from_report, write_session_report
from pytest_tracestack.plugin.runtime_choice import RuntimeChoice
from pytest_tracestack.plugin.selection import binary_provider, make_runtime
from pytest_tracestack.plugin.terminal import Terminal
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.base import Runtime, Stack

STASH_KEY = pytest.StashKey["TracestackSession"]()


@dataclass
class TracestackSession:
    config: pytest.Config
    profile: Profile
    profile_setting: Setting
    runtime_choice: RuntimeChoice
    stack: Stack | None = None
    start_error: BaseException | None = None
    start_failure: BaseException | None = None  # the pytest outcome every test needing the stack gets
    start_failure_shown_at: str | None = None  # the test whose report shows it in full
    checks_passed: int = 0
    checks_failed: int = 0
    checks_skipped: int = 0
    checks_not_run: int = 0  # errors before the check ran, e.g. the stack did not start
    components_used: list[ComponentUsed] = field(default_factory=list)
    unimplemented_checks: list[str] = field(default_factory=list)
    unlisted_checks: dict[str, int] = field(default_factory=dict)  # check -> items deselected as not listed
    check_names: dict[str, str] = field(default_factory=dict)  # nodeid -> check name
    records: list[CheckRecord] = field(default_factory=list)
    kept: str | None = None  # how to reach a stack left running
    _local_rendering: list[str] | None = field(default=None, repr=False)
    _keep_told: bool = False
    _binaries: BinaryProvider | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)

    # --- settings -----------------------------------------------------------------------------

    def setting(self, name: str) -> Setting:
        return read_setting(self.config, name)

    @property
    def keep(self) -> bool:
        return bool(self.setting("keep").value)

    @property
    def skip_unavailable(self) -> bool:
        return bool(self.setting("skip-unavailable").value)

    @property
    def load_requested(self) -> bool:
        return self.setting("load").value is not None

    @property
    def report_dir(self) -> Path | None:
        value = self.setting("report").value
        return Path(value) if value else None

    @property
    def terminal(self) -> Terminal:
        return Terminal(self.config)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._binaries = binary_provider(self.config)
            self._runtime = make_runtime(self.runtime_choice.name, self.config, self._binaries)
        return self._runtime

    # --- the stack ----------------------------------------------------------------------------

    def start(self) -> Stack:
        """Start the stack once; every later caller gets the same stack or the same error."""
        if self.stack is not None:
            return self.stack
        if self.start_error is not None:
            raise self.start_error
        started = time.monotonic()
        try:
            with progress.shown_on(self._progress_output()):
                self.stack = self.runtime().start(self.profile)
        except (TracestackError, OSError) as error:
            self.start_error = error
            raise
        self.components_used = components_used(self.stack, self._found_binaries(), self._tempo_build(self.stack))
        self.terminal.say(
            f"tracestack: profile {self.profile.name} up on the {self.runtime_choice.name} runtime "
            f"in {time.monotonic() - started:.1f}s; components used:",
            *(f"  {component.describe()}" for component in self.components_used),
        )
        return self.stack

    def _progress_output(self) -> Terminal:
        """xdist sends a worker's stdout, and so its terminal reporter's lines, to /dev/null; its stderr is the
        user's terminal."""
        return Terminal(self.config, stderr=hasattr(self.config, "workerinput"))

    def _found_binaries(self) -> dict[str, FoundBinary]:
        return self._binaries.found if self._binaries is not None else {}

    @staticmethod
    def _tempo_build(stack: Stack) -> dict | str | None:
        """Tempo's own word on its version (on Kubernetes, through the port-forward), or why there is none."""
        url = stack.query_url()
        if url is None:
            return None
        from pytest_tracestack.clients.tempo import (
            TempoClient,  # its OTLP protobuf modules cost ~60 ms of CPU: not at every pytest start
        )

        with TempoClient(url, timeout=5.0) as client:
            try:
                return client.build_info()
            except TracestackError as error:
                return first_line(error)

    def close(self) -> None:
        stack, self.stack = self.stack, None
        if stack is None:
            return
        if self.keep:
            self.kept = self.runtime().describe_keep(stack)
            return
        self.runtime().stop(stack)

    def tell_kept(self) -> list[str]:
        """How to reach and stop a kept stack, once (the terminal summary, or the teardown backstop)."""
        if self.kept is None or self._keep_told:
            return []
        self._keep_told = True
        return self.kept.splitlines()

    def fail_or_skip(self, error: BaseException) -> None:
        """A missing real component fails the run unless the user opted into skipping. Every test that needs
        the stack gets this same outcome; the report of the first shows it in full (see refer_to_start_failure)."""
        if isinstance(error, UnavailableError) and self.skip_unavailable:
            outcome: BaseException = pytest.skip.Exception(
                f"tracestack: {redact(first_line(error))} (skipped: --tracestack-skip-unavailable)"
            )
        else:
            hint = (
                "\n(pass --tracestack-skip-unavailable to skip instead of failing)"
                if isinstance(error, UnavailableError)
                else ""
            )
            outcome = pytest.fail.Exception(
                f"tracestack could not start profile {self.profile.name!r} on the "
                f"{self.runtime_choice.name} runtime: {redact(str(error))}{hint}",
                pytrace=False,
            )
        self.start_failure = outcome
        raise outcome

    def refer_to_start_failure(self, report: pytest.TestReport, raised: BaseException) -> None:
        """After the first test that could not run because the stack did not start, the others name that
        test in one line instead of repeating the whole error."""
        if raised is not self.start_failure or report.skipped:
            return
        if self.start_failure_shown_at is None:
            self.start_failure_shown_at = report.nodeid
            _one_line_in_the_short_summary(report)
            return
        report.longrepr = (
            f"not run: the stack did not start; the error is shown once, at setup of {self.start_failure_shown_at}"
        )

    # --- reporting ----------------------------------------------------------------------------

    def header_lines(self) -> list[str]:
        runtime = self.setting("runtime")
        return [
            f"tracestack: profile {self.profile.name} (from {self.profile_setting.source}; {self.profile.source_file})",
            f"tracestack: runtime {self.runtime_choice.name} ({self.runtime_choice.reason}; "
            f"--tracestack-runtime={runtime.value} from {runtime.source})",
            f"tracestack: keep={self.keep} (from {self.setting('keep').source}), "
            f"skip-unavailable={self.skip_unavailable} (from {self.setting('skip-unavailable').source}), "
            f"report={self.report_dir or 'none'} (from {self.setting('report').source})",
            f"tracestack: components the profile asks for: {self._asked_versions()}; the versions that ran are "
            "printed when the stack is up (binaries' --version, Tempo's /api/status/buildinfo)",
        ]

    def local_rendering_lines(self) -> list[str]:
        """How the local runtime makes Tempo's config from Helm values, worked out once for the header and the
        report (it may run helm)."""
        if self._local_rendering is None:
            self._local_rendering = []
            if self.runtime_choice.name == "local":
                helm = helm_for(self.profile, self.setting("charts").value)
                self._local_rendering = rendering_lines(self.profile, helm)
        return self._local_rendering

    def _asked_versions(self) -> str:
        asked = []
        for kind in sorted(self.profile.binaries):
            version = self.profile.tempo_version if kind == "tempo" else SPECS[kind].version if kind in SPECS else ""
            asked.append(f"{kind} {version}".strip())
        return ", ".join(asked)

    def collection_lines(self) -> list[str]:
        """Why built-in checks were deselected: the profile does not list them."""
        if not self.unlisted_checks:
            return []
        unlisted = ", ".join(f"{name} ({count})" if count > 1 else name for name, count in self.unlisted_checks.items())
        load = " (load runs only with --tracestack-load=RATE)" if "load" in self.unlisted_checks else ""
        return [
            f"tracestack: profile {self.profile.name} lists only {len(self.profile.checks)} checks "
            f"({', '.join(self.profile.checks)}); {sum(self.unlisted_checks.values())} deselected items are "
            f"built-in checks it does not list: {unlisted}{load}"
        ]

    def record(self, report: pytest.TestReport) -> None:
        """Count and remember each built-in check's verdict (setup errors included)."""
        check = self.check_names.get(report.nodeid)
        if check is None or not (report.when == "call" or report.outcome != "passed"):
            return
        if report.when == "teardown" and report.outcome == "skipped":
            return
        if report.passed:
            self.checks_passed += 1
        elif report.skipped:
            self.checks_skipped += 1
        elif report.when == "setup":
            self.checks_not_run += 1
        else:
            self.checks_failed += 1
        self.records.append(record_from_report(check, report))

    def summary_lines(self) -> list[str]:
        ran = self.checks_passed + self.checks_failed
        used = "" if self.components_used else ", components used: none started"
        lines = [
            f"tracestack: {ran} checks ran ({self.checks_passed} passed, {self.checks_failed} failed, "
            f"{self.checks_skipped} skipped, {self.checks_not_run} could not run) "
            f"on profile {self.profile.name}, runtime {self.runtime_choice.name}{used}"
        ]
        if self.components_used:
            lines.append(
                "tracestack: components used (version as each reported it; 'real' only where tracestack "
                "fetched or built it itself):"
            )
            lines += [f"  {component.describe()}" for component in self.components_used]
        if self.unimplemented_checks:
            lines.append(
                f"tracestack: checks listed by the profile that this version does not implement "
                f"(not run, not passed): {', '.join(self.unimplemented_checks)}"
            )
        if self.start_error is not None:
            lines.append(f"tracestack: the stack did not start: {redact(first_line(self.start_error))}")
        if self.report_dir is not None:  # written at session finish, before this summary
            lines.append(f"tracestack: report: {(self.report_dir / 'tracestack-report.html').resolve().as_uri()}")
        return lines + self.tell_kept()

    def finish(self, exitstatus: int) -> None:
        """Session end: reports are written by the report module when --tracestack-report is set."""
        if self.report_dir is not None:
            write_session_report(self, self.report_dir)


def _one_line_in_the_short_summary(report: pytest.TestReport) -> None:
    """pytest's short summary repeats an error's whole message on CI (CI=true): keep it to the first line there,
    as it is on a terminal, so the replica's log is shown once, in the error itself."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        crash.message = crash.message.splitlines()[0]
