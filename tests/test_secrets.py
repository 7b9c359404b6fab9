"""Access keys and passwords from configs and values never reach logs, plans or reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tracestack.configs.helm_render import HelmRendering
from pytest_tracestack.configs.redaction import redact, redact_data
from pytest_tracestack.configs.rendering import ReplicaContext, apply_defaults, apply_overrides
from pytest_tracestack.configs.tempo_config import tempo_config_for
from pytest_tracestack.profiles.profile import load_profile

SECRETS = ("supersecret", "grafana-tempo")  # seed 000's MinIO/S3 credentials
DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"


@pytest.mark.parametrize(
    "text",
    [
        "access_key: 'grafana-tempo'\n  secret_key: 'supersecret'",
        '{"secret_key": "supersecret", "access_key": "grafana-tempo"}',
        "--set minio.rootPassword=supersecret --set minio.rootUser=grafana-tempo",
        'level=error msg="s3 error" access_key=grafana-tempo secret_key=supersecret',
    ],
)
def test_free_text_is_masked(text: str) -> None:
    masked = redact(text)
    assert not any(secret in masked for secret in SECRETS) and "***" in masked


def test_parsed_configs_are_masked_by_key() -> None:
    values = {
        "storage": {
            "trace": {"s3": {"access_key": "grafana-tempo", "secret_key": "supersecret", "bucket": "tempo-traces"}}
        },
        "minio": {"rootPassword": "supersecret"},
    }
    masked = redact_data(values)
    assert masked["storage"]["trace"]["s3"] == {"access_key": "***", "secret_key": "***", "bucket": "tempo-traces"}
    assert masked["minio"]["rootPassword"] == "***"


def test_plans_reports_and_logs_of_a_profile_with_s3_keys_carry_none(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # The manifest profile's ConfigMap and MinIO Secret carry the keys (the distributed plan needs helm and the
    # charts; test_kind_charts checks its output for them).
    plan = pytester.runpytest("--tracestack-profile=manifest", "--tracestack-runtime=kind", "--tracestack-plan")
    assert plan.ret == 0
    # A failing run, so that the error and the copied logs land in the report too.
    run = pytester.runpytest_subprocess(
        "--tracestack-profile=distributed",
        f"--tracestack-tempo={DOUBLE}",
        f"--tracestack-report={tmp_path}",
        "-k",
        "roundtrip",
    )
    assert run.ret == 0
    outputs = [plan.stdout.str(), run.stdout.str()]
    outputs += [file.read_text(errors="replace") for file in tmp_path.rglob("*") if file.is_file()]
    assert json.loads((tmp_path / "tracestack-report.json").read_text())["checks"]
    assert (tmp_path / "logs").is_dir()
    for output in outputs:
        assert not any(secret in output for secret in SECRETS)


def test_a_password_in_a_url_is_masked() -> None:
    masked = redact(
        "helm template tempo tempo-distributed --repo https://ci:supersecret@charts.example/helm "
        "(from oci://ci:supersecret@registry.example/charts); Tempo at http://127.0.0.1:3200/ready"
    )
    assert "supersecret" not in masked
    assert "https://ci:***@charts.example/helm" in masked and "http://127.0.0.1:3200/ready" in masked


def test_the_rendered_header_names_a_secret_override_without_its_value(tmp_path: Path) -> None:
    context = ReplicaContext("127.0.0.1", {}, tmp_path, tmp_path, "tempo-0", lambda c, p: "", lambda c, p: [])
    notes: list[str] = []
    config = apply_defaults({}, {"storage.trace.s3.access_key": "grafana-tempo"}, context, notes)
    apply_overrides(
        config,
        {
            "storage.trace.s3.secret_key": "supersecret",
            "minio.rootPassword": "{instance_id}",
            "storage.trace.s3.bucket": "tempo-traces",
        },
        context,
        notes,
    )
    assert notes == [
        "local default: storage.trace.s3.access_key = '***' (your file does not set it)",
        "local override: storage.trace.s3.secret_key = '***'",
        "local override: minio.rootPassword = '***'",
        "local override: storage.trace.s3.bucket = tempo-traces",
    ]


# A value of the user's config that the real collector quotes when it refuses it at start.
LEAKING = """
name: leaking
description: the collector profile with a config value the real collector refuses and quotes (tests only)
extends: collector
components:
  otelcol:
    local_overrides:
      processors.batch.timeout: token=supersecret
