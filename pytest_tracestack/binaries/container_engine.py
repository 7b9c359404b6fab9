"""Which container engine answers, docker's or podman's `info` in that order: kind needs one, and
``--tracestack-runtime=auto`` picks kind when one does."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from pytest_tracestack.errors import UnavailableError

ENGINES = ("docker", "podman")


@dataclass(frozen=True)
class EngineCheck:
    engine: str | None  # the first engine whose `info` answered
    answers: tuple[str, ...]  # why each engine tried before it did not answer


def check_container_engines(timeout_s: float) -> EngineCheck:
    answers: list[str] = []
    for engine in ENGINES:
        problem = _info_problem(engine, timeout_s)
        if not problem:
            return EngineCheck(engine, tuple(answers))
        answers.append(problem)
    return EngineCheck(None, tuple(answers))


def require_container_engine(timeout_s: float = 15.0) -> str:
    """The first engine that answers; otherwise UnavailableError saying what each said."""
    check = check_container_engines(timeout_s)
    if check.engine is not None:
        return check.engine
    raise UnavailableError(
        "the kind runtime needs a running container engine, and none answered:\n"
        + "\n".join(f"  - {answer}" for answer in check.answers)
        + "\nStart Docker (or Podman), or run with --tracestack-runtime=local, or "
        "--tracestack-runtime=cluster against an existing cluster."
    )


def _info_problem(engine: str, timeout_s: float) -> str:
    """Why ``<engine> info`` did not answer, or "" when it did."""
    if shutil.which(engine) is None:
        return f"{engine}: not on PATH"
    try:
        done = subprocess.run(
            [engine, "info"], capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return f"`{engine} info`: no answer within {timeout_s:.0f}s"
    except OSError as error:
        return f"`{engine} info`: {error}"
    if done.returncode == 0:
        return ""
    reason = next((line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()), "")
    return f"`{engine} info` exited {done.returncode}: {reason[:300]}"
