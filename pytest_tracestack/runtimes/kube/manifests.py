"""The raw manifests as they are applied: the profile's patches set, tracestack's label added, and only
objects that live in tracestack's namespace (nothing cluster-wide, nothing in another namespace)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pytest_tracestack.configs.dotted import set_dotted
from pytest_tracestack.configs.rendering import load_manifest_documents, resolve_manifest
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.file_paths import describe
from pytest_tracestack.profiles.kubernetes_section import kubernetes_section
from pytest_tracestack.profiles.profile import Profile
from pytest_tracestack.runtimes.kube.settings import MANAGED_BY

MANAGED_BY_KEY, MANAGED_BY_VALUE = MANAGED_BY.split("=")

# Kinds that are not namespaced: applying one would touch the whole cluster.
CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "APIService",
    "CSIDriver",
    "VolumeAttachment",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}


@dataclass(frozen=True)
class RenderedManifest:
    label: str  # how the user knows the file: manifests/<relative> or the path given
    source: Path
    path: Path  # the rendered copy that is applied
    documents: tuple[dict[str, Any], ...]

    @property
    def objects(self) -> list[str]:
        return [object_name(document) for document in self.documents]


def object_name(document: dict[str, Any]) -> str:
    return f"{document.get('kind')}/{(document.get('metadata') or {}).get('name')}"


def render_manifests(profile: Profile, workdir: Path) -> list[RenderedManifest]:
    """Each manifest of the profile, patched and labelled, written under ``workdir/manifests``."""
    section = kubernetes_section(profile)
    rendered = []
    for relative in section.get("manifests", []):
        source = resolve_manifest(relative)
        label = describe(relative)
        documents = [copy.deepcopy(document) for document in load_manifest_documents(relative)]
        for index, patch in enumerate(section.get("patches", [])):
            if patch["manifest"] == relative:
                _apply_patch(documents, patch, f"kubernetes.patches.{index}", profile)
        for document in documents:
            _check_namespaced(document, label)
            _label(document)
        target = workdir / "manifests" / relative.strip("/").replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        rendered.append(RenderedManifest(label, source, target, tuple(documents)))
    _check_patch_targets(profile, section)
    return rendered


def _apply_patch(documents: list[dict[str, Any]], patch: dict[str, Any], key: str, profile: Profile) -> None:
    for document in documents:
        if document.get("kind") == patch["kind"] and (document.get("metadata") or {}).get("name") == patch["name"]:
            for dotted, value in patch["set"].items():
                set_dotted(document, dotted, value)
            return
    raise ProfileError(
        str(profile.source_file),
        key,
        f"manifest {patch['manifest']} has no {patch['kind']} named {patch['name']} to patch",
    )


def _check_patch_targets(profile: Profile, section: dict[str, Any]) -> None:
    manifests = section.get("manifests", [])
    for index, patch in enumerate(section.get("patches", [])):
        if patch["manifest"] not in manifests:
            raise ProfileError(
                str(profile.source_file),
                f"kubernetes.patches.{index}.manifest",
                f"{patch['manifest']!r} is not one of kubernetes.manifests ({', '.join(manifests)})",
            )


def _check_namespaced(document: dict[str, Any], label: str) -> None:
    if document.get("kind") in CLUSTER_SCOPED:
        raise ProfileError(
            label,
            object_name(document),
            f"is cluster-scoped; tracestack applies raw manifests only inside the namespace it "
            f"creates, so it never changes what it did not create. Install {document.get('kind')} "
            "objects through a chart or beforehand.",
        )
    namespace = (document.get("metadata") or {}).get("namespace")
    if namespace:
        raise ProfileError(
            label,
            f"{object_name(document)}: metadata.namespace",
            f"is {namespace!r}; remove it: tracestack applies every object into the namespace it creates for the run",
        )


def _label(document: dict[str, Any]) -> None:
    """The object, and the pods of a workload, carry tracestack's managed-by label."""
    holders = [document.setdefault("metadata", {})]
    template = (document.get("spec") or {}).get("template")
    if isinstance(template, dict):
        holders.append(template.setdefault("metadata", {}))
    for metadata in holders:
        metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_BY_KEY: MANAGED_BY_VALUE}
