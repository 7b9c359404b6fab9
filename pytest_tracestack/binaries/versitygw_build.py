"""Builds versitygw, the S3 server of the S3-backed profiles (Versity's S3 gateway, Apache-2.0), from its Go module
into tracestack's cache, once per version (``tracestack install versitygw``; .ci/run does it)."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_tracestack.binaries import go_command
from pytest_tracestack.binaries.finder import BinarySpec, build_log
from pytest_tracestack.binaries.go_command import find_go
from pytest_tracestack.binaries.progress import status
from pytest_tracestack.errors import TracestackError

MODULE = "github.com/versity/versitygw/cmd/versitygw"
# Measured with a warm Go module cache on 2 cores: about 1.5 min idle; 4 min on a machine shared with other builds.
TYPICAL_BUILD = "1.5 to 4 minutes on 2 cores"


def build_versitygw(spec: BinarySpec, destination: Path) -> Path:
    """``go install`` the module at the spec's version into ``destination``; the ldflag gives the binary the version
    string it prints (a plain ``go install`` says 'git')."""
    go = find_go(f"versitygw (from {MODULE})", "install Go 1.23+ or pass --tracestack-versitygw=/path/to/versitygw")
    work = destination.parent
    (work / "build").mkdir(parents=True, exist_ok=True)
    log = build_log(destination)
    env = {**os.environ, "GOBIN": str(work / "build")}
    with status(
        f"building versitygw {spec.version} into {destination} with go install (first run only, {TYPICAL_BUILD})", log
    ):
        go_command.run_build(
            [go, "install", "-ldflags", f"-X main.Version=v{spec.version}", f"{MODULE}@v{spec.version}"], log, work, env
        )
    built = work / "build" / "versitygw"
    if not built.is_file():
        raise TracestackError(f"go install finished but {built} is missing; see {log}")
    built.replace(destination)
    return destination
