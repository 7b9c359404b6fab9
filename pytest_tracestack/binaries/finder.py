"""Finds the real binaries a profile needs, in a fixed order, and says what it tried when it can't.

Order: explicit option / env var -> PATH -> tracestack's cache -> official release download with
SHA-256 verification (not for nginx) -> for the collector, an OCB build when Go is present; for versitygw,
a `go install` of its module.
"""

from __future__ import annotations

import hashlib
import io
import platform
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx

from pytest_tracestack import paths, versions
from pytest_tracestack.binaries.install_lock import Install, installing
from pytest_tracestack.binaries.progress import progress_download
from pytest_tracestack.errors import BinaryNotFoundError, TracestackError

DEFAULT_DOWNLOAD_BASE = "https://github.com"


@dataclass(frozen=True)
class BinarySpec:
    kind: str  # the profile's binary name: tempo, otelcol, nginx
    version: str
    path_names: tuple[str, ...]  # names looked up on PATH
    option: str  # the option that names it explicitly
    how: str  # what to tell the user when nothing works
    remedy: str = ""  # the one-line version of ``how``, shown first
    archive: str = ""  # release archive path under the download base, {v} and {arch} filled in
    checksums: str = ""  # checksum file path under the download base
    member: str = ""  # the binary's name inside the archive
    version_args: tuple[str, ...] = ("--version",)
    built_with: str = "OCB"  # how tracestack builds it into its cache when it has a builder for it

    @property
    def env(self) -> str:
        return f"TRACESTACK_{self.kind.upper()}"


TEMPO = BinarySpec(
    kind="tempo",
    version=versions.TEMPO.version,
    path_names=("tempo",),
    option="--tracestack-tempo / TRACESTACK_TEMPO",
    archive="grafana/tempo/releases/download/v{v}/tempo_{v}_linux_{arch}.tar.gz",
    checksums="grafana/tempo/releases/download/v{v}/SHA256SUMS",
    member="tempo",
    version_args=("-version",),
    remedy="put Tempo {v}'s 'tempo' binary on PATH or pass --tracestack-tempo=/path/to/tempo",
    how=(
        "download Tempo {v} from https://github.com/grafana/tempo/releases (tempo_{v}_linux_{arch}.tar.gz), "
        "put the 'tempo' binary on PATH or pass --tracestack-tempo=/path/to/tempo; behind a firewall, "
        "mirror the release and pass {options}download-base=URL. (Tempo cannot be built here: its "
        "Go module is AGPL and tracestack does not depend on it.)"
    ),
)

OTELCOL = BinarySpec(
    kind="otelcol",
    version=versions.OTELCOL.version,
    path_names=("otelcol-tracestack", "otelcol-contrib"),
    option="--tracestack-otelcol / TRACESTACK_OTELCOL",
    archive="open-telemetry/opentelemetry-collector-releases/releases/download/v{v}/otelcol-contrib_{v}_linux_{arch}.tar.gz",
    checksums="open-telemetry/opentelemetry-collector-releases/releases/download/v{v}/opentelemetry-collector-releases_otelcol-contrib_checksums.txt",
    member="otelcol-contrib",
    remedy="run 'tracestack install otelcol' (needs Go) or pass --tracestack-otelcol=/path/to/otelcol",
    how=(
        "run 'tracestack install otelcol' (builds it with the OpenTelemetry Collector Builder; needs Go), "
        "or put otelcol-contrib {v} on PATH, or pass --tracestack-otelcol=/path/to/otelcol"
    ),
)

NGINX = BinarySpec(
    kind="nginx",
    version=versions.NGINX.version,
    path_names=("nginx",),
    option="--tracestack-nginx / TRACESTACK_NGINX",
    version_args=("-v",),
    remedy="install nginx with the OpenTelemetry module (nginx-module-otel) or pass --tracestack-nginx=/path/to/nginx",
    how=(
        "install nginx (Debian: apt-get install nginx) and the OpenTelemetry module from nginx.org's "
        "packages (nginx-module-otel), or use the kind runtime with the official nginx:<ver>-otel image"
    ),
)

