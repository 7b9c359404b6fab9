"""`tracestack install kube-control-plane`: the wrapper modules it generates, and that it builds once per version
and one process at a time (the build itself runs in .ci/run, and the kwok tests use what it built)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pytest_tracestack.binaries.control_plane import ETCD, KUBERNETES, binary_paths, install_control_plane
from pytest_tracestack.binaries.go_build import go_default_name, wrapper_go_mod
from pytest_tracestack.binaries.install_lock import installing
from pytest_tracestack.cli import main

# The shape of k8s.io/kubernetes' go.mod (v1.35.4): staging modules required at v0.0.0 and replaced by
# directories of the repository; and of etcd's server module, which also "forbids" modules by replacing them.
KUBERNETES_GO_MOD = """module k8s.io/kubernetes

go 1.25.0

godebug default=go1.25

require (
	github.com/spf13/cobra v1.10.0
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)
"""
ETCD_GO_MOD = """module go.etcd.io/etcd/server/v3

go 1.26.0

require go.etcd.io/etcd/api/v3 v3.6.16

replace go.etcd.io/etcd/api/v3 => ../api

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
"""


def _module_file(tmp_path: Path, text: str) -> dict:
    if shutil.which("go") is None:
        pytest.skip("needs Go (https://go.dev/dl/) to read a go.mod as `go mod edit -json` does")
    path = tmp_path / "go.mod"
    path.write_text(text)
    return json.loads(
        subprocess.run(["go", "mod", "edit", "-json", str(path)], check=True, capture_output=True, text=True).stdout
    )


def test_the_wrapper_replaces_each_required_local_module_by_its_published_version(tmp_path: Path) -> None:
    text = wrapper_go_mod(KUBERNETES, _module_file(tmp_path, KUBERNETES_GO_MOD))
    assert text.splitlines() == [
        "module tracestack.invalid/build",
        "",
        "go 1.25.0",
        "",
        "godebug default=go1.25",
        "",
        "require k8s.io/kubernetes v1.35.4",
        "",
        "replace k8s.io/api => k8s.io/api v0.35.4",
        "replace k8s.io/client-go => k8s.io/client-go v0.35.4",
    ]


def test_a_local_replace_of_a_module_not_required_is_left_out(tmp_path: Path) -> None:
    text = wrapper_go_mod(ETCD, _module_file(tmp_path, ETCD_GO_MOD))
    assert "replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.6.16" in text
    assert "FORBIDDEN" not in text and "replace go.etcd.io/etcd =>" not in text


def test_the_binary_go_builds_is_found_under_the_name_go_gives_it() -> None:
    assert go_default_name("go.etcd.io/etcd/server/v3") == "server"  # a major-version suffix is skipped
    assert go_default_name("k8s.io/kubernetes/cmd/kube-apiserver") == "kube-apiserver"


def _fake_build(paths: list[Path]) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)


def test_what_is_built_is_reused_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no Go: a build would fail
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path))
    _fake_build(list(vars(binary_paths(tmp_path / "bin")).values()))
    assert main(["install", "kube-control-plane"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"kube-apiserver: {tmp_path}/bin/kubernetes-v1.35.4/kube-apiserver"
    assert f"etcd: {tmp_path}/bin/etcd-v3.6.16/etcd" in printed and len(printed) == 7


def test_without_go_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path))
    assert main(["install", "kube-control-plane"]) == 1
    assert "Go is not on PATH, so the Kubernetes control plane cannot be built" in capsys.readouterr().err


def test_a_second_process_waits_for_the_build_and_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One build per program at a time: the lock beside its first binary, held here by another holder, makes
    the install wait, and then find everything built (it would fail had it built: no Go on PATH)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    binaries = binary_paths(tmp_path)
    _fake_build([binaries.etcd, binaries.kwok, binaries.kwokctl])
    kubernetes = [binaries.kube_apiserver, binaries.kube_controller_manager, binaries.kube_scheduler, binaries.kubectl]
    holding = threading.Event()

    def other_build() -> None:
        with installing(binaries.kube_apiserver, "building k8s.io/kubernetes elsewhere"):
            holding.set()
            time.sleep(1.0)
            _fake_build(kubernetes)

    other = threading.Thread(target=other_build)
    other.start()
    holding.wait(10)
    started = time.monotonic()
    assert install_control_plane(tmp_path) == binaries
    assert time.monotonic() - started >= 0.5
    other.join()
