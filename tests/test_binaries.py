"""The binary provider: the order it looks in, verified downloads, and what it says when nothing works."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_tracestack.binaries.finder import TEMPO, BinaryProvider, Obtained, download_verified
from pytest_tracestack.errors import BinaryNotFoundError, TracestackError


def _tarball(member: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def release_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server standing in for a release mirror (serves files from a temp dir)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _publish(root: Path, version: str, payload: bytes, checksum: str | None = None) -> None:
    release = root / "grafana/tempo/releases/download" / f"v{version}"
    release.mkdir(parents=True)
    name = f"tempo_{version}_linux_amd64.tar.gz"
    (release / name).write_bytes(payload)
    digest = checksum or hashlib.sha256(payload).hexdigest()
    (release / "SHA256SUMS").write_text(f"{'0' * 64}  other.tar.gz\n{digest}  {name}\n")


def _script(path: Path, version_line: str) -> Path:
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return path


def test_missing_tempo_says_what_was_tried_and_how_to_provide_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    provider = BinaryProvider(allow_download=False, cache_root=tmp_path / "cache")
    with pytest.raises(BinaryNotFoundError) as raised:
        provider.find("tempo")
    message = str(raised.value)
    # The first line is what one-line summaries show: what is missing and the remedy.
    assert message.splitlines()[:2] == [
        "tempo 2.10.8 was not found: put Tempo 2.10.8's 'tempo' binary on PATH or "
        "pass --tracestack-tempo=/path/to/tempo",
        "Tried, in order:",
    ]
    assert "--tracestack-tempo / TRACESTACK_TEMPO: not set" in message
    assert "PATH: none of tempo" in message
    assert f"cache: {tmp_path / 'cache'}/tempo-2.10.8/tempo does not exist" in message
    assert "download: disabled (--tracestack-no-download)" in message
    assert "pass --tracestack-tempo=/path/to/tempo" in message
    assert "AGPL" in message


def test_a_missing_prometheus_says_to_install_debians_package_or_pass_its_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryNotFoundError) as raised:
        BinaryProvider(allow_download=True, cache_root=tmp_path / "cache").find("prometheus")
    message = str(raised.value)
    assert message.splitlines()[0] == (
        "prometheus 2.42.0 was not found: install Prometheus (Debian: apt-get install "
        "prometheus) or pass --tracestack-prometheus=/path/to/prometheus"
    )
    assert "--tracestack-prometheus / TRACESTACK_PROMETHEUS: not set" in message
    assert "download: no official binary release for this component" in message
    assert "--web" not in message and "2.33 or later" in message


def test_debians_prometheus_reports_its_version(tmp_path: Path, monkeypatch) -> None:
    _script(tmp_path / "prometheus", "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)")
    monkeypatch.setenv("PATH", str(tmp_path))
    found = BinaryProvider(allow_download=False, cache_root=tmp_path / "cache").find("prometheus")
    assert (found.version, found.source) == ("2.42.0", "PATH (prometheus)")


def test_an_explicit_path_wins_over_path_and_reports_its_version(tmp_path: Path, monkeypatch) -> None:
    on_path = tmp_path / "bin"
    on_path.mkdir()
    _script(on_path / "tempo", "tempo, version 2.9.0 (branch: HEAD)")
    explicit = _script(tmp_path / "my-tempo", "tempo, version 2.10.8 (branch: HEAD, revision: abc)")
    monkeypatch.setenv("PATH", str(on_path))
    found = BinaryProvider(explicit={"tempo": str(explicit)}, allow_download=False).find("tempo")
    assert (found.path, found.version, found.source, found.obtained) == (
        explicit,
        "2.10.8",
        "explicit path",
        Obtained.EXPLICIT,
    )


def test_a_wrong_explicit_path_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(TracestackError, match=r"TRACESTACK_TEMPO = .*nope: no executable file there"):
        BinaryProvider(explicit={"tempo": str(tmp_path / "nope")}).find("tempo")


def test_path_is_used_before_the_cache(tmp_path: Path, monkeypatch) -> None:
    _script(tmp_path / "tempo", "tempo, version 2.10.8")
    monkeypatch.setenv("PATH", str(tmp_path))
    found = BinaryProvider(allow_download=False, cache_root=tmp_path / "cache").find("tempo")
    assert found.source == "PATH (tempo)" and found.obtained is Obtained.PATH


def test_download_is_verified_extracted_and_cached(tmp_path: Path, monkeypatch, release_server) -> None:
    base, root = release_server
    _publish(root, "2.10.8", _tarball("tempo", b"#!/bin/sh\necho 'tempo, version 2.10.8'\n"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    provider = BinaryProvider(download_base=base, cache_root=tmp_path / "cache")
    found = provider.find("tempo")
    assert found.path == tmp_path / "cache" / "tempo-2.10.8" / "tempo"
    assert found.version == "2.10.8"
    assert found.source.endswith("SHA-256 verified") and found.obtained is Obtained.DOWNLOADED
    cached = provider.find("tempo")
    assert cached.source == "tracestack cache" and cached.obtained is Obtained.CACHE


def test_a_checksum_mismatch_installs_nothing_and_says_so(tmp_path: Path, monkeypatch, release_server) -> None:
    base, root = release_server
    _publish(root, "2.10.8", _tarball("tempo", b"tampered"), checksum="a" * 64)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    provider = BinaryProvider(download_base=base, cache_root=tmp_path / "cache")
    with pytest.raises(BinaryNotFoundError) as raised:
        provider.find("tempo")
    assert (
        f"checksum mismatch for {base}/grafana/tempo/releases/download/v2.10.8/tempo_2.10.8_linux_amd64.tar.gz"
        in str(raised.value)
    )
    assert f"expected {'a' * 64}" in str(raised.value)
    assert not (tmp_path / "cache" / "tempo-2.10.8" / "tempo").exists()


def test_a_checksum_file_without_the_archive_is_an_error(tmp_path: Path, release_server) -> None:
    base, root = release_server
    (root / "SUMS").write_text(f"{'b' * 64}  something-else.tar.gz\n")
    (root / "tempo.tar.gz").write_bytes(_tarball("tempo", b"x"))
    with pytest.raises(OSError, match=r"SUMS lists no SHA-256 for tempo.tar.gz"):
        download_verified(f"{base}/tempo.tar.gz", f"{base}/SUMS", "tempo", tmp_path / "out" / "tempo")


def test_the_collector_is_built_when_nothing_else_works(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    built = []

    def fake_build(spec, destination: Path) -> Path:
        built.append(spec.version)
        destination.parent.mkdir(parents=True, exist_ok=True)
        return _script(destination, "otelcol-tracestack version 0.129.0")

    provider = BinaryProvider(allow_download=False, cache_root=tmp_path / "cache", builders={"otelcol": fake_build})
    found = provider.find("otelcol")
    assert built == ["0.129.0"] and found.source == "built with OCB" and found.version == "0.129.0"
    assert found.obtained is Obtained.BUILT


def test_tempo_spec_points_at_the_official_release_layout() -> None:
    assert (
        TEMPO.archive.format(v="2.10.8", arch="amd64")
        == "grafana/tempo/releases/download/v2.10.8/tempo_2.10.8_linux_amd64.tar.gz"
    )


def test_a_tempo_of_another_major_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from pytest_tracestack.binaries.finder import WrongVersionError, check_major_version

    tempo3 = _script(tmp_path / "tempo", "tempo, version 3.0.3 (branch: HEAD)")
    found = BinaryProvider(explicit={"tempo": str(tempo3)}).find("tempo")
    with pytest.raises(WrongVersionError) as raised:
        check_major_version(found, "2.10.8", "distributed")
    assert str(raised.value) == (
        f"profile distributed is written for tempo 2.10.8 (2.x), but {tempo3} reports 3.0.3; provide tempo 2.10.8 "
        "(--tracestack-tempo=PATH) or use a profile written for 3.x"
    )
    check_major_version(
        BinaryProvider(explicit={"tempo": str(_script(tmp_path / "t2", "tempo, version 2.9.1"))}).find("tempo"),
        "2.10.8",
        "distributed",
    )  # same major: accepted


def test_kube_tools_download_is_verified_and_a_wrong_checksum_installs_nothing(tmp_path: Path, release_server) -> None:
    base, root = release_server
    (root / "kubectl").write_bytes(b"#!/bin/sh\necho kubectl\n")
    (root / "kubectl.sha256").write_text(hashlib.sha256(b"#!/bin/sh\necho kubectl\n").hexdigest())
    installed = download_verified(f"{base}/kubectl", f"{base}/kubectl.sha256", "", tmp_path / "bin" / "kubectl")
    assert installed.read_bytes().startswith(b"#!/bin/sh") and installed.stat().st_mode & 0o111
    (root / "kind").write_bytes(b"tampered")
    (root / "kind.sha256sum").write_text(f"{'c' * 64}  kind\n")
    with pytest.raises(OSError, match=rf"checksum mismatch for {base}/kind: expected {'c' * 64}"):
        download_verified(f"{base}/kind", f"{base}/kind.sha256sum", "", tmp_path / "bin" / "kind")
    assert not (tmp_path / "bin" / "kind").exists()


FAKE_GO = """#!/bin/sh
# Not Go: records how it was asked to build, and leaves a versitygw that says the version the ldflag gave it.
echo "$@" > "$GO_ARGS"
version=$(echo "$@" | sed 's/.*main.Version=\\([^ ]*\\).*/\\1/')
printf '#!/bin/sh\\necho "Version  : %s"\\n' "$version" > "$GOBIN/versitygw"
chmod +x "$GOBIN/versitygw"
"""


def test_tracestack_install_versitygw_builds_the_pinned_module_with_its_version_into_the_cache(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from pytest_tracestack.cli import main

    (tmp_path / "bin").mkdir()
    _script(tmp_path / "bin" / "go", "").write_text(FAKE_GO)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("GO_ARGS", str(tmp_path / "go-args"))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACESTACK_VERSITYGW", raising=False)
    assert main(["install", "versitygw"]) == 0
    built = tmp_path / "cache" / "bin" / "versitygw-1.8.0" / "versitygw"
    assert capsys.readouterr().out.strip() == f"versitygw: {built} (1.8.0, built with go install)"
    assert (tmp_path / "go-args").read_text().split() == [
        "install",
        "-ldflags",
        "-X",
        "main.Version=v1.8.0",
        "github.com/versity/versitygw/cmd/versitygw@v1.8.0",
    ]
    assert main(["install", "versitygw"]) == 0  # once per version: the second finds it in the cache
    assert capsys.readouterr().out.strip() == f"versitygw: {built} (1.8.0, tracestack cache)"
