"""The install steps as the plan a user reads (``--tracestack-plan``): ordered, full commands, secrets masked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.runtimes.base import PlanStep
from pytest_tracestack.runtimes.kube.install import KubeStep

WORKDIR_PLACEHOLDER = "$WORKDIR"  # the run's own temporary directory, made when it starts


def clean_text(text: str, workdir: Path) -> str:
    """The run's temporary directory as $WORKDIR, secrets masked."""
    return redact(text.replace(str(workdir), WORKDIR_PLACEHOLDER))


def to_plan_steps(steps: Sequence[KubeStep], workdir: Path) -> list[PlanStep]:
    return [
        PlanStep(
            step.action,
            clean_text(step.description + (f" ({step.when})" if step.when else ""), workdir),
            tuple(clean_text(arg, workdir) for arg in step.argv),
        )
        for step in steps
    ]
