"""Offline validation of everything the kube runtimes would apply, against the Kubernetes schema of a
chosen version (kubernetes-validate), and the operator's custom resources against their CRD fields."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import VersionNotSupportedError
import yaml

from ..errors import TracestackError
from ..profiles import Profile
from ..rendering import resolve_manifest
from .install import kubernetes_section, rendered_manifests

CRD_SCHEMAS = {
    ("opentelemetry.io/v1beta1", "OpenTelemetryCollector"): "opentelemetrycollector-v1beta1.json",
    ("opentelemetry.io/v1alpha1", "Instrumentation"): "instrumentation-v1alpha1.json",
}
CRD_DIR = Path(__file__).with_name("crd_schemas")


class ManifestInvalid(TracestackError):
    """An object would be refused by the API server (or the operator's CRD)."""


MINIMUM_VERSION = (1, 29)   # the seeds ask for Kubernetes 1.29+


def check_version(version: str) -> None:
    from kubernetes_validate.utils import all_versions, major_minor

    try:
        wanted = tuple(int(part) for part in version.removeprefix("v").split(".")[:2])
    except ValueError:
        raise ManifestInvalid(f"Kubernetes version {version!r} is not like 1.29.0") from None
    supported = sorted({tuple(int(p) for p in major_minor(v).split(".")) for v in all_versions()})
    if wanted < MINIMUM_VERSION or wanted > supported[-1]:
        raise ManifestInvalid(f"Kubernetes {version} cannot be checked: the seeds need 1.29 or later, and "
                              f"kubernetes-validate has schemas up to {'.'.join(map(str, supported[-1]))}; "
                              f"pick a version such as 1.29.0")


def validate_object(obj: dict[str, Any], version: str, where: str) -> str:
    """Validate one object; returns ``Kind/name``; raises ManifestInvalid naming the object and field."""
    check_version(version)
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    crd = CRD_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    if crd:
        schema = json.loads((CRD_DIR / crd).read_text())
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
        if error is not None:
            field = ".".join(map(str, error.absolute_path)) or "(top level)"
            raise ManifestInvalid(f"{where}: {name}: {field}: {error.message}")
        return name
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        field = ".".join(map(str, error.path)) or "(top level)"
        raise ManifestInvalid(f"{where}: {name}: {field}: {error.message}") from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ManifestInvalid(f"{where}: {name}: no schema for {obj.get('apiVersion')} {obj.get('kind')} "
                              f"in Kubernetes {version}") from None
    except VersionNotSupportedError:
        raise ManifestInvalid(f"Kubernetes {version} has no schema in kubernetes-validate; pick a released "
                              "version such as 1.29.0") from None
    return name


def validate_file(path: Path, version: str, label: str | None = None) -> list[str]:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return [validate_object(doc, version, label or str(path)) for doc in documents]


def validate_profile(profile: Profile, version: str) -> list[str]:
    """Every manifest (as patched), the values' required keys, and `helm template` output when helm exists."""
    section = kubernetes_section(profile)
    results = []
    with tempfile.TemporaryDirectory(prefix="tracestack-validate-") as workdir:
        for relative, path in rendered_manifests(profile, Path(workdir)):
            names = validate_file(path, version, f"manifests/{relative}")
            results.append(f"manifests/{relative}: {', '.join(names)} (Kubernetes {version} schema)")
    for chart in section.get("charts", []):
        for values in chart.get("values", []):
            check_values(values, chart["chart"])
            results.append(f"manifests/{values}: keys {chart['chart']} needs are set")
        results.append(_helm_template(chart, version))
    return results


# The values keys each chart's topology relies on (seed 000 and 001), with the value they must have.
REQUIRED_VALUES = {
    "tempo-distributed": {"traces.otlp.grpc.enabled": True, "traces.otlp.http.enabled": True,
                          "traces.zipkin.enabled": False, "traces.jaeger.thriftHttp.enabled": False,
                          "traces.opencensus.enabled": False, "storage.trace.backend": "s3", "minio.enabled": True},
    "opentelemetry-operator": {"manager.collectorImage.repository": "otel/opentelemetry-collector-contrib"},
}


def check_values(relative: str, chart: str) -> None:
    values = yaml.safe_load(resolve_manifest(relative).read_text()) or {}
    for dotted, expected in REQUIRED_VALUES.get(chart, {}).items():
        node: Any = values
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != expected:
            raise ManifestInvalid(f"manifests/{relative}: {dotted} is {node!r}, but the {chart} topology needs {expected!r}")


def _helm_template(chart: dict[str, Any], version: str) -> str:
    helm = shutil.which("helm")
    if helm is None:
        return (f"chart {chart['chart']} {chart['version']}: not rendered (helm is not on PATH; its objects are "
                f"validated only when helm is installed)")
    values = [arg for path in chart.get("values", []) for arg in ("-f", str(resolve_manifest(path)))]
    done = subprocess.run([helm, "template", chart["release"], chart["chart"], "--repo", chart["repo"], "--version",
                           chart["version"], *values, "--kube-version", version], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        return f"chart {chart['chart']} {chart['version']}: not rendered (helm template failed: {done.stderr.strip()[:200]})"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as rendered:
        rendered.write(done.stdout)
        rendered.flush()
        names = validate_file(Path(rendered.name), version, f"helm template {chart['chart']}")
    return f"chart {chart['chart']} {chart['version']}: {len(names)} rendered objects valid"
