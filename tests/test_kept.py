"""A stack kept with --tracestack-keep: the run's summary prints its endpoints, `tracestack status DIR` prints
them again (with the targets for Locust), and `tracestack stop DIR` ends it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tracestack.cli import main

SCENARIOS = Path(__file__).parent / "scenarios"


def test_keep_prints_the_endpoints_and_status_prints_them_again(pytester: pytest.Pytester, otelcol_binary: Path,
                                                                monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TRACESTACK_OTELCOL", str(otelcol_binary))
    monkeypatch.setenv("TRACESTACK_SCENARIOS", str(SCENARIOS))
    pytester.makepyfile(test_stack="def test_up(tracestack_stack):\n    pass\n")
    result = pytester.runpytest_subprocess("--tracestack-profile=lone-collector", "--tracestack-keep", "test_stack.py")
    found = re.search(r"tracestack stop (\S+)", result.stdout.str())
    workdir = Path(found.group(1)) if found else None
    try:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["tracestack: profile lone-collector left running (--tracestack-keep); work dir *",
                                     "  otelcol-0 pid *: otlp-grpc 127.*:4317, *",
                                     "  its endpoints again: tracestack status *"])
        assert workdir is not None
        capsys.readouterr()
        assert main(["status", str(workdir)]) == 0
        status = capsys.readouterr().out
        replicas = json.loads((workdir / "stack.json").read_text())["replicas"]
        grpc = ",".join(f"{r['address']}:4317" for r in replicas)
        assert f"  send otlp-grpc to: {grpc.replace(',', ', ')}\n" in status
        assert f"TRACESTACK_LOAD_PROTOCOL=otlp-grpc TRACESTACK_OTLP_GRPC={grpc} locust -f loadtests/locustfile.py" in status
        assert all(f"{r['name']} pid {r['pid']} (running)" in status for r in replicas)
    finally:
        if workdir is not None:
            assert main(["stop", str(workdir)]) == 0


def test_status_says_which_process_is_gone_and_fails(tmp_path: Path, capsys) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(finished.stdout)
    (tmp_path / "stack.json").write_text(json.dumps({
        "profile": "p", "replicas": [{"name": "otelcol-0", "pid": gone_pid, "address": "127.9.1.1",
                                      "ports": {"otlp-http": 4318}}],
        "ingest": {"otlp-http": ["http://127.9.1.1:4318/v1/traces"]}, "query": None}))
    assert main(["status", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"otelcol-0 pid {gone_pid} (gone): otlp-http 127.9.1.1:4318" in out
    assert "TRACESTACK_LOAD_PROTOCOL=otlp-http TRACESTACK_OTLP_HTTP=http://127.9.1.1:4318/v1/traces locust" in out
    assert "not running any more: otelcol-0" in out


def test_status_of_a_directory_without_a_kept_stack_names_the_file(tmp_path: Path, capsys) -> None:
    assert main(["status", str(tmp_path)]) == 1
    assert f"{tmp_path / 'stack.json'} does not exist" in capsys.readouterr().err
