"""Every image an install uses, read from what it applies, not from a hand-kept list: the containers of the
rendered manifests and of the charts' `helm template` output, and the images the OpenTelemetry Operator
creates from custom resources (a collector's image, the auto-instrumentation image it injects into a pod).
``--tracestack-load-images=profile`` loads exactly these into kind, so an air-gapped run pulls nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_tracestack.configs.image_names import canonical, image_name
from pytest_tracestack.errors import ProfileError, TracestackError
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.manifests import object_name

INJECT_PREFIX = "instrumentation.opentelemetry.io/inject-"
# The operator's flags that name the images it uses when a custom resource names none.
OPERATOR_FLAG = re.compile(r"^--(collector-image|auto-instrumentation-[a-z-]+-image)=(\S+)$")
# Injection annotation language -> the Instrumentation's spec key for it. (inject-sdk injects no image.)
LANGUAGES = {
    "java": "java",
    "nodejs": "nodejs",
    "python": "python",
    "dotnet": "dotnet",
    "go": "go",
    "apache-httpd": "apacheHttpd",
    "nginx": "nginx",
}
_WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}


class ImagesUnknown(TracestackError):
    """An image the install needs cannot be read from the rendered objects, so it cannot be pre-loaded."""


@dataclass(frozen=True)
class ImageUse:
    image: str
    used_by: str  # the object and where it comes from, for the plan


@dataclass(frozen=True)
class Rendered:
    label: str  # where the documents come from: a manifest file, a chart
    documents: Sequence[dict[str, Any]]


@dataclass(frozen=True)
class ImagePlan:
    uses: tuple[ImageUse, ...]
    unknown: tuple[str, ...]  # images the operator will need that nothing names (why, for each)

    @property
    def images(self) -> list[str]:
        """One name per image, as first written: ``grafana/tempo:2.10.8`` and ``docker.io/grafana/tempo:2.10.8``
        are one image to pull and load."""
        first: dict[str, str] = {}
        for use in self.uses:
            first.setdefault(canonical(use.image), use.image)
        return list(first.values())

    def users(self, image: str) -> list[str]:
        return [use.used_by for use in self.uses if canonical(use.image) == canonical(image)]


def images_used(sources: Sequence[Rendered]) -> ImagePlan:
    uses = [
        ImageUse(image, f"{object_name(document)} ({source.label})")
        for source in sources
        for document in source.documents
        for image in container_images(document)
    ]
    documents = [document for source in sources for document in source.documents]
    flags = operator_flags(documents)
    operator_uses, unknown = _collector_images(documents, flags)
    injected, unknown_injected = _injected_images(documents, flags)
    return ImagePlan(tuple(uses + operator_uses + injected), tuple(unknown + unknown_injected))


def pod_template(document: dict[str, Any]) -> dict[str, Any]:
    """The pod (metadata and spec) a workload object runs; {} for objects that run none."""
    kind, spec = document.get("kind"), document.get("spec") or {}
    if kind == "Pod":
        return document
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return (spec.get("template") or {}) if kind in _WORKLOAD_KINDS else {}


def container_images(document: dict[str, Any]) -> list[str]:
    pod = pod_template(document).get("spec") or {}
    return [
        container["image"]
        for key in ("initContainers", "containers", "ephemeralContainers")
        for container in pod.get(key) or []
        if container.get("image")
    ]


def operator_flags(documents: Sequence[dict[str, Any]]) -> dict[str, str]:
    """``collector-image`` / ``auto-instrumentation-<language>-image`` -> image, from the operator's arguments."""
    flags = {}
    for document in documents:
        for container in (pod_template(document).get("spec") or {}).get("containers") or []:
            for arg in container.get("args") or []:
                match = OPERATOR_FLAG.match(str(arg))
                if match:
                    flags[match.group(1)] = match.group(2)
    return flags


def _collector_images(documents: Sequence[dict[str, Any]], flags: dict[str, str]) -> tuple[list[ImageUse], list[str]]:
    uses, unknown = [], []
    for document in documents:
        if document.get("kind") != "OpenTelemetryCollector":
            continue
        name, spec = object_name(document), document.get("spec") or {}
        image = spec.get("image") or flags.get("collector-image")
        origin = "its spec.image" if spec.get("image") else "the operator's --collector-image"
        if image:
            uses.append(ImageUse(image, f"collector the operator runs for {name} ({origin})"))
        else:
            unknown.append(
                f"{name}: no spec.image, and the operator is given no --collector-image (set "
                "manager.collectorImage.repository and .tag in the operator chart's values)"
            )
        for container in [*(spec.get("initContainers") or []), *(spec.get("additionalContainers") or [])]:
            if container.get("image"):
                uses.append(ImageUse(container["image"], f"{name} spec container {container.get('name')}"))
    return uses, unknown


def _injected_images(documents: Sequence[dict[str, Any]], flags: dict[str, str]) -> tuple[list[ImageUse], list[str]]:
    instrumentations = {
        (document.get("metadata") or {}).get("name"): document
        for document in documents
        if document.get("kind") == "Instrumentation"
    }
    uses, unknown = [], []
    for document in documents:
        annotations = (pod_template(document).get("metadata") or {}).get("annotations") or {}
        for key, value in annotations.items():
            language = key.removeprefix(INJECT_PREFIX) if key.startswith(INJECT_PREFIX) else ""
            if language not in LANGUAGES or str(value).lower() == "false":
                continue
            resource = _instrumentation(instrumentations, str(value))
            from_resource = ((resource or {}).get("spec") or {}).get(LANGUAGES[language], {}).get("image")
            image = from_resource or flags.get(f"auto-instrumentation-{language}-image")
            where = f"{language} auto-instrumentation the operator injects into {object_name(document)}"
            if image:
                origin = (
                    "the Instrumentation's spec"
                    if from_resource
                    else f"the operator's --auto-instrumentation-{language}-image"
                )
                uses.append(ImageUse(image, f"{where} ({origin})"))
            else:
                unknown.append(
                    f"{where}: neither the Instrumentation's spec.{LANGUAGES[language]}.image nor the "
                    f"operator's --auto-instrumentation-{language}-image names it (set "
                    f"manager.autoInstrumentationImage.{LANGUAGES[language]} in the operator's values)"
                )
    return uses, unknown


def _instrumentation(instrumentations: dict[str | None, dict[str, Any]], value: str) -> dict[str, Any] | None:
    """The Instrumentation an annotation value picks: "true" = the only one, else "<name>" or "<ns>/<name>"."""
    if value.lower() == "true":
        return next(iter(instrumentations.values())) if len(instrumentations) == 1 else None
    return instrumentations.get(value.rsplit("/", 1)[-1])


def check_tempo_version(profile: Profile, uses: Sequence[ImageUse]) -> None:
    """The Tempo the cluster runs is the profile's ``tempo_version``: one version per profile, on every runtime."""
    wanted = profile.tempo_version
    for use in uses:
        name = image_name(use.image)
        if wanted and name.path == "grafana/tempo" and name.tag and name.tag != wanted:
            raise ProfileError(
                str(profile.source_file),
                "tempo_version",
                f"is {wanted}, but {use.used_by} runs {use.image}; make them one version (the image "
                "tag in the manifest, or tempo.image.tag in a chart's values)",
            )


def iter_lines(plan: ImagePlan) -> Iterator[str]:
    for image in plan.images:
        yield f"{image}  <- {'; '.join(plan.users(image))}"
    for reason in plan.unknown:
        yield f"(not known, cannot be pre-loaded) {reason}"