# Debian's package (2.42 in bookworm) runs here; the metrics-generator profile needs its remote-write receiver
# (--web.enable-remote-write-receiver, Prometheus 2.33 and later).
PROMETHEUS = BinarySpec(
    kind="prometheus",
    version=versions.PROMETHEUS.version,
    path_names=("prometheus",),
    option="--tracestack-prometheus / TRACESTACK_PROMETHEUS",
    remedy="install Prometheus (Debian: apt-get install prometheus) or pass "
    "--tracestack-prometheus=/path/to/prometheus",
    how=(
        "install Prometheus 2.33 or later (Debian: apt-get install --no-install-recommends prometheus, then stop the "
        "service it starts; or the release archive from https://github.com/prometheus/prometheus/releases), put "
        "'prometheus' on PATH or pass --tracestack-prometheus=/path/to/prometheus"
    ),
)

VERSITYGW = BinarySpec(
    kind="versitygw",
    version=versions.VERSITYGW.version,
    path_names=("versitygw",),
    option="--tracestack-versitygw / TRACESTACK_VERSITYGW",
    built_with="go install",
    remedy="run 'tracestack install versitygw' (needs Go) or pass --tracestack-versitygw=/path/to/versitygw",
    how=(
        "run 'tracestack install versitygw' (builds the S3 server of the S3 profiles, Apache-2.0, from its Go "
        "module github.com/versity/versitygw v{v}; needs Go), or put versitygw {v} on PATH, or pass "
        "--tracestack-versitygw=/path/to/versitygw"
    ),
)

SPECS = {spec.kind: spec for spec in (TEMPO, OTELCOL, NGINX, VERSITYGW, PROMETHEUS)}


class Obtained(Enum):
    """How a binary was obtained. Only what tracestack fetched from the official release (its SHA-256 verified) or
    built itself is vouched for: a binary's word about its version proves nothing about what it is."""

    EXPLICIT = "explicit path"
    PATH = "found on PATH"
    CACHE = "tracestack's cache"  # holds only tracestack's verified downloads and builds
    DOWNLOADED = "downloaded and SHA-256 verified"
    BUILT = "built by tracestack"

    @property
    def by_tracestack(self) -> bool:
        return self in (Obtained.CACHE, Obtained.DOWNLOADED, Obtained.BUILT)


@dataclass(frozen=True)
class FoundBinary:
    kind: str
    path: Path
    version: str  # as the binary reports it ("" when it would not say)
    source: str  # how it was found, in words for the user
    reported: str = ""  # the first line the binary printed when asked its version
    obtained: Obtained = field(kw_only=True)

    def describe(self) -> str:
        return f"{self.path} ({self.version or 'version unknown'}, {self.source})"


Located = tuple[Path, str, Obtained]  # where a step of the search found a binary, in words, and how


