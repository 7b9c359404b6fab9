"""The Tempo config a component configured by Helm values runs on the local runtime, and the lines that say
how it was made (the rendered config's header, the pytest header and the report carry them).

With helm on PATH and the profile's pinned chart reachable, it is the chart's own rendering (``helm
template``); otherwise tracestack's translation of the values, which refuses what it cannot translate.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from pytest_tracestack.binaries.kube_tools import find_tool
from pytest_tracestack.configs.helm_render import HelmRenderError, HelmRendering, chart_tempo_config
from pytest_tracestack.configs.redaction import redact
from pytest_tracestack.configs.tempo_values import CHART, CHART_SERIES, merge_values, translate_values
from pytest_tracestack.errors import ProfileError, TracestackError, UnavailableError, first_line
from pytest_tracestack.profiles.file_paths import describe, manifest_file
from pytest_tracestack.profiles.profile import Component, Profile
from pytest_tracestack.runtimes.kube.charts import chart_source


def helm_rendering(charts: str | None = None) -> HelmRendering | None:
    """helm as the kube runtimes find it (TRACESTACK_HELM, PATH, tracestack's cache; never downloaded for this),
    and the chart where they take it: ``--tracestack-charts`` (a directory or mirror), else its repository."""
    try:
        helm = find_tool("helm", allow_download=False)
    except UnavailableError:
        return None
    return _shared_rendering(str(helm.path), charts)


@functools.lru_cache(maxsize=8)
def _shared_rendering(helm: str, charts: str | None) -> HelmRendering:
    """One per helm and chart location, so the header, the report and the local start share its renderings."""
    return HelmRendering(helm, lambda chart: chart_source(chart, charts).reference)


def tempo_config_for(component: Component, rendering: HelmRendering | None) -> tuple[dict[str, Any], list[str]]:
    """The Tempo config of a HelmValues component and the notes its header carries."""
    files = values_files(component)
    notes = [f"values: {', '.join(describe(f) for f in files)}"]
    if component.chart:
        notes.append(
            f"chart {component.chart['chart']} {component.chart['version']} (the version the kind and "
            "cluster runtimes install)"
        )
    failure = ""
    if rendering is not None and component.chart:
        try:
            config = chart_tempo_config(rendering, component.chart, [manifest_file(f) for f in files])
        except HelmRenderError as error:
            failure = first_line(error)
            notes.append(
                f"{rendering.describe(component.chart)} failed, so tracestack translated the values "
                f"instead: {first_line(error)}"
            )
        else:
            return config, [
                *notes,
                f"Tempo config: {rendering.describe(component.chart)}, the chart's own "
                "rendering; only the local overrides and defaults below differ",
            ]
    elif component.chart:
        notes.append(
            "helm was not found (TRACESTACK_HELM, PATH, tracestack's cache), so tracestack translated the "
            "values; with helm 3.18.5+ and the chart reachable (its repository, or --tracestack-charts=DIR) "
            "Tempo's config is the chart's own rendering"
        )
    if component.chart and component.chart["chart"] != CHART:
        raise _only_helm_renders(component.chart, files, failure)
    values = merge_values([read_values(f) for f in files])
    translation = translate_values(values, ", ".join(describe(f) for f in files))
    notes.append(
        f"Tempo config: translated by tracestack from the values as the {CHART} chart ({CHART_SERIES}) "
        "maps them; keys the values do not set keep Tempo's defaults (except the chart's replication "
        "factor 3 and storage paths)"
    )
    notes += [f"not applied locally: {key}" for key in translation.not_applied]
    return translation.config, notes


def _only_helm_renders(chart: dict[str, Any], files: list[str], failure: str) -> ProfileError:
    """Values of another chart than tempo-distributed: tracestack has no translation of them to fall back on."""
    why = f"helm failed: {failure}" if failure else "helm was not found (TRACESTACK_HELM, PATH, tracestack's cache)"
    return ProfileError(
        ", ".join(describe(f) for f in files),
        "",
        f"values of chart {chart['chart']} {chart['version']}: the local runtime takes Tempo's config "
        f"for them from `helm template` only (tracestack translates {CHART} values alone), and {why}. "
        "Put helm 3.18.5+ on PATH (or TRACESTACK_HELM) and make the chart reachable: its repository, "
        f"or --tracestack-charts=DIR after `helm pull {chart['chart']} --repo "
        f"{chart.get('repo', 'REPO')} --version {chart['version']} -d DIR`",
    )


def values_files(component: Component) -> list[str]:
    """The values files in the order helm gets them: the chart's list, or the component's own file."""
    assert component.config is not None
    return list(component.chart.get("values") or [component.config.manifest])


def pin_lines(profile: Profile) -> list[str]:
    """What the profile pins and where each pin comes from, for the headers and the report."""
    lines = []
    for chart in profile.kubernetes.get("charts") or []:
        source = "profile chart_version" if profile.chart_version else "profile kubernetes.charts"
        lines.append(f"pinned: chart {chart['chart']} {chart['version']} ({source})")
    if profile.tempo_version:
        lines.append(
            f"pinned: Tempo {profile.tempo_version} (profile tempo_version; the local Tempo binary's major "
            "version must match)"
        )
    if profile.tempo_image:
        lines.append(
            f"pinned: image {profile.tempo_image} (profile tempo_image, as the values deploy it; kind and "
            "cluster only: the local runtime runs the Tempo binary)"
        )
    return lines


def helm_values_components(profile: Profile) -> list[Component]:
    """The components whose config is Helm values: the only ones helm renders on the local runtime."""
    return [
        component
        for component in profile.components.values()
        if component.config and component.config.kind == "HelmValues"
    ]


def helm_for(profile: Profile, charts: str | None) -> HelmRendering | None:
    """helm for the profile's Helm values, looked up only when it has some (a look-up runs `helm version`)."""
    return helm_rendering(charts) if helm_values_components(profile) else None


def rendering_lines(profile: Profile, rendering: HelmRendering | None = None) -> list[str]:
    """For the pytest header and the report: how each values file becomes Tempo's config on the local runtime."""
    lines, seen = [], set()
    for component in helm_values_components(profile):
        files = tuple(values_files(component))
        if files in seen:
            continue
        seen.add(files)
        try:
            _config, notes = tempo_config_for(component, rendering)
        except TracestackError as error:  # the local run refuses it with this message; the header only reports
            notes = [redact(first_line(error))]
        lines += notes
    return lines


def read_values(reference: str) -> dict[str, Any]:
    file = manifest_file(reference)
    try:
        values = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ProfileError(describe(reference), "", f"cannot be read as Helm values: {error}") from None
    if not isinstance(values, dict):
        raise ProfileError(describe(reference), "", f"Helm values must be a mapping, not {type(values).__name__}")
    return values
