"""tracestack's options: each read from the command line, an environment variable or the ini file,
in that order, and remembered with the source it came from so the pytest header can say so."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_tracestack.load.locust_env import PROTOCOL_VAR, PROTOCOLS
from pytest_tracestack.runtimes.kube.settings import KIND_NODE_IMAGE, KIND_VERSION

RUNTIME_CHOICES = ("auto", "local", "kind", "cluster")


@dataclass(frozen=True)
class OptionSpec:
    name: str  # without the --tracestack- prefix
    help: str
    env: str | None = None
    ini: bool = True
    flag: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return "tracestack_" + self.name.replace("-", "_")

    @property
    def cli(self) -> str:
        return "--tracestack-" + self.name

    @property
    def value_name(self) -> str | None:
        """What the option's value is called in --help and the README (None for flags)."""
        if self.flag:
            return None
        return self.metavar or ("{" + ",".join(self.choices) + "}" if self.choices else "VALUE")

    @property
    def usage(self) -> str:
        """``--tracestack-runtime={auto,local,kind,cluster}``, as --help and the README show it."""
        return self.cli + (f"={self.value_name}" if self.value_name else "")

    @property
    def default_text(self) -> str:
        return "off" if self.flag else ("" if self.default is None else str(self.default))

    def help_text(self) -> str:
        """The help line of --help: what it does, its default and its environment variable."""
        notes = [
            f"default: {self.default_text}" if self.default_text and not self.flag else "",
            f"env {self.env}" if self.env else "",
        ]
        notes = [note for note in notes if note]
        return self.help + (f" [{'; '.join(notes)}]" if notes else "")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "profile",
        "profile to bring up and check: a name (scenarios/ or --tracestack-scenarios) or a .yaml file",
        env="TRACESTACK_PROFILE",
        metavar="NAME",
    ),
    OptionSpec(
        "runtime",
        "where to run it: auto = kind when a container engine answers, else local",
        env="TRACESTACK_RUNTIME",
        default="auto",
        choices=RUNTIME_CHOICES,
    ),
    OptionSpec(
        "keep",
        "leave the stack up after the session and print its endpoints and how to stop it",
        env="TRACESTACK_KEEP",
        flag=True,
        default=False,
    ),
    OptionSpec(
        "report", "write JSON and HTML reports of the checks to this directory", env="TRACESTACK_REPORT", metavar="DIR"
    ),
    OptionSpec(
        "scenarios",
        "extra directory of profile files, searched before the built-in ones (in the ini file: "
        "relative to the ini file)",
        env="TRACESTACK_SCENARIOS",
        metavar="DIR",
    ),
    OptionSpec(
        "skip-unavailable",
        "skip (with the reason) instead of failing when a real component is missing",
        env="TRACESTACK_SKIP_UNAVAILABLE",
        flag=True,
        default=False,
    ),
    OptionSpec(
        "plan",
        "print the ordered plan of what the runtime would do, validate the manifests, and exit",
        ini=False,
        flag=True,
        default=False,
    ),
    OptionSpec(
        "ready-timeout",
        "seconds to wait for each component to become ready (kind/cluster: for each helm "
        "--wait and rollout, 300 unless given)",
        env="TRACESTACK_READY_TIMEOUT",
        default="90",
        metavar="SECONDS",
    ),
    OptionSpec("tempo", "path of the Tempo binary", env="TRACESTACK_TEMPO", metavar="PATH"),
    OptionSpec("otelcol", "path of the OpenTelemetry Collector binary", env="TRACESTACK_OTELCOL", metavar="PATH"),
    OptionSpec("nginx", "path of the nginx binary", env="TRACESTACK_NGINX", metavar="PATH"),
    OptionSpec(
        "prometheus",
        "path of the Prometheus binary (the metrics-generator profile)",
        env="TRACESTACK_PROMETHEUS",
        metavar="PATH",
    ),
    OptionSpec(
        "versitygw",
        "path of the versitygw binary (the S3 server of the S3-backed profiles)",
        env="TRACESTACK_VERSITYGW",
        metavar="PATH",
    ),
    OptionSpec("nginx-otel-module", "path of ngx_otel_module.so", env="TRACESTACK_NGINX_OTEL_MODULE", metavar="PATH"),
    OptionSpec(
        "download-base",
        "mirror base URL for release downloads (default https://github.com)",
        env="TRACESTACK_DOWNLOAD_BASE",
        metavar="URL",
    ),
    OptionSpec(
        "no-download",
        "never download binaries; use what is on the machine or build it",
        env="TRACESTACK_NO_DOWNLOAD",
        flag=True,
        default=False,
    ),
    OptionSpec("kube-context", "kubeconfig context for --tracestack-runtime=cluster", env="TRACESTACK_KUBE_CONTEXT"),
    OptionSpec(
        "kubeconfig", "kubeconfig file for --tracestack-runtime=cluster", env="TRACESTACK_KUBECONFIG", metavar="PATH"
    ),
    OptionSpec(
        "namespace",
        "namespace to create and use on Kubernetes (default: tracestack-<random>)",
        env="TRACESTACK_NAMESPACE",
    ),
    OptionSpec(
        "kind-cluster", "kind cluster name to create or reuse", env="TRACESTACK_KIND_CLUSTER", default="tracestack"
    ),
    OptionSpec(
        "kind-image",
        f"kind node image (default: {KIND_NODE_IMAGE}, the one kind {KIND_VERSION} is released "
        "with; image:tag@sha256:... pins it fully)",
        env="TRACESTACK_KIND_IMAGE",
    ),
    OptionSpec(
        "load-images",
        "comma-separated pre-pulled images to load into the kind cluster; 'profile' = every "
        "image the rendered manifests and charts use",
        env="TRACESTACK_LOAD_IMAGES",
    ),
    OptionSpec(
        "k8s-version",
        "Kubernetes version whose schema the manifests are validated against (default: the "
        "kind node image's, or the cluster's own)",
        env="TRACESTACK_K8S_VERSION",
    ),
    OptionSpec(
        "charts",
        "take the profile's pinned Helm charts from this directory (NAME-VERSION.tgz as `helm pull` "
        "names them, or unpacked NAME/) or chart repository mirror URL, not from their repositories",
        env="TRACESTACK_CHARTS",
        metavar="DIR_OR_URL",
    ),
    OptionSpec(
        "load",
        "run a load test at this rate (e.g. 5MB/s or 20000spans/s) judged against the profile's targets",
        env="TRACESTACK_LOAD",
        metavar="RATE",
    ),
    OptionSpec(
        "load-duration",
        "duration of the load run (e.g. 30s, 2m)",
        env="TRACESTACK_LOAD_DURATION",
        default="30s",
        metavar="DURATION",
    ),
    OptionSpec("load-protocol", "protocol the load uses", env=PROTOCOL_VAR, default="otlp-grpc", choices=PROTOCOLS),
)

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str  # "command line", "env TRACESTACK_X", "ini tracestack_x", "default"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("tracestack", "tracing topologies (pytest-tracestack)")
    for spec in OPTIONS:
        if spec.flag:
            group.addoption(spec.cli, action="store_true", dest=spec.dest, default=None, help=spec.help_text())
        else:
            group.addoption(
                spec.cli,
                action="store",
                dest=spec.dest,
                default=None,
                choices=spec.choices,
                metavar=spec.value_name,
                help=spec.help_text(),
            )
        if spec.ini:
            # a Literal, not a conditional of two strings: addini also takes a type form, and mypy would read
            # a plain string there as an annotation
            kind: Literal["bool", "string"] = "bool" if spec.flag else "string"
            parser.addini(spec.dest, help=spec.help_text(), type=kind, default=None)


