"""The cluster runtime run for real against a real API server (tests/kwok_cluster.py: kube-apiserver,
kube-controller-manager, kube-scheduler and etcd as local processes; kwok simulates the node and marks pods
Running and Ready, so no container runs). What is real: every kubectl command, the server's validation, the
controllers that roll Deployments out, the scheduler, the events, namespace deletion, and `kubectl
port-forward`, which kwok serves by forwarding to a real local process (its ClusterPortForward resources)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import yaml

from kwok_cluster import SHARED, KwokCluster
from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.profiles.file_paths import as_copy
from pytest_tracestack.profiles.profile import Profile, load_profile, load_profile_file
from pytest_tracestack.runtimes.kube.commands import BackgroundHandle, CompletedCommand, SubprocessRunner
from pytest_tracestack.runtimes.kube.engine import KubeStack
from pytest_tracestack.runtimes.kube.install import LOCAL_PORT
from pytest_tracestack.runtimes.kube.kind import KubeStepFailed, make_kube_runtime
from pytest_tracestack.runtimes.kube.planning import WORKDIR_PLACEHOLDER
from pytest_tracestack.runtimes.kube.replica_pods import WHEN as LOAD_TIME
from pytest_tracestack.runtimes.kube.server_dry_run import ServerRefused
from pytest_tracestack.runtimes.kube.settings import KubeSettings, random_namespace
from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

REPO = Path(__file__).resolve().parents[1]
COLLECTOR_MANIFEST = "builtin:collector/collector.yaml"


class CommandLog(SubprocessRunner):
    """Runs commands for real and keeps each one's argv, in order, to compare with the plan."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    def run(self, argv: list[str], timeout: float, input: str | None = None) -> CompletedCommand:
        self.argvs.append(list(argv))
        return super().run(argv, timeout, input)

    def start(self, argv: list[str], log_path: Path) -> BackgroundHandle:
        self.argvs.append(list(argv))
        return super().start(argv, log_path)


def _runtime(cluster: KwokCluster, namespace: str, runner: SubprocessRunner | None = None, **settings):
    settings.setdefault("rollout_timeout_s", 120.0)
    return make_kube_runtime(
        "cluster",
        KubeSettings(kubeconfig=str(cluster.kubeconfig), namespace=namespace, retry_interval_s=0.5, **settings),
        runner or SubprocessRunner(),
        {"kubectl": str(cluster.binaries.kubectl)},
    )


def _namespace(cluster: KwokCluster, namespace: str) -> dict | None:
    done = cluster.kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "yaml")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout) if done.stdout.strip() else None


def _processes_naming(namespace: str) -> list[str]:
    """Live processes whose command line names the namespace (kubectl port-forward, rollout status, ...)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and namespace in cmdline:
            found.append(" ".join(cmdline))
    return found


def _nothing_left(cluster: KwokCluster, namespace: str) -> None:
    assert _namespace(cluster, namespace) is None, f"namespace {namespace} is still there"
    assert _processes_naming(namespace) == []


def _as_planned(argv: list[str], workdir: Path) -> str:
    """A command as the plan prints it: the tool's name, $WORKDIR, <local-port>."""
    line = " ".join([Path(argv[0]).name, *argv[1:]]).replace(str(workdir), WORKDIR_PLACEHOLDER)
    if "port-forward" in argv:
        line = re.sub(r" \d+:(\d+)$", rf" {LOCAL_PORT}:\1", line)
    return line


def _collector_variant(tmp_path: Path, name: str, patches: list[dict]) -> Profile:
    """The collector profile as a user's file, with patches on its Deployment."""
    data = as_copy(yaml.safe_load((REPO / "scenarios" / "collector.yaml").read_text()))
    data["kubernetes"]["patches"] = [
        {"manifest": COLLECTOR_MANIFEST, "kind": "Deployment", "name": "global-optl-collector", "set": patch}
        for patch in patches
    ]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_profile_file(path)


