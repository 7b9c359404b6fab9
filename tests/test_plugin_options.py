"""The plugin's options, header and usage errors, driven through pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_help_lists_the_tracestack_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*tracing topologies (pytest-tracestack)*",
            "*--tracestack-profile=NAME*",
            "*--tracestack-runtime={auto,local,kind,cluster}*",
            "*--tracestack-keep*",
            "*--tracestack-report=DIR*",
        ]
    )


def test_unknown_profile_is_a_usage_error_listing_the_valid_ones(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--tracestack-profile=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--tracestack-profile: nope: no such profile; "
            "valid profiles: collector, distributed, distributed-s3, jaeger, manifest, manifest-s3, metrics-generator, "
            "nginx-otel, operator*"
        ]
    )


def test_unknown_runtime_is_a_usage_error_listing_the_choices(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--tracestack-profile=collector", "--tracestack-runtime=docker")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'docker' (choose from *auto*local*kind*cluster*"])


def test_unknown_runtime_from_the_environment_names_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACESTACK_RUNTIME", "docker")
    result = pytester.runpytest("--tracestack-profile=collector")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*env TRACESTACK_RUNTIME: 'docker' is not a valid value; choose from auto, local, kind, cluster*"]
    )


def test_profile_that_cannot_run_on_the_runtime_says_where_it_runs(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--tracestack-profile=collector", "--tracestack-runtime=kind")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*profile 'collector'*runs on local, cluster, not on runtime 'kind'*; pass --tracestack-runtime=local"]
    )


@pytest.mark.parametrize(
    ("args", "env", "ini", "expected"),
    [
        (["--tracestack-profile=collector"], "manifest", "distributed", "profile collector (from command line;*"),
        ([], "collector", "distributed", "profile collector (from env TRACESTACK_PROFILE;*"),
        ([], None, "collector", "profile collector (from ini tracestack_profile;*"),
    ],
)
def test_header_says_where_each_setting_came_from(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args, env, ini, expected
) -> None:
    pytester.makeini(f"[pytest]\ntracestack_profile = {ini}\n")
    if env:
        monkeypatch.setenv("TRACESTACK_PROFILE", env)
    else:
        monkeypatch.delenv("TRACESTACK_PROFILE", raising=False)
    result = pytester.runpytest(*args, "--collect-only")
    result.stdout.fnmatch_lines([f"tracestack: {expected}", "tracestack: runtime local (auto:*"])


def test_without_a_profile_the_header_says_so_and_nothing_is_added(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["tracestack: no profile selected (--tracestack-profile=NAME)", "*1 passed*"])


def test_plan_prints_the_local_steps_even_under_quiet(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--tracestack-profile=distributed", "--tracestack-runtime=local", "--tracestack-plan", "-q"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "tracestack plan: profile distributed on runtime local*",
            "*start    1 x distributor (tempo -target=distributor)*",
            "*start    3 x ingester (tempo -target=ingester)*",
        ]
    )


def test_the_local_plan_ends_with_the_stop(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--tracestack-profile=collector", "--tracestack-runtime=local", "--tracestack-plan")
    result.stdout.fnmatch_lines(
        [
            "*. wait     readiness of every replica*",
            "*. stop     at the end (also after a failure or Ctrl-C; not with --tracestack-keep)*",
        ]
    )


def test_each_run_registers_its_own_session_plugin(pytester: pytest.Pytester) -> None:
    """A run's state is a plugin registered on its own config, found by name (as pytest-xdist's is): runs in one
    process, as here, each see their own."""
    pytester.makepyfile(
        test_mine="""
        def test_found(pytestconfig):
            plugin = pytestconfig.pluginmanager.get_plugin("tracestack-session")
            assert plugin.session.profile.name == pytestconfig.getoption("tracestack_profile")
    """
    )
    for profile in ("collector", "manifest"):
        result = pytester.runpytest(
            f"--tracestack-profile={profile}", "--tracestack-runtime=local", "test_mine.py", "-k", "test_found"
        )
        result.assert_outcomes(passed=1, deselected=None)
