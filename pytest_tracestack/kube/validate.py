"""Offline validation of everything the kube runtimes would apply: built-in kinds against the Kubernetes
schema of a chosen version (kubernetes-validate, strict), the operator's custom resources against
tracestack's schemas of their CRDs, the Helm values for the keys each topology relies on, and the objects
`helm template` rendered for each chart. Errors name the file, the object and the field."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import VersionNotSupportedError, all_versions, major_minor

from ..errors import TracestackError
from ..profiles import Profile
from ..rendering import resolve_manifest
from .charts import RenderedChart
from .crds import custom_resource
from .manifests import RenderedManifest, object_name, render_manifests
from .section import kubernetes_section

MINIMUM_VERSION = (1, 29)   # the seeds ask for Kubernetes 1.29+


class ManifestInvalid(TracestackError):
    """An object would be refused by the API server (or the operator's CRD, or the collector)."""


def check_version(version: str) -> None:
    try:
        wanted = tuple(int(part) for part in version.removeprefix("v").split(".")[:2])
    except ValueError:
        raise ManifestInvalid(f"Kubernetes version {version!r} is not like 1.29.0") from None
    supported = sorted({tuple(int(p) for p in major_minor(v).split(".")) for v in all_versions()})
    if wanted < MINIMUM_VERSION or wanted > supported[-1]:
        raise ManifestInvalid(f"Kubernetes {version} cannot be checked: the seeds need 1.29 or later, and "
                              f"kubernetes-validate has schemas up to {'.'.join(map(str, supported[-1]))}; "
                              f"pick a version such as 1.35.0 (--tracestack-k8s-version)")


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
        raise ManifestInvalid(f"{where}: {name}: Kubernetes {version} has no {obj.get('apiVersion')} "
                              f"{obj.get('kind')}, and tracestack has no schema for it as a custom resource") from None
    except VersionNotSupportedError:
        raise ManifestInvalid(f"Kubernetes {version} has no schema in kubernetes-validate; pick a released "
                              "version such as 1.35.0 (--tracestack-k8s-version)") from None
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


def validate_profile(profile: Profile, version: str, manifests: Sequence[RenderedManifest] | None = None,
                     charts: Sequence[RenderedChart] = ()) -> list[str]:
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
        for values in chart.get("values", []):
            checked = check_values(values, chart["chart"])
            results.append(f"manifests/{values}: parsed; {checked}")
    for rendered in charts:
        names = validate_documents(list(rendered.documents), version, rendered.label)
        results.append(f"{rendered.label} ({rendered.origin}): {len(names)} rendered objects valid "
                       f"(Kubernetes {version} schema)")
    return results


# The values each chart's topology relies on (seeds 000 and 001), with the value they must have.
REQUIRED_VALUES = {
    "tempo-distributed": {"traces.otlp.grpc.enabled": True, "traces.otlp.http.enabled": True,
                          "traces.zipkin.enabled": False, "traces.jaeger.thriftHttp.enabled": False,
                          "traces.opencensus.enabled": False, "storage.trace.backend": "s3", "minio.enabled": True},
    "opentelemetry-operator": {"manager.collectorImage.repository": "otel/opentelemetry-collector-contrib"},
}


def check_values(relative: str, chart: str) -> str:
    path = resolve_manifest(relative)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ManifestInvalid(f"manifests/{relative}: not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ManifestInvalid(f"manifests/{relative}: Helm values must be a mapping, not {type(values).__name__}")
    required = REQUIRED_VALUES.get(chart, {})
    for dotted, expected in required.items():
        node: Any = values
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != expected:
            raise ManifestInvalid(f"manifests/{relative}: {dotted} is {node!r}, but the {chart} topology needs "
                                  f"{expected!r}")
    return f"{', '.join(f'{k}={v}' for k, v in required.items())}" if required else "no keys required"


def _check_pipelines(obj: dict[str, Any], where: str, name: str) -> None:
    """Each component a collector pipeline names is defined (the collector refuses to start otherwise)."""
    config = (obj.get("spec") or {}).get("config")
    if not isinstance(config, dict):
        return
    for pipeline, spec in config.get("service", {}).get("pipelines", {}).items():
        for section in ("receivers", "processors", "exporters"):
            defined = {**(config.get(section) or {}),
                       **((config.get("connectors") or {}) if section != "processors" else {})}
            for index, component in enumerate(spec.get(section, [])):
                if component not in defined:
                    raise ManifestInvalid(f"{where}: {name}: spec.config.service.pipelines.{pipeline}.{section}."
                                          f"{index}: {component!r} is not defined under spec.config.{section}")


def _field(path: Any) -> str:
    return ".".join(map(str, path)) or "(top level)"
