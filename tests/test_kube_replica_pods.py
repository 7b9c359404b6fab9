"""Per-replica reach on the kind and cluster runtimes: when a load run starts, each pod of each component the
load judges is listed by its labels and port-forwarded on its own (a Service forward reaches one pod, so three
ingesters would look like one), and the load verdict reads every replica's /metrics through those forwards.
Driven through the recording command layer (tests/recording_runner.py): no cluster can run on this machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from pytest_tracestack.errors import ProfileError
from pytest_tracestack.load.figures import replica_figures
from pytest_tracestack.load.locust_stats import GeneratorStats, TargetStats
from pytest_tracestack.load.offered import GeneratorSide
from pytest_tracestack.load.replication import replication_of
from pytest_tracestack.load.runner import replica_probes
from pytest_tracestack.load.scrape import Sampler
from pytest_tracestack.load.verdicts import judge
from pytest_tracestack.profiles.kubernetes_section import kubernetes_section
from pytest_tracestack.profiles.profile import load_profile, load_profile_file
from pytest_tracestack.runtimes.kube.replica_pods import WHEN as LOAD_TIME
from pytest_tracestack.runtimes.kube.replica_pods import PodsNotFound, pod_forwards
from recorded_tempo import UNDER_LOAD
from recording_runner import RecordingRunner, runs_under_tmp_path  # noqa: F401
from test_kind_runtime import KUBECTL, MANIFESTS, _new_cluster, _runtime, _strip, _with_rendered_charts, engine_answers  # noqa: F401

LABELS = "app.kubernetes.io/name=tempo,app.kubernetes.io/instance=tempo,app.kubernetes.io/component="
FORWARD = f"{KUBECTL} port-forward --address=127.0.0.1 --namespace tracestack-t1"
DISTRIBUTOR_POD = "tempo-distributor-6c9d8b7f5-x2kqp"
PODS = {
    "distributor": [DISTRIBUTOR_POD],
    "ingester": ["tempo-ingester-0", "tempo-ingester-1", "tempo-ingester-2"],
    "querier": ["tempo-querier-5f4b9c8d7-h7wzt"],
    "query-frontend": ["tempo-query-frontend-7b8c6d5f4-m4n2p"],
    "compactor": ["tempo-compactor-8d7c6b5a4-q9r8s"],
}


def _pod_list(*running: str, others: tuple[dict, ...] = ()) -> str:
    """`kubectl get pods -o json`'s answer: running pods, and any other pod objects as given."""
    items = [{"metadata": {"name": name}, "status": {"phase": "Running"}} for name in running]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [*items, *others]})


def _answering_pods(runner: RecordingRunner, profile: str, pods: dict[str, list[str]] | None = None) -> RecordingRunner:
    """Each `get pods -l SELECTOR` answered with the given pods (default: `<component>-pod-N`, as many as the
    profile runs)."""
    loaded = load_profile(profile)
    for entry in pod_forwards(loaded.kubernetes):
        names = (pods or {}).get(entry.component) or [
            f"{entry.component}-pod-{n}" for n in range(loaded.components[entry.component].replicas)
        ]
        runner.on(f"-l {entry.selector} -o json", stdout=_pod_list(*names))
    return runner


def _started(profile: str, runner: RecordingRunner):
    runtime = _runtime(runner)
    stack = runtime.start(load_profile(profile))
    return runtime, stack, len(runner.commands)


def test_the_plan_lists_a_forward_per_pod_of_every_component_the_load_judges() -> None:
    runtime = _runtime(_with_rendered_charts(_new_cluster()))
    steps = runtime.plan(load_profile("distributed"))
    at_load = [(step.action, " ".join(step.command)) for step in steps if LOAD_TIME in step.description]
    expected = []
    for component, ports in [
        ("distributor", (3200, 4317, 4318)),
        ("ingester", (3200,)),
        ("querier", (3200,)),
        ("query-frontend", (3200,)),
        ("compactor", (3200,)),
    ]:
        expected.append(("check", f"{KUBECTL} get pods --namespace tracestack-t1 -l {LABELS}{component} -o json"))
        expected += [("port-forward", f"{FORWARD} pod/<pod> <local-port>:{port}") for port in ports]
    assert at_load == expected
    ingester = next(step for step in steps if f"{LABELS}ingester" in step.command)
    assert ingester.description.startswith(
        "pods of ingester, each forwarded on its own (the load run reads every replica's /metrics)"
    )
    actions = [step.action for step in steps]
    # The forwards are stopped before anything is removed.
    assert actions.index("stop") == actions.index("remove") - 1
    stop_step = steps[actions.index("stop")]
    assert "every kubectl port-forward this run started (to Services and to pods)" in stop_step.description


