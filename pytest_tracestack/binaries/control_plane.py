"""A Kubernetes control plane that runs without a container engine: kube-apiserver, kube-controller-manager,
kube-scheduler and kubectl, etcd, and kwok/kwokctl (simulated nodes and pods), all built from their Go modules
into tracestack's cache, once per version (``tracestack install kube-control-plane``).

The versions are pinned in versions.py (KUBE_CONTROL_PLANE, ETCD, KWOK; kubectl's pin is KUBE_CONTROL_PLANE's).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_tracestack import paths
from pytest_tracestack.binaries.go_build import GoProgram, build_program
from pytest_tracestack.binaries.install_lock import installing
from pytest_tracestack.binaries.progress import status
from pytest_tracestack.errors import BinaryNotFoundError
from pytest_tracestack.versions import ETCD as ETCD_PIN
from pytest_tracestack.versions import KUBE_CONTROL_PLANE
from pytest_tracestack.versions import KWOK as KWOK_PIN

KUBERNETES_VERSION = KUBE_CONTROL_PLANE.tag
ETCD_VERSION = ETCD_PIN.tag
KWOK_VERSION = KWOK_PIN.tag
# Measured from empty Go caches: 15 CPU-minutes, peak 2.2 GB; 44.5 min on 2 cores shared with other builds (README).
TYPICAL_BUILD = "8 minutes on 2 idle cores from empty Go caches, 45 on a busy machine"


def _kubernetes_ldflags(version: str) -> tuple[str, ...]:
    """The settings Kubernetes' own build (hack/lib/version.sh) makes, without a git commit (there is none)."""
    major, minor = version.removeprefix("v").split(".")[:2]
    return tuple(
        f"k8s.io/{package}/version.{name}={value}"
        for package in ("component-base", "client-go/pkg")
        for name, value in (("gitVersion", version), ("gitMajor", major), ("gitMinor", minor))
    )


KUBERNETES = GoProgram(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=KUBERNETES_VERSION,
    commands={
        name: f"k8s.io/kubernetes/cmd/{name}"
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    },
    replaced_version="v0" + KUBERNETES_VERSION.removeprefix("v1"),  # the staging modules: v1.35.4 -> v0.35.4
    ldflags=_kubernetes_ldflags(KUBERNETES_VERSION),
)
ETCD = GoProgram(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=ETCD_VERSION,
    commands={"etcd": "go.etcd.io/etcd/server/v3"},
    replaced_version=ETCD_VERSION,
)
KWOK = GoProgram(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=KWOK_VERSION,
    commands={name: f"sigs.k8s.io/kwok/cmd/{name}" for name in ("kwok", "kwokctl")},
    replaced_version=KWOK_VERSION,
    ldflags=(f"sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION.removeprefix('v')}",),
)
PROGRAMS = (KUBERNETES, ETCD, KWOK)


@dataclass(frozen=True)
class ControlPlaneBinaries:
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    etcd: Path
    kwok: Path
    kwokctl: Path


def program_dir(program: GoProgram, cache_root: Path | None = None) -> Path:
    return (cache_root or paths.cache_dir() / "bin") / f"{program.name}-{program.version}"


def binary_paths(cache_root: Path | None = None) -> ControlPlaneBinaries:
    return ControlPlaneBinaries(
        **{
            name.replace("-", "_"): program_dir(program, cache_root) / name
            for program in PROGRAMS
            for name in program.commands
        }
    )


def missing(binaries: ControlPlaneBinaries) -> list[Path]:
    return [path for path in vars(binaries).values() if not (path.is_file() and os.access(path, os.X_OK))]


def find_control_plane(cache_root: Path | None = None) -> ControlPlaneBinaries:
    """The cached binaries, or BinaryNotFoundError naming those missing and how to build them."""
    binaries = binary_paths(cache_root)
    absent = missing(binaries)
    if absent:
        raise BinaryNotFoundError(
            "the Kubernetes control plane",
            f"{KUBERNETES_VERSION} (etcd {ETCD_VERSION}, kwok {KWOK_VERSION})",
            [f"cache: {path} does not exist" for path in absent],
            f"run `tracestack install kube-control-plane` (needs Go; builds them from their Go "
            f"modules, {TYPICAL_BUILD}, then reuses them)",
        )
    return binaries


def install_control_plane(cache_root: Path | None = None) -> ControlPlaneBinaries:
    """Build what is missing, one program at a time and one process at a time (others wait, then reuse it)."""
    for program in PROGRAMS:
        _install(program, cache_root)
    return find_control_plane(cache_root)


def _install(program: GoProgram, cache_root: Path | None) -> None:
    directory = program_dir(program, cache_root)
    targets = [directory / name for name in program.commands]
    if all(_runnable(path) for path in targets):
        return
    log = directory / "build.log"
    what = f"building {program.module} {program.version} ({', '.join(path.name for path in targets)}) into {directory}"
    with installing(targets[0], what, log):
        if all(_runnable(path) for path in targets):  # built by another process while this one waited
            return
        log.unlink(missing_ok=True)
        started = time.monotonic()
        with status(f"{what} (first run only, {TYPICAL_BUILD} for the whole control plane)", log):
            built = build_program(program, directory / "build", directory / "build" / "bin", log)
        for source, target in zip(built, targets, strict=True):
            source.replace(target)
        shutil.rmtree(directory / "build", ignore_errors=True)
        with log.open("a") as out:
            out.write(f"built in {time.monotonic() - started:.0f}s\n")


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
