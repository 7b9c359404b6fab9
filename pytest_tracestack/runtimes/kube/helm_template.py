"""`helm template`, the one way tracestack renders a chart: through the command layer (commands.py), with the helm
the tool finder chose. The kube runtimes validate what it renders and read the images from it before installing;
the local runtime takes Tempo's config from it (helm_render.py)."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_tracestack.runtimes.kube.commands import CompletedCommand, Run

TEMPLATE_TIMEOUT_S = 300.0  # includes fetching the chart from its repository


def helm_template(run: Run, helm: Sequence[str], release: str, arguments: Sequence[str]) -> CompletedCommand:
    """``helm`` is the program (the finder's path, or the name the runtime resolves to it) with the caller's own
    flags (its repository config); ``arguments`` name the chart, its values and the rest."""
    return run((*helm, "template", release, *arguments), TEMPLATE_TIMEOUT_S)
