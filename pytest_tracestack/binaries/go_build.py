"""Builds the commands of a Go module that ``go install module/cmd@version`` refuses, because its go.mod replaces
some of its requirements with directories of its own repository (Kubernetes' staging modules, etcd's api and
client modules).

A wrapper module is written at build time: it requires the module, copies its ``go`` and ``godebug`` lines, and
turns each of its local-path replacements of a module it requires into a replacement by the published version
(``k8s.io/api => k8s.io/api v0.35.4``). The list comes from the module's own go.mod, downloaded through the Go
module proxy, so a new release's list is read, not restated here.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_tracestack.binaries.go_command import find_go, run_build
from pytest_tracestack.errors import TracestackError

WRAPPER_MODULE = "tracestack.invalid/build"


@dataclass(frozen=True)
class GoProgram:
    """Commands of one Go module, built together with one wrapper module."""

    name: str  # kubernetes: names its directory in the cache
    module: str  # k8s.io/kubernetes
    version: str  # v1.35.4
    commands: dict[str, str]  # binary name -> package path of its main package
    replaced_version: str  # the version its local-path replacements are published at
    ldflags: tuple[str, ...] = ()  # -X settings (the version the binary reports)


def build_program(program: GoProgram, work: Path, output: Path, log: Path) -> list[Path]:
    """Build ``program``'s commands in ``work`` (its wrapper module) into ``output``, named as in
    ``program.commands``; every command appends to ``log``. Returns the built binaries."""
    go = find_go("the Kubernetes control plane", "install Go (1.26+, https://go.dev/dl/) and run again")
    work.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    # -mod=mod: the wrapper's go.sum starts empty and is filled as the build resolves the module graph.
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": f"{os.environ.get('GOFLAGS', '')} -mod=mod".strip()}
    downloaded = json.loads(
        run_build([go, "mod", "download", "-json", f"{program.module}@{program.version}"], log, work, env)
    )
    if downloaded.get("Error"):
        raise TracestackError(f"go mod download {program.module}@{program.version}: {downloaded['Error']}")
    module_file = json.loads(run_build([go, "mod", "edit", "-json", downloaded["GoMod"]], log, work, env))
    (work / "go.mod").write_text(wrapper_go_mod(program, module_file))
    (work / "go.sum").touch()
    ldflags = " ".join(f"-X {setting}" for setting in program.ldflags)
    run_build(
        [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(output) + os.sep, *program.commands.values()],
        log,
        work,
        env,
    )
    built = []
    for name, package in program.commands.items():
        default = output / go_default_name(package)
        if not default.is_file():
            raise TracestackError(f"go build finished but {default} is missing; see {log}")
        built.append(default.replace(output / name))
    return built


def go_default_name(package: str) -> str:
    """The name ``go build -o DIR/`` gives a main package's binary: its last path element, or the one before
    a major-version suffix (go.etcd.io/etcd/server/v3 -> server)."""
    elements = package.split("/")
    return elements[-2] if re.fullmatch(r"v[2-9]\d*", elements[-1]) and len(elements) > 1 else elements[-1]


def wrapper_go_mod(program: GoProgram, module_file: dict) -> str:
    """The wrapper's go.mod, from ``module_file`` (``go mod edit -json`` of the module's go.mod)."""
    required = {requirement["Path"] for requirement in module_file.get("Require") or []}
    local = sorted(
        replacement["Old"]["Path"]
        for replacement in module_file.get("Replace") or []
        if _is_local(replacement["New"]["Path"]) and replacement["Old"]["Path"] in required
    )
    lines = [f"module {WRAPPER_MODULE}", "", f"go {module_file.get('Go') or '1.24'}", ""]
    lines += [f"godebug {entry['Key']}={entry['Value']}" for entry in module_file.get("GoDebug") or []]
    lines += ["", f"require {program.module} {program.version}", ""]
    lines += [f"replace {path} => {path} {program.replaced_version}" for path in local]
    return "\n".join(lines) + "\n"


def _is_local(path: str) -> bool:
    return path.startswith(("./", "../"))
