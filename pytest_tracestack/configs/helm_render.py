"""Tempo's config as the real chart renders it: ``helm template`` of the user's values with the pinned chart,
and the ``tempo.yaml`` of the object the chart writes it into.

The tempo-distributed chart (2.26.x, templates/configmap-tempo.yaml) writes Tempo's config under the data key
``tempo.yaml`` of a ConfigMap named ``<fullname>-config`` (a Secret, base64, with ``configStorageType:
Secret``), and the per-tenant runtime overrides under ``overrides.yaml`` of ``<fullname>-runtime``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.kube.commands import CommandRunner, CompletedCommand, SubprocessRunner
from pytest_tracestack.runtimes.kube.helm_template import helm_template

CONFIG_KEY = "tempo.yaml"


class HelmRenderError(TracestackError):
    """helm could not render the chart, or the chart wrote no Tempo config."""


@dataclass(frozen=True)
class HelmRendering:
    """How to render a chart for real: the helm the tool finder chose, where a profile's chart entry is found, and
    the command layer helm runs through (kube/commands.py, as for the kube runtimes)."""

    helm: str
    locate: Callable[[dict[str, Any]], tuple[str, ...]]  # kubernetes.charts entry -> helm's chart arguments
    runner: CommandRunner = field(default_factory=SubprocessRunner, compare=False)
    _rendered: dict[tuple[Any, ...], CompletedCommand] = field(default_factory=dict, compare=False, repr=False)

    def describe(self, chart: dict[str, Any]) -> str:
        return redact(f"helm template of chart {chart['chart']} {chart['version']} ({' '.join(self.locate(chart))})")

    def template(self, release: str, arguments: tuple[str, ...], stamps: tuple[int, ...]) -> CompletedCommand:
        """One rendering per chart and values: every replica of a stack shares it, failures included (a chart out
        of reach is not asked for again per replica); a changed values file (``stamps``) renders anew."""
        key = (release, arguments, stamps)
        if key not in self._rendered:
            self._rendered[key] = helm_template(
                lambda argv, timeout: self.runner.run(list(argv), timeout), (self.helm,), release, arguments
            )
        return self._rendered[key]


def chart_tempo_config(rendering: HelmRendering, chart: dict[str, Any], values_files: list[Path]) -> dict[str, Any]:
    """Tempo's config as ``helm template`` renders it from the values files, in their order."""
    arguments = (*rendering.locate(chart), *(arg for path in values_files for arg in ("-f", str(path))))
    done = rendering.template(chart["release"], arguments, tuple(path.stat().st_mtime_ns for path in values_files))
    command = redact(" ".join(done.argv))  # a chart mirror's URL may carry a password
    if not done.ok:
        raise HelmRenderError(f"`{command}` failed: {redact(done.stderr.strip()[:500])}")
    return tempo_config_from_manifests(done.stdout, command)


def tempo_config_from_manifests(text: str, command: str) -> dict[str, Any]:
    """The parsed ``tempo.yaml`` of the rendered ConfigMap or Secret that carries it."""
    for document in yaml.safe_load_all(text):
        data = (document or {}).get("data") or {}
        if CONFIG_KEY not in data or document.get("kind") not in ("ConfigMap", "Secret"):
            continue
        raw = data[CONFIG_KEY]
        if document["kind"] == "Secret":
            raw = base64.b64decode(raw).decode()
        config = yaml.safe_load(raw)
        if not isinstance(config, dict):
            raise HelmRenderError(
                f"{command}: {document['kind']}/{document['metadata']['name']} has a {CONFIG_KEY} that is not a mapping"
            )
        return config
    raise HelmRenderError(
        f"{command}: no ConfigMap or Secret with a {CONFIG_KEY} key was rendered (with "
        "useExternalConfig: true the chart leaves Tempo's config to you: the local runtime cannot "
        "find it)"
    )
