"""Access keys and passwords from configs and values never reach logs, plans or reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_tracestack.redaction import redact, redact_data

SECRETS = ("supersecret", "grafana-tempo")   # seed 000's MinIO/S3 credentials
DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"


@pytest.mark.parametrize("text", [
    "access_key: 'grafana-tempo'\n  secret_key: 'supersecret'",
    '{"secret_key": "supersecret", "access_key": "grafana-tempo"}',
    "--set minio.rootPassword=supersecret --set minio.rootUser=grafana-tempo",
    "level=error msg=\"s3 error\" access_key=grafana-tempo secret_key=supersecret",
])
def test_free_text_is_masked(text: str) -> None:
    masked = redact(text)
    assert not any(secret in masked for secret in SECRETS) and "***" in masked


def test_parsed_configs_are_masked_by_key() -> None:
    values = {"storage": {"trace": {"s3": {"access_key": "grafana-tempo", "secret_key": "supersecret",
                                           "bucket": "tempo-traces"}}}, "minio": {"rootPassword": "supersecret"}}
    masked = redact_data(values)
    assert masked["storage"]["trace"]["s3"] == {"access_key": "***", "secret_key": "***", "bucket": "tempo-traces"}
    assert masked["minio"]["rootPassword"] == "***"


def test_plans_reports_and_logs_of_a_profile_with_s3_keys_carry_none(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # The manifest profile's ConfigMap and MinIO Secret carry the keys (the distributed plan needs helm and the
    # charts; test_kind_charts checks its output for them).
    plan = pytester.runpytest("--tracestack-profile=manifest", "--tracestack-runtime=kind", "--tracestack-plan")
    assert plan.ret == 0
    # A failing run, so that the error and the copied logs land in the report too.
    run = pytester.runpytest_subprocess("--tracestack-profile=distributed", f"--tracestack-tempo={DOUBLE}",
                                        f"--tracestack-report={tmp_path}", "-k", "roundtrip")
    assert run.ret == 0
    outputs = [plan.stdout.str(), run.stdout.str()]
    outputs += [file.read_text(errors="replace") for file in tmp_path.rglob("*") if file.is_file()]
    assert json.loads((tmp_path / "tracestack-report.json").read_text())["checks"]
    assert (tmp_path / "logs").is_dir()
    for output in outputs:
        assert not any(secret in output for secret in SECRETS)
