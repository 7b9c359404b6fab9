"""What a run tells the person at the terminal, through pytester: a stack that does not start is one error
shown once, a kept stack and the first build's progress are seen without -s, the components used are named
with their versions (the Tempo double as what it is), and deselected checks are explained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from leftovers import tracestack_processes

SCENARIOS = Path(__file__).parent / "scenarios"
DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"

# The seed's collector pipeline with a batch timeout the collector refuses: it exits at start.
BROKEN = """
name: broken
description: the collector profile with a config the real collector refuses (tests only)
extends: collector
components:
  otelcol:
    local_overrides:
      processors.batch.timeout: not-a-duration
"""

STACK_UP = """
def test_up(tracestack_stack):
    assert tracestack_stack.replicas
"""


@pytest.fixture
def with_collector(otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))
    return otelcol_binary


def test_a_stack_that_does_not_start_is_one_error_shown_once_with_the_replicas_log(
    pytester: pytest.Pytester, with_collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = pytester.mkdir("profiles")
    (scenarios / "broken.yaml").write_text(BROKEN)
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(scenarios))
    monkeypatch.setenv("CI", "true")  # on CI pytest's short summary repeats whole messages: still once
    result = pytester.runpytest_subprocess("--tracestack-profile=broken")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    # The collector's last log line appears once: in the error of the first check.
    assert output.count("collector server run finished with error") == 1, output
    assert "During handling of the above exception" not in output
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_roundtrip[[]otlp-grpc[]]*",
            "tracestack could not start profile 'broken' on the local runtime: otelcol-0 exited while waiting for "
            "http://127.*/ to answer 200; last log lines:",
            '*invalid duration "not-a-duration"*',
            "*ERROR at setup of test_service_name*",
            "not run: the stack did not start; the error is shown once, at setup of "
            "tracestack/broken::test_roundtrip[[]otlp-grpc[]]",
            "tracestack: 0 checks ran (0 passed, 0 failed, 0 skipped, 7 could not run) on profile broken, "
            "runtime local, "
            "components used: none started",
            "tracestack: the stack did not start: otelcol-0 exited while waiting for *",
        ]
    )
    errors_section = output.split("short test summary info")[0]
    assert errors_section.count("not run: the stack did not start; the error is shown once") == 6
    assert tracestack_processes() == []


def test_skip_unavailable_says_the_missing_component_and_its_remedy_first(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=manifest", "--tracestack-no-download", "--tracestack-skip-unavailable", "-rs"
    )
    assert result.ret == pytest.ExitCode.OK
    remedy = (
        "tempo 2.10.8 was not found: put Tempo 2.10.8's 'tempo' binary on PATH "
        "or pass --tracestack-tempo=/path/to/tempo"
    )
    result.stdout.fnmatch_lines(
        [
            f"tracestack: the stack did not start: {remedy}",
            f"SKIPPED [[]*[]] *: tracestack: {remedy} (skipped: --tracestack-skip-unavailable)",
        ]
    )


def test_keep_shows_the_endpoints_and_the_stop_command_without_s(
    pytester: pytest.Pytester, with_collector, monkeypatch: pytest.MonkeyPatch, own_tmpdir: Path
) -> None:
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(SCENARIOS))
    pytester.makepyfile(test_up=STACK_UP)
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=lone-collector", "--tracestack-keep", "test_up.py", "-k", "test_up"
    )
    try:
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [
                "tracestack: profile lone-collector left running (--tracestack-keep); work dir *",
                "  otelcol-0 pid *: otlp-grpc 127.*:4317, *",
                "  otelcol-1 pid *: otlp-grpc 127.*:4317, *",
                "  stop it with: tracestack stop *",
            ]
        )
    finally:  # the kept stack lives under this test's TMPDIR, whether or not the run said where
        for state in own_tmpdir.glob("tracestack-*/stack.json"):
            pytester.run(sys.executable, "-m", "pytest_tracestack.cli", "stop", str(state.parent))
    assert tracestack_processes() == []


def test_the_components_used_are_named_with_the_version_each_reported(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=manifest",
        f"--tracestack-tempo={DOUBLE}",
        "-k",
        "service_name",
        f"--tracestack-report={tmp_path}",
    )
    result.assert_outcomes(passed=1)
    fake = (
        "  tempo v2.10.8 FAKE TEMPO FOR TESTS (not Tempo) (/api/status/buildinfo at http://127.*:3100; "
        f"{DOUBLE}; explicit path; not verified by tracestack)"
    )
    result.stdout.fnmatch_lines(
        [
            "tracestack: components the profile asks for: tempo 2.10.8; the versions that ran are printed when "
            "the stack "
            "is up*",
            "tracestack: profile manifest up on the local runtime in *s; components used:",
            fake,
            "tracestack: 1 checks ran (1 passed, 0 failed, 0 skipped, 0 could not run) on profile manifest, "
            "runtime local",
            "tracestack: components used (version as each reported it; 'real' only where tracestack fetched or "
            "built it "
            "itself):",
            fake,
        ]
    )
    assert "real components" not in result.stdout.str() and "real:" not in result.stdout.str()
    [tempo] = json.loads((tmp_path / "tracestack-report.json").read_text())["components"]
    assert (tempo["kind"], tempo["version"], tempo["real"]) == (
        "tempo",
        "v2.10.8 FAKE TEMPO FOR TESTS (not Tempo)",
        False,
    )


def test_deselected_checks_are_explained_by_the_profile(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--tracestack-profile=collector", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "tracestack: profile collector lists only 4 checks (roundtrip, refused, service-name, collector-restart); "
            "13 deselected items are built-in checks it does not list: auto-instrumentation, propagation (2), "
            "search (2), "
            "schemas, nginx-server-span, load, ingester-kill, span-metrics, service-graphs, backend-storage "
            "(2) (load runs "
            "only with --tracestack-load=RATE)",
            "7/20 tests collected (13 deselected) in *",
        ]
    )


# Stands in for OCB (a real build takes 4 to 9 minutes): copies the collector built earlier, slowly enough
# for the progress to tick; the rest of build_collector (manifest, paths, log, progress) runs as it is.
FAKE_BUILD = """
import os, shutil, time
from pathlib import Path
import yaml
from pytest_tracestack.binaries import go_command, ocb, progress

