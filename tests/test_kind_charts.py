"""Charts from --tracestack-charts (a local directory as `helm pull` leaves it, or a chart repository mirror),
rendered by a real helm for --tracestack-plan; a chart helm refuses fails the plan naming the chart and helm's
words. The charts here are tiny stand-ins (tests/kube_data/charts/README.md): the real ones cannot be
downloaded where the tests run."""

from __future__ import annotations

import functools
import io
import re
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from pytest_tracestack.profiles.file_paths import as_copy
from pytest_tracestack.runtimes.kube.charts import ChartNotFound, chart_source
from pytest_tracestack.runtimes.kube.install import CERTS_GENERATED
from recording_runner import every_image_key

DATA = Path(__file__).resolve().parent / "kube_data"
STAND_INS = DATA / "charts"
ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTED = {
    "release": "tempo",
    "chart": "tempo-distributed",
    "repo_name": "grafana-community",
    "repo": "https://grafana-community.github.io/helm-charts",
    "version": "2.26.2",
}
SECRETS = ("supersecret", "grafana-tempo")


# --- where a chart comes from (no helm needed) ---------------------------------------------------------


def test_without_the_option_the_chart_comes_from_its_repository() -> None:
    source = chart_source(DISTRIBUTED, None)
    assert source.reference == (
        "tempo-distributed",
        "--repo",
        "https://grafana-community.github.io/helm-charts",
        "--version",
        "2.26.2",
    )
    oci = chart_source({**DISTRIBUTED, "repo": "oci://ghcr.io/grafana-community/helm-charts"}, None)
    assert oci.reference == ("oci://ghcr.io/grafana-community/helm-charts/tempo-distributed", "--version", "2.26.2")


@pytest.mark.parametrize(
    ("mirror", "reference"),
    [
        (
            "https://charts.mirror.example/helm",
            ("tempo-distributed", "--repo", "https://charts.mirror.example/helm", "--version", "2.26.2"),
        ),
        ("oci://mirror.example/charts/", ("oci://mirror.example/charts/tempo-distributed", "--version", "2.26.2")),
    ],
)
def test_a_mirror_url_replaces_the_repository(mirror: str, reference: tuple[str, ...]) -> None:
    source = chart_source(DISTRIBUTED, mirror)
    assert source.reference == reference and source.origin.endswith("the mirror (--tracestack-charts)")


def test_an_unpacked_chart_in_the_directory_is_used_when_it_is_the_pinned_version() -> None:
    source = chart_source(DISTRIBUTED, str(STAND_INS))
    assert source.reference == (str(STAND_INS / "tempo-distributed"),)
    assert source.describe(DISTRIBUTED) == (
        f"chart tempo-distributed 2.26.2 from {STAND_INS / 'tempo-distributed'} (--tracestack-charts)"
    )
    with pytest.raises(
        ChartNotFound,
        match=rf"{STAND_INS}/tempo-distributed/Chart.yaml: holds chart tempo-distributed "
        r"2.26.2, but the profile pins tempo-distributed 2.26.3",
    ):
        chart_source({**DISTRIBUTED, "version": "2.26.3"}, str(STAND_INS))


def _archive(directory: Path, file_name: str, chart_yaml: str) -> Path:
    """A .tgz laid out as `helm package` lays it out (NAME/Chart.yaml inside), made without helm."""
    data = chart_yaml.encode()
    info = tarfile.TarInfo("tempo-distributed/Chart.yaml")
    info.size = len(data)
    path = directory / file_name
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(info, io.BytesIO(data))
    return path


def test_an_archive_named_as_helm_pull_names_it_comes_before_an_unpacked_chart(tmp_path: Path) -> None:
    archive = _archive(tmp_path, "tempo-distributed-2.26.2.tgz", "name: tempo-distributed\nversion: 2.26.2\n")
    (tmp_path / "tempo-distributed").mkdir()
    (tmp_path / "tempo-distributed" / "Chart.yaml").write_text("name: tempo-distributed\nversion: 2.26.2\n")
    assert chart_source(DISTRIBUTED, str(tmp_path)).reference == (str(archive),)


def test_an_archive_holding_another_version_is_refused(tmp_path: Path) -> None:
    _archive(tmp_path, "tempo-distributed-2.26.2.tgz", "name: tempo-distributed\nversion: 2.26.1\n")
    with pytest.raises(
        ChartNotFound,
        match=r"tempo-distributed-2.26.2.tgz: holds chart tempo-distributed 2.26.1, but "
        r"the profile pins tempo-distributed 2.26.2",
    ):
        chart_source(DISTRIBUTED, str(tmp_path))


