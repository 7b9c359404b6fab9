"""kind, kubectl and helm: from an env var, PATH, tracestack's cache, or a verified official download."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import io
from dataclasses import dataclass
from pathlib import Path

import httpx

from .. import paths
from ..binaries import ChecksumMismatch, _arch, expected_sha256
from ..errors import BinaryNotFoundError
from ..progress import progress_download


@dataclass(frozen=True)
class ToolSpec:
    name: str
    version: str
    url: str            # {v} and {arch} filled in
    checksum_url: str
    member: str = ""    # inside a tar.gz, or "" for a plain binary


TOOLS = {
    "kind": ToolSpec("kind", "v0.31.0", "https://kind.sigs.k8s.io/dl/{v}/kind-linux-{arch}",
                     "https://kind.sigs.k8s.io/dl/{v}/kind-linux-{arch}.sha256sum"),
    "kubectl": ToolSpec("kubectl", "v1.35.0", "https://dl.k8s.io/release/{v}/bin/linux/{arch}/kubectl",
                        "https://dl.k8s.io/release/{v}/bin/linux/{arch}/kubectl.sha256"),
    "helm": ToolSpec("helm", "v3.19.0", "https://get.helm.sh/helm-{v}-linux-{arch}.tar.gz",
                     "https://get.helm.sh/helm-{v}-linux-{arch}.tar.gz.sha256sum", member="helm"),
}


def find_tool(name: str, allow_download: bool = True, cache_root: Path | None = None) -> Path:
    spec = TOOLS[name]
    env = f"TRACESTACK_{name.upper()}"
    tried = []
    if os.environ.get(env):
        return Path(os.environ[env])
    tried.append(f"{env}: not set")
    located = shutil.which(name)
    if located:
        return Path(located)
    tried.append(f"PATH: no {name}")
    cached = (cache_root or paths.cache_dir() / "bin") / f"{name}-{spec.version}" / name
    if cached.is_file():
        return cached
    tried.append(f"cache: {cached} does not exist")
    if allow_download:
        url = spec.url.format(v=spec.version, arch=_arch())
        try:
            return download_tool(url, spec.checksum_url.format(v=spec.version, arch=_arch()), spec.member, cached)
        except (httpx.HTTPError, OSError) as error:
            tried.append(f"download {url}: {type(error).__name__}: {error}")
    raise BinaryNotFoundError(name, spec.version, tried, f"install {name} {spec.version} on PATH or set {env}=PATH")


def download_tool(url: str, checksum_url: str, member: str, destination: Path) -> Path:
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60, connect=10)) as client:
        checksum_text = client.get(checksum_url).raise_for_status().text
        payload = progress_download(client, url)
    name = url.rsplit("/", 1)[-1]
    # kubectl's .sha256 holds the bare digest; kind's and helm's hold "digest  name".
    expected = checksum_text.split()[0] if len(checksum_text.split()) == 1 else \
        expected_sha256(checksum_text, name, checksum_url)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise ChecksumMismatch(f"checksum mismatch for {url}: expected {expected}, got {actual}; nothing installed")
    if member:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
            info = next(i for i in archive.getmembers() if Path(i.name).name == member)
            payload = archive.extractfile(info).read()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".partial")
    partial.write_bytes(payload)
    partial.chmod(0o755)
    partial.replace(destination)
    return destination
