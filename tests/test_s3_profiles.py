"""The S3-backed profiles (manifest-s3, distributed-s3): their data (extends, drop, after), their plans, and every
check run against FAKE TEMPO FOR TESTS (tests/doubles) writing its blocks into a real versitygw. What a real Tempo
does with the same configs is only proven by running one (--tracestack-tempo=PATH)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.profiles.profile import load_profile, load_profile_file, start_phases
from pytest_tracestack.runtimes.kube.install import cluster_access, install_plan
from pytest_tracestack.runtimes.kube.manifests import render_manifests
from pytest_tracestack.runtimes.kube.settings import KubeSettings
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"
LOCAL_DISK = ("storage.trace.backend", "storage.trace.s3", "storage.trace.local.path")
S3_OVERRIDES = {
    "storage.trace.s3.endpoint": "{endpoint:s3.s3}",
    "storage.trace.s3.access_key": "{credential:s3.access_key}",
    "storage.trace.s3.secret_key": "{credential:s3.secret_key}",
}


@pytest.mark.parametrize(("name", "base"), [("manifest-s3", "manifest"), ("distributed-s3", "distributed")])
def test_the_s3_profiles_keep_the_configs_storage_and_override_only_endpoint_and_credentials(
    name: str, base: str
) -> None:
    profile, original = load_profile(name), load_profile(base)
    assert start_phases(profile) == [["s3"], [c for c in original.components]]
    assert profile.components["s3"].binary == "versitygw" and profile.components["s3"].credentials
    for component in original.components:
        overrides = profile.components[component].local_overrides
        assert not any(key in overrides for key in LOCAL_DISK)
        assert {key: overrides[key] for key in S3_OVERRIDES} == S3_OVERRIDES
        assert profile.components[component].after == ("s3",)
        assert all(key in original.components[component].local_overrides for key in LOCAL_DISK)  # base untouched
    assert "backend-storage" in profile.checks and "backend-storage" not in original.checks


def _user_profile(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "mine.yaml"
    file.write_text(text)
    return file


def test_drop_leaves_keys_out_of_one_component_even_when_the_base_shares_them_by_anchor(tmp_path: Path) -> None:
    file = _user_profile(
        tmp_path,
        "name: mine\nextends: distributed\ndescription: d\ndrop:\n  components.ingester.local_overrides: [cache]\n",
    )
    profile = load_profile_file(file)
    assert "cache" not in profile.components["ingester"].local_overrides
    assert "cache" in profile.components["querier"].local_overrides


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "extends: manifest\ndrop:\n  components.tempo.local_overrides: [no.such.key]\n",
            "drop.components.tempo.local_overrides",
            "the extended profile has no key 'no.such.key' there",
        ),
        ("drop:\n  components.tempo.local_overrides: [cache]\n", "drop", "which is missing"),
        (
            "extends: manifest-s3\ncomponents:\n  tempo:\n    after: [nobody]\n",
            "components.tempo.after.0",
            "names 'nobody', which is not another component",
        ),
        (
            "extends: manifest-s3\ncomponents:\n  s3:\n    after: [tempo]\n",
            "components.*.after",
            "the start order has a cycle among tempo, s3",
        ),
    ],
)
def test_a_wrong_drop_or_start_order_names_the_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    file = _user_profile(tmp_path, f"name: mine\ndescription: d\n{text}")
    with pytest.raises(ProfileError, match=message) as raised:
        load_profile_file(file)
    assert raised.value.source == str(file) and raised.value.key == key


def test_the_local_plan_starts_the_s3_server_and_waits_for_it_before_tempo() -> None:
    steps = [step.render() for step in LocalRuntime(LocalSettings(BinaryProvider())).plan(load_profile("manifest-s3"))]
    assert steps[0].startswith(
        "start    1 x s3 (versitygw), built in, ports {'s3': 7070}, credentials generated for "
        "the run (access_key, secret_key)"
    )
    assert steps[1].startswith("wait     readiness of start phase 1 of 2 (s3) at once, 90s deadline; the next phase")
    assert steps[2].startswith("start    1 x tempo (tempo), config from manifests/s3/tempo.yaml")
    assert steps[3].startswith("wait     readiness of start phase 2 of 2 (tempo) at once")


def test_the_kube_install_applies_the_s3_server_before_the_chart(tmp_path: Path) -> None:
    def order(name: str) -> list[str]:
        profile = load_profile(name)
        target = cluster_access([], "ns", tmp_path)
        steps = install_plan(profile, KubeSettings(), target, render_manifests(profile, tmp_path / name))
        return [
            f"{step.action} {step.description.split(':')[0]}"
            for step in steps
            if step.action in ("helm", "apply") or "tempo-s3" in step.description
        ]

    assert order("distributed-s3") == [
        "apply manifests/s3/versitygw.yaml",
        "wait rollout of deployment/tempo-s3",
        "helm release tempo",
    ]
    assert order("manifest-s3") == [
        "apply manifests/s3/versitygw.yaml",
        "apply manifests/s3/tempo.yaml",
        "wait rollout of deployment/tempo-s3",
    ]


# Run beside the built-in checks: keeps what the masking is checked against (the credentials of this run) and the
# header of the Tempo config the local runtime rendered.
KEEP_SECRETS = """
import os
from pathlib import Path

