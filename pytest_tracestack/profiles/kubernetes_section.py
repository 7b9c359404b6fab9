"""The ``kubernetes:`` section of a profile: its shape, checked when a kube runtime is selected.

The profile schema leaves the section free-form; the kind and cluster runtimes own its meaning, so
they check it here and name the profile file and the key that is wrong.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import Profile

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}

KUBERNETES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        # Raw manifests under manifests/ (or absolute paths), applied in this order.
        "manifests": _STRINGS,
        # Apply the manifests, and wait for the rollouts of what they make, before the charts are installed (a
        # server the charts' workloads need when they start, e.g. distributed-s3's S3 server); default: after.
        "manifests_first": {"type": "boolean"},
        # Helm charts, installed in this order before the manifests.
        "charts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["release", "chart", "repo_name", "repo", "version"],
                "additionalProperties": False,
                "properties": {
                    "release": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    "chart": {"type": "string"},
                    "repo_name": {"type": "string"},
                    "repo": {"type": "string", "pattern": "^(https?|oci)://"},
                    "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+"},
                    "values": _STRINGS,
                },
            },
        },
        # Extra images to load with --tracestack-load-images=profile, beyond those read from the rendered
        # objects (e.g. one a Job pulls by name at run time); usually absent.
        "images": {"type": "array", "items": {"type": "string", "pattern": r"^\S+(:[\w.\-]+|@sha256:[0-9a-f]{64})$"}},
        # Workloads whose rollout is waited for, in this order.
        "rollouts": {
            "type": "array",
            "items": {"type": "string", "pattern": "^(deployment|statefulset|daemonset)/[a-z0-9.-]+$"},
        },
        # Values set in a manifest's object before it is applied (dotted paths).
        "patches": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["manifest", "kind", "name", "set"],
                "additionalProperties": False,
                "properties": {
                    "manifest": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "set": {"type": "object", "minProperties": 1},
                },
            },
        },
        # Service ports reached through `kubectl port-forward`, and the component port each stands for.
        "port_forwards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["service", "port", "component", "as"],
                "additionalProperties": False,
                "properties": {
                    "service": {"type": "string"},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "component": {"type": "string"},
                    "as": {"type": "string"},
                },
            },
        },
        # Pods reached one by one when a load run starts (kube/replica_pods.py): the label selector of a
        # component's pods, and its port names -> the pod's ports (its metrics port, and its ingest ports).
        "pod_forwards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["component", "selector", "ports"],
                "additionalProperties": False,
                "properties": {
                    "component": {"type": "string"},
                    "selector": {"type": "string", "minLength": 1},
                    "ports": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 65535},
                    },
                },
            },
        },
    },
}


def kubernetes_section(profile: Profile) -> dict[str, Any]:
    """The profile's ``kubernetes`` section, checked; raises ProfileError naming the file and key."""
    section = profile.kubernetes
    source = str(profile.source_file)
    if not section:
        raise ProfileError(
            source,
            "kubernetes",
            f"profile {profile.name} has no kubernetes section, so it runs "
            "only on the local runtime (use --tracestack-runtime=local)",
        )
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(KUBERNETES_SCHEMA).iter_errors(section))
    if error is not None:
        key = ".".join(["kubernetes", *map(str, error.absolute_path)])
        raise ProfileError(source, key, f"{error.message} (see docs/kubernetes.md for the section's keys)")
    _check_no_args(profile, source)
    _check_images(section, source)
    _check_port_forwards(profile, section, source)
    _check_pod_forwards(profile, section, source)
    return section


def _check_no_args(profile: Profile, source: str) -> None:
    """A pod runs what its manifest or chart says; arguments in the profile would be silently left out."""
    for component in profile.components.values():
        if component.args:
            raise ProfileError(
                source,
                f"components.{component.name}.args",
                f"{list(component.args)} would not reach {component.name} on Kubernetes, which runs it "
                "as its manifest or chart says: put the arguments in the manifest (the container's "
                "args) or the Helm values; a profile's args reach only the local runtime's processes",
            )


def _check_images(section: dict[str, Any], source: str) -> None:
    for index, image in enumerate(section.get("images", [])):
        if image.endswith(":latest"):
            raise ProfileError(
                source,
                f"kubernetes.images.{index}",
                f"{image!r}: pin a tag; ':latest' is pulled again by the node (pull policy Always), "
                "so an image loaded into kind would not be used",
            )


def _check_port_forwards(profile: Profile, section: dict[str, Any], source: str) -> None:
    for index, forward in enumerate(section.get("port_forwards", [])):
        component = profile.components.get(forward["component"])
        if component is None:
            raise ProfileError(
                source,
                f"kubernetes.port_forwards.{index}.component",
                f"{forward['component']!r} is not a component of the profile "
                f"(components: {', '.join(profile.components)})",
            )
        if forward["as"] not in component.ports:
            raise ProfileError(
                source,
                f"kubernetes.port_forwards.{index}.as",
                f"{forward['as']!r} is not a port of component {forward['component']} "
                f"(ports: {', '.join(component.ports)})",
            )


def _check_pod_forwards(profile: Profile, section: dict[str, Any], source: str) -> None:
    """Each entry forwards every port the load run uses of its component: /metrics, and the ingest ports."""
    for index, forward in enumerate(section.get("pod_forwards", [])):
        key = f"kubernetes.pod_forwards.{index}"
        component = profile.components.get(forward["component"])
        if component is None:
            raise ProfileError(
                source,
                f"{key}.component",
                f"{forward['component']!r} is not a component of the "
                f"profile (components: {', '.join(profile.components)})",
            )
        for name in forward["ports"]:
            if name not in component.ports:
                raise ProfileError(
                    source,
                    f"{key}.ports.{name}",
                    f"is not a port of component {component.name} (ports: {', '.join(component.ports)})",
                )
        metrics = component.metrics_endpoint
        needed = {
            **({metrics[0]: "its /metrics"} if metrics else {}),
            **{e.port: f"ingest {p}" for p, e in profile.ingest.items() if e.component == component.name},
        }
        for name, why in needed.items():
            if name not in forward["ports"]:
                raise ProfileError(
                    source,
                    f"{key}.ports",
                    f"has no port {name!r} ({why}): the load run would not "
                    f"reach it on each {component.name} pod; add {name}: "
                    "<the pod's port>",
                )


def chart_names(section: dict[str, Any]) -> list[str]:
    return [chart["chart"] for chart in section.get("charts", [])]