def read_setting(config: pytest.Config, name: str) -> Setting:
    spec = _spec(name)
    cli_value = config.getoption(spec.dest)
    if cli_value is not None:
        return Setting(cli_value, "command line")
    if spec.env and os.environ.get(spec.env) not in (None, ""):
        raw = os.environ[spec.env]
        return Setting(_coerce(spec, raw, f"env {spec.env}"), f"env {spec.env}")
    if spec.ini:
        ini_value = config.getini(spec.dest)
        if ini_value not in (None, "", []):
            return Setting(_coerce(spec, ini_value, f"ini {spec.dest}"), f"ini {spec.dest}")
    return Setting(spec.default, "default")


def read_path_setting(config: pytest.Config, name: str) -> Path | None:
    """A path option: from the ini file it is relative to that file's directory, else to the current one."""
    setting = read_setting(config, name)
    if setting.value in (None, ""):
        return None
    path = Path(setting.value).expanduser()
    if setting.source.startswith("ini") and config.inipath is not None and not path.is_absolute():
        return config.inipath.parent / path
    return path


def _spec(name: str) -> OptionSpec:
    for spec in OPTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def _coerce(spec: OptionSpec, raw: Any, where: str) -> Any:
    if spec.flag:
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in _TRUE
    if spec.choices and raw not in spec.choices:
        raise pytest.UsageError(f"{where}: {raw!r} is not a valid value; choose from {', '.join(spec.choices)}")
    return raw


def parse_seconds(setting: Setting, option: str) -> float:
    try:
        value = float(setting.value)
    except (TypeError, ValueError):
        raise pytest.UsageError(
            f"{option} ({setting.source}): {setting.value!r} is not a number of seconds, e.g. 90"
        ) from None
    if value <= 0:
        raise pytest.UsageError(f"{option} ({setting.source}): must be more than 0 seconds, got {value}")
    return value
