"""What pytest's options select, turned into plain data: the profile, the binaries, and the runtime built from its
settings dataclass. The one place the runtimes' settings are read from pytest: the runtimes never see it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tracestack.binaries.finder import BinaryProvider
from pytest_tracestack.binaries.ocb import build_collector
from pytest_tracestack.binaries.versitygw_build import build_versitygw
from pytest_tracestack.errors import ProfileError
from pytest_tracestack.plugin.options import parse_seconds, read_path_setting, read_setting
from pytest_tracestack.profiles.profile import Profile, load_profile
from pytest_tracestack.runtimes.base import Runtime
from pytest_tracestack.runtimes.kube.settings import KubeSettings

# Pulling images makes cluster rollouts slower than local starts.
KUBE_ROLLOUT_TIMEOUT_S = 300.0


def resolve_profile(config: pytest.Config, name: str) -> Profile:
    scenarios = read_path_setting(config, "scenarios")
    if name.endswith((".yaml", ".yml")):
        name = str(read_path_setting(config, "profile"))
    try:
        return load_profile(name, [scenarios] if scenarios else None)
    except ProfileError as error:
        raise pytest.UsageError(str(error)) from None


def make_runtime(name: str, config: pytest.Config, binaries: BinaryProvider | None = None) -> Runtime:
    """The runtime, given its settings as data. Its modules are imported here, by the run that uses it, not at
    every pytest start (measured: ~20 ms of CPU for local, ~35 ms for kind/cluster)."""
    if name == "local":
        from pytest_tracestack.runtimes.local.runtime import LocalRuntime, LocalSettings

        return LocalRuntime(
            LocalSettings(
                binaries=binaries or binary_provider(config),
                ready_timeout_s=parse_seconds(read_setting(config, "ready-timeout"), "--tracestack-ready-timeout"),
                keep=bool(_value(config, "keep")),
                report_dir=_report_dir(config),
                nginx_otel_module=_value(config, "nginx-otel-module"),
                charts=_value(config, "charts"),
            )
        )
    from pytest_tracestack.runtimes.kube.kind import make_kube_runtime

    return make_kube_runtime(name, kube_settings(config))


def binary_provider(config: pytest.Config) -> BinaryProvider:
    return BinaryProvider(
        explicit={kind: _value(config, kind) for kind in ("tempo", "otelcol", "nginx", "versitygw", "prometheus")},
        download_base=_value(config, "download-base"),
        allow_download=not _value(config, "no-download"),
        builders={"otelcol": build_collector, "versitygw": build_versitygw},
    )


def kube_settings(config: pytest.Config) -> KubeSettings:
    images = [image.strip() for image in (_value(config, "load-images") or "").split(",") if image.strip()]
    return KubeSettings.from_options(
        cluster_name=_value(config, "kind-cluster"),
        node_image=_value(config, "kind-image"),
        keep=bool(_value(config, "keep")),
        kubeconfig=_value(config, "kubeconfig"),
        context=_value(config, "kube-context"),
        namespace=_value(config, "namespace"),
        images_to_load=images,
        k8s_version=_value(config, "k8s-version"),
        rollout_timeout_s=_rollout_timeout(config),
        report_dir=_report_dir(config),
        allow_download=not _value(config, "no-download"),
        charts=_value(config, "charts"),
    )


def _rollout_timeout(config: pytest.Config) -> float:
    setting = read_setting(config, "ready-timeout")
    if setting.source == "default":
        return KUBE_ROLLOUT_TIMEOUT_S
    return parse_seconds(setting, "--tracestack-ready-timeout")


def _report_dir(config: pytest.Config) -> Path | None:
    value = _value(config, "report")
    return Path(value) if value else None


def _value(config: pytest.Config, option: str):
    return read_setting(config, option).value