def test_a_load_run_on_distributed_forwards_the_distributor_and_each_of_the_three_ingesters_on_its_own() -> None:
    runner = _answering_pods(_with_rendered_charts(_new_cluster()), "distributed", PODS)
    runtime, stack, after_start = _started("distributed", runner)
    assert not any(" get pods " in line for line in runner.lines()), "a run of checks alone lists no pods"
    service_grpc = stack.ingest_target("otlp-grpc")

    stack.reach_every_replica()  # what run_load does first
    expected = []
    for component, pods in PODS.items():
        expected.append(f"{KUBECTL} get pods --namespace tracestack-t1 -l {LABELS}{component} -o json")
        ports = (3200, 4317, 4318) if component == "distributor" else (3200,)
        expected += [f"{FORWARD} pod/{pod} <local-port>:{port}" for pod in pods for port in ports]
    assert _strip(runner.lines()[after_start:]) == expected

    assert [replica.name for replica in stack.replicas] == [
        "distributor-0",
        "ingester-0",
        "ingester-1",
        "ingester-2",
        "querier-0",
        "query-frontend-0",
        "compactor-0",
    ]
    local = {replica.name: replica.ports for replica in stack.replicas}
    assert set(local["distributor-0"]) == {"http", "otlp-grpc", "otlp-http"}
    assert all(set(local[f"ingester-{n}"]) == {"http"} for n in range(3))
    every_port = [port for ports in local.values() for port in ports.values()]
    assert len(every_port) == len(set(every_port)) == 9
    # The load pushes to the distributor pod whose /metrics it reads, not to the Service's pick.
    assert stack.ingest_target("otlp-grpc") == f"127.0.0.1:{local['distributor-0']['otlp-grpc']}" != service_grpc
    forwarded = {
        " ".join(f.argv[-2:]).split(" ")[0]: int(f.argv[-1].split(":")[0])
        for f in runner.forwards
        if f.argv[-1].endswith(":3200") and "pod/" in " ".join(f.argv)
    }
    assert forwarded == {f"pod/tempo-ingester-{n}": local[f"ingester-{n}"]["http"] for n in range(3)} | {
        f"pod/{PODS[c][0]}": local[f"{c}-0"]["http"] for c in ("distributor", "querier", "query-frontend", "compactor")
    }

    stack.reach_every_replica()  # a second load run reuses them
    assert len(runner.lines()) == after_start + len(expected)
    workdir = stack.workdir
    runtime.stop(stack)
    assert all(forward.stopped for forward in runner.forwards) and len(runner.forwards) == 3 + 9
    assert runner.lines()[-1] == "kind delete cluster --name tracestack" and not workdir.exists()


def _as_taken(planned: list[str], runner: RecordingRunner) -> list[str]:
    """The plan's load-time commands as a load run takes them: each listing of pods, then the planned forwards
    of that component for each pod listed."""
    groups: list[tuple[str, list[str]]] = []
    for line in planned:
        if " get pods " in line:
            groups.append((line, []))
        else:
            groups[-1][1].append(line)
    taken = []
    for listing, forwards in groups:
        answer = next(rule.answer([]).stdout for rule in runner.rules if rule.fragment in listing)
        pods = [item["metadata"]["name"] for item in json.loads(answer)["items"]]
        taken += [listing, *(line.replace("pod/<pod>", f"pod/{pod}") for pod in pods for line in forwards)]
    return taken


