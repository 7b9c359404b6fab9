"""``tracestack status DIR``: the endpoints of a stack left up with --tracestack-keep, read from the
``stack.json`` the local runtime wrote into its work dir, and whether each process still runs."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from pytest_tracestack.load.locust_env import PROTOCOL_VAR, TARGET_VARS
from pytest_tracestack.runtimes.local.process import process_state
from pytest_tracestack.runtimes.local.state import read_state

# The installed locustfile --tracestack-load runs (load/runner.py): loadtests/ exists only in a clone of the project.
LOCUSTFILE = Path(__file__).parents[2] / "load" / "locustfile.py"


def add_status_command(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="print the endpoints of a stack kept with --tracestack-keep")
    status.add_argument("workdir", type=Path, metavar="DIR", help="the work dir --tracestack-keep printed")
    status.set_defaults(run=lambda args: print_status(args.workdir))


def print_status(workdir: Path) -> int:
    """Print the stack's endpoints; 0 when every process of it runs, 1 when one is gone."""
    state = read_state(workdir)
    lines, gone = describe(state, workdir)
    print("\n".join(lines))
    return 1 if gone else 0


def describe(state: dict[str, Any], workdir: Path) -> tuple[list[str], list[str]]:
    """The lines to print, and the names of the replicas whose process is gone."""
    lines = [f"profile {state['profile']}, work dir {workdir}"]
    gone = []
    for replica in state["replicas"]:
        hosts = replica.get("port_hosts", {})
        ports = ", ".join(
            f"{name} {hosts.get(name, replica['address'])}:{port}" for name, port in replica["ports"].items()
        )
        lines.append(f"  {replica['name']} {_process(replica.get('pid'))}: {ports}")
        if replica.get("pid") and not _running(replica["pid"]):
            gone.append(replica["name"])
    for protocol, targets in state.get("ingest", {}).items():
        lines.append(f"  send {protocol} to: {', '.join(targets)}")
    if state.get("query"):
        lines.append(f"  query Tempo at: {state['query']}")
    lines += _locust_lines(state.get("ingest", {}))
    if gone:
        lines.append(f"  not running any more: {', '.join(gone)}")
    lines.append(f"  stop it with: tracestack stop {workdir}")
    return lines, gone


def _locust_lines(ingest: dict[str, list[str]]) -> list[str]:
    return [
        f"  load it with Locust: {PROTOCOL_VAR}={protocol} {TARGET_VARS[protocol]}={','.join(targets)} "
        f"locust -f {shlex.quote(str(LOCUSTFILE))} --headless -u 4 -r 4 -t 30s --tracestack-rate 1MB/s"
        for protocol, targets in ingest.items()
        if protocol in TARGET_VARS and targets
    ]


def _process(pid: int | None) -> str:
    if not pid:
        return "(ran inside pytest and stopped with it)"
    return f"pid {pid} ({'running' if _running(pid) else 'gone'})"


def _running(pid: int) -> bool:
    return process_state(pid) not in ("?", "Z", "X")