progress.TICK_S = 0.3

def install_builder(go, version, tools):
    return Path("builder-not-installed-by-this-test")

def build(argv, log, cwd, env=None):
    log.write_text("TEST STAND-IN FOR OCB: copying the collector built earlier\\n")
    time.sleep(1.0)
    dist = yaml.safe_load(Path(argv[1].split("=", 1)[1]).read_text())["dist"]
    Path(dist["output_path"]).mkdir(parents=True, exist_ok=True)
    shutil.copy(os.environ["BUILT_COLLECTOR"], Path(dist["output_path"]) / dist["name"])

ocb._install_builder = install_builder
go_command.run_build = build
"""


def _go_that_does_not_build(tmp_path: Path) -> Path:
    """A directory holding a `go` that only fails: the conftest replaces the build, so a real Go is never needed."""
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    (stand_ins / "go").write_text("#!/bin/sh\necho 'not Go: the test replaces the build' >&2\nexit 1\n")
    (stand_ins / "go").chmod(0o755)
    return stand_ins


def test_the_first_runs_collector_build_shows_progress_without_s(
    pytester: pytest.Pytester, otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stand_ins = _go_that_does_not_build(tmp_path)
    monkeypatch.setenv("PATH", f"{stand_ins}:/usr/bin:/bin")
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BUILT_COLLECTOR", str(otelcol_binary))
    monkeypatch.delenv("TRACESTACK_OTELCOL", raising=False)
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(SCENARIOS))
    pytester.makeconftest(FAKE_BUILD)
    pytester.makepyfile(test_up=STACK_UP)
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=lone-collector", "--tracestack-no-download", "test_up.py", "-k", "test_up"
    )
    result.assert_outcomes(passed=1)
    built = tmp_path / "cache" / "bin" / "otelcol-0.129.0"
    what = f"building the OpenTelemetry Collector 0.129.0 into {built}/otelcol-tracestack with OCB"
    result.stdout.fnmatch_lines(
        [
            f"tracestack: {what} (first run only, 4 to 9 minutes on 2 cores) (log: {built}/build.log)",
            f"tracestack: still {what}*: *s so far (log: {built}/build.log)",
            f"tracestack: {what}*: done after *s",
            "tracestack: profile lone-collector up on the local runtime in *s; components used:",
            f"  otelcol 0.129.0 (otelcol --version said 'otelcol-tracestack version 0.129.0'; "
            f"{built}/otelcol-tracestack; "
            "real: built with OCB)",
        ]
    )


# Two xdist workers find no collector at the same moment. Each notes its arrival before looking for one, and the
# stand-in build (FAKE_BUILD's, counted) waits until both have arrived, then a second more, so the other worker is
# at the install lock (or, without one, in a build of its own) before the first build ends.
TWO_WORKERS_AT_ONCE = """
_find, _build = finder.BinaryProvider.find, go_command.run_build

