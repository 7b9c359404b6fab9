"""Finding kind, kubectl and helm, verified downloads from a loopback release server (no internet here),
and the container engine check."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pytest_tracestack.binaries import kube_tools
from pytest_tracestack.binaries.container_engine import require_container_engine
from pytest_tracestack.binaries.control_plane import KUBERNETES_VERSION, binary_paths
from pytest_tracestack.binaries.finder import _arch, download_verified
from pytest_tracestack.binaries.kube_tools import TOOLS, find_tool
from pytest_tracestack.errors import BinaryNotFoundError, UnavailableError

PROGRAM = b"#!/bin/sh\necho release\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def release_server(tmp_path: Path):
    """An HTTP server on 127.0.0.1 (free port) serving ``root``, stopped at the end of the test."""
    root = tmp_path / "releases"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with nothing on it but an empty directory; the tools' env vars unset."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    for spec in TOOLS.values():
        monkeypatch.delenv(spec.env, raising=False)
    monkeypatch.delenv(kube_tools.MIRROR_ENV, raising=False)
    return bin_dir


def _publish(root: Path, relative: str, payload: bytes, checksum: str) -> None:
    target = root / relative.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    (target.parent / (target.name + (".sha256" if target.name == "kubectl" else ".sha256sum"))).write_text(checksum)


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def test_kind_download_is_verified_against_its_sha256sum(tmp_path: Path, release_server) -> None:
    base, root = release_server
    _publish(root, "kind-linux-amd64", PROGRAM, f"{_sha(PROGRAM)}  kind-linux-amd64\n")
    installed = download_verified(
        f"{base}/kind-linux-amd64", f"{base}/kind-linux-amd64.sha256sum", "", tmp_path / "bin" / "kind"
    )
    assert installed.read_bytes() == PROGRAM and installed.stat().st_mode & stat.S_IXUSR


def test_a_wrong_checksum_installs_nothing(tmp_path: Path, release_server) -> None:
    base, root = release_server
    _publish(root, "kind-linux-amd64", b"tampered", f"{_sha(PROGRAM)}  kind-linux-amd64\n")
    destination = tmp_path / "bin" / "kind"
    with pytest.raises(
        OSError,
        match=rf"checksum mismatch for {base}/kind-linux-amd64: expected {_sha(PROGRAM)} "
        rf"\(from {base}/kind-linux-amd64.sha256sum\), got {_sha(b'tampered')}; "
        r"nothing was installed",
    ):
        download_verified(f"{base}/kind-linux-amd64", f"{base}/kind-linux-amd64.sha256sum", "", destination)
    assert not destination.parent.exists() or list(destination.parent.iterdir()) == []


def test_kubectl_bare_digest_and_a_checksum_file_for_another_asset(tmp_path: Path, release_server) -> None:
    base, root = release_server
    _publish(root, "kubectl", PROGRAM, _sha(PROGRAM) + "\n")
    assert download_verified(f"{base}/kubectl", f"{base}/kubectl.sha256", "", tmp_path / "kubectl").is_file()
    _publish(root, "kind-linux-arm64", PROGRAM, f"{_sha(PROGRAM)}  kind-linux-amd64\n")
    with pytest.raises(OSError, match="lists no SHA-256 for kind-linux-arm64"):
        download_verified(f"{base}/kind-linux-arm64", f"{base}/kind-linux-arm64.sha256sum", "", tmp_path / "kind")


def test_helm_is_extracted_from_its_verified_tarball(tmp_path: Path, release_server) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size = len(PROGRAM)
        archive.addfile(info, io.BytesIO(PROGRAM))
    tarball = buffer.getvalue()
    base, root = release_server
    _publish(root, "helm-v3.19.0-linux-amd64.tar.gz", tarball, f"{_sha(tarball)}  helm-v3.19.0-linux-amd64.tar.gz")
    installed = download_verified(
        f"{base}/helm-v3.19.0-linux-amd64.tar.gz",
        f"{base}/helm-v3.19.0-linux-amd64.tar.gz.sha256sum",
        "helm",
        tmp_path / "helm",
    )
    assert installed.read_bytes() == PROGRAM


def test_a_mirror_serves_the_official_paths_and_the_download_is_cached(
    tmp_path: Path, release_server, empty_path: Path
) -> None:
    base, root = release_server
    spec = TOOLS["kind"]
    official, _ = spec.urls()
    assert official == f"https://kind.sigs.k8s.io/dl/v0.31.0/kind-linux-{_arch()}"
    assert spec.urls(base + "/") == (
        f"{base}/dl/v0.31.0/kind-linux-{_arch()}",
        f"{base}/dl/v0.31.0/kind-linux-{_arch()}.sha256sum",
    )
    _publish(root, f"dl/v0.31.0/kind-linux-{_arch()}", PROGRAM, f"{_sha(PROGRAM)}  kind-linux-{_arch()}\n")
    cache = tmp_path / "cache"
    found = find_tool("kind", cache_root=cache, mirror=base)
    assert found.path == cache / "kind-v0.31.0" / "kind" and found.path.read_bytes() == PROGRAM
    assert found.source == f"downloaded from {base}/dl/v0.31.0/kind-linux-{_arch()}, SHA-256 verified"
    (root / "dl").rename(root / "gone")  # the second lookup must not need the server
    assert find_tool("kind", cache_root=cache, mirror=base).path == found.path


def test_the_mirror_can_come_from_the_environment(
    tmp_path: Path, release_server, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = release_server
    _publish(root, f"release/{TOOLS['kubectl'].version}/bin/linux/{_arch()}/kubectl", PROGRAM, _sha(PROGRAM))
    monkeypatch.setenv(kube_tools.MIRROR_ENV, base)
    assert find_tool("kubectl", cache_root=tmp_path / "cache").path.read_bytes() == PROGRAM


def _program(path: Path, says: str = "") -> Path:
    """TEST DOUBLE: a tool that prints ``says`` to any arguments (as `helm version --short` would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{says}'\n")
    path.chmod(0o755)
    return path


def test_explicit_path_env_var_and_path_come_before_the_cache(
    tmp_path: Path, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cached = _program(cache / "helm-v3.19.0" / "helm")
    assert find_tool("helm", cache_root=cache, allow_download=False).path == cached
    on_path = _program(empty_path / "helm", "v3.19.1+g1234abc")
    assert find_tool("helm", cache_root=cache, allow_download=False).path == on_path
    from_env = _program(tmp_path / "env" / "helm", "v3.18.6+gabcdef0")
    monkeypatch.setenv("TRACESTACK_HELM", str(from_env))
    assert find_tool("helm", cache_root=cache, allow_download=False).path == from_env
    explicit = _program(tmp_path / "explicit" / "helm", "v3.20.0+g0000000")
    assert find_tool("helm", explicit=str(explicit), cache_root=cache, allow_download=False).path == explicit


@pytest.mark.parametrize(
    ("says", "why"),
    [
        (
            "v3.17.3+ge4da497",
            "it is 3.17.3; tracestack needs helm 3.18.5 or later and below 4.0.0 (from 3.18.5 on, helm "
            "checks a chart's values schema",
        ),
        ("v4.0.1+g1111111", "it is 4.0.1; tracestack needs helm 3.18.5 or later and below 4.0.0"),
        ("release", "it did not say its version; tracestack needs helm 3.18.5 or later and below 4.0.0"),
    ],
)
def test_a_helm_on_path_of_another_version_is_passed_over_for_the_pinned_one(
    tmp_path: Path, empty_path: Path, says: str, why: str
) -> None:
    on_path = _program(empty_path / "helm", says)
    cached = _program(tmp_path / "cache" / "helm-v3.19.0" / "helm")
    found = find_tool("helm", cache_root=tmp_path / "cache", allow_download=False)
    assert found.path == cached and found.version == "3.19.0"
    assert found.describe() == (
        f"helm 3.19.0 at {cached} (tracestack cache, the pinned version); helm on PATH "
        f"({on_path}) not used: " + found.passed_over[0].split(" not used: ")[1]
    )
    assert why in found.passed_over[0]


def test_an_unsuitable_helm_on_path_and_nothing_else_says_why(tmp_path: Path, empty_path: Path) -> None:
    _program(empty_path / "helm", "v3.17.3+ge4da497")
    with pytest.raises(BinaryNotFoundError) as raised:
        find_tool("helm", cache_root=tmp_path / "cache", allow_download=False)
    message = str(raised.value)
    assert f"helm on PATH ({empty_path}/helm) not used: it is 3.17.3; tracestack needs helm 3.18.5" in message
    assert "download: not allowed" in message


def test_an_explicit_helm_of_an_unsuitable_version_is_an_error_not_a_fallback(
    tmp_path: Path, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _program(tmp_path / "old" / "helm", "v3.17.3+ge4da497")
    _program(tmp_path / "cache" / "helm-v3.19.0" / "helm")
    monkeypatch.setenv("TRACESTACK_HELM", str(old))
    with pytest.raises(
        UnavailableError,
        match=rf"TRACESTACK_HELM: {old}: it is 3.17.3; tracestack needs helm 3.18.5 "
        r"or later and below 4.0.0 .*unset it to use the pinned helm v3.19.0",
    ):
        find_tool("helm", cache_root=tmp_path / "cache", allow_download=False)


def test_kubectl_on_path_must_be_within_one_minor_of_the_pinned_kubernetes(tmp_path: Path, empty_path: Path) -> None:
    """The pin is the Kubernetes `tracestack install kube-control-plane` builds (v1.35.4): kubectl's version skew
    policy allows one minor either way, so the v1.32 wrapper on PATH here is refused, saying why."""
    assert TOOLS["kubectl"].version == KUBERNETES_VERSION == "v1.35.4"
    kubectl = _program(empty_path / "kubectl", "Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0")
    with pytest.raises(
        BinaryNotFoundError,
        match=r"kubectl on PATH \(.*\) not used: it is 1.32.4; tracestack needs "
        r"kubectl 1.34.0 or later and below 1.37.0 \(kubectl is supported "
        r"within one minor version of the API server",
    ):
        find_tool("kubectl", cache_root=tmp_path / "cache", allow_download=False)
    _program(kubectl, "Client Version: v1.34.2")
    found = find_tool("kubectl", cache_root=tmp_path / "cache", allow_download=False)
    assert (found.path, found.version, found.source) == (kubectl, "1.34.2", "PATH")


def test_the_pinned_kubectl_in_the_cache_comes_before_the_one_on_path(tmp_path: Path, empty_path: Path) -> None:
    """Where `tracestack install kube-control-plane` puts kubectl is where the finder looks first."""
    _program(empty_path / "kubectl", "Client Version: v1.35.0")
    cached = _program(tmp_path / "cache" / f"kubernetes-{KUBERNETES_VERSION}" / "kubectl", "Client Version: v1.35.4")
    assert binary_paths(tmp_path / "cache").kubectl == cached
    found = find_tool("kubectl", cache_root=tmp_path / "cache", allow_download=False)
    assert (found.path, found.source) == (cached, "tracestack cache, the pinned version")


def test_an_env_var_naming_no_program_is_an_error_not_a_fallback(
    tmp_path: Path, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACESTACK_KUBECTL", str(tmp_path / "nope"))
    with pytest.raises(BinaryNotFoundError, match=rf"TRACESTACK_KUBECTL: {tmp_path}/nope is not an executable file"):
        find_tool("kubectl", cache_root=tmp_path / "cache", allow_download=False)


def test_nothing_found_says_everything_that_was_tried(tmp_path: Path, empty_path: Path) -> None:
    with pytest.raises(BinaryNotFoundError) as raised:
        find_tool("kind", cache_root=tmp_path / "cache", mirror="http://127.0.0.1:9", allow_download=True)
    message = str(raised.value)
    for tried in (
        "TRACESTACK_KIND: not given",
        "PATH: no kind",
        f"cache: {tmp_path}/cache/kind-v0.31.0/kind does not exist",
        f"download http://127.0.0.1:9/dl/v0.31.0/kind-linux-{_arch()}: ConnectError",
    ):
        assert tried in message
    assert "TRACESTACK_KUBE_TOOLS_MIRROR=URL" in message


def _engine_script(directory: Path, name: str, stderr: str, code: int) -> None:
    """TEST DOUBLE: a docker/podman CLI whose `info` fails the way the real one does without an engine."""
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {code}\n")
    script.chmod(0o755)


def test_no_container_engine_names_what_each_engine_said(empty_path: Path) -> None:
    _engine_script(
        empty_path,
        "docker",
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        1,
    )
    with pytest.raises(UnavailableError) as raised:
        require_container_engine()
    message = str(raised.value)
    assert "`docker info` exited 1: Cannot connect to the Docker daemon" in message
    assert "podman: not on PATH" in message and "--tracestack-runtime=cluster" in message


def test_a_container_engine_that_answers_is_chosen(empty_path: Path) -> None:
    _engine_script(empty_path, "docker", "no daemon", 1)
    _engine_script(empty_path, "podman", "host: ok", 0)
    assert require_container_engine() == "podman"


def test_auto_asks_the_engines_the_kind_runtime_asks(empty_path: Path) -> None:
    """--tracestack-runtime=auto picks kind exactly when the kind runtime's own check would find an engine."""
    from pytest_tracestack.plugin.options import Setting
    from pytest_tracestack.plugin.runtime_choice import choose_runtime
    from pytest_tracestack.profiles.profile import load_profile

    auto, profile = Setting("auto", "default"), load_profile("manifest")
    _engine_script(empty_path, "docker", "Cannot connect to the Docker daemon", 1)
    assert choose_runtime(auto, profile).name == "local"
    _engine_script(empty_path, "podman", "host: ok", 0)
    choice = choose_runtime(auto, profile)
    assert (choice.name, choice.reason) == ("kind", "auto: container engine 'podman info' answered")
    assert require_container_engine() == "podman"


def test_the_real_docker_cli_without_an_engine_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import subprocess

    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("needs the docker CLI (Debian: apt-get install docker.io) with no engine running")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0:
        pytest.skip("a Docker engine answers on this machine, so there is no missing engine to report")
    monkeypatch.setenv("PATH", os.path.dirname(docker))
    with pytest.raises(UnavailableError, match=r"`docker info` exited \d+: "):
        require_container_engine()


FIND_KIND = """
import sys
from pathlib import Path
from pytest_tracestack.binaries.kube_tools import find_tool

print(find_tool("kind", cache_root=Path(sys.argv[1]), mirror=sys.argv[2]).source)
"""


def test_two_processes_that_need_kind_download_it_once(
    tmp_path: Path, release_server, empty_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = release_server
    _publish(root, f"dl/v0.31.0/kind-linux-{_arch()}", PROGRAM, f"{_sha(PROGRAM)}  kind-linux-{_arch()}\n")
    downloads = []

    def slow_counted_get(handler: _QuietHandler) -> None:
        if handler.path.endswith(f"kind-linux-{_arch()}"):
            downloads.append(handler.path)
            time.sleep(2)  # both processes are inside the install before the first download ends
        SimpleHTTPRequestHandler.do_GET(handler)

    monkeypatch.setattr(_QuietHandler, "do_GET", slow_counted_get, raising=False)
    cache = tmp_path / "cache"
    finders = [
        subprocess.Popen(
            [sys.executable, "-c", FIND_KIND, str(cache), base],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = [finder.communicate(timeout=60) for finder in finders]
    assert [finder.returncode for finder in finders] == [0, 0], answers
    assert len(downloads) == 1
    sources = sorted(out.strip() for out, _ in answers)
    assert sources == [
        f"downloaded from {base}/dl/v0.31.0/kind-linux-{_arch()}, SHA-256 verified",
        "tracestack cache, the pinned version (installed by another tracestack process meanwhile)",
    ]
    waited = next(err for out, err in answers if "meanwhile" in out)
    assert "tracestack: waiting for another tracestack process (pid " in waited
    assert f") downloading {base}/dl/v0.31.0/kind-linux-{_arch()} into {cache}/kind-v0.31.0/kind" in waited
