"""Each pod of a component reached on its own, for the load run: its pods listed by label, one
``kubectl port-forward pod/NAME`` per pod and port.

A forward to a Service reaches the one pod kubectl picks, so three ingesters behind one Service would look
like one replica. The load run reads every replica's /metrics and pushes to every replica of the ingest
component, so the profile's ``kubernetes.pod_forwards`` names, per component, the label selector of its pods
and the pod ports to forward (its metrics port and, for the ingest component, its ingest ports). The pods are
listed when a load run starts, not when the stack starts: a run of checks alone opens none of these
forwards, and the load reaches the pods that run at that moment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pytest_tracestack.errors import TracestackError
from pytest_tracestack.runtimes.kube.install import LOCAL_PORT, ClusterAccess, KubeStep

POD = "<pod>"  # a pod name, known once the pods are listed
WHEN = "when a load run starts"


class PodsNotFound(TracestackError):
    """The pods of a component could not be listed, or are not the replicas the profile runs."""


@dataclass(frozen=True)
class PodForwards:
    """One ``kubernetes.pod_forwards`` entry: which pods, and component port name -> the pod's port."""

    index: int
    component: str
    selector: str
    ports: dict[str, int]


def pod_forwards(section: dict[str, Any]) -> list[PodForwards]:
    return [
        PodForwards(index, entry["component"], entry["selector"], dict(entry["ports"]))
        for index, entry in enumerate(section.get("pod_forwards", []))
    ]


def list_pods_step(access: ClusterAccess, entry: PodForwards) -> KubeStep:
    return KubeStep(
        "check",
        f"pods of {entry.component}, each forwarded on its own (the load run reads every "
        f"replica's /metrics): labels {entry.selector}",
        (*access.kubectl, "get", "pods", "--namespace", access.namespace, "-l", entry.selector, "-o", "json"),
        timeout_s=30,
        when=WHEN,
        role="list-pods",
    )


def pod_forward_argv(access: ClusterAccess, pod: str, remote_port: int, local_port: int | str) -> tuple[str, ...]:
    return (
        *access.kubectl,
        "port-forward",
        "--address=127.0.0.1",
        "--namespace",
        access.namespace,
        f"pod/{pod}",
        f"{local_port}:{remote_port}",
    )


def plan_steps(section: dict[str, Any], access: ClusterAccess) -> list[KubeStep]:
    """For the plan: per component, the listing of its pods, then one forward per pod and port."""
    steps = []
    for entry in pod_forwards(section):
        steps.append(list_pods_step(access, entry))
        steps += [
            KubeStep(
                "port-forward",
                f"pod/{POD}:{remote} -> 127.0.0.1:{LOCAL_PORT} ({entry.component} port {name}), each pod listed",
                pod_forward_argv(access, POD, remote, LOCAL_PORT),
                when=WHEN,
            )
            for name, remote in entry.ports.items()
        ]
    return steps


def running_pods(answer: str, entry: PodForwards, expected: int, source: str) -> list[str]:
    """The names of the running pods in `kubectl get pods -o json`'s answer, in replica order (a StatefulSet's
    ordinals numerically); exactly ``expected`` of them, or a PodsNotFound naming the selector's profile key."""
    try:
        items = json.loads(answer)["items"]
    except (ValueError, KeyError, TypeError):
        raise PodsNotFound(
            f"kubectl get pods -l {entry.selector} did not answer a pod list: {answer[:200]!r}"
        ) from None
    names = sorted(
        (
            item["metadata"]["name"]
            for item in items
            if item.get("status", {}).get("phase") == "Running" and not item["metadata"].get("deletionTimestamp")
        ),
        key=_natural,
    )
    if len(names) != expected:
        key = f"kubernetes.pod_forwards.{entry.index}.selector"
        found = ", ".join(names) or "none"
        raise PodsNotFound(
            f"{len(names)} running pod(s) of {entry.component} have labels {entry.selector} ({found}), "
            f"but the profile runs {expected} replica(s) of it: the load run would judge other replicas "
            f"than those that run. Check the pods' labels (kubectl get pods --show-labels) against "
            f"{key} in {source}"
        )
    return names


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