@dataclass
class BinaryProvider:
    explicit: dict[str, str | None] = field(default_factory=dict)  # kind -> path from option/env
    download_base: str | None = None
    allow_download: bool = True
    cache_root: Path = field(default_factory=lambda: paths.cache_dir() / "bin")
    builders: dict[str, Callable[[BinarySpec, Path], Path]] = field(default_factory=dict)
    found: dict[str, FoundBinary] = field(default_factory=dict)  # kind -> what find() returned last
    options: str = "--tracestack-"  # how the command in use spells its options (`tracestack install`: "--")
    reads_options: bool = True  # False for `tracestack install`: only TRACESTACK_<KIND> names a binary there

    def cached_path(self, spec: BinarySpec) -> Path:
        name = spec.member or spec.path_names[0]
        if spec.kind == "otelcol":
            name = "otelcol-tracestack"
        return self.cache_root / f"{spec.kind}-{spec.version}" / name

    def find(self, kind: str) -> FoundBinary:
        spec = SPECS[kind]
        tried: list[str] = []
        for step in (self._explicit, self._on_path, self._in_cache, self._install):
            found = step(spec, tried)
            if found is not None:
                path, source, obtained = found
                reported = version_line(path, spec.version_args)
                self.found[kind] = FoundBinary(kind, path, _semver(reported), source, reported, obtained=obtained)
                return self.found[kind]
        raise BinaryNotFoundError(
            kind,
            spec.version,
            tried,
            spec.how.format(v=spec.version, arch=_arch(), options=self.options),
            spec.remedy.format(v=spec.version),
        )

    def _explicit(self, spec: BinarySpec, tried: list[str]) -> Located | None:
        given, named_by = self.explicit.get(spec.kind), spec.option if self.reads_options else spec.env
        if not given:
            tried.append(f"{named_by}: not set")
            return None
        path = Path(given).expanduser()
        if not (path.is_file() and _executable(path)):
            # An explicit path that is wrong is an error, not a reason to look elsewhere.
            raise TracestackError(f"{named_by} = {given}: no executable file there; fix the path or unset it")
        return path, "explicit path", Obtained.EXPLICIT

    def _on_path(self, spec: BinarySpec, tried: list[str]) -> Located | None:
        for name in spec.path_names:
            located = shutil.which(name)
            if located:
                return Path(located), f"PATH ({name})", Obtained.PATH
        tried.append(f"PATH: none of {', '.join(spec.path_names)}")
        return None

    def _in_cache(self, spec: BinarySpec, tried: list[str]) -> Located | None:
        path = self.cached_path(spec)
        if path.is_file() and _executable(path):
            return path, "tracestack cache", Obtained.CACHE
        tried.append(f"cache: {path} does not exist")
        return None

    def _install(self, spec: BinarySpec, tried: list[str]) -> Located | None:
        """A download, else a build, into the cache; one process at a time: the others wait, then use the cache."""
        downloadable, builder = self._downloadable(spec, tried), self.builders.get(spec.kind)
        if not (downloadable or builder):
            return None
        destination = self.cached_path(spec)
        if downloadable:
            what, log = f"downloading {self._archive_url(spec)} into {destination}", None
        else:
            what, log = self._building(spec, destination)
        with installing(destination, what, log) as install:
            if install.done_elsewhere:
                return (
                    install.destination,
                    "tracestack cache (installed by another tracestack process meanwhile)",
                    Obtained.CACHE,
                )
            found = self._download(spec, tried, install) if downloadable else None
            if found is None and builder is not None:
                found = self._build(builder, spec, tried, install)
            return found

    def _downloadable(self, spec: BinarySpec, tried: list[str]) -> bool:
        if not spec.archive:
            tried.append("download: no official binary release for this component")
        elif not self.allow_download:
            tried.append(f"download: disabled ({self.options}no-download)")
        return bool(spec.archive) and self.allow_download

    def _download(self, spec: BinarySpec, tried: list[str], install: Install) -> Located | None:
        archive_url, checksum_url = self._archive_url(spec), self._archive_url(spec, spec.checksums)
        try:
            path = download_verified(archive_url, checksum_url, spec.member, install.destination)
        except (httpx.HTTPError, OSError) as error:
            tried.append(f"download {archive_url}: {type(error).__name__}: {error}")
            return None
        return path, f"downloaded from {archive_url}, SHA-256 verified", Obtained.DOWNLOADED

    def _archive_url(self, spec: BinarySpec, template: str = "") -> str:
        base = (self.download_base or DEFAULT_DOWNLOAD_BASE).rstrip("/")
        return f"{base}/{(template or spec.archive).format(v=spec.version, arch=_arch())}"

    @staticmethod
    def _building(spec: BinarySpec, destination: Path) -> tuple[str, Path]:
        return f"building {spec.kind} {spec.version} into {destination} with {spec.built_with}", build_log(destination)

    def _build(
        self, builder: Callable[[BinarySpec, Path], Path], spec: BinarySpec, tried: list[str], install: Install
    ) -> Located | None:
        install.doing(*self._building(spec, install.destination))
        try:
            return builder(spec, install.destination), f"built with {spec.built_with}", Obtained.BUILT
        except TracestackError as error:
            tried.append(f"build: {error}")
            return None


