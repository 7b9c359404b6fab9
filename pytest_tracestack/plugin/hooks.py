"""The pytest plugin: options, header, one topology per session, built-in checks as test items."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from pytest_tracestack.configs.tempo_config import pin_lines
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.load.rates import parse_duration, parse_rate
from pytest_tracestack.plugin import xdist_workers
from pytest_tracestack.plugin.fixtures import *  # noqa: F401,F403
from pytest_tracestack.plugin.load_summary import write_load_summary
from pytest_tracestack.plugin.options import add_options, read_setting
from pytest_tracestack.plugin.plan import print_plan
from pytest_tracestack.plugin.runtime_choice import choose_runtime
from pytest_tracestack.plugin.selection import resolve_profile
from pytest_tracestack.plugin.session import STASH_KEY, TracestackSession

BUILTIN_CHECKS = Path(__file__).parents[1] / "checks" / "builtin.py"
PLUGIN_NAME = "tracestack-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("tracestack_plan"):
        return None
    return print_plan(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tracestack_check(name): a built-in check of the selected profile")
    profile_setting = read_setting(config, "profile")
    if profile_setting.value is None:
        return
    profile = resolve_profile(config, profile_setting.value)
    choice = choose_runtime(read_setting(config, "runtime"), profile)
    session = config.stash[STASH_KEY] = TracestackSession(config, profile, profile_setting, choice)
    config.pluginmanager.register(SessionPlugin(session), PLUGIN_NAME)
    _check_load_options(config)
    _add_builtin_checks(config)
    _stop_on_sigterm()


def pytest_report_header(config: pytest.Config) -> list[str]:
    plugin: SessionPlugin | None = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        return ["tracestack: no profile selected (--tracestack-profile=NAME)"]
    return plugin.header_lines()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    write_load_summary(terminalreporter, config)  # load runs are remembered with or without a profile
    plugin: SessionPlugin | None = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is not None:
        for line in plugin.session.summary_lines():
            terminalreporter.write_line(line)


def _check_load_options(config: pytest.Config) -> None:
    """Rates and durations are checked when read, with the accepted format in the message."""
    for option, parse in (("load", parse_rate), ("load-duration", parse_duration)):
        setting = read_setting(config, option)
        if setting.value is None:
            continue
        try:
            parse(setting.value)
        except ValueError as error:
            raise pytest.UsageError(f"--tracestack-{option} ({setting.source}): {error}") from None


def _add_builtin_checks(config: pytest.Config) -> None:
    """Without test paths the run is the profile's built-in checks; with paths, they run as well."""
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.append(str(BUILTIN_CHECKS))
    else:
        config.args = [str(BUILTIN_CHECKS)]


def _stop_on_sigterm() -> None:
    """A CI runner's SIGTERM unwinds like Ctrl-C, so every fixture teardown (and the stack's) runs."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


class SessionPlugin:
    """The hooks of a run with a profile, registered per pytest config (so runs in one process, as under
    pytester, never share a session)."""

    def __init__(self, session: TracestackSession) -> None:
        self.session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path: Path, parent) -> pytest.Module | None:
        """Name the built-in checks after the profile (``tracestack/collector::test_roundtrip[otlp-grpc]``),
        wherever the package is installed, so JUnit reports read well."""
        if module_path != BUILTIN_CHECKS:
            return None
        return pytest.Module.from_parent(parent, path=module_path, nodeid=f"tracestack/{self.session.profile.name}")

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Keep the built-in checks the profile lists; a listed check nobody implements fails loudly."""
        session = self.session
        selected: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        implemented: set[str | None] = set()
        for item in items:
            marker = item.get_closest_marker("tracestack_check")
            name = marker.args[0] if marker and marker.args else None
            implemented.add(name)
            if name:
                session.check_names[item.nodeid] = name
            wanted = session.load_requested if name == "load" else name in session.profile.checks
            (dropped if name and not wanted else selected).append(item)
            if name and not wanted:
                session.unlisted_checks[name] = session.unlisted_checks.get(name, 0) + 1
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = selected
        missing = [check for check in session.profile.checks if check not in implemented]
        if missing and items:
            session.unimplemented_checks = missing

    def pytest_report_collectionfinish(self) -> list[str]:
        return self.session.collection_lines()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.when == "setup" and call.excinfo is not None:
            self.session.refer_to_start_failure(report, call.excinfo.value)
        return report

    def header_lines(self) -> list[str]:
        session = self.session
        lines = (*pin_lines(session.profile), *session.local_rendering_lines())
        return session.header_lines() + [f"tracestack: {line}" for line in lines]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.session.record(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node) -> None:
        """pytest-xdist: a worker finished; its checks, components, kept stack and load runs join the
        controller's summary."""
        output = getattr(node, "workeroutput", {}).get(xdist_workers.KEY)
        if output is not None:
            xdist_workers.merge_worker_output(self.session, output)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        worker_output = getattr(session.config, "workeroutput", None)
        if worker_output is not None:
            worker_output[xdist_workers.KEY] = xdist_workers.worker_output(self.session)  # the controller reports
            return
        self.session.finish(exitstatus)
        if self.session.unimplemented_checks and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a check that did not run is not a pass

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        try:
            self.session.close()  # a backstop: the session fixture normally stopped the stack already
        except TracestackError as error:
            config.issue_config_time_warning(pytest.PytestWarning(f"tracestack teardown: {error}"), stacklevel=2)
        self.session.terminal.say(*self.session.tell_kept())