def test_the_plans_load_time_steps_are_what_a_load_run_takes() -> None:
    for profile in ("manifest", "distributed", "operator", "nginx-otel"):
        runner = _answering_pods(_with_rendered_charts(_new_cluster()), profile)
        runtime = _runtime(runner)
        planned = [
            " ".join(step.command) for step in runtime.plan(load_profile(profile)) if LOAD_TIME in step.description
        ]
        _, stack, after_start = _started(profile, runner)
        stack.reach_every_replica()
        assert _strip(runner.lines()[after_start:]) == _as_taken(planned, runner), profile
        runtime.stop(stack)


def test_pods_that_do_not_run_are_not_replicas() -> None:
    terminating = {
        "metadata": {"name": "tempo-ingester-9", "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Running"},
    }
    pending = {"metadata": {"name": "tempo-ingester-3"}, "status": {"phase": "Pending"}}
    ingesters = _pod_list("tempo-ingester-2", "tempo-ingester-10", "tempo-ingester-0", others=(terminating, pending))
    runner = _with_rendered_charts(_new_cluster()).on(f"{LABELS}ingester -o", stdout=ingesters)  # answers first
    runtime, stack, _ = _started("distributed", _answering_pods(runner, "distributed"))
    stack.reach_every_replica()
    runtime.stop(stack)
    forwarded = [line.split(" pod/")[1].split()[0] for line in runner.lines() if " pod/tempo-ingester" in line]
    assert forwarded == ["tempo-ingester-0", "tempo-ingester-2", "tempo-ingester-10"]  # ordinals in order


def test_pods_other_than_the_replicas_the_profile_runs_stop_the_load_run_and_leave_the_stack_as_it_was() -> None:
    runner = _answering_pods(
        _with_rendered_charts(_new_cluster()),
        "distributed",
        {**PODS, "ingester": ["tempo-ingester-0", "tempo-ingester-1"]},
    )
    runtime, stack, _ = _started("distributed", runner)
    before = [(replica.name, dict(replica.ports)) for replica in stack.replicas]
    with pytest.raises(PodsNotFound) as raised:
        stack.reach_every_replica()
    assert str(raised.value) == (
        f"2 running pod(s) of ingester have labels {LABELS}ingester (tempo-ingester-0, tempo-ingester-1), but the "
        "profile runs 3 replica(s) of it: the load run would judge other replicas than those that run. Check the "
        f"pods' labels (kubectl get pods --show-labels) against kubernetes.pod_forwards.1.selector in "
        f"{load_profile('distributed').source_file}"
    )
    opened = runner.forwards[3:]
    assert len(opened) == 3 and all(forward.stopped for forward in opened)  # the distributor's, stopped again
    assert [(replica.name, replica.ports) for replica in stack.replicas] == before
    runtime.stop(stack)


def test_a_forward_that_exited_is_opened_again_by_the_next_load_run() -> None:
    runner = _answering_pods(_with_rendered_charts(_new_cluster()), "manifest")
    runtime, stack, after_start = _started("manifest", runner)
    stack.reach_every_replica()
    first = runner.forwards[3:]
    first[0].exit_message = "error: lost connection to pod"  # the pod was replaced
    stack.reach_every_replica()
    ran = _strip(runner.lines()[after_start:])
    assert ran.count(f"{KUBECTL} get pods --namespace tracestack-t1 -l app=tempo -o json") == 2
    assert all(forward.stopped for forward in first) and not any(f.stopped for f in runner.forwards[6:])
    assert stack.first("tempo").ports["http"] == int(runner.forwards[6].argv[-1].split(":")[0])
    runtime.stop(stack)


# --- a load verdict on kind, from the /metrics a real Tempo 2.10.8 served --------------------------------


def _at_start(page: str) -> str:
    """The recorded page with every sample at 0: the replica before the load."""
    return (
        "\n".join(
            line if line.startswith("#") or not line.strip() else line.rsplit(" ", 1)[0] + " 0"
            for line in page.splitlines()
        )
        + "\n"
    )


class _Clock:
    now = 1000.0

    def time(self) -> float:
        return self.now