def test_keep_what_the_run_made(tracestack_stack):
    out = Path(os.environ["S3_RUN_FILES"])
    out.mkdir()
    (out / "credentials").write_text("\\n".join(tracestack_stack.credentials.values.values()))
    replica = next(r for r in tracestack_stack.replicas if r.component != "s3")
    rendered = (tracestack_stack.workdir / replica.name / "tempo.yaml").read_text()
    (out / "header").write_text("\\n".join(line for line in rendered.splitlines() if line.startswith("#")))
"""


@pytest.mark.parametrize(("profile", "checks"), [("manifest-s3", 12), ("distributed-s3", 13)])
def test_every_check_passes_with_blocks_in_a_real_versitygw_and_no_credential_in_any_output(
    pytester: pytest.Pytester,
    versitygw_binary: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    profile: str,
    checks: int,
) -> None:
    before = listening_sockets()
    monkeypatch.setenv("TRACESTACK_VERSITYGW", str(versitygw_binary))
    monkeypatch.setenv("S3_RUN_FILES", str(tmp_path / "run"))
    pytester.makepyfile(test_keep=KEEP_SECRETS)
    result = pytester.runpytest_subprocess(
        f"--tracestack-profile={profile}",
        f"--tracestack-tempo={DOUBLE}",
        f"--tracestack-report={tmp_path / 'report'}",
        "test_keep.py",
    )
    result.assert_outcomes(passed=checks + 1)
    report = json.loads((tmp_path / "report" / "tracestack-report.json").read_text())
    backend = {c["nodeid"].split("::")[-1]: c for c in report["checks"] if c["check"] == "backend-storage"}
    assert sorted(backend) == ["test_blocks_reach_the_bucket", "test_trace_is_read_from_the_backend"]
    assert all(check["outcome"] == "passed" for check in backend.values())
    blocks = backend["test_blocks_reach_the_bucket"]["properties"]["blocks"]
    assert "bloom-0, data.parquet, index, meta.json" in blocks
    assert (
        "/querier/api/v2/traces (mode=blocks)"
        in backend["test_trace_is_read_from_the_backend"]["properties"]["read_from"]
    )
    header = (tmp_path / "run" / "header").read_text()
    assert "# local override: storage.trace.s3.access_key = '***'" in header
    assert "# local override: storage.trace.s3.secret_key = '***'" in header
    assert "# local override: storage.trace.s3.endpoint = 127." in header
    assert "storage.trace.backend" not in header  # the config's own s3, not a local override
    assert "bucket tempo-traces at http://127." in header and "before Tempo started" in header
    credentials = (tmp_path / "run" / "credentials").read_text().split()
    assert len(credentials) == 2
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str(), "header": header}
    outputs |= {
        str(file): file.read_text(errors="replace") for file in (tmp_path / "report").rglob("*") if file.is_file()
    }
    assert any(name.endswith("s3-0.log") for name in outputs)
    leaks = [name for name, text in outputs.items() if any(value in text for value in credentials)]
    assert leaks == []
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()
