"""What a kube run knows before it creates anything, the same for ``--tracestack-plan`` and a real start:
the raw manifests as they will be applied, each chart as `helm template` renders it (through the command
layer, with the helm the tool finder chose), every object validated against the Kubernetes version the
cluster runs, the profile's Tempo version checked against the images, and every image the install uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.kubernetes_section import kubernetes_section
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.charts import RenderedChart, chart_source
from pytest_tracestack.runtimes.kube.commands import CompletedCommand, Run
from pytest_tracestack.runtimes.kube.helm_template import helm_template
from pytest_tracestack.runtimes.kube.images import ImagePlan, ImageUse, Rendered, check_tempo_version, images_used
from pytest_tracestack.runtimes.kube.install import ClusterAccess, chart_arguments
from pytest_tracestack.runtimes.kube.manifests import RenderedManifest, render_manifests
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from pytest_tracestack.runtimes.kube.validate import validate_profile


class ChartRenderFailed(TracestackError):
    """`helm template` refused a chart (schema, values, unreachable repository): nothing can be installed."""


@dataclass(frozen=True)
class Prepared:
    k8s_version: str
    k8s_version_origin: str  # where the version comes from, for the plan
    manifests: list[RenderedManifest]
    charts: list[RenderedChart]
    checked: list[str]  # one line per file or chart validated
    images: ImagePlan


def prepare(
    profile: Profile, settings: KubeSettings, access: ClusterAccess, workdir: Path, version: tuple[str, str], run: Run
) -> Prepared:
    """``version`` is (Kubernetes version, where it comes from); ``run`` is the runtime's command layer."""
    section = kubernetes_section(profile)
    manifests = render_manifests(profile, workdir)
    charts = [render_chart(chart, settings, access, version[0], run) for chart in section.get("charts", [])]
    checked = validate_profile(profile, version[0], manifests, charts)
    # In install order: the charts, then the raw manifests.
    found = images_used(
        [*(Rendered(c.label, c.documents) for c in charts), *(Rendered(m.label, m.documents) for m in manifests)]
    )
    check_tempo_version(profile, found.uses)
    extra = tuple(ImageUse(image, "the profile's kubernetes.images") for image in section.get("images", []))
    return Prepared(version[0], version[1], manifests, charts, checked, ImagePlan(found.uses + extra, found.unknown))


def _offline_hint(chart: dict[str, Any], settings: KubeSettings, done: CompletedCommand) -> str:
    """A chart repository out of reach (an air-gapped CI): how to take the chart from a directory instead."""
    if settings.charts is not None or "cannot be reached" not in done.describe():
        return ""
    return (
        f"\nWithout access to {chart['repo']}: fetch the chart once where it is reachable (`helm pull "
        f"{chart['chart']} --repo {chart['repo']} --version {chart['version']} -d charts/`) and pass "
        "--tracestack-charts=charts/ (TRACESTACK_CHARTS; `tracestack images --charts`)"
    )


def render_chart(
    chart: dict[str, Any], settings: KubeSettings, access: ClusterAccess, version: str, run: Run
) -> RenderedChart:
    """The chart's objects, rendered with the install's values and --set flags for ``version``."""
    label = f"helm template {chart['chart']} {chart['version']}"
    origin = chart_source(chart, settings.charts).origin
    done = helm_template(
        run,
        access.helm_offline,
        chart["release"],
        (*chart_arguments(chart, settings), "--namespace", access.namespace, "--kube-version", version, "--skip-tests"),
    )
    if not done.ok:
        raise ChartRenderFailed(
            f"chart {chart['chart']} {chart['version']} from {origin} cannot be rendered, so it "
            f"cannot be installed; helm said:\n{done.describe()}" + _offline_hint(chart, settings, done)
        )
    try:
        documents = tuple(document for document in yaml.safe_load_all(done.stdout) if document)
    except yaml.YAMLError as error:
        raise ChartRenderFailed(f"{label}: helm's output is not YAML: {error}") from None
    return RenderedChart(label, origin, documents, chart["chart"])
