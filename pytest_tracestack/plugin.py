"""The pytest plugin: options, header, one topology per session, built-in checks as test items."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from . import workers
from .errors import ProfileError, TracestackError
from .fixtures import *  # noqa: F401,F403
from .load.summary import write_load_summary
from .profiles import load_profile
from .runtime_choice import choose_runtime
from .session import STASH_KEY, TracestackSession
from .settings import add_options, read_path_setting, read_setting
from .tempo_config import pin_lines

BUILTIN_CHECKS = Path(__file__).parent / "checks" / "builtin.py"

# pytest_runtest_logreport gets no config; under pytester several sessions run in one process, but
# never at the same time, so the session configured last is the one reporting.
_current_session: TracestackSession | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("tracestack_plan"):
        return None
    from .plan import print_plan

    return print_plan(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tracestack_load: a load run judged against the profile's per-replica targets")
    config.addinivalue_line("markers", "tracestack_check(name): a built-in check of the selected profile")
    profile_setting = read_setting(config, "profile")
    if profile_setting.value is None:
        return
    profile = resolve_profile(config, profile_setting.value)
    choice = choose_runtime(read_setting(config, "runtime"), profile)
    global _current_session
    _current_session = config.stash[STASH_KEY] = TracestackSession(config, profile, profile_setting, choice)
    _check_load_options(config)
    _add_builtin_checks(config)
    _stop_on_sigterm()


def _check_load_options(config: pytest.Config) -> None:
    """Rates and durations are checked when read, with the accepted format in the message."""
    from .load.rates import parse_duration, parse_rate

    for option, parse in (("load", parse_rate), ("load-duration", parse_duration)):
        setting = read_setting(config, option)
        if setting.value is None:
            continue
        try:
            parse(setting.value)
        except ValueError as error:
            raise pytest.UsageError(f"--tracestack-{option} ({setting.source}): {error}") from None


def resolve_profile(config: pytest.Config, name: str):
    scenarios = read_path_setting(config, "scenarios")
    if name.endswith((".yaml", ".yml")):
        name = str(read_path_setting(config, "profile"))
    try:
        return load_profile(name, [scenarios] if scenarios else None)
    except ProfileError as error:
        raise pytest.UsageError(str(error)) from None


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


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent) -> pytest.Module | None:
    """Name the built-in checks after the profile (``tracestack/collector::test_roundtrip[otlp-grpc]``),
    wherever the package is installed, so JUnit reports read well."""
    if module_path != BUILTIN_CHECKS:
        return None
    session: TracestackSession = parent.config.stash[STASH_KEY]
    return pytest.Module.from_parent(parent, path=module_path, nodeid=f"tracestack/{session.profile.name}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the built-in checks the profile lists; a listed check nobody implements fails loudly."""
    session: TracestackSession | None = config.stash.get(STASH_KEY, None)
    if session is None:
        return
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


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    session: TracestackSession | None = config.stash.get(STASH_KEY, None)
    return session.collection_lines() if session is not None else []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    session: TracestackSession | None = item.config.stash.get(STASH_KEY, None)
    if session is not None and call.when == "setup" and call.excinfo is not None:
        session.refer_to_start_failure(report, call.excinfo.value)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    session: TracestackSession | None = config.stash.get(STASH_KEY, None)
    if session is None:
        return ["tracestack: no profile selected (--tracestack-profile=NAME)"]
    lines = (*pin_lines(session.profile), *session.local_rendering_lines())
    return session.header_lines() + [f"tracestack: {line}" for line in lines]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    write_load_summary(terminalreporter, config)
    session: TracestackSession | None = config.stash.get(STASH_KEY, None)
    if session is not None:
        for line in session.summary_lines():
            terminalreporter.write_line(line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    session = _current_session
    if session is not None:
        session.record(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist: a worker finished; its checks, components, kept stack and load runs join the controller's
    summary."""
    session: TracestackSession | None = node.config.stash.get(STASH_KEY, None)
    output = getattr(node, "workeroutput", {}).get(workers.KEY)
    if session is not None and output is not None:
        workers.merge_worker_output(session, output)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tracestack: TracestackSession | None = session.config.stash.get(STASH_KEY, None)
    worker_output = getattr(session.config, "workeroutput", None)
    if tracestack is not None and worker_output is not None:
        worker_output[workers.KEY] = workers.worker_output(tracestack)   # the controller reports
    elif tracestack is not None:
        tracestack.finish(exitstatus)
        if tracestack.unimplemented_checks and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a check that did not run is not a pass


def pytest_unconfigure(config: pytest.Config) -> None:
    global _current_session
    session: TracestackSession | None = config.stash.get(STASH_KEY, None)
    if session is _current_session:
        _current_session = None
    if session is not None:
        try:
            session.close()   # a backstop: the session fixture normally stopped the stack already
        except TracestackError as error:
            config.issue_config_time_warning(pytest.PytestWarning(f"tracestack teardown: {error}"), stacklevel=2)
        session.terminal.say(*session.tell_kept())