@pytest.mark.parametrize("profile_name", ["manifest", "nginx-otel", "collector"])
def test_a_profile_is_installed_rolled_out_forwarded_and_removed_as_planned(
    kwok_cluster: KwokCluster, profile_name: str
) -> None:
    namespace = random_namespace()
    profile = load_profile(profile_name)
    log = CommandLog()
    runtime = _runtime(kwok_cluster, namespace, log)
    plan = runtime.plan_report(profile)
    assert _namespace(kwok_cluster, namespace) is None  # planning created nothing
    log.argvs.clear()
    with kwok_cluster.serving_pods(namespace):
        stack = runtime.start(profile)
        try:
            _check_installed(kwok_cluster, namespace, profile, stack)
        finally:
            runtime.stop(stack)
    ran = [_as_planned(argv, stack.workdir) for argv in log.argvs]
    # Not the pods' own forwards: the plan lists them for a load run, and none ran here.
    planned = [" ".join(step.command) for step in plan.steps if step.command and LOAD_TIME not in step.description]
    # The server's version is asked before the steps (it decides the schema everything is validated against).
    assert ran[0].endswith("version -o json")
    assert ran[1:] == planned
    _nothing_left(kwok_cluster, namespace)


def _check_installed(cluster: KwokCluster, namespace: str, profile: Profile, stack: KubeStack) -> None:
    labels = _namespace(cluster, namespace)["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "pytest-tracestack"
    for rollout in profile.kubernetes["rollouts"]:
        status = yaml.safe_load(cluster.kubectl("get", rollout, "--namespace", namespace, "-o", "yaml").stdout)
        assert status["status"]["readyReplicas"] == status["spec"]["replicas"] >= 1, (rollout, status["status"])
    ports = [port for replica in stack.replicas for port in replica.ports.values()]
    assert len(ports) == len(profile.kubernetes["port_forwards"])
    for port in ports:  # a connection the pod refused would end its kubectl port-forward
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    time.sleep(0.5)
    assert all(handle.alive() for handle in stack.forwards)


# kwok v0.8.0 keeps its side of each forwarded connection open after kubectl port-forward has ended (its tunnel
# waits for the collector to close first), so the collector's graceful stop waits for them and is SIGKILLed.
@pytest.mark.filterwarnings("ignore::pytest_tracestack.runtimes.local.runtime.SlowStopWarning")
def test_the_collectors_checks_pass_through_kwok_port_forwards_to_a_real_collector(
    kwok_cluster: KwokCluster, otelcol_binary: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The built-in checks push to the cluster runtime's `kubectl port-forward`s; the API server hands each
    stream to kwok, which forwards it to a real collector on this machine (the collector profile's pipeline,
    started by the local runtime), whose exporter feeds the capture sink the checks read back."""
    local = LocalRuntime(
        LocalSettings(
            binaries=BinaryProvider(explicit={"otelcol": str(otelcol_binary)}, allow_download=False), stop_grace_s=2.0
        )
    )
    collector_stack = local.start(load_profile("collector"))
    namespace = random_namespace()
    try:
        otelcol = collector_stack.first("otelcol")
        SHARED["sink"] = collector_stack.handles[collector_stack.first("sink").name].sink
        pytester.makeconftest(INNER_CONFTEST)
        monkeypatch.setenv("TRACESTACK_KUBECTL", str(kwok_cluster.binaries.kubectl))
        with kwok_cluster.serving_pods(
            namespace, {4317: otelcol.hostport("otlp-grpc"), 4318: otelcol.hostport("otlp-http")}
        ):
            result = pytester.runpytest(
                "--tracestack-profile=collector",
                "--tracestack-runtime=cluster",
                "-v",
                "-rs",
                f"--tracestack-kubeconfig={kwok_cluster.kubeconfig}",
                f"--tracestack-namespace={namespace}",
            )
        received = list(SHARED["sink"].spans())
    finally:
        SHARED.clear()
        local.stop(collector_stack)
    result.stdout.fnmatch_lines(
        [
            "tracestack/collector::test_roundtrip[[]otlp-grpc[]] PASSED*",
            "tracestack/collector::test_roundtrip[[]otlp-http[]] PASSED*",
            "tracestack/collector::test_roundtrip[[]otlp-http-json[]] PASSED*",
            "tracestack/collector::test_service_name PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(["*the cluster runtime declines: only the ports a replica lists are forwarded*"])
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes.get("failed", 0)) == (4, 0)
    # What came through is what the checks sent: their own service names, every one of the four.
    services = {span.resource.get("service.name") for span in received}
    assert len([name for name in services if str(name).startswith("tracestack-test-")]) == 4, services
    _nothing_left(kwok_cluster, namespace)


INNER_CONFTEST = '''
import pytest

from kwok_cluster import SHARED


@pytest.fixture(scope="session")
def tracestack_sink(tracestack_stack):
    """The capture sink behind the real collector that kwok forwards the collector pod's ports to (the capture
    sink itself runs only in-process, so on the cluster runtime the plugin's own fixture skips)."""
    return SHARED["sink"]
'''


def test_an_object_the_server_refuses_stops_the_run_with_the_servers_message(
    kwok_cluster: KwokCluster, tmp_path: Path
) -> None:
    """Pod labels that the Deployment's selector does not match pass the schema, but not the API server."""
    profile = _collector_variant(
        tmp_path, "mismatched", [{"spec.template.metadata.labels": {"app.kubernetes.io/name": "another-collector"}}]
    )
    namespace = random_namespace()
    runtime = _runtime(kwok_cluster, namespace)
    with pytest.raises(ServerRefused) as planned:
        runtime.plan_report(profile)
    assert _namespace(kwok_cluster, namespace) is None
    with pytest.raises(KubeStepFailed) as ran:
        runtime.start(profile)
    for error in (planned.value, ran.value):
        assert re.search(
            r'The Deployment "global-optl-collector" is invalid: spec.template.metadata.labels: '
            r"Invalid value: .*`selector` does not match template `labels`",
            str(error),
        ), str(error)
    assert "manifests/collector/collector.yaml: the API server refused it (kubectl apply --dry-run=server" in str(
        planned.value
    )
    _nothing_left(kwok_cluster, namespace)


def test_the_plan_dry_runs_every_raw_object_on_the_server(kwok_cluster: KwokCluster) -> None:
    namespace = random_namespace()
    plan = _runtime(kwok_cluster, namespace).plan_report(load_profile("nginx-otel"))
    server_lines = [line for line in plan.checked if "API server" in line]
    expected = [f"namespace {namespace}: the API server would create it (kubectl create --dry-run=server)"]
    for manifest in load_profile("nginx-otel").kubernetes["manifests"]:
        documents = [d for d in yaml.safe_load_all((REPO / "manifests" / manifest).read_text()) if d]
        objects = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in documents)
        expected.append(
            f"manifests/{manifest}: {objects} accepted by the API server (dry run, strict field validation)"
        )
    assert server_lines == expected
    assert _namespace(kwok_cluster, namespace) is None
    # A dry run creates nothing, in the run's namespace or in the one it was validated in.
    in_default = kwok_cluster.kubectl("get", "deployments,configmaps", "--namespace", "default", "-o", "name")
    assert in_default.stdout.split() == ["configmap/kube-root-ca.crt"]


def test_a_rollout_that_never_completes_is_reported_with_events_and_pod_status(
    kwok_cluster: KwokCluster, tmp_path: Path
) -> None:
    """A node selector no node has: the scheduler leaves the pod Pending and says why in an event."""
    profile = _collector_variant(
        tmp_path, "unschedulable", [{"spec.template.spec.nodeSelector": {"tracestack.test/no-such-node": "true"}}]
    )
    namespace = random_namespace()
    with pytest.raises(KubeStepFailed) as failed:
        _runtime(kwok_cluster, namespace, rollout_timeout_s=8.0, report_dir=tmp_path / "report").start(profile)
    message = str(failed.value)
    assert "wait rollout of deployment/global-optl-collector failed" in message
    assert re.search(
        r"--- events ---\n.*FailedScheduling.*didn't match Pod's node affinity/selector", message, re.DOTALL
    ), message
    assert re.search(r"--- pods ---\n.*global-optl-collector-\S+ +0/1 +Pending", message, re.DOTALL), message
    assert "FailedScheduling" in (tmp_path / "report" / "kube-diagnostics.txt").read_text()
    _nothing_left(kwok_cluster, namespace)


WAIT_FOR_INTERRUPT = """
import os
import time
from pathlib import Path


def test_waits_to_be_interrupted(tracestack_stack):
    Path(os.environ["TRACESTACK_TEST_STARTED"]).write_text(tracestack_stack.profile.name)
    time.sleep(120)
"""


def _pytest_in_subprocess(
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    started: Path,
    interrupt: bool,
    while_running: Callable[[], object] = lambda: None,
) -> tuple[int, str, object]:
    """Run pytest; with ``interrupt``, send it SIGINT (Ctrl-C) once its test wrote ``started``. Returns its exit
    status, its output and what ``while_running`` returned just before the signal."""
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = None
    try:
        if interrupt:
            deadline = time.monotonic() + 180
            while not started.exists() and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if started.exists():
                seen = while_running()
                run.send_signal(signal.SIGINT)
        output = run.communicate(timeout=300)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return run.returncode, output, seen


def test_ctrl_c_while_forwards_are_open_removes_the_namespace_and_every_process(
    kwok_cluster: KwokCluster, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    namespace = random_namespace()
    started = tmp_path / "started"
    pytester.makepyfile(test_waits=WAIT_FOR_INTERRUPT)
    env = {
        **os.environ,
        "TRACESTACK_KUBECTL": str(kwok_cluster.binaries.kubectl),
        "TRACESTACK_TEST_STARTED": str(started),
    }
    with kwok_cluster.serving_pods(namespace):
        status, output, forwards = _pytest_in_subprocess(
            [
                "test_waits.py",
                "--tracestack-profile=collector",
                "--tracestack-runtime=cluster",
                f"--tracestack-kubeconfig={kwok_cluster.kubeconfig}",
                f"--tracestack-namespace={namespace}",
            ],
            pytester.path,
            env,
            started,
            interrupt=True,
            while_running=lambda: [line for line in _processes_naming(namespace) if "port-forward" in line],
        )
    assert started.exists(), output[-3000:]
    assert len(forwards) == 2, forwards  # the Service forwards were up when Ctrl-C came
    assert status == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "KeyboardInterrupt" in output
    _nothing_left(kwok_cluster, namespace)


FAILING_TEST_ON_ITS_OWN_CLUSTER = """
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.environ["TRACESTACK_TESTS_DIR"])
from kwok_cluster import kwok_cluster  # noqa: E402,F401


def test_uses_a_cluster(kwok_cluster):
    started = Path(os.environ["TRACESTACK_TEST_STARTED"])
    started.with_suffix(".partial").write_text(str(kwok_cluster.workdir) + "/")
    started.with_suffix(".partial").replace(started)
    if os.environ["TRACESTACK_TEST_END"] == "interrupt":
        time.sleep(120)
    assert False, "this test fails on purpose"
"""


@pytest.mark.parametrize("end", ["failure", "interrupt"])
def test_the_cluster_fixture_leaves_no_process_after_a_failure_or_ctrl_c(
    kwok_cluster: KwokCluster, pytester: pytest.Pytester, tmp_path: Path, end: str
) -> None:
    started = tmp_path / "started"
    pytester.makepyfile(test_own_cluster=FAILING_TEST_ON_ITS_OWN_CLUSTER)
    env = {
        **os.environ,
        "TRACESTACK_TESTS_DIR": str(Path(__file__).parent),
        "TRACESTACK_TEST_STARTED": str(started),
        "TRACESTACK_TEST_END": end,
        "TRACESTACK_CACHE_DIR": str(kwok_cluster.binaries.kwokctl.parents[2]),
    }  # pytester's HOME has no cache
    status, output, processes = _pytest_in_subprocess(
        ["test_own_cluster.py"],
        pytester.path,
        env,
        started,
        interrupt=end == "interrupt",
        while_running=lambda: _processes_under(started.read_text()),
    )
    assert started.exists(), output[-3000:]
    assert status == (pytest.ExitCode.TESTS_FAILED if end == "failure" else pytest.ExitCode.INTERRUPTED), output[-3000:]
    if end == "interrupt":
        assert len(processes) == 5, processes  # etcd, kube-apiserver, -controller-manager, -scheduler, kwok
    assert _processes_under(started.read_text()) == [], output[-3000:]


def _processes_under(workdir: str) -> list[str]:
    return [
        " ".join(p.info["cmdline"])
        for p in psutil.process_iter(["cmdline"])
        if workdir in " ".join(p.info["cmdline"] or [])
    ]
