"""How each kind of binary is started by the local runtime, from its rendered config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_tracestack.binaries.nginx_build import read_nginx_build
from pytest_tracestack.clients.capture_sink import CaptureSink
from pytest_tracestack.clients.object_store import ObjectStoreError, S3Settings, make_bucket
from pytest_tracestack.configs.rendering import RenderedConfig, ReplicaContext, render_yaml
from pytest_tracestack.errors import TracestackError
from pytest_tracestack.profiles.profile import Component
from pytest_tracestack.runtimes.base import Replica
from pytest_tracestack.runtimes.local.nginx_config import find_otel_module, render_nginx_conf
from pytest_tracestack.runtimes.local.process import ManagedProcess
from pytest_tracestack.runtimes.local.sample_app_launch import sample_app_argv_env
from pytest_tracestack.runtimes.local.versitygw_launch import versitygw_argv_env


@dataclass
class Launch:
    """Everything needed to start (and restart) one replica."""

    log_path: Path
    start: Callable[[], ReplicaHandle]
    argv: tuple[str, ...] = ()


def _process_launch(replica: Replica, argv: list[str], context: ReplicaContext, env: dict | None = None) -> Launch:
    log_path = context.workdir / f"{replica.name}.log"

    def start() -> ManagedProcess:
        process = ManagedProcess(replica.name, argv, log_path, env=env, cwd=context.workdir)
        process.start()
        return process

    return Launch(log_path, start, tuple(argv))


def _write_config(context: ReplicaContext, component: Component, config: Any, name: str) -> Path:
    path = context.workdir / name
    path.write_text(render_yaml(config, component))
    return path


def launch_otelcol(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    path = _write_config(context, component, config, "otelcol.yaml")
    return _process_launch(replica, [str(binary), f"--config={path}", *component.args], context)


def launch_tempo(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    _make_s3_bucket(replica, config)
    path = _write_config(context, component, config, "tempo.yaml")
    argv = [str(binary), f"-config.file={path}"]
    if component.target:
        argv.append(f"-target={component.target}")
    return _process_launch(replica, [*argv, *component.args], context)


def _make_s3_bucket(replica: Replica, config: Any) -> None:
    """A Tempo storing blocks in S3 gets its bucket made first, through the S3 API: it does not make the bucket
    itself, and lists it when its storage starts. Said in the rendered config's header."""
    settings = S3Settings.from_tempo_config(config)
    if settings is None:
        return
    try:
        made = make_bucket(settings)
    except ObjectStoreError as error:
        raise TracestackError(
            f"{replica.name}: {error}; the S3 server must answer before Tempo starts (a component "
            "the Tempo components name in 'after', with the storage.trace.s3 endpoint and "
            "credentials its config gives Tempo)"
        ) from None
    if isinstance(config, RenderedConfig):
        config.notes.append(
            f"{settings.describe()}: {'made' if made else 'already there'} (through the S3 API) before Tempo started"
        )


def launch_capture_sink(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    def start() -> SinkHandle:
        sink = CaptureSink(
            host=replica.address, grpc_port=replica.ports["otlp-grpc"], http_port=replica.ports["otlp-http"]
        )
        sink.start()
        return SinkHandle(sink)

    return Launch(context.workdir / f"{replica.name}.log", start)


class SinkHandle:
    """The in-process capture sink seen as a replica handle."""

    pid = None

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self._stopped = False

    def alive(self) -> bool:
        return not self._stopped

    def stop(self, grace_s: float = 10.0) -> None:
        if not self._stopped:
            self.sink.stop()
            self._stopped = True

    def last_log_lines(self, count: int = 25) -> str:
        return f"(in-process capture sink; {self.sink.request_count} requests received)"


# What the local runtime holds of each started replica: a child process, or the capture sink in pytest.
ReplicaHandle = ManagedProcess | SinkHandle


def launch_nginx(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    assert binary is not None, "the local runtime finds nginx before it launches it"
    module = find_otel_module(settings.nginx_otel_module)
    conf = render_nginx_conf(config, component, replica, context, read_nginx_build(binary), module)
    return nginx_launch(replica, context, binary, conf, component.args)


def nginx_launch(
    replica: Replica, context: ReplicaContext, binary: Path, conf: str, args: tuple[str, ...] = ()
) -> Launch:
    """nginx in the foreground on a rendered config; ``-e stderr`` so errors before the config is read are
    logged too; ``args`` (the component's) come last."""
    path = context.workdir / "nginx.conf"
    path.write_text(conf)
    argv = [str(binary), "-p", str(context.workdir), "-c", str(path), "-e", "stderr", "-g", "daemon off;", *args]
    return _process_launch(replica, argv, context)


def launch_sample_app(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    argv, env = sample_app_argv_env(component, replica, config or {}, context)
    return _process_launch(replica, [*argv, *component.args], context, env)


def launch_prometheus(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    """Prometheus on the replica's own address, its TSDB in the replica's work dir (removed with the stack), taking
    remote writes: a stack's Prometheus is there to receive Tempo's metrics-generator (on Kubernetes the chart's
    values turn the same on, and kind and cluster refuse a profile's ``args``); the profile's ``args`` come last."""
    path = _write_config(context, component, config or {"global": {}}, "prometheus.yml")
    argv = [
        str(binary),
        f"--config.file={path}",
        f"--storage.tsdb.path={context.workdir / 'data'}",
        f"--web.listen-address={replica.hostport('http')}",
        "--web.enable-remote-write-receiver",
        *component.args,
    ]
    return _process_launch(replica, argv, context)


def launch_versitygw(
    component: Component, replica: Replica, config: Any, context: ReplicaContext, binary: Path | None, settings: Any
) -> Launch:
    """versitygw serving S3 over a directory of the replica's own (a bucket is a sub-directory of it) on the
    replica's port named ``s3``, answering ``GET /health`` (the profile's readiness). Its root credentials come in
    the environment variables the component's ``credentials`` name, never on the command line (which ``ps``
    shows). The component's ``args`` go before the backend, as versitygw's global options."""
    assert binary is not None, "the local runtime finds versitygw before it launches it"
    argv, env = versitygw_argv_env(component, replica, context, binary)
    return _process_launch(replica, argv, context, env)


LAUNCHERS: dict[str, Callable[..., Launch]] = {
    "otelcol": launch_otelcol,
    "tempo": launch_tempo,
    "capture-sink": launch_capture_sink,
    "nginx": launch_nginx,
    "sample-app": launch_sample_app,
    "prometheus": launch_prometheus,
    "versitygw": launch_versitygw,
}
