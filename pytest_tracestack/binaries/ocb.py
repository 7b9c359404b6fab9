"""Builds tracestack's OpenTelemetry Collector with the Collector Builder (OCB) from Go modules.

The component list lives in ``otelcol-builder.yaml`` beside this module, its versions in versions.py; the build
is cached per version.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pytest_tracestack import paths
from pytest_tracestack.binaries import go_command
from pytest_tracestack.binaries.finder import BinarySpec, build_log
from pytest_tracestack.binaries.go_command import find_go
from pytest_tracestack.binaries.progress import status
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.versions import OTELCOL, OTELCOL_STABLE

MANIFEST = paths.PACKAGE_DIR / "binaries" / "otelcol-builder.yaml"
# Measured from an empty Go cache on 2 cores: 4 min (idle machine), 8 min 46 s (shared with other builds).
TYPICAL_BUILD = "4 to 9 minutes on 2 cores"


def builder_manifest() -> dict:
    """The OCB manifest with the pinned versions filled in."""
    text = MANIFEST.read_text().format(otelcol=OTELCOL.version, otelcol_stable=OTELCOL_STABLE.version)
    return yaml.safe_load(text)


def build_collector(spec: BinarySpec, destination: Path) -> Path:
    """Install OCB at the manifest's version and build the collector into ``destination``."""
    go = find_go("the collector (with OCB)", "install Go 1.23+ or provide the collector binary")
    if spec.version != OTELCOL.version:
        raise TracestackError(f"{MANIFEST} builds the pinned collector {OTELCOL.version}, not {spec.version}")
    manifest = builder_manifest()
    version = manifest["dist"]["version"]
    work = destination.parent
    work.mkdir(parents=True, exist_ok=True)
    builder = _install_builder(go, version, paths.cache_dir() / "tools")
    manifest["dist"]["output_path"] = str(work / "build")
    manifest_file = work / "builder-config.yaml"
    manifest_file.write_text(yaml.safe_dump(manifest, sort_keys=False))
    log = build_log(destination)
    with status(
        f"building the OpenTelemetry Collector {version} into {destination} with OCB (first run only, {TYPICAL_BUILD})",
        log,
    ):
        go_command.run_build([str(builder), f"--config={manifest_file}"], log, work)
    built = work / "build" / manifest["dist"]["name"]
    if not built.is_file():
        raise TracestackError(f"OCB finished but {built} is missing; see {log}")
    built.replace(destination)
    return destination


def _install_builder(go: str, version: str, tools: Path) -> Path:
    builder = tools / f"builder-v{version}" / "builder"
    if builder.is_file():
        return builder
    builder.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(builder.parent)}
    log = builder.parent / "install.log"
    with status(f"installing the Collector Builder v{version} (go install)", log):
        go_command.run_build(
            [go, "install", f"go.opentelemetry.io/collector/cmd/builder@v{version}"], log, builder.parent, env
        )
    return builder
