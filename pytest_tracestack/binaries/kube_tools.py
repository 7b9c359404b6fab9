"""kind, kubectl and helm: an explicit path or env var, PATH, tracestack's cache, or a verified download
from the official release URL (or a mirror of it).

A tool on PATH is used only when its version suits tracestack's commands (``Accepted`` in versions.py, where the
pinned versions are); otherwise the pinned one from the cache or a download is used, and the result says why.
kubectl's pin is the Kubernetes `tracestack install kube-control-plane` builds, and that kubectl, once in the
cache, comes before the one on PATH.

Checksums: kind publishes ``<asset>.sha256sum`` ("digest  name"), kubectl ``<asset>.sha256`` (the bare
digest), helm ``<tarball>.sha256sum`` ("digest  name"). Nothing is installed unless the digest matches.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from pytest_tracestack import paths
from pytest_tracestack.binaries.finder import _arch, download_verified, reported_version
from pytest_tracestack.binaries.install_lock import installing
from pytest_tracestack.errors import BinaryNotFoundError, UnavailableError
from pytest_tracestack.versions import HELM, KIND, KUBE_CONTROL_PLANE, KUBECTL, Accepted

MIRROR_ENV = "TRACESTACK_KUBE_TOOLS_MIRROR"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    version: str  # the pinned release tag, v0.31.0
    url: str  # {v} and {arch} filled in
    checksum_url: str
    member: str = ""  # the binary inside a .tar.gz, or "" for a plain binary
    version_args: tuple[str, ...] = ("version",)
    accepted: Accepted | None = None  # the versions found on PATH or given that will do (None: any)
    cache_dir: str = ""  # the cache directory holding it, when not <name>-<version>
    cache_first: bool = False  # the pinned one in the cache comes before PATH

    @property
    def env(self) -> str:
        return f"TRACESTACK_{self.name.upper()}"

    @property
    def wanted(self) -> str:
        return self.accepted.describe(self.name) if self.accepted else f"{self.name} {self.version}"

    def unsuitable(self, version: str) -> str:
        """Why ``version`` (as the tool reports it) will not do, or "" when it will."""
        if self.accepted is None:
            return ""
        if not version:
            return f"it did not say its version; tracestack needs {self.wanted}"
        if not self.accepted.admits(version):
            return f"it is {version}; tracestack needs {self.wanted} ({self.accepted.why})"
        return ""

    def urls(self, mirror: str | None = None) -> tuple[str, str]:
        """The asset and checksum URLs; a mirror base keeps the official path and replaces scheme and host."""
        asset, checksum = (template.format(v=self.version, arch=_arch()) for template in (self.url, self.checksum_url))
        if mirror:
            asset, checksum = (mirror.rstrip("/") + urlsplit(url).path for url in (asset, checksum))
        return asset, checksum


TOOLS = {
    "kind": ToolSpec(
        "kind",
        KIND.tag,
        "https://kind.sigs.k8s.io/dl/{v}/kind-linux-{arch}",
        "https://kind.sigs.k8s.io/dl/{v}/kind-linux-{arch}.sha256sum",
        accepted=KIND.accepted,
    ),
    "kubectl": ToolSpec(
        "kubectl",
        KUBECTL.tag,
        "https://dl.k8s.io/release/{v}/bin/linux/{arch}/kubectl",
        "https://dl.k8s.io/release/{v}/bin/linux/{arch}/kubectl.sha256",
        version_args=("version", "--client"),
        accepted=KUBECTL.accepted,
        cache_dir=f"kubernetes-{KUBE_CONTROL_PLANE.tag}",
        cache_first=True,
    ),
    "helm": ToolSpec(
        "helm",
        HELM.tag,
        "https://get.helm.sh/helm-{v}-linux-{arch}.tar.gz",
        "https://get.helm.sh/helm-{v}-linux-{arch}.tar.gz.sha256sum",
        member="helm",
        version_args=("version", "--short"),
        accepted=HELM.accepted,
    ),
}


@dataclass(frozen=True)
class FoundTool:
    name: str
    path: Path
    version: str  # as the tool reports it; "" when it did not say
    source: str  # where it was found
    passed_over: tuple[str, ...] = ()  # tools found before it that would not do, and why

    def describe(self) -> str:
        text = f"{self.name} {self.version or '(version unknown)'} at {self.path} ({self.source})"
        return text + "".join(f"; {note}" for note in self.passed_over)


def find_tool(
    name: str,
    explicit: str | None = None,
    allow_download: bool = True,
    cache_root: Path | None = None,
    mirror: str | None = None,
) -> FoundTool:
    """The tool, in this order: ``explicit``, ``TRACESTACK_<NAME>``, PATH (if its version suits), cache,
    verified download (kubectl: the cache before PATH). An explicit one of an unsuitable version is an error,
    not a reason to look elsewhere."""
    spec = TOOLS[name]
    tried: list[str] = []
    for origin, given in (("explicit path", explicit), (spec.env, os.environ.get(spec.env))):
        if given:
            return _given(spec, origin, Path(given))
        tried.append(f"{origin}: not given")
    passed_over: list[str] = []
    pinned = spec.version.removeprefix("v")
    cached = cached_tool_path(name, cache_root)
    if spec.cache_first and _runnable(cached):
        return FoundTool(name, cached, pinned, "tracestack cache, the pinned version")
    located = shutil.which(name)
    if located:
        version = reported_version(Path(located), spec.version_args)
        problem = spec.unsuitable(version)
        if not problem:
            return FoundTool(name, Path(located), version, "PATH")
        passed_over.append(f"{name} on PATH ({located}) not used: {problem}")
    tried.append(passed_over[-1] if passed_over else f"PATH: no {name}")
    if _runnable(cached):
        return FoundTool(name, cached, pinned, "tracestack cache, the pinned version", tuple(passed_over))
    tried.append(f"cache: {cached} does not exist")
    if allow_download:
        downloaded = _download(spec, cached, mirror or os.environ.get(MIRROR_ENV), tried, tuple(passed_over))
        if downloaded is not None:
            return downloaded
    else:
        tried.append("download: not allowed")
    raise BinaryNotFoundError(
        name,
        spec.version,
        tried,
        f"install {name} {spec.version} on PATH, or set {spec.env}=PATH; behind a firewall "
        f"set {MIRROR_ENV}=URL to a mirror holding the official release paths"
        + (", or build it with `tracestack install kube-control-plane` (needs Go)" if name == "kubectl" else ""),
    )


def _download(
    spec: ToolSpec, cached: Path, mirror: str | None, tried: list[str], passed_over: tuple[str, ...]
) -> FoundTool | None:
    """A verified download into the cache; one process at a time: the others wait, then use what it got."""
    asset, checksum = spec.urls(mirror)
    pinned = spec.version.removeprefix("v")
    with installing(cached, f"downloading {asset} into {cached}") as install:
        if install.done_elsewhere:
            return FoundTool(
                spec.name,
                cached,
                pinned,
                "tracestack cache, the pinned version (installed by another tracestack process meanwhile)",
                passed_over,
            )
        try:
            path = download_verified(asset, checksum, spec.member, cached)
        except (httpx.HTTPError, OSError) as error:
            tried.append(f"download {asset}: {type(error).__name__}: {error}")
            return None
    return FoundTool(spec.name, path, pinned, f"downloaded from {asset}, SHA-256 verified", passed_over)


def _given(spec: ToolSpec, origin: str, path: Path) -> FoundTool:
    if not _runnable(path):
        raise BinaryNotFoundError(
            spec.name,
            spec.version,
            [f"{origin}: {path} is not an executable file"],
            f"point {spec.env} at the {spec.name} binary, or unset it to search PATH",
        )
    version = reported_version(path, spec.version_args)
    problem = spec.unsuitable(version)
    if version and problem:
        raise UnavailableError(
            f"{origin}: {path}: {problem}. Point {spec.env} at {spec.wanted}, or unset it to "
            f"use the pinned {spec.name} {spec.version}"
        )
    return FoundTool(spec.name, path, version, origin)


def cached_tool_path(name: str, cache_root: Path | None = None) -> Path:
    spec = TOOLS[name]
    return (cache_root or paths.cache_dir() / "bin") / (spec.cache_dir or f"{name}-{spec.version}") / name


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
