"""The state of a local stack (``stack.json`` in its work dir): written when it started and after every
restart of a replica, read by ``tracestack stop DIR`` to end a stack left up with --tracestack-keep."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.base import Replica, Stack
from pytest_tracestack.runtimes.local.process import proc_stat, stop_groups, wait_ports_free

STATE_FILE = "stack.json"


def write_state(stack: Stack) -> None:
    """Each replica's pid (with its start time, so a later process with the same pid is never signalled),
    every address it listens on, and where to send and query (``tracestack status``). Written whole, then
    renamed, so a reader never sees half a file."""
    state = {
        "profile": stack.profile.name,
        "replicas": [_replica_state(replica) for replica in stack.replicas],
        "ingest": {protocol: stack.ingest_targets(protocol) for protocol in stack.profile.ingest},
        "query": stack.query_url(),
    }
    assert stack.workdir is not None, "only a started stack (it has a work dir) has state to write"
    path = stack.workdir / STATE_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(state, indent=2))
    os.replace(partial, path)


def _replica_state(replica: Replica) -> dict:
    stat = proc_stat(replica.pid) if replica.pid else None
    return {
        "name": replica.name,
        "pid": replica.pid,
        "started": stat.start_ticks if stat else None,
        "address": replica.address,
        "ports": replica.ports,
        "port_hosts": replica.port_hosts,
        "endpoints": [f"{host}:{port}" for host, port in replica.endpoints()],
    }


@dataclass
class KeptStop:
    """What ``tracestack stop`` did."""

    profile: str
    stopped: list[str] = field(default_factory=list)  # "name (pid N)"
    killed: list[str] = field(default_factory=list)  # did not exit on SIGTERM within the grace
    not_ours: list[str] = field(default_factory=list)  # the pid now belongs to another process
    remaining: dict[str, list[int]] = field(default_factory=dict)
    still_listening: list[str] = field(default_factory=list)
    removed: bool = False  # the work dir, once nothing is left

    @property
    def complete(self) -> bool:
        return not (self.remaining or self.still_listening)

    def lines(self) -> list[str]:
        lines = [
            f"stopped profile {self.profile}: {len(self.stopped)} replica processes "
            f"({', '.join(self.stopped) or 'none running'})"
        ]
        if self.killed:
            lines.append(f"needed SIGKILL (no exit after SIGTERM): {', '.join(self.killed)}")
        if self.not_ours:
            lines.append(f"not signalled, their pid now belongs to another process: {', '.join(self.not_ours)}")
        for name, pids in self.remaining.items():
            lines.append(f"could not stop {name}: still running after SIGKILL: pids {', '.join(map(str, pids))}")
        if self.still_listening:
            lines.append(f"still listening: {', '.join(self.still_listening)}")
        return lines


def stop_kept_stack(workdir: Path, grace_s: float) -> KeptStop:
    """Stop every process of the stack at once (SIGTERM, one deadline, SIGKILL) and return once they are gone
    or known not to go; the work dir (``tracestack-*``, as the runtime made it) is removed when nothing is left."""
    state = read_state(workdir)
    result = KeptStop(profile=state.get("profile", "?"))
    groups: dict[str, int] = {}
    for replica in state["replicas"]:
        pid, name = replica.get("pid"), replica["name"]
        if not pid:
            continue
        if _reused(pid, replica.get("started")):
            result.not_ours.append(f"{name} (pid {pid})")
        else:
            groups[name] = pid
            result.stopped.append(f"{name} (pid {pid})")
    outcome = stop_groups(groups, grace_s)
    result.killed, result.remaining = outcome.killed, outcome.remaining
    endpoints = [_split(endpoint) for replica in state["replicas"] for endpoint in _endpoints(replica)]
    result.still_listening = [f"{host}:{port}" for host, port in wait_ports_free(endpoints, deadline_s=5)]
    if result.complete and workdir.name.startswith("tracestack-"):
        shutil.rmtree(workdir, ignore_errors=True)
        result.removed = True
    return result


def read_state(workdir: Path) -> dict:
    path = workdir / STATE_FILE
    if not path.is_file():
        raise TracestackError(
            f"{path} does not exist: is {workdir} the work dir a kept stack printed "
            "(`work dir ...` in the --tracestack-keep lines)?"
        )
    try:
        state = json.loads(path.read_text())
        state["replicas"]
    except (ValueError, KeyError, TypeError) as error:
        raise TracestackError(
            f"{path} is not the stack state tracestack wrote ({error}); stop its processes by "
            f"hand (`ps -ef | grep {workdir}`)"
        ) from None
    return state


def _reused(pid: int, started: int | None) -> bool:
    """Whether ``pid`` now names a different process than the replica we started. With the leader gone its
    group id cannot be reused while members remain, so signalling the group reaches only our leftovers."""
    stat = proc_stat(pid)
    if stat is None or started is None:
        return False
    return stat.start_ticks != started or stat.pgrp != pid


def _endpoints(replica: dict) -> list[str]:
    if "endpoints" in replica:
        return replica["endpoints"]
    return [f"{replica['address']}:{port}" for port in replica.get("ports", {}).values()]  # older state files


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)
