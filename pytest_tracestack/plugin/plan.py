"""``--tracestack-plan``: print what the runtime would do, validate what it would apply, run nothing."""

from __future__ import annotations

import pytest

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.plugin.options import read_setting
from pytest_tracestack.plugin.runtime_choice import choose_runtime
from pytest_tracestack.plugin.selection import make_runtime, resolve_profile


def print_plan(config: pytest.Config) -> int:
    name = read_setting(config, "profile").value
    if not name:
        raise pytest.UsageError("--tracestack-plan needs a profile: pass --tracestack-profile=NAME")
    profile = resolve_profile(config, name)
    choice = choose_runtime(read_setting(config, "runtime"), profile)
    runtime = make_runtime(choice.name, config)
    # print(), not the terminal reporter: the plan is the output, shown under -q as well.
    print(f"tracestack plan: profile {profile.name} on runtime {choice.name} ({choice.reason})")
    if choice.name == "local":
        _print_steps(runtime.plan(profile))
        return 0
    # The Kubernetes modules load for a kind/cluster plan only, not at every pytest start (~35 ms of CPU).
    from pytest_tracestack.runtimes.kube.engine import KubeRuntime
    from pytest_tracestack.runtimes.kube.images import iter_lines

    assert isinstance(runtime, KubeRuntime), f"runtime {choice.name} is a Kubernetes one"
    try:
        # Kube runtimes render the charts with the helm the tool finder picks and validate everything first.
        plan = runtime.plan_report(profile)
    except TracestackError as error:
        print(f"tracestack plan: validation failed:\n{redact(str(error))}")
        return 1
    for line in plan.notes:
        print(line)
    _print_steps(plan.steps)
    for line in plan.checked:
        print(f"validated: {line}")
    print(
        f"images the install uses ({len(plan.images.images)}; --tracestack-load-images=profile loads them into kind):"
    )
    for line in iter_lines(plan.images):
        print(f"  {line}")
    return 0


def _print_steps(steps) -> None:
    for number, step in enumerate(steps, 1):
        print(f"{number:>3}. {step.render()}")
