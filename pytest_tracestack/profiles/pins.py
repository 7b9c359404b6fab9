"""The versions a profile pins: the chart that installs its Helm values (``chart_version``), the Tempo it is
written for (``tempo_version``, checked against the local binary) and the Tempo image the values deploy
(``tempo_image``, which the values must name: what is pinned is what is deployed, and kind loads it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.configs.dotted import dotted_get
from pytest_tracestack.configs.image_names import image_name
from pytest_tracestack.configs.tempo_values import merge_values
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.file_paths import describe, manifest_file


def apply_pins(file: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The profile document with ``chart_version`` set on its chart and ``tempo_image`` among its images."""
    if "chart_version" not in data and "tempo_image" not in data:
        return data
    charts = (data.get("kubernetes") or {}).get("charts") or []
    chart = _values_chart(data, charts)
    if chart is None:
        key = "chart_version" if "chart_version" in data else "tempo_image"
        raise ProfileError(str(file), key, "the profile installs no chart with the Helm values of a component")
    if "chart_version" in data:
        chart["version"] = data["chart_version"]
    if "tempo_image" in data:
        _check_image(file, data["tempo_image"], chart)
        images = data["kubernetes"].setdefault("images", [])
        repository = image_name(data["tempo_image"]).repository
        images[:] = [image for image in images if image_name(image).repository != repository] + [data["tempo_image"]]
    return data


def _values_chart(data: dict[str, Any], charts: list[Any]) -> dict[str, Any] | None:
    used = {
        spec["config"]["manifest"]
        for spec in (data.get("components") or {}).values()
        if isinstance(spec, dict) and (spec.get("config") or {}).get("kind") == "HelmValues"
    }
    return next((c for c in charts if isinstance(c, dict) and used & set(c.get("values") or [])), None)


def _check_image(file: Path, image: str, chart: dict[str, Any]) -> None:
    """The values must deploy the pinned image: the chart's tempo.image.{registry,repository,tag}."""
    documents = [
        yaml.safe_load(manifest_file(reference).read_text()) if manifest_file(reference).is_file() else {}
        for reference in chart.get("values") or []
    ]
    values = merge_values([document for document in documents if isinstance(document, dict)])
    where = ", ".join(describe(reference) for reference in chart.get("values") or [])
    tag = dotted_get(values, "tempo.image.tag")
    registry = dotted_get(values, "tempo.image.registry") or ""
    deployed = f"{registry + '/' if registry else ''}{dotted_get(values, 'tempo.image.repository') or 'grafana/tempo'}"
    if tag is None:
        raise ProfileError(
            str(file),
            "tempo_image",
            f"pins {image}, but {where} leaves tempo.image.tag to the chart's default; "
            "set tempo.image.tag there so what is pinned is deployed",
        )
    if image_name(f"{deployed}:{tag}") != image_name(image):
        raise ProfileError(
            str(file),
            "tempo_image",
            f"pins {image}, but {where} deploys {deployed}:{tag} (tempo.image.*); make them agree",
        )
