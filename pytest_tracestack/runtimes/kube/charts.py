"""Where each pinned chart comes from: the repository the profile names, or ``--tracestack-charts`` (a local
directory of charts as `helm pull` leaves them, or a chart repository mirror). The same reference is given to
`helm template` (validation) and `helm upgrade --install`, so what is validated is what is installed."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.errors import TracestackError

OPTION = "--tracestack-charts"


class ChartNotFound(TracestackError):
    """The chart the profile pins is not where --tracestack-charts points, or is another version there."""


@dataclass(frozen=True)
class ChartSource:
    reference: tuple[str, ...]  # the chart as helm is given it, with --repo/--version where they apply
    origin: str  # where it comes from, for the plan

    def describe(self, chart: dict[str, Any]) -> str:
        return f"chart {chart['chart']} {chart['version']} from {self.origin}"


@dataclass(frozen=True)
class RenderedChart:
    """A chart's objects as `helm template` rendered them for the install."""

    label: str  # "helm template <chart> <version>"
    origin: str  # where the chart came from
    documents: tuple[dict[str, Any], ...]
    chart: str = ""  # the chart's name


def chart_source(chart: dict[str, Any], charts: str | None) -> ChartSource:
    name, version = chart["chart"], chart["version"]
    if charts is None:
        return _remote(name, version, chart["repo"], "its repository (the profile's kubernetes.charts)")
    if charts.startswith(("http://", "https://", "oci://")):
        return _remote(name, version, charts, f"the mirror ({OPTION})")
    path = _local(name, version, Path(charts).expanduser().absolute())
    return ChartSource((str(path),), f"{path} ({OPTION})")


def _remote(name: str, version: str, repo: str, why: str) -> ChartSource:
    if repo.startswith("oci://"):
        reference = f"{repo.rstrip('/')}/{name}"
        return ChartSource((reference, "--version", version), f"{reference}, {why}")
    return ChartSource((name, "--repo", repo, "--version", version), f"{repo}, {why}")


def _local(name: str, version: str, directory: Path) -> Path:
    """``NAME-VERSION.tgz`` (`helm pull`) or ``NAME/`` (`helm pull --untar`), of the pinned version."""
    if not directory.is_dir():
        raise ChartNotFound(f"{OPTION}={directory}: not a directory (give a directory of charts or a mirror URL)")
    archive = directory / f"{name}-{version}.tgz"
    unpacked = directory / name / "Chart.yaml"
    if archive.is_file():
        _check_version(_archived_chart_yaml(archive, name), archive, name, version)
        return archive
    if unpacked.is_file():
        _check_version(_read_yaml(unpacked.read_text(), unpacked), unpacked, name, version)
        return unpacked.parent
    raise ChartNotFound(
        f"{OPTION}={directory}: has neither {archive.name} nor {name}/Chart.yaml for chart {name} "
        f"{version}; put it there with `helm pull {name} --repo REPO --version {version} "
        f"-d {directory}`"
    )


def _archived_chart_yaml(archive: Path, name: str) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as packed:
            member = packed.extractfile(f"{name}/Chart.yaml")
            text = member.read().decode() if member else ""
    except (tarfile.TarError, KeyError, OSError) as error:
        raise ChartNotFound(f"{archive}: not a chart archive with {name}/Chart.yaml ({error})") from None
    return _read_yaml(text, archive)


def _read_yaml(text: str, where: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChartNotFound(f"{where}: Chart.yaml is not valid YAML: {error}") from None
    return data if isinstance(data, dict) else {}


def _check_version(chart_yaml: dict[str, Any], where: Path, name: str, version: str) -> None:
    found = (chart_yaml.get("name"), str(chart_yaml.get("version")))
    if found != (name, version):
        raise ChartNotFound(f"{where}: holds chart {found[0]} {found[1]}, but the profile pins {name} {version}")
