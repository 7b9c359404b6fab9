"""The Tempo profiles' paths (rendering, 1 or 7 processes, readiness, every built-in check) driven
against FAKE TEMPO FOR TESTS (tests/doubles): Tempo itself cannot be had here. What Tempo does with
the rendered configs is only proven by running a real Tempo (--tracestack-tempo=PATH)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leftovers import listening_sockets, tracestack_processes, tracestack_sockets

DOUBLE = Path(__file__).parent / "doubles" / "fake_tempo_for_tests.py"

RECORD_TOPOLOGY = """
import json, os
from pathlib import Path

def test_topology(tracestack_stack):
    rows = []
    for replica in tracestack_stack.replicas:
        argv = Path(f"/proc/{replica.pid}/cmdline").read_bytes().split(b"\\0")
        rows.append({"name": replica.name, "address": replica.address,
                     "target": [a.decode() for a in argv if a.startswith(b"-target=")]})
    Path(os.environ["TOPOLOGY_FILE"]).write_text(json.dumps(rows))
"""


@pytest.mark.parametrize(("profile", "checks"), [("manifest", 10), ("distributed", 11)])
def test_every_built_in_check_runs_against_the_double(
    pytester: pytest.Pytester, profile: str, checks: int, tmp_path: Path
) -> None:
    before = listening_sockets()
    result = pytester.runpytest_subprocess(
        f"--tracestack-profile={profile}", f"--tracestack-tempo={DOUBLE}", f"--tracestack-report={tmp_path}"
    )
    result.assert_outcomes(passed=checks)
    result.stdout.fnmatch_lines(
        [
            f"tracestack: {checks} checks ran ({checks} passed*profile {profile}*",
            "tracestack: components used*",
            "  tempo v2.10.8 FAKE TEMPO FOR TESTS (not Tempo) (*fake_tempo_for_tests.py; explicit "
            "path; not verified by tracestack)",
        ]
    )
    report = json.loads((tmp_path / "tracestack-report.json").read_text())
    search = [c for c in report["checks"] if c["check"] == "search"]
    assert len(search) == 2 and all(c["outcome"] == "passed" for c in search)
    # The version that ran, as Tempo (here the double) answers /api/status/buildinfo, beside the profile's.
    tempo = [c["description"] for c in report["components"] if c["description"].startswith("tempo ")]
    assert len(tempo) == 1 and "FAKE TEMPO FOR TESTS" in tempo[0] and "/api/status/buildinfo at http://127." in tempo[0]
    assert tracestack_processes() == [] and tracestack_sockets(before) == set()


def test_distributed_runs_one_process_per_replica_on_its_own_address(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_topology=RECORD_TOPOLOGY)
    monkeypatch.setenv("TOPOLOGY_FILE", str(tmp_path / "topology.json"))
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=distributed", f"--tracestack-tempo={DOUBLE}", "test_topology.py", "-k", "test_topology"
    )
    result.assert_outcomes(passed=1)
    rows = json.loads((tmp_path / "topology.json").read_text())
    assert [(row["name"], row["target"]) for row in rows] == [
        ("distributor-0", ["-target=distributor"]),
        ("ingester-0", ["-target=ingester"]),
        ("ingester-1", ["-target=ingester"]),
        ("ingester-2", ["-target=ingester"]),
        ("querier-0", ["-target=querier"]),
        ("query-frontend-0", ["-target=query-frontend"]),
        ("compactor-0", ["-target=compactor"]),
    ]
    assert len({row["address"] for row in rows}) == 7


def test_search_lag_is_waited_for_not_failed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TEMPO_SEARCH_LAG_S", "4")
    result = pytester.runpytest_subprocess(
        "--tracestack-profile=manifest", f"--tracestack-tempo={DOUBLE}", "-k", "search", "--durations=2"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["[4-9].*s call*test_search*"])
