"""The ordered steps that install a profile's topology on Kubernetes, as data.

The runtime executes exactly these steps, and ``--tracestack-plan`` prints them, so the plan a user
reads is the plan that runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..errors import ProfileError
from ..profiles import Profile
from ..rendering import load_manifest_documents, resolve_manifest, set_dotted
from .settings import MANAGED_BY, KubeSettings

KUBERNETES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "manifests": {"type": "array", "items": {"type": "string"}},
        "charts": {"type": "array", "items": {
            "type": "object", "required": ["release", "chart", "repo_name", "repo", "version"],
            "additionalProperties": False,
            "properties": {"release": {"type": "string"}, "chart": {"type": "string"},
                           "repo_name": {"type": "string"}, "repo": {"type": "string"},
                           "version": {"type": "string"}, "values": {"type": "array", "items": {"type": "string"}}}}},
        "images": {"type": "array", "items": {"type": "string"}},
        "rollouts": {"type": "array", "items": {"type": "string", "pattern": "^(deployment|statefulset|daemonset)/"}},
        "patches": {"type": "array", "items": {
            "type": "object", "required": ["manifest", "kind", "name", "set"], "additionalProperties": False,
            "properties": {"manifest": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
                           "set": {"type": "object"}}}},
        "port_forwards": {"type": "array", "items": {
            "type": "object", "required": ["service", "port", "component", "as"], "additionalProperties": False,
            "properties": {"service": {"type": "string"}, "port": {"type": "integer"},
                           "component": {"type": "string"}, "as": {"type": "string"}}}},
    },
}


@dataclass(frozen=True)
class KubeStep:
    action: str                    # run, apply, helm, wait, port-forward
    description: str
    argv: tuple[str, ...] = ()
    timeout_s: float = 120.0
    when: str = ""                 # a condition decided at run time, shown in the plan

    def render(self) -> str:
        condition = f" ({self.when})" if self.when else ""
        return f"{self.action:<12} {self.description}{condition}" + (f"\n             $ {' '.join(self.argv)}"
                                                                      if self.argv else "")


def kubernetes_section(profile: Profile) -> dict[str, Any]:
    section = profile.kubernetes
    if not section:
        raise ProfileError(str(profile.source_file), "kubernetes",
                           f"profile {profile.name} has no kubernetes section, so it runs only on the local runtime")
    errors = sorted(jsonschema.Draft202012Validator(KUBERNETES_SCHEMA).iter_errors(section), key=str)
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        key = ".".join(["kubernetes", *map(str, error.absolute_path)])
        raise ProfileError(str(profile.source_file), key, error.message)
    for forward in section.get("port_forwards", []):
        component = profile.components.get(forward["component"])
        if component is None or forward["as"] not in component.ports:
            raise ProfileError(str(profile.source_file), "kubernetes.port_forwards",
                               f"{forward['component']}.{forward['as']} is not a component port of the profile")
    return section


def rendered_manifests(profile: Profile, workdir: Path) -> list[tuple[str, Path]]:
    """Each manifest with the profile's patches applied, written under ``workdir`` (what gets applied)."""
    section = kubernetes_section(profile)
    out = []
    for relative in section.get("manifests", []):
        documents = [copy.deepcopy(doc) for doc in load_manifest_documents(relative)]
        for patch in section.get("patches", []):
            if patch["manifest"] == relative:
                _apply_patch(documents, patch, relative)
        target = workdir / relative.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        out.append((relative, target))
    return out


def _apply_patch(documents: list[dict[str, Any]], patch: dict[str, Any], relative: str) -> None:
    for doc in documents:
        if doc.get("kind") == patch["kind"] and doc.get("metadata", {}).get("name") == patch["name"]:
            for dotted, value in patch["set"].items():
                set_dotted(doc, dotted, value)
            return
    raise ProfileError(relative, "kubernetes.patches", f"no {patch['kind']} named {patch['name']} to patch")


def install_steps(profile: Profile, settings: KubeSettings, kube_args: list[str], manifests: list[tuple[str, Path]],
                  cert_manager: bool | None = None) -> list[KubeStep]:
    """Namespace, charts, manifests, rollouts: the part both kube runtimes share."""
    section = kubernetes_section(profile)
    ns = settings.namespace
    timeout = f"{int(settings.rollout_timeout_s)}s"
    steps = [
        KubeStep("run", f"create namespace {ns}", ("kubectl", *kube_args, "create", "namespace", ns)),
        KubeStep("run", f"label namespace {ns} as created by tracestack",
                 ("kubectl", *kube_args, "label", "namespace", ns, MANAGED_BY)),
    ]
    for chart in section.get("charts", []):
        steps += _chart_steps(chart, ns, kube_args, timeout, settings, cert_manager)
    for relative, path in manifests:
        objects = ", ".join(_object_names(relative))
        steps.append(KubeStep("apply", f"manifests/{relative}: {objects}",
                              ("kubectl", *kube_args, "apply", "--namespace", ns, "-f", str(path))))
    for rollout in section.get("rollouts", []):
        steps.append(KubeStep("wait", f"rollout of {rollout}",
                              ("kubectl", *kube_args, "rollout", "status", "--namespace", ns, rollout,
                               f"--timeout={timeout}"), timeout_s=settings.rollout_timeout_s + 30))
    return steps


def _chart_steps(chart: dict[str, Any], ns: str, kube_args: list[str], timeout: str, settings: KubeSettings,
                 cert_manager: bool | None) -> list[KubeStep]:
    helm_kube = _helm_kube_args(kube_args)
    values = [arg for path in chart.get("values", []) for arg in ("-f", str(resolve_manifest(path)))]
    extra: list[str] = []
    when = ""
    if chart["chart"] == "opentelemetry-operator":
        # Without cert-manager the chart generates a self-signed webhook certificate.
        enabled = "true" if cert_manager else "false"
        extra = ["--set", f"admissionWebhooks.certManager.enabled={enabled}",
                 "--set", f"admissionWebhooks.autoGenerateCert.enabled={'false' if cert_manager else 'true'}"]
        when = "certManager on when cert-manager's CRDs are in the cluster" if cert_manager is None else ""
    return [
        KubeStep("helm", f"repository {chart['repo_name']} = {chart['repo']}",
                 ("helm", "repo", "add", chart["repo_name"], chart["repo"], "--force-update")),
        KubeStep("helm", f"refresh repository {chart['repo_name']}", ("helm", "repo", "update", chart["repo_name"])),
        KubeStep("helm", f"release {chart['release']}: chart {chart['chart']} {chart['version']}, values "
                         f"{', '.join(chart.get('values', [])) or 'defaults'}",
                 ("helm", *helm_kube, "upgrade", "--install", chart["release"], f"{chart['repo_name']}/{chart['chart']}",
                  "--version", chart["version"], "--namespace", ns, *values, *extra, "--wait", "--timeout", timeout),
                 timeout_s=settings.rollout_timeout_s + 60, when=when),
    ]


def _helm_kube_args(kube_args: list[str]) -> list[str]:
    """kubectl's --kubeconfig/--context become helm's --kubeconfig/--kube-context."""
    out = []
    for arg in kube_args:
        out.append(arg.replace("--context=", "--kube-context="))
    return out


def _object_names(relative: str) -> list[str]:
    return [f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}" for doc in load_manifest_documents(relative)]
