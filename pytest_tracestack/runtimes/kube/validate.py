"""Offline validation of everything the kube runtimes would apply: built-in kinds against the Kubernetes
schema of a chosen version (kubernetes-validate, strict), the operator's custom resources against
tracestack's schemas of their CRDs, the Helm values against what the profile checks (its receivers, its
storage), and the objects `helm template` rendered for each chart. Errors name the file, the object and the
field."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import VersionNotSupportedError, all_versions, major_minor

from pytest_tracestack.configs.dotted import dotted_get
from pytest_tracestack.configs.rendering import resolve_manifest
from pytest_tracestack.configs.tempo_values import RECEIVER_VALUES, merge_values
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.file_paths import describe
from pytest_tracestack.profiles.kubernetes_section import kubernetes_section
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.charts import RenderedChart
from pytest_tracestack.runtimes.kube.crds import custom_resource
from pytest_tracestack.runtimes.kube.manifests import RenderedManifest, object_name, render_manifests
from pytest_tracestack.runtimes.kube.metrics_values import check_metrics_values
from pytest_tracestack.versions import KUBERNETES, KUBERNETES_SEEDS, version_numbers

# API groups whose CRDs a chart installs itself (kube-prometheus-stack's crds subchart, which `helm template` leaves
# out): its custom resources reach the API server after their CRDs, and tracestack has no schema to check them offline.
CHART_OWN_CRD_GROUPS = {"kube-prometheus-stack": ("monitoring.coreos.com",)}


class ManifestInvalid(TracestackError):
    """An object would be refused by the API server (or the operator's CRD, or the collector)."""


def check_version(version: str) -> None:
    if not version_numbers(version):
        raise ManifestInvalid(f"Kubernetes version {version!r} is not like {KUBERNETES.version}")
    newest = max(version_numbers(major_minor(known)) for known in all_versions())
    if not replace(KUBERNETES_SEEDS, below=f"{newest[0]}.{newest[1] + 1}").admits(version):
        raise ManifestInvalid(
            f"Kubernetes {version} cannot be checked: the seeds need {KUBERNETES_SEEDS.minimum} or "
            f"later, and kubernetes-validate has schemas up to {newest[0]}.{newest[1]}; pick a "
            f"version such as {KUBERNETES.version} (--tracestack-k8s-version)"
        )


def validate_object(obj: dict[str, Any], version: str, where: str) -> str:
    """Validate one object; returns a line saying what it was checked against; raises ManifestInvalid
    naming ``where``, the object and the field."""
    name = object_name(obj)
    known = custom_resource(obj)
    if known:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(known.schema()).iter_errors(obj))
        if error is not None:
            raise ManifestInvalid(f"{where}: {name}: {_field(error.absolute_path)}: {error.message}")
        _check_pipelines(obj, where, name)
        return f"{name} ({known.crd} fields)"
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise ManifestInvalid(f"{where}: {name}: {_field(error.path)}: {error.message}") from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ManifestInvalid(
            f"{where}: {name}: Kubernetes {version} has no {obj.get('apiVersion')} "
            f"{obj.get('kind')}, and tracestack has no schema for it as a custom resource"
        ) from None
    except VersionNotSupportedError:
        raise ManifestInvalid(
            f"Kubernetes {version} has no schema in kubernetes-validate; pick a released "
            f"version such as {KUBERNETES.version} (--tracestack-k8s-version)"
        ) from None
    return name


def validate_documents(documents: list[dict[str, Any]], version: str, where: str) -> list[str]:
    check_version(version)
    return [validate_object(document, version, where) for document in documents]


def validate_file(path: Path, version: str, label: str | None = None) -> list[str]:
    where = label or str(path)
    try:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    except yaml.YAMLError as error:
        raise ManifestInvalid(f"{where}: not valid YAML: {error}") from None
    return validate_documents(documents, version, where)


def validate_profile(
    profile: Profile,
    version: str,
    manifests: Sequence[RenderedManifest] | None = None,
    charts: Sequence[RenderedChart] = (),
) -> list[str]:
    """Every manifest as it would be applied (rendered here when not given), the values' required keys, and
    the charts' rendered objects. Returns one line per file or chart saying what was checked."""
    section = kubernetes_section(profile)
    check_version(version)
    if manifests is None:
        with tempfile.TemporaryDirectory(prefix="tracestack-validate-") as workdir:
            return validate_profile(profile, version, render_manifests(profile, Path(workdir)), charts)
    results = []
    for manifest in manifests:
        names = validate_documents(list(manifest.documents), version, manifest.label)
        results.append(f"{manifest.label}: {', '.join(names)} (Kubernetes {version} schema)")
    for chart in section.get("charts", []):
        if chart.get("values"):
            checked = check_chart_values(chart["values"], chart["chart"], profile)
            results.append(f"{' + '.join(describe(values) for values in chart['values'])}: parsed; {checked}")
    for rendered in charts:
        own = [d for d in rendered.documents if _group(d) in CHART_OWN_CRD_GROUPS.get(rendered.chart, ())]
        names = validate_documents([d for d in rendered.documents if d not in own], version, rendered.label)
        unchecked = (
            f"; not checked offline: {', '.join(map(object_name, own))} (custom resources of the chart's own CRDs)"
            if own
            else ""
        )
        results.append(
            f"{rendered.label} ({rendered.origin}): {len(names)} rendered objects valid "
            f"(Kubernetes {version} schema){unchecked}"
        )
    return results


