"""`tracestack status DIR`: the endpoints of a stack kept with --tracestack-keep (with the targets for Locust),
read from its work dir, and whether each process still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.cli import main
from pytest_tracestack.profiles.profile import load_profile
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

SCENARIOS = Path(__file__).parent / "scenarios"


def test_status_prints_a_kept_stacks_endpoints_and_its_locust_targets(otelcol_binary: Path, capsys) -> None:
    runtime = LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"otelcol": str(otelcol_binary)}, allow_download=False), keep=True
        )
    )
    stack = runtime.start(load_profile("lone-collector", [SCENARIOS]))
    try:
        assert f"  its endpoints again: tracestack status {stack.workdir}" in runtime.describe_keep(stack)
        capsys.readouterr()
        assert main(["status", str(stack.workdir)]) == 0
        status = capsys.readouterr().out
        grpc = [f"{replica.address}:4317" for replica in stack.replicas]
        assert f"  send otlp-grpc to: {', '.join(grpc)}\n" in status
        locust = (
            f"  load it with Locust: TRACESTACK_LOAD_PROTOCOL=otlp-grpc TRACESTACK_OTLP_GRPC={','.join(grpc)} "
            "locust -f "
        )
        assert locust in status
        # the installed package's locustfile, by its absolute path: a user's repository has no loadtests/
        locustfile = Path(status.split(locust, 1)[1].split()[0])
        assert locustfile.is_absolute() and locustfile.is_file(), locustfile
        assert " --headless -u 4 -r 4 " in status  # all users at once: no ramp of 1 user/s under the rate asked
        assert all(f"  {r.name} pid {r.pid} (running): otlp-grpc {r.address}:4317, " in status for r in stack.replicas)
        assert f"  stop it with: tracestack stop {stack.workdir}" in status
    finally:
        runtime.stop(stack)


def test_keep_names_the_capture_sink_as_stopped_with_pytest_not_as_pid_none(otelcol_binary: Path) -> None:
    runtime = LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"otelcol": str(otelcol_binary)}, allow_download=False), keep=True
        )
    )
    stack = runtime.start(load_profile("collector"))
    try:
        text = runtime.describe_keep(stack)
        assert "pid None" not in text
        assert "  sink-0 (ran inside pytest and stopped with it): otlp-grpc 127." in text
        otelcol = next(replica for replica in stack.replicas if replica.component == "otelcol")
        assert f"  otelcol-0 pid {otelcol.pid}: otlp-grpc {otelcol.address}:4317" in text
    finally:
        runtime.stop(stack)


def test_status_says_which_process_is_gone_and_fails(tmp_path: Path, capsys) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(finished.stdout)
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "profile": "p",
                "replicas": [
                    {"name": "otelcol-0", "pid": gone_pid, "address": "127.9.1.1", "ports": {"otlp-http": 4318}}
                ],
                "ingest": {"otlp-http": ["http://127.9.1.1:4318/v1/traces"]},
                "query": None,
            }
        )
    )
    assert main(["status", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"otelcol-0 pid {gone_pid} (gone): otlp-http 127.9.1.1:4318" in out
    assert "TRACESTACK_LOAD_PROTOCOL=otlp-http TRACESTACK_OTLP_HTTP=http://127.9.1.1:4318/v1/traces locust" in out
    assert "not running any more: otelcol-0" in out


def test_status_of_a_directory_without_a_kept_stack_names_the_file(tmp_path: Path, capsys) -> None:
    assert main(["status", str(tmp_path)]) == 1
    assert f"{tmp_path / 'stack.json'} does not exist" in capsys.readouterr().err