def test_a_directory_without_the_chart_says_what_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(
        ChartNotFound,
        match=rf"--tracestack-charts={tmp_path}: has neither tempo-distributed-2.26.2"
        r".tgz nor tempo-distributed/Chart.yaml for chart tempo-distributed "
        r"2.26.2; "
        r"put it there with `helm pull tempo-distributed --repo REPO --version "
        rf"2.26.2 -d {tmp_path}`",
    ):
        chart_source(DISTRIBUTED, str(tmp_path))
    with pytest.raises(ChartNotFound, match=r"not a directory"):
        chart_source(DISTRIBUTED, str(tmp_path / "missing"))


# --- the plan with a real helm ---------------------------------------------------------------------------


def _plan(pytester: pytest.Pytester, profile: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest(
        f"--tracestack-profile={profile}",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-no-download",
        "--tracestack-namespace=tracestack-plan",
        "-q",
        *extra,
    )


@pytest.mark.parametrize(
    ("profile", "chart", "objects"),
    [("distributed", "tempo-distributed 2.26.2", 7), ("operator", "opentelemetry-operator 0.92.5", 2)],
)
def test_the_plan_renders_the_pinned_charts_from_a_local_directory(
    pytester: pytest.Pytester, helm: Path, profile: str, chart: str, objects: int
) -> None:
    result = _plan(pytester, profile, f"--tracestack-charts={STAND_INS}")
    out = result.stdout.str()
    assert result.ret == 0, out
    name = chart.split()[0]
    assert f"tool: helm 3.19.0 at {helm} (TRACESTACK_HELM)" in out or "tool: helm 3." in out
    assert "Kubernetes 1.35.0 (from the node image kindest/node:v1.35.0)" in out
    assert (
        f"validated: helm template {chart} ({STAND_INS / name} (--tracestack-charts)): {objects} rendered objects "
        "valid (Kubernetes 1.35.0 schema)" in out
    )
    # The install takes the chart from the same place.
    assert re.search(rf"helm .* upgrade --install \S+ {re.escape(str(STAND_INS / name))} -f ", out)
    assert not any(secret in out for secret in SECRETS)


def test_the_plans_image_list_is_what_helm_and_the_manifests_render_plus_what_the_operator_creates(
    pytester: pytest.Pytester, helm: Path
) -> None:
    result = _plan(pytester, "operator", f"--tracestack-charts={STAND_INS}")
    assert result.ret == 0, result.stdout.str()
    listed = re.findall(r"^  (\S+)  <- ", result.stdout.str(), flags=re.MULTILINE)
    # Computed another way: helm's own output and the raw manifests walked for any "image" key, and the
    # operator's image flags that the collector resource and the annotated workload make it use.
    sets = [arg for setting in CERTS_GENERATED for arg in ("--set", setting)]
    chart = STAND_INS / "opentelemetry-operator"
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "opentelemetry-operator",
            str(chart),
            "-f",
            str(ROOT / "manifests/operator/operator-values.yaml"),
            *sets,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    documents = list(yaml.safe_load_all(rendered))
    for manifest in (
        "manifest/minio.yaml",
        "manifest/tempo.yaml",
        "operator/collector.yaml",
        "operator/instrumentation.yaml",
        "operator/sample-app.yaml",
    ):
        documents += list(yaml.safe_load_all((ROOT / "manifests" / manifest).read_text()))
    flags = re.findall(r"--(?:collector-image|auto-instrumentation-java-image)=(\S+)", rendered)
    assert len(flags) == 2
    assert sorted(listed) == sorted(set(every_image_key(documents)) | set(flags))
    assert len(listed) == len(set(listed)) == 7


def test_the_plan_fails_clearly_when_helm_rejects_a_charts_schema(
    pytester: pytest.Pytester, helm: Path, tmp_path: Path
) -> None:
    # opentelemetry-operator-0.75.0.tgz as `helm package` names it, with the real 0.75.0's "examples": "".
    subprocess.run(
        [str(helm), "package", str(DATA / "rejected-chart" / "opentelemetry-operator"), "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    scenarios = pytester.mkdir("scenarios")
    operator = as_copy(yaml.safe_load((ROOT / "scenarios" / "operator.yaml").read_text()))
    text = yaml.safe_dump(operator).replace("version: 0.92.5", "version: 0.75.0")
    (scenarios / "operator.yaml").write_text(text)
    result = _plan(pytester, "operator", f"--tracestack-scenarios={scenarios}", f"--tracestack-charts={tmp_path}")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert (
        f"chart opentelemetry-operator 0.75.0 from {tmp_path}/opentelemetry-operator-0.75.0.tgz "
        "(--tracestack-charts) cannot be rendered, so it cannot be installed; helm said:"
    ) in out
    assert "at '/properties/manager/properties/featureGates/examples': got string, want array" in out
    assert "not rendered" not in out and "validated:" not in out


def test_a_chart_packaged_by_helm_is_found_in_the_directory_and_rendered(
    pytester: pytest.Pytester, helm: Path, tmp_path: Path
) -> None:
    for name in ("tempo-distributed", "opentelemetry-operator"):
        subprocess.run(
            [str(helm), "package", str(STAND_INS / name), "-d", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    assert chart_source(DISTRIBUTED, str(tmp_path)).reference == (str(tmp_path / "tempo-distributed-2.26.2.tgz"),)
    result = _plan(pytester, "distributed", f"--tracestack-charts={tmp_path}")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"validated: helm template tempo-distributed 2.26.2 ({tmp_path}/tempo-distributed-"
            "2.26.2.tgz (--tracestack-charts)): 7 rendered objects valid*"
        ]
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def chart_mirror(tmp_path: Path, helm: Path) -> Iterator[str]:
    """A chart repository on 127.0.0.1: the stand-ins packaged and indexed by helm, served over HTTP."""
    root = tmp_path / "mirror"
    root.mkdir()
    for name in ("tempo-distributed", "opentelemetry-operator"):
        subprocess.run(
            [str(helm), "package", str(STAND_INS / name), "-d", str(root)], capture_output=True, check=True, timeout=120
        )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run([str(helm), "repo", "index", str(root), "--url", url], capture_output=True, check=True, timeout=60)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_plan_takes_the_charts_from_a_mirror(pytester: pytest.Pytester, chart_mirror: str) -> None:
    result = _plan(pytester, "distributed", f"--tracestack-charts={chart_mirror}")
    out = result.stdout.str()
    assert result.ret == 0, out
    assert (
        f"validated: helm template tempo-distributed 2.26.2 ({chart_mirror}, the mirror (--tracestack-charts)): "
        "7 rendered objects valid"
    ) in out
    assert f"upgrade --install tempo tempo-distributed --repo {chart_mirror} --version 2.26.2 -f " in out


def test_without_any_helm_the_plan_fails_saying_what_was_tried(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACESTACK_HELM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TRACESTACK_CACHE_DIR", str(tmp_path / "cache"))
    result = _plan(pytester, "distributed", f"--tracestack-charts={STAND_INS}")
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "helm v3.19.0 was not found: install helm v3.19.0" in out
    assert "Tried, in order:" in out and "download: not allowed" in out


def test_the_seed_003_plan_renders_the_tempo_chart_and_kube_prometheus_stack(
    pytester: pytest.Pytester, helm: Path
) -> None:
    """Both are stand-ins (see their README): tempo's StatefulSet takes the real chart's name and image; the
    Prometheus resource, like the real chart's, belongs to CRDs the chart installs itself."""
    result = _plan(pytester, "metrics-generator", f"--tracestack-charts={STAND_INS}")
    out = result.stdout.str()
    assert result.ret == 0, out
    assert (
        f"validated: helm template tempo 2.2.4 ({STAND_INS / 'tempo'} (--tracestack-charts)): 3 rendered objects "
        "valid (Kubernetes 1.35.0 schema)"
    ) in out
    assert (
        f"validated: helm template kube-prometheus-stack 88.5.3 ({STAND_INS / 'kube-prometheus-stack'} "
        "(--tracestack-charts)): 3 rendered objects valid (Kubernetes 1.35.0 schema); not checked offline: "
        "Prometheus/prometheus-kube-prometheus-prometheus (custom resources of the chart's own CRDs)"
    ) in out
    assert re.search(r"upgrade --install prometheus \S+kube-prometheus-stack -f \S+prometheus-values.yaml", out)
    assert "svc/prometheus-kube-prometheus-prometheus <local-port>:9090" in out
    assert "docker.io/grafana/tempo:2.10.8  <- StatefulSet/tempo (helm template tempo 2.2.4)" in out
    assert "quay.io/prometheus/prometheus:v3.14.0-distroless" in out