def test_a_load_verdict_on_kind_measures_each_tempo_replica_through_its_own_forward(monkeypatch) -> None:
    """The pages are those of a real 7-process Tempo 2.10.8 after ~15 s of load (tests/recorded/tempo-2.10.8/
    distributed-under-load); the querier and compactor pods answer an empty page here."""
    recorded = {
        PODS["distributor"][0]: "distributor-0",
        **{f"tempo-ingester-{n}": f"ingester-{n}" for n in range(3)},
        PODS["query-frontend"][0]: "query-frontend-0",
    }
    loaded = {"now": False}

    def page_of(pod: str):
        page = (UNDER_LOAD / f"{recorded[pod]}.metrics.txt").read_text() if pod in recorded else ""
        return lambda: page if loaded["now"] else _at_start(page)

    runner = _answering_pods(_with_rendered_charts(_new_cluster()), "distributed", PODS)
    runner.pages = {f"pod/{pod} ": page_of(pod) for pods in PODS.values() for pod in pods}
    runtime, stack, _ = _started("distributed", runner)
    clock = _Clock()
    monkeypatch.setattr("pytest_tracestack.load.scrape.time", clock)
    stack.reach_every_replica()
    sampler = Sampler(replica_probes(stack))
    with httpx.Client(timeout=2.0) as client:
        sampler.sample_once(client)
        clock.now, loaded["now"] = 1015.0, True
        sampler.sample_once(client)
    runtime.stop(stack)

    entry = f"otlp-grpc {stack.ingest_target('otlp-grpc')}"
    stats = GeneratorStats(
        {entry: TargetStats(entry, 1522, 0, 1522 * 48043, {17: 1500, 40: 22}, 1000.0, 1015.0)}, [], 48043, 122
    )
    figures = [
        replica_figures(series, stats, entry if name == "distributor-0" else None, (1000.0, 1015.0))
        for name, series in sampler.series.items()
    ]
    accepted = {f.replica: round(f.accepted_bytes / 15 / 1e6, 2) for f in figures if f.accepted_bytes}
    assert accepted == {"distributor-0": 4.88, "ingester-0": 4.17, "ingester-1": 3.98, "ingester-2": 4.14}
    rss = {f.replica: round(f.peak_rss_bytes / 2**20, 1) for f in figures if f.peak_rss_bytes}
    assert rss == {
        "distributor-0": 87.5,
        "ingester-0": 177.0,
        "ingester-1": 212.9,
        "ingester-2": 218.3,
        "query-frontend-0": 74.3,
    }
    cores = {f.replica: round(f.mean_cores, 3) for f in figures if f.mean_cores is not None}
    assert cores["distributor-0"] == round(5.31 / 15, 3) and cores["ingester-0"] == round(3.6 / 15, 3)

    verdicts = judge(
        stats,
        5e6,
        figures,
        stack.profile.targets,
        GeneratorSide(cores=0.2, machine_busy_cores=1.0, machine_cores=2, in_flight_limit=128),
        replication=replication_of(stack.profile, stack.replicas),
    )
    assert not [v.text for v in verdicts if not v.passed]
    texts = {(v.subject, v.figure): v.text for v in verdicts}
    assert texts["distributor-0", "accepted MB/s"].startswith("distributor-0 accepted 4.88 MB/s of the 5.00 MB/s asked")
    assert texts["ingester-1", "ingester share"].startswith("ingester-1 received 59.63 MB (3.98 MB/s), 82% of its due")
    assert texts["ingester-2", "peak RSS MiB"].startswith("ingester-2 peak RSS ")
    assert texts["distributor-0", "CPU cores"].startswith("distributor-0 used 0.35 CPU cores on average")


# --- the profile data ------------------------------------------------------------------------------------


def _with_pod_forwards(tmp_path: Path, entries: list[dict]) -> Path:
    (tmp_path / "mine.yaml").write_text(
        yaml.safe_dump({"name": "mine", "extends": "distributed", "kubernetes": {"pod_forwards": entries}})
    )
    return tmp_path / "mine.yaml"