def build_log(destination: Path) -> Path:
    """Where a build of ``destination`` writes its log (collector_build.py)."""
    return destination.parent / "build.log"


def download_verified(url: str, checksum_url: str, member: str, destination: Path, timeout: float = 60.0) -> Path:
    """Download ``url``, check its SHA-256 against the release's ``checksum_url``, and install it (or the member
    of that name in the .tar.gz, when ``member`` is given) at ``destination``; a mismatch installs nothing."""
    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        checksums = client.get(checksum_url)
        checksums.raise_for_status()
        expected = expected_sha256(checksums.text, url.rsplit("/", 1)[-1], checksum_url)
        payload = progress_download(client, url)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise ChecksumMismatch(
            f"checksum mismatch for {url}: expected {expected} (from {checksum_url}), got "
            f"{actual}; nothing was installed"
        )
    if member:
        payload = _extract(payload, member, url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.write_bytes(payload)
    partial.chmod(0o755)
    partial.replace(destination)
    return destination


class ChecksumMismatch(OSError):
    """The downloaded archive's SHA-256 differs from the one the release publishes."""


def expected_sha256(checksum_text: str, file_name: str, checksum_url: str) -> str:
    """The digest of ``file_name`` in a checksum file: lines of "digest  name", or one bare digest (kubectl's
    ``<asset>.sha256``)."""
    words = checksum_text.split()
    if len(words) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", words[0]):
        return words[0].lower()
    for line in checksum_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1].lstrip("*") == file_name and re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            return parts[0]
    raise ChecksumMismatch(f"{checksum_url} lists no SHA-256 for {file_name}")


def _extract(payload: bytes, member: str, url: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        for info in archive.getmembers():
            extracted = archive.extractfile(info) if info.isfile() and Path(info.name).name == member else None
            if extracted is not None:
                return extracted.read()
    raise OSError(f"{url} holds no file named {member}")


def check_major_version(found: FoundBinary, wanted: str | None, profile: str) -> None:
    """A binary whose major version differs from the profile's is refused (Tempo 3 has no ingesters)."""
    if not wanted or not found.version:
        return
    if not versions.Accepted.same_major(wanted).admits(found.version):
        raise WrongVersionError(
            f"profile {profile} is written for {found.kind} {wanted} ({wanted.split('.')[0]}.x), but {found.path} "
            f"reports {found.version}; provide {found.kind} {wanted} (--tracestack-{found.kind}=PATH) or use a "
            f"profile written for {found.version.split('.')[0]}.x"
        )


class WrongVersionError(TracestackError):
    """The binary found is of a major version the profile does not fit."""


def reported_version(path: Path, version_args: tuple[str, ...]) -> str:
    """The x.y.z in the first line the program prints when run with ``version_args`` ('2.10.8' from 'tempo,
    version 2.10.8 (branch: ...)'); "" when it says none."""
    return _semver(version_line(path, version_args))


def version_line(path: Path, version_args: tuple[str, ...]) -> str:
    """The first line the program prints when asked its version ('nginx version: nginx/1.22.1'), or ''."""
    try:
        done = subprocess.run(
            [str(path), *version_args], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return next((line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()), "")


def _semver(text: str) -> str:
    match = re.search(r"(\d+\.\d+\.\d+)", text)
    return match.group(1) if match else ""


def _executable(path: Path) -> bool:
    return path.stat().st_mode & 0o111 != 0


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
