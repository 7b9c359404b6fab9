"""Tempo's config as the real chart renders it: ``helm template`` of the user's values with the pinned chart,
and the ``tempo.yaml`` of the object the chart writes it into.

The tempo-distributed chart (2.26.x, templates/configmap-tempo.yaml) writes Tempo's config under the data key
``tempo.yaml`` of a ConfigMap named ``<fullname>-config`` (a Secret, base64, with ``configStorageType:
Secret``), and the per-tenant runtime overrides under ``overrides.yaml`` of ``<fullname>-runtime``.
"""

from __future__ import annotations

import base64
import functools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import TracestackError

CONFIG_KEY = "tempo.yaml"
HELM_TIMEOUT_S = 300.0


class HelmRenderError(TracestackError):
    """helm could not render the chart, or the chart wrote no Tempo config."""


@dataclass(frozen=True)
class HelmRendering:
    """How to render a chart for real: the helm binary, and where a profile's chart entry is found."""

    helm: str
    locate: Callable[[dict[str, Any]], tuple[str, ...]]   # kubernetes.charts entry -> helm's chart arguments

    def describe(self, chart: dict[str, Any]) -> str:
        return f"helm template of chart {chart['chart']} {chart['version']} ({' '.join(self.locate(chart))})"


def chart_tempo_config(rendering: HelmRendering, chart: dict[str, Any], values_files: list[Path]) -> dict[str, Any]:
    """Tempo's config as ``helm template`` renders it from the values files, in their order."""
    argv = (rendering.helm, "template", chart["release"], *rendering.locate(chart),
            *(arg for path in values_files for arg in ("-f", str(path))))
    stamps = tuple(path.stat().st_mtime_ns for path in values_files)
    output, problem = _helm_template(argv, stamps)
    if problem:
        raise HelmRenderError(problem)
    return tempo_config_from_manifests(output, " ".join(argv))


@functools.lru_cache(maxsize=16)
def _helm_template(argv: tuple[str, ...], _stamps: tuple[int, ...]) -> tuple[str, str]:
    """(output, problem) of one rendering per chart and values: every replica of a stack shares it, failures
    included (a chart out of reach is not asked for again per replica); a changed values file renders anew."""
    command = " ".join(argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=HELM_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "", f"`{command}` gave no answer within {HELM_TIMEOUT_S:.0f}s"
    except OSError as error:
        return "", f"`{command}` could not run: {error.strerror}"
    if done.returncode != 0:
        return "", f"`{command}` failed: {done.stderr.strip()[:500]}"
    return done.stdout, ""


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
            raise HelmRenderError(f"{command}: {document['kind']}/{document['metadata']['name']} has a {CONFIG_KEY} "
                                  "that is not a mapping")
        return config
    raise HelmRenderError(f"{command}: no ConfigMap or Secret with a {CONFIG_KEY} key was rendered (with "
                          "useExternalConfig: true the chart leaves Tempo's config to you: the local runtime cannot "
                          "find it)")
