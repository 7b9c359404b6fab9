"""The PromQL client against a real Prometheus, started as the metrics-generator profile starts it (its launcher and
its args), fed by a real remote-write client: a second Prometheus in agent mode, whose remote-write code
(prometheus/storage/remote) is what Tempo's metrics-generator embeds to write its series."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from pytest_tracestack.clients.promql import PromQLClient, PromQLError, PromQLTimeout, Series
from pytest_tracestack.configs.rendering import ReplicaContext
from pytest_tracestack.profiles.profile import Component, load_profile
from pytest_tracestack.runtimes.base import Replica
from pytest_tracestack.runtimes.local.launchers import launch_prometheus
from pytest_tracestack.runtimes.local.process import ManagedProcess

SPAN_METRICS = (
    'traces_spanmetrics_calls_total{service="rw-client",span_kind="SPAN_KIND_CLIENT",'
    'span_name="GET /api/items",status_code="STATUS_CODE_UNSET"} 3\n'
)
SERVICE_GRAPH = 'traces_service_graph_request_total{client="rw-client",server="rw-server"} 2\n'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prometheus(binary: Path, workdir: Path, component: Component) -> tuple[ManagedProcess, str]:
    """``component`` started by the local runtime's launcher on 127.0.0.1, once /-/ready answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    replica = Replica(component.name, 0, "127.0.0.1", {"http": _free_port()})
    context = ReplicaContext(
        address="127.0.0.1",
        ports=replica.ports,
        workdir=workdir,
        stackdir=workdir,
        instance_id=replica.name,
        endpoint=lambda *_: "",
        peers=lambda *_: [],
    )
    process = launch_prometheus(component, replica, None, context, binary, None).start()
    return process, _ready(process, replica.url("http"))


def _empty_config(workdir: Path) -> Path:
    (workdir / "prometheus.yml").write_text("global: {}\n")
    return workdir / "prometheus.yml"