"""


def test_a_start_error_quoting_a_secret_reaches_the_terminal_and_report_masked(
    pytester: pytest.Pytester, collector_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = pytester.mkdir("profiles")
    (scenarios / "leaking.yaml").write_text(LEAKING)
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(scenarios))
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=leaking", f"--tracestack-report={tmp_path}", "-k", "roundtrip"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert 'invalid duration "token=***' in output, output  # the collector's own words, masked
    outputs = [output] + [file.read_text(errors="replace") for file in tmp_path.rglob("*") if file.is_file()]
    assert not any("supersecret" in text for text in outputs)


def test_a_plan_whose_chart_mirror_fails_names_the_mirror_without_its_password(
    pytester: pytest.Pytester, helm: Path
) -> None:
    mirror = "http://ci:supersecret@127.0.0.1:9/charts"  # nothing listens on port 9: helm cannot fetch
    result = pytester.runpytest(
        "--tracestack-profile=distributed",
        "--tracestack-runtime=kind",
        "--tracestack-plan",
        "--tracestack-no-download",
        f"--tracestack-charts={mirror}",
        "-q",
    )
    output = result.stdout.str()
    assert result.ret != 0 and "tracestack plan: validation failed:" in output, output
    assert "http://ci:***@127.0.0.1:9/charts" in output and "supersecret" not in output


def test_the_local_rendering_notes_name_a_chart_mirror_without_its_password(tmp_path: Path) -> None:
    component = next(c for c in load_profile("distributed").components.values() if c.chart)
    mirror = HelmRendering(
        str(tmp_path / "no-helm-here"),
        lambda chart: (chart["chart"], "--repo", "https://ci:supersecret@charts.example/helm"),
    )
    _config, notes = tempo_config_for(component, mirror)
    assert any("failed, so tracestack translated the values instead" in note for note in notes), notes
    assert any("https://ci:***@charts.example/helm" in note for note in notes)
    assert not any("supersecret" in note for note in notes)


def test_readiness_errors_mask_secrets_in_the_replicas_log_lines(tmp_path) -> None:
    """The error a caller of the runtime gets (not only what the session prints) carries no secret."""
    from pytest_tracestack.deadlines import Deadline
    from pytest_tracestack.errors import ComponentExited
    from pytest_tracestack.runtimes.base import Replica
    from pytest_tracestack.runtimes.local.readiness import wait_ready

    class ExitedWithASecretInItsLog:
        pid = None

        def alive(self) -> bool:
            return False

        def last_log_lines(self, count: int = 25) -> str:
            return "Error: bad config: secret_key: AKIAREALLYSECRET endpoint: s3.local"

    replica = Replica("tempo", 0, "127.0.0.1", {"http": 9})
    with pytest.raises(ComponentExited) as raised:
        wait_ready(replica, "http:http/ready", ExitedWithASecretInItsLog(), Deadline(5))
    assert "AKIAREALLYSECRET" not in str(raised.value) and "secret_key: ***" in str(raised.value)


def test_a_credential_generated_for_the_run_is_masked_wherever_it_appears() -> None:
    from pytest_tracestack.configs.redaction import mask_value

    generated = "0f3c9a4d5e6b7a8c9d0e1f2a3b4c5d6e"
    line = f"PUT /tempo-traces/{generated}/x 200 | user {generated}"
    assert redact(line) == line  # no secret-looking key: unknown to tracestack before it is registered
    mask_value(generated)
    assert redact(line) == "PUT /tempo-traces/***/x 200 | user ***"
    assert redact_data({"env": [f"ROOT={generated}"], "n": 1}) == {"env": ["ROOT=***"], "n": 1}
    with pytest.raises(ValueError, match="at least 8 characters"):
        mask_value("short")
