"""One reading of a container image reference, so one image written two ways is one image: the registry and
Docker Hub's ``library/`` namespace filled in as Docker and containerd fill them in (``grafana/tempo:2.10.8`` is
``docker.io/grafana/tempo:2.10.8``, ``busybox`` is ``docker.io/library/busybox``)."""

from __future__ import annotations

from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_DOCKER_HUB_NAMES = (DOCKER_HUB, "index.docker.io")


@dataclass(frozen=True)
class ImageName:
    registry: str  # docker.io when the reference names none
    path: str  # the repository in the registry: grafana/tempo, library/busybox
    tag: str = ""
    digest: str = ""  # sha256:...

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def image_name(reference: str) -> ImageName:
    rest, _, digest = reference.partition("@")
    first, slash, after = rest.partition("/")
    # Only a registry's host has a dot or a port (or is localhost): grafana/tempo names no registry.
    named_registry = bool(slash) and ("." in first or ":" in first or first == "localhost")
    registry, rest = (first, after) if named_registry else (DOCKER_HUB, rest)
    path, _, tag = rest.partition(":")  # past the registry, a colon can only start the tag
    if registry in _DOCKER_HUB_NAMES:
        registry, path = DOCKER_HUB, path if "/" in path else f"library/{path}"
    return ImageName(registry, path, tag, digest)


def canonical(reference: str) -> str:
    """The fully qualified reference Docker and containerd use for ``reference``."""
    return str(image_name(reference))