@pytest.mark.parametrize(
    "entry, key, said",
    [
        (
            {"component": "distributor", "selector": "a=b", "ports": {"http": 3200}},
            "kubernetes.pod_forwards.0.ports",
            "has no port 'otlp-grpc' (ingest otlp-grpc): the load run would not reach it on each distributor pod",
        ),
        (
            {"component": "ingester", "selector": "a=b", "ports": {"grpc": 9095}},
            "kubernetes.pod_forwards.0.ports",
            "has no port 'http' (its /metrics)",
        ),
        (
            {"component": "ingester", "selector": "a=b", "ports": {"web": 3200}},
            "kubernetes.pod_forwards.0.ports.web",
            "is not a port of component ingester",
        ),
        (
            {"component": "gateway", "selector": "a=b", "ports": {"http": 3200}},
            "kubernetes.pod_forwards.0.component",
            "'gateway' is not a component of the profile",
        ),
    ],
)
def test_a_pod_forward_that_misses_a_port_the_load_run_needs_is_a_profile_error(
    tmp_path: Path, entry, key, said
) -> None:
    profile = load_profile_file(_with_pod_forwards(tmp_path, [entry]))
    with pytest.raises(ProfileError) as raised:
        kubernetes_section(profile)
    assert key in str(raised.value) and said in str(raised.value) and "mine.yaml" in str(raised.value)


def test_every_component_the_load_reads_is_forwarded_pod_by_pod_on_kubernetes() -> None:
    for name in ("manifest", "distributed", "operator", "nginx-otel"):
        profile = load_profile(name)
        forwarded = {entry.component for entry in pod_forwards(kubernetes_section(profile))}
        assert forwarded == {c.name for c in profile.components.values() if c.metrics_endpoint}, name


def _matches(selector: str, labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in (pair.split("=", 1) for pair in selector.split(",")))


@pytest.mark.parametrize(
    "profile, component, workload",
    [
        ("manifest", "tempo", "Deployment/tempo"),
        ("nginx-otel", "tempo", "Deployment/tempo"),
        ("nginx-otel", "otel-collector", "Deployment/otel-collector"),
        ("operator", "tempo", "Deployment/tempo"),
    ],
)
def test_a_raw_manifest_profiles_selector_finds_the_pods_of_its_workload_only(profile, component, workload) -> None:
    """The chart's and the operator's labels cannot be rendered here (see the README's assumptions)."""
    loaded = load_profile(profile)
    selector = next(e.selector for e in pod_forwards(loaded.kubernetes) if e.component == component)
    documents = [
        doc
        for manifest in loaded.kubernetes["manifests"]
        for doc in yaml.safe_load_all((MANIFESTS / manifest).read_text())
        if doc
    ]
    found = [
        f"{doc['kind']}/{doc['metadata']['name']}"
        for doc in documents
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
        and _matches(selector, doc["spec"]["template"]["metadata"].get("labels", {}))
    ]
    assert found == [workload]
    assert re.fullmatch(r"[\w./-]+=[\w.-]+(,[\w./-]+=[\w.-]+)*", selector)


def test_a_teams_two_distributors_each_take_load_through_a_forward_of_their_own() -> None:
    """examples/infra-repo runs 2 distributors (its values): the load pushes to each pod and reads each one's
    /metrics, where a Service forward would have sent everything to one pod and judged a replica it never hit."""
    team = str(Path(__file__).resolve().parents[1] / "examples" / "infra-repo" / "tracing" / "my-tempo.yaml")
    distributors = ["tempo-distributor-6c9d8b7f5-x2kqp", "tempo-distributor-6c9d8b7f5-zk4wd"]
    runner = _answering_pods(_with_rendered_charts(_new_cluster()), team, {**PODS, "distributor": distributors})
    runtime, stack, _ = _started(team, runner)
    assert len(stack.ingest_targets("otlp-grpc")) == 1  # the Service's pick
    stack.reach_every_replica()
    targets = stack.ingest_targets("otlp-grpc")
    by_pod = {f.argv[-2]: int(f.argv[-1].split(":")[0]) for f in runner.forwards if f.argv[-1].endswith(":4317")}
    assert targets == [f"127.0.0.1:{by_pod[f'pod/{pod}']}" for pod in distributors]
    assert [r.name for r in stack.replicas_of("distributor")] == ["distributor-0", "distributor-1"]
    assert all("http" in r.ports for r in stack.replicas_of("distributor"))
    runtime.stop(stack)
