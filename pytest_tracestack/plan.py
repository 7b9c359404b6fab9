"""``--tracestack-plan``: print what the runtime would do, validate what it would apply, run nothing."""

from __future__ import annotations

import pytest

from .errors import TracestackError
from .runtime_choice import choose_runtime
from .settings import read_setting


def print_plan(config: pytest.Config) -> int:
    from .plugin import resolve_profile
    from .session import make_runtime

    name = read_setting(config, "profile").value
    if not name:
        raise pytest.UsageError("--tracestack-plan needs a profile: pass --tracestack-profile=NAME")
    profile = resolve_profile(config, name)
    choice = choose_runtime(read_setting(config, "runtime"), profile)
    runtime = make_runtime(choice.name, config)
    steps = runtime.plan(profile)
    # print(), not the terminal reporter: the plan is the output, shown under -q as well.
    print(f"tracestack plan: profile {profile.name} on runtime {choice.name} ({choice.reason})")
    for number, step in enumerate(steps, 1):
        print(f"{number:>3}. {step.render()}")
    return _validate(profile, choice.name, config)


def _validate(profile, runtime: str, config: pytest.Config) -> int:
    if runtime == "local":
        return 0
    from .kube.validate import validate_profile

    version = read_setting(config, "k8s-version").value
    try:
        results = validate_profile(profile, version)
    except TracestackError as error:
        print(f"tracestack plan: validation failed:\n{error}")
        return 1
    for line in results:
        print(f"validated: {line}")
    return 0