# A chart's own requirement, whatever the topology: the operator chart needs a collector image.
REQUIRED_VALUES = {"opentelemetry-operator": ("manager.collectorImage.repository",)}


def check_values(reference: str, chart: str, profile: Profile) -> str:
    """What the user's values declare agrees with the profile that checks them: each protocol the profile
    ingests is enabled, each it expects refused is not, and an S3 backend names its bucket and endpoint."""
    return _check_merged(_read_values(reference), describe(reference), chart, profile)


def check_chart_values(references: list[str], chart: str, profile: Profile) -> str:
    """``check_values`` of a chart's values files merged as helm merges its ``-f`` files (later over earlier)."""
    merged = merge_values([_read_values(reference) for reference in references])
    return _check_merged(merged, " + ".join(describe(reference) for reference in references), chart, profile)


def _read_values(reference: str) -> dict[str, Any]:
    where = describe(reference)
    try:
        values = yaml.safe_load(resolve_manifest(reference).read_text()) or {}
    except yaml.YAMLError as error:
        raise ManifestInvalid(f"{where}: not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ManifestInvalid(f"{where}: Helm values must be a mapping, not {type(values).__name__}")
    return values


def _check_merged(values: dict[str, Any], where: str, chart: str, profile: Profile) -> str:
    if chart == "tempo-distributed":
        return "; ".join(_check_tempo_values(values, where, profile))
    for dotted in REQUIRED_VALUES.get(chart, ()):
        if not dotted_get(values, dotted):
            raise ManifestInvalid(f"{where}: {dotted} is not set, and the {chart} chart needs it")
    try:
        metrics = check_metrics_values(values, chart, where, profile)
    except TracestackError as error:
        raise ManifestInvalid(str(error)) from None
    checked = [f"{dotted} set" for dotted in REQUIRED_VALUES.get(chart, ())] + metrics
    return ", ".join(checked) or "no keys required"


def _check_tempo_values(values: dict[str, Any], where: str, profile: Profile) -> list[str]:
    checked = []
    for protocol in profile.ingest:
        key = RECEIVER_VALUES.get(protocol)
        if key and dotted_get(values, key) is not True:
            raise ManifestInvalid(
                f"{where}: {key} is {dotted_get(values, key)!r}, but profile {profile.name} ingests "
                f"{protocol}: the chart's distributor would not listen for it. Set {key}: true, or "
                f"take {protocol} out of the profile's ingest"
            )
        checked.append(f"{key}=True (ingest {protocol})")
    for protocol in profile.refused:
        key = RECEIVER_VALUES.get(protocol)
        if key and dotted_get(values, key) is True:
            raise ManifestInvalid(
                f"{where}: {key} is True, but profile {profile.name} expects {protocol} to be "
                f"refused. Set {key}: false, or take {protocol} out of the profile's refused"
            )
        checked.append(f"{key} not true (refused {protocol})")
    backend = dotted_get(values, "storage.trace.backend") or "local"
    if backend == "s3":
        missing = [k for k in ("bucket", "endpoint") if not dotted_get(values, f"storage.trace.s3.{k}")]
        if missing:
            raise ManifestInvalid(
                f"{where}: storage.trace.backend is s3 but storage.trace.s3 has no "
                f"{' and no '.join(missing)}; Tempo cannot reach its bucket without them"
            )
    checked.append(f"storage.trace.backend={backend}")
    return checked


def _check_pipelines(obj: dict[str, Any], where: str, name: str) -> None:
    """Each component a collector pipeline names is defined (the collector refuses to start otherwise)."""
    config = (obj.get("spec") or {}).get("config")
    if not isinstance(config, dict):
        return
    for pipeline, spec in config.get("service", {}).get("pipelines", {}).items():
        for section in ("receivers", "processors", "exporters"):
            defined = {
                **(config.get(section) or {}),
                **((config.get("connectors") or {}) if section != "processors" else {}),
            }
            for index, component in enumerate(spec.get(section, [])):
                if component not in defined:
                    raise ManifestInvalid(
                        f"{where}: {name}: spec.config.service.pipelines.{pipeline}.{section}."
                        f"{index}: {component!r} is not defined under spec.config.{section}"
                    )


def _group(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/")[0] if "/" in api_version else ""


def _field(path: Any) -> str:
    return ".".join(map(str, path)) or "(top level)"