def _ready(process: ManagedProcess, url: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.alive(), f"prometheus exited:\n{process.last_log_lines()}"
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.stop()
    pytest.fail(f"prometheus was not ready within 30s:\n{process.last_log_lines()}")


@dataclass
class Exposition:
    """Prometheus text served on 127.0.0.1 for the agent to scrape; ``text`` is what it serves now."""

    server: ThreadingHTTPServer
    text: str = ""

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def exposition() -> Iterator[Exposition]:
    served = Exposition(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
            body = served.text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            return

    served.server.RequestHandlerClass = Handler
    thread = threading.Thread(target=served.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(scope="module")
def receiver(prometheus_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The metrics-generator profile's Prometheus, as the local runtime starts it."""
    component = load_profile("metrics-generator").components["prometheus"]
    process, url = start_prometheus(prometheus_binary, tmp_path_factory.mktemp("receiver"), component)
    yield url
    process.stop()


@pytest.fixture(scope="module")
def agent(
    prometheus_binary: Path, receiver: str, exposition: Exposition, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Prometheus in agent mode: scrapes the exposition every second and remote-writes it to the receiver."""
    workdir = tmp_path_factory.mktemp("agent")
    config = workdir / "agent.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "generator",
                        "honor_labels": True,
                        "static_configs": [{"targets": [exposition.target]}],
                    }
                ],
                "remote_write": [{"url": f"{receiver}/api/v1/write", "queue_config": {"batch_send_deadline": "1s"}}],
            }
        )
    )
    argv = [
        str(prometheus_binary),
        "--enable-feature=agent",
        f"--config.file={config}",
        f"--storage.agent.path={workdir / 'wal'}",
        f"--web.listen-address=127.0.0.1:{_free_port()}",
    ]
    process = ManagedProcess("agent", argv, workdir / "agent.log", cwd=workdir)
    process.start()
    yield None
    process.stop()


def test_series_a_real_remote_write_client_sent_are_answered_with_their_labels(
    receiver: str, agent: None, exposition: Exposition
) -> None:
    exposition.text = SPAN_METRICS + SERVICE_GRAPH
    with PromQLClient(receiver) as client:
        calls = client.wait_for(
            'sum by (service, span_kind) (traces_spanmetrics_calls_total{service="rw-client"})',
            lambda series: bool(series),
            60,
            "rw-client's calls",
        )
        edge = client.wait_for(
            'traces_service_graph_request_total{client="rw-client", server="rw-server"}',
            lambda series: bool(series),
            30,
            "the rw-client -> rw-server edge",
        )
    assert calls.series == [Series({"service": "rw-client", "span_kind": "SPAN_KIND_CLIENT"}, 3.0)]
    assert [(s.labels["__name__"], s.labels["client"], s.labels["server"], s.value) for s in edge.series] == [
        ("traces_service_graph_request_total", "rw-client", "rw-server", 2.0)
    ]


def test_the_timeout_says_what_prometheus_last_answered(receiver: str, agent: None, exposition: Exposition) -> None:
    exposition.text = SPAN_METRICS
    with PromQLClient(receiver) as client:
        client.wait_for('traces_spanmetrics_calls_total{service="rw-client"}', bool, 60, "rw-client's calls")
        with pytest.raises(
            PromQLTimeout,
            match=r"a call of service nobody: Prometheus at http://127.0.0.1:\d+ did "
            r"not answer `traces_spanmetrics_calls_total\{service=\"nobody\"\}` "
            r"with it within 1s \(\d+ queries\); it last answered: no series "
            r"\(empty vector\)",
        ):
            client.wait_for(
                'traces_spanmetrics_calls_total{service="nobody"}', bool, 1.0, "a call of service nobody", poll_s=0.3
            )
        # Series that are there but not the wanted ones are shown, labels and values.
        with pytest.raises(
            PromQLTimeout,
            match=r"it last answered: 1 series:\n  traces_spanmetrics_calls_total\{"
            r"instance=\"127.0.0.1:\d+\",job=\"generator\",service=\"rw-client\","
            r"span_kind=\"SPAN_KIND_CLIENT\",.*\} 3",
        ):
            client.wait_for(
                'traces_spanmetrics_calls_total{service="rw-client"}',
                lambda series: any(s.value >= 10 for s in series),
                1.0,
                "ten calls",
                poll_s=0.3,
            )


def test_a_query_prometheus_refuses_fails_at_once_with_its_words(receiver: str) -> None:
    with PromQLClient(receiver) as client:
        started = time.monotonic()
        with pytest.raises(PromQLError, match=r"refused 'sum by \(' \(HTTP 400\): bad_data: .*parse error"):
            client.wait_for("sum by (", bool, 30, "anything")
        assert time.monotonic() - started < 5
        with pytest.raises(PromQLError, match=r"'up\[1m\]' is a 'matrix', not an instant vector"):
            client.query("up[1m]")


def test_what_is_not_prometheus_is_named(exposition: Exposition) -> None:
    exposition.text = "<html>a proxy's error page</html>"
    with (
        PromQLClient(f"http://{exposition.target}") as client,
        pytest.raises(
            PromQLError, match=r"answered 'up' with HTTP 200 that is not Prometheus' API JSON: \"<html>a proxy"
        ),
    ):
        client.query("up")


def test_an_unreachable_prometheus_is_asked_again_until_the_deadline() -> None:
    with (
        PromQLClient(f"http://127.0.0.1:{_free_port()}") as client,
        pytest.raises(
            PromQLTimeout,
            match=r"\(\d+ queries\); it last answered: Prometheus at .* did not answer 'up': "
            r"ConnectError",
        ),
    ):
        client.wait_for("up", bool, 1.0, "up", poll_s=0.2)


def test_the_launcher_opens_the_remote_write_receiver(prometheus_binary: Path, receiver: str, tmp_path: Path) -> None:
    """Without --web.enable-remote-write-receiver, Prometheus 2.x refuses writes: the launcher's flag is what opens
    the endpoint Tempo's generator writes to."""
    address = f"127.0.0.1:{_free_port()}"
    bare = ManagedProcess(
        "bare-prometheus",
        [
            str(prometheus_binary),
            f"--config.file={_empty_config(tmp_path)}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
        ],
        tmp_path / "bare.log",
        cwd=tmp_path,
    )
    bare.start()
    try:
        refused = httpx.post(f"{_ready(bare, f'http://{address}')}/api/v1/write", content=b"", timeout=5)
    finally:
        bare.stop()
    assert refused.status_code == 404 and "remote write receiver needs to be enabled" in refused.text
    accepted = httpx.post(f"{receiver}/api/v1/write", content=b"", timeout=5)
    assert accepted.status_code in (204, 400), accepted.text  # an empty body is no valid request, but it is read