def find(self, kind):
    (Path(os.environ["ARRIVALS"]) / str(os.getpid())).touch()
    return _find(self, kind)

def counted_build(argv, log, cwd, env=None):
    with Path(os.environ["BUILDS"]).open("a") as builds:
        builds.write(f"build by pid {os.getpid()}\\n")
    deadline = time.monotonic() + 60
    while len(list(Path(os.environ["ARRIVALS"]).iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    _build(argv, log, cwd, env)

finder.BinaryProvider.find = find
go_command.run_build = counted_build
"""


def test_two_xdist_workers_that_need_the_collector_build_it_once_the_second_says_it_waits(
    pytester: pytest.Pytester, otelcol_binary: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stand_ins = _go_that_does_not_build(tmp_path)
    (tmp_path / "arrivals").mkdir()
    for name, value in [
        ("PATH", f"{stand_ins}:/usr/bin:/bin"),
        ("TRACESTACK_CACHE_DIR", str(tmp_path / "cache")),
        ("BUILT_COLLECTOR", str(otelcol_binary)),
        ("TRACESTACK_SCENARIOS", str(SCENARIOS)),
        ("ARRIVALS", str(tmp_path / "arrivals")),
        ("BUILDS", str(tmp_path / "builds.txt")),
    ]:
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TRACESTACK_OTELCOL", raising=False)
    pytester.makeconftest(
        FAKE_BUILD.replace("import go_command, ocb, progress", "import finder, go_command, ocb, progress")
        + TWO_WORKERS_AT_ONCE
    )
    pytester.makepyfile(test_up=STACK_UP + STACK_UP.replace("def test_up(", "def test_up_too("))
    result = pytester.runpytest_subprocess(
        "-n", "2", "--tracestack-profile=lone-collector", "--tracestack-no-download", "test_up.py", "-k", "test_up"
    )
    result.assert_outcomes(passed=2)
    builds = (tmp_path / "builds.txt").read_text().splitlines()
    assert len(builds) == 1, builds
    built = tmp_path / "cache" / "bin" / "otelcol-0.129.0"
    builder = builds[0].removeprefix("build by ")
    result.stderr.fnmatch_lines(
        [
            f"tracestack: waiting for another tracestack process ({builder}) building otelcol 0.129.0 into "
            f"{built}/otelcol-tracestack with OCB (log: {built}/build.log)",
            f"tracestack: waiting for another tracestack process ({builder}) *: done after *s",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"  otelcol 0.129.0 (*; {built}/otelcol-tracestack; real: built with OCB)",
            f"  otelcol 0.129.0 (*; {built}/otelcol-tracestack; real: tracestack cache (installed "
            "by another tracestack process meanwhile))",
        ],
        consecutive=False,
    )


def test_with_xdist_the_summary_and_report_add_up_every_workers_stack(
    pytester: pytest.Pytester, with_collector, tmp_path: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=collector",
        "-n",
        "2",
        "-k",
        "roundtrip or service_name",
        f"--tracestack-report={tmp_path}",
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "tracestack: 4 checks ran (4 passed, 0 failed, 0 skipped, 0 could not run) on profile collector, "
            "runtime local",
            "tracestack: components used*",
            "  capture-sink pytest-tracestack *",
            "  otelcol 0.129.0 (otelcol --version said 'otelcol-* version 0.129.0'; *",
        ]
    )
    report = json.loads((tmp_path / "tracestack-report.json").read_text())
    assert sorted(check["outcome"] for check in report["checks"]) == ["passed"] * 4
    assert {component["kind"] for component in report["components"]} == {"capture-sink", "otelcol"}
    assert tracestack_processes() == []
