"""One topology per pytest session: chosen at configure time, started on first use, stopped once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .binaries import BinaryProvider
from .collector_build import build_collector
from .errors import TracestackError, UnavailableError
from .profiles import Profile
from .report import CheckRecord, record_from_report
from .runtime_choice import RuntimeChoice
from .runtimes.base import Runtime, Stack
from .settings import Setting, parse_seconds, read_setting

STASH_KEY = pytest.StashKey["TracestackSession"]()


@dataclass
class TracestackSession:
    config: pytest.Config
    profile: Profile
    profile_setting: Setting
    runtime_choice: RuntimeChoice
    stack: Stack | None = None
    start_error: BaseException | None = None
    checks_passed: int = 0
    checks_failed: int = 0
    checks_skipped: int = 0
    checks_not_run: int = 0          # errors before the check ran, e.g. the stack did not start
    components_used: dict[str, str] = field(default_factory=dict)
    unimplemented_checks: list[str] = field(default_factory=list)
    check_names: dict[str, str] = field(default_factory=dict)        # nodeid -> check name
    records: list[CheckRecord] = field(default_factory=list)
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

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = make_runtime(self.runtime_choice.name, self.config)
        return self._runtime

    # --- the stack ----------------------------------------------------------------------------

    def start(self) -> Stack:
        """Start the stack once; every later caller gets the same stack or the same error."""
        if self.stack is not None:
            return self.stack
        if self.start_error is not None:
            raise self.start_error
        try:
            self.stack = self.runtime().start(self.profile)
        except (TracestackError, OSError) as error:
            self.start_error = error
            raise
        self.components_used = dict(self.stack.binaries)
        return self.stack

    def close(self) -> None:
        stack, self.stack = self.stack, None
        if stack is None:
            return
        if self.keep:
            print("\n" + self.runtime().describe_keep(stack))
            return
        self.runtime().stop(stack)

    def fail_or_skip(self, error: BaseException) -> None:
        """A missing real component fails the run unless the user opted into skipping."""
        if isinstance(error, UnavailableError) and self.skip_unavailable:
            pytest.skip(f"tracestack: {error} (skipped because of --tracestack-skip-unavailable)")
        hint = ("\n(pass --tracestack-skip-unavailable to skip instead of failing)"
                if isinstance(error, UnavailableError) else "")
        pytest.fail(f"tracestack could not start profile {self.profile.name!r} on the "
                    f"{self.runtime_choice.name} runtime:\n{error}{hint}", pytrace=False)

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
        components = "; ".join(f"{kind} {where}" for kind, where in sorted(self.components_used.items())) or "none started"
        lines = [f"tracestack: {ran} checks ran ({self.checks_passed} passed, {self.checks_failed} failed, "
                 f"{self.checks_skipped} skipped, {self.checks_not_run} could not run) on profile {self.profile.name}, runtime "
                 f"{self.runtime_choice.name}, against real components: {components}"]
        if self.unimplemented_checks:
            lines.append(f"tracestack: checks listed by the profile that this version does not implement "
                         f"(not run, not passed): {', '.join(self.unimplemented_checks)}")
        if self.start_error is not None:
            lines.append(f"tracestack: the stack did not start: {str(self.start_error).splitlines()[0]}")
        return lines

    def finish(self, exitstatus: int) -> None:
        """Session end: reports are written by the report module when --tracestack-report is set."""
        if self.report_dir is not None:
            from .report import write_session_report

            write_session_report(self, self.report_dir)


def make_runtime(name: str, config: pytest.Config) -> Runtime:
    if name == "local":
        from .runtimes.local import LocalRuntime, LocalSettings

        return LocalRuntime(LocalSettings(
            binaries=binary_provider(config),
            ready_timeout_s=parse_seconds(read_setting(config, "ready-timeout"), "--tracestack-ready-timeout"),
            keep=bool(read_setting(config, "keep").value),
            report_dir=Path(read_setting(config, "report").value) if read_setting(config, "report").value else None,
            nginx_otel_module=read_setting(config, "nginx-otel-module").value,
        ))
    from .runtimes.kube_factory import kube_runtime_from_config

    return kube_runtime_from_config(name, config)


def binary_provider(config: pytest.Config) -> BinaryProvider:
    return BinaryProvider(
        explicit={kind: read_setting(config, kind).value for kind in ("tempo", "otelcol", "nginx")},
        download_base=read_setting(config, "download-base").value,
        allow_download=not read_setting(config, "no-download").value,
        builders={"otelcol": build_collector},
    )
