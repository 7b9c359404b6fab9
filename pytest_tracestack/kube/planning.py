"""The install steps as the plan a user reads (``--tracestack-plan``): ordered, full commands, secrets masked."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from ..redaction import redact
from ..runtimes.base import PlanStep
from .install import KubeStep

WORKDIR_PLACEHOLDER = "$WORKDIR"   # the run's own temporary directory, made when it starts


def clean_text(text: str, workdir: Path) -> str:
    """The run's temporary directory as $WORKDIR, secrets masked."""
    return redact(text.replace(str(workdir), WORKDIR_PLACEHOLDER))


def to_plan_steps(steps: Sequence[KubeStep], workdir: Path) -> list[PlanStep]:
    return [PlanStep(step.action, clean_text(step.description + (f" ({step.when})" if step.when else ""), workdir),
                     tuple(clean_text(arg, workdir) for arg in step.argv)) for step in steps]


def render_plan(steps: Sequence[PlanStep], title: str = "") -> str:
    """Numbered steps, each with its command on the next line."""
    width = len(str(len(steps)))
    lines = [title] if title else []
    for number, step in enumerate(steps, 1):
        lines.append(f"{number:>{width}}. {step.action:<12} {step.description}")
        if step.command:
            lines.append(f"{'':>{width}}  {'':<12} $ {_join(step.command)}")
    return "\n".join(lines)


def _join(argv: Sequence[str]) -> str:
    # Quote only what a shell would split, so $WORKDIR and <free port> stay readable.
    return " ".join(shlex.quote(arg) if any(ch.isspace() for ch in arg) or not arg else arg for arg in argv)
